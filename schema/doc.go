// Package schema is the Connect data model: schemas, structs, logical types, headers and records, shaped like
// Kafka Connect's so converters and transforms behave as their users expect.
//
// Values are plain Go data so they can cross a process boundary:
//
//	INT8..INT64      int8, int16, int32, int64
//	FLOAT32/FLOAT64  float32, float64
//	BOOLEAN, STRING  bool, string
//	BYTES            []byte
//	ARRAY            []any (any other slice is accepted on input)
//	MAP              map[any]any with keys of the key schema's Go type (any Go map is accepted on input)
//	STRUCT           *Struct
//	Decimal          Decimal (on BYTES, schema parameter "scale" equal to Decimal.Scale)
//	Date, Time       time.Time (INT32: midnight UTC / a time of day on 1970-01-01 UTC)
//	Timestamp        time.Time (INT64 milliseconds)
//	schemaless       nil schema; map[string]any, []any, string, bool, int64, float64, []byte, nil
//
// Invariants: a schema shared by a Struct or a Record is never mutated (derive new ones with Copy or FromSchema);
// nil stands for "no value" and is valid only for optional schemas or ones with a default; every validation error
// is a *FieldError naming the field path and wrapping a sentinel from errors.go.
package schema
