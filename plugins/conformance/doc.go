// Package conformance is the suite every connector's tests run: TestSource for source connectors, TestSink
// for sink connectors. A connector supplies a harness (how to build it, prepare an empty external system, feed
// or read that system, and check a record) and the suite checks the SPI contract: open/close (Stop without
// Start, Stop twice), a batch round trip, restart from a committed position, and stop under load without
// leaking goroutines.
//
// It also holds state-based fakes of the engine's side of the SPI (Positions, SourceContext, SinkContext,
// ErrantReporter, ConnectorContext) for connector unit tests.
//
// Invariants: the suite never relies on timing for a pass (Timeout is only a deadline for a hang) and runs its
// subtests sequentially, so a harness may keep per-subtest state in shared variables.
package conformance
