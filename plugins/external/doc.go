// Package external runs connector plugins as separate processes: it finds plugin binaries in
// the worker's pluginPaths, asks each for its connectors (a Describe call), registers them in
// the worker's plugins.Registry next to the built-in ones, and adapts each to the connector
// SPI so the engine drives a plugin connector exactly as a built-in one.
//
// Invariants:
//   - One process per connector instance and per task instance (plus one per binary for
//     Validate): a crash, a hang or a kill of a process fails only the instance it serves,
//     with an error naming the process, what it was doing and how it ended; the engine's
//     restart policy then starts a new process.
//   - A call that gets no answer within Options.CallTimeout kills the process (a hang).
//   - Processes never outlive the worker: Manager.Close kills them; on Linux the kernel
//     kills them when the worker dies (parent-death signal), and the SDK side exits when its
//     parent process changes.
//   - A rescan (Reload) changes the registry atomically and never touches running processes.
//   - A binary that speaks another protocol version is refused with ErrProtocolVersion.
package external
