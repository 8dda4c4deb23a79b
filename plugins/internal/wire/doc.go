// Package wire is what both sides of the plugin protocol share: the go-plugin handshake and
// protocol version, and the conversions between the SPI's values (records, schemas, Connect
// values, errors, config specs) and their protocol messages.
//
// Invariants: a value decoded from its encoding equals the original by schema.Equal, with
// Go types normalised as the schema package documents (int becomes int64 in schemaless
// values, other slices []any, other maps map[any]any); a schema shared by several records of
// a batch is sent once and decoded into one shared *schema.Schema.
package wire
