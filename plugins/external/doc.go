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
//   - A process runs exactly the file its connector was described from (device, inode, size,
//     modification time), or the one a later reload described at that path when it serves the
//     connector with the same abilities, or is refused with a ChangedError: the adapters drive
//     a connector by its description, so a build with other abilities is never driven by it.
//   - A binary that speaks another protocol version is refused with ErrProtocolVersion; one
//     that cannot be used is refused alone, never failing the registration of the others.
//   - Plugin sockets live in a directory of the manager's, removed by Close, or by the next
//     manager to start when the worker was killed (Linux, macOS, the BSDs); so do the worker's
//     own sockets for each process, where the temporary directory is short enough for
//     go-plugin to nest them there (not macOS's default: see runIn).
package external
