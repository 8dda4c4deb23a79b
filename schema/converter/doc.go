// Package converter turns Connect data (schema.Schema + value) into message bytes and back: JSON (Kafka
// Connect's envelope, byte-compatible), String, ByteArray, the fixed-width numeric converters, and Avro with a
// remote schema registry (8-byte record-id prefix + Avro datum, as RocketMQ Connect's Java converter).
//
// Converters are chosen by name from an explicit table (New, FromConfig) — short names and the Java class names of
// Kafka Connect and RocketMQ Connect — with no init() registration. Invariants: decoding never panics on any input
// (FuzzJSONToConnect); every error wraps a sentinel from errors.go or is a *schema.FieldError naming the field
// path; whatever the JSON converter decodes it can encode again to the same bytes.
package converter
