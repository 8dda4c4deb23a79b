// Package sdk is what a connector plugin binary imports: implement the connector SPI of
// package plugins exactly as a built-in connector does, list the connectors in a Plugin and
// call Serve from main. The worker starts the binary once per connector instance and once per
// task (and once more to describe it and validate configs), speaks the plugin protocol to it
// over gRPC (hashicorp/go-plugin) and stops it when the instance stops.
//
// Invariants: one process serves one instance, so a crash loses only that instance; the
// process exits when the worker that started it goes away, even when the worker is killed
// (SIGKILL); logs written through the contexts' Logger reach the worker's log with the
// connector and task attributes; errors keep their kind (retriable, configuration, fatal).
//
// Not carried across the boundary: plugin-declared metrics (MetricsOf returns a recorder
// that records nothing) and file access confinement helpers of the worker.
package sdk
