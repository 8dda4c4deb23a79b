// Package generator holds two built-in connectors for tests, demos and benchmarks.
//
// generator-source produces synthetic records without input. Task i of T (max.tasks) produces records
// seq = 0, 1, 2, …: key Key(seq, keys) ("key-<seq mod keys>", STRING schema; no key when keys is 0), value
// Value(i, seq, record.size) (BYTES schema, printable, the same on every run), SourcePartition
// {"generator": name, "task": i} and SourceOffset {"seq": seq}. A restarted task continues after its committed
// seq. count (0 = unlimited) and rate (records/s, 0 = unthrottled, else 0.001 to 1e9) are totals split evenly
// over the tasks (TaskCount); a task that has produced its share returns empty polls. A poll returns at most
// batch.size records and at most 64 MiB of them (record.size plus about 512 bytes each), so one poll of large
// records cannot exhaust the worker's memory whatever record.size × batch.size is.
//
// null-sink discards every record after counting it in Counters (records, value bytes, batches), which a test
// or benchmark reads while it runs. All tasks of one connector value share its Counters.
package generator
