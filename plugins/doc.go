// Package plugins is the connector SPI of rmqconnect: the interfaces a
// connector and its tasks implement (Connector, SourceTask, SinkTask), the
// contexts the engine hands them, ConfigSpec (typed, validated, documented
// connector configuration) and the explicit plugin Registry.
//
// Invariants:
//   - The engine owns every loop: polling, retries, backoff, batching, acks,
//     offset commits and restarts. A connector or task only reads or writes
//     and reports what happened through its return values.
//   - Optional abilities (CommitRecord, PreCommit, queue open/close,
//     SpecValidator) are separate interfaces the engine finds by type
//     assertion; so are the contexts' extra abilities (FileAccessor,
//     MetricsProvider).
//   - Plugin metrics have bounded labels: every label value is declared up
//     front (metrics.go), so no series is made per key, offset or URL.
//   - Nothing registers itself: a Registry is built explicitly, duplicates are
//     an error, and tests build their own.
//   - Records cross this boundary as *schema.Record holding plain data, so the
//     same SPI can later be served by an out-of-process plugin.
package plugins
