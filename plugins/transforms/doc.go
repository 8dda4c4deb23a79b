// Package transforms holds single message transforms (SMTs), predicates, the
// transform chain built from a connector's `transforms=` / `predicates=`
// configuration, and an explicit registry of the built-ins under their short
// names and their Kafka Connect and RocketMQ Connect class names.
//
// Invariants:
//   - A transform never mutates the record it is given (nor any value reachable
//     from it): it returns a new record, sharing only what it did not change.
//   - A nil record result drops the record; the chain stops there.
//   - Bad configuration yields *cfgerr.Error values naming the dotted key
//     (transforms.<alias>.<key>) and the reason; a record whose key or value
//     does not have the shape a transform needs yields an error wrapping
//     ErrUnsupportedValue. Nothing panics on bad input.
//   - Every transform works with a schema (Struct values) and schemaless
//     (map[string]any values).
package transforms
