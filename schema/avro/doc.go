// Package avro maps the Connect data model to Apache Avro and back, and decides whether one Avro schema can read
// data written with another.
//
//   - Schema is a parsed Avro schema (Parse, String). Named types are shared nodes, so a recursive record is a cycle.
//   - FromConnect / ToConnect map schemas: INT8/INT16 are "int" with a "connect.type" property; Decimal is bytes with
//     logicalType decimal (precision, scale); Date, Time and Timestamp are int/date, int/time-millis and
//     long/timestamp-millis; an optional schema is a union with "null" first and default null; a MAP whose keys are
//     not required strings is an array of key/value records; a STRUCT is a record whose namespace comes from the
//     Connect name. Connect attributes Avro has no place for travel in "connect.*" properties. A union of several
//     non-null types is a STRUCT (UnionName) with a field per branch, named by the branch's type or simple name (its
//     full name when another branch goes by the same). A named type met twice is one Avro definition.
//   - Codec encodes and decodes Connect values in Avro binary (github.com/linkedin/goavro/v2 does the bytes; logical
//     types are converted here so decimals are the spec's two's complement). NewResolvingCodec decodes data written
//     with one schema into the shape of another, following the Avro schema-resolution rules.
//   - CanRead and Check implement those rules as a compatibility check (BACKWARD, FORWARD, FULL, their transitive
//     variants, NONE); every incompatibility names the path and the rule broken.
//
// Invariants: decoding never panics on any input; every error wraps a sentinel from errors.go or is a
// *schema.FieldError naming the field path; FromConnect(ToConnect(s)) renders the same Avro schema as s for schemas
// produced by FromConnect.
package avro
