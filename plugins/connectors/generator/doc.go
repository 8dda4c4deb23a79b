// Package generator holds two built-in connectors for tests, demos and benchmarks.
//
// generator-source produces synthetic records without input. Task i of T (max.tasks) produces records
// seq = 0, 1, 2, …: key Key(seq, keys) ("key-<seq mod keys>", STRING schema; no key when keys is 0), value
// Value(i, seq, record.size) (BYTES schema, printable, the same on every run), SourcePartition
// {"generator": name, "task": i} and SourceOffset {"seq": seq}. A restarted task continues after its committed
// seq. count (0 = unlimited) and rate (records/s, 0 = unthrottled) are totals split evenly over the tasks
// (TaskCount); a task that has produced its share returns empty polls.
//
// null-sink discards every record after counting it in Counters (records, value bytes, batches), which a test
// or benchmark reads while it runs. All tasks of one connector value share its Counters.
package generator
