// Package builtin builds the registry of the connectors shipped with rmqconnect: file-source, file-sink,
// generator-source and null-sink, under their short names and Java class-name aliases.
//
// Invariants: every built-in connector is listed in one place (builtin.go) and nothing registers itself;
// each call to Registry returns a new registry, so tests and workers never share one.
package builtin
