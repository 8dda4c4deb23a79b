package avro

import "errors"

// Sentinel errors; match with errors.Is. Value mismatches are *schema.FieldError wrapping the schema package's
// sentinels.
var (
	// ErrInvalidSchema: an Avro schema that is not valid JSON or breaks the Avro specification.
	ErrInvalidSchema = errors.New("invalid avro schema")
	// ErrUnsupported: a schema that has no counterpart on the other side (an Avro "null" schema alone, a Connect
	// field name that is not a valid Avro name, two different structs with the same name), or a map entry whose
	// key (bytes, an array, a map) a Go map cannot hold.
	ErrUnsupported = errors.New("unsupported schema")
	// ErrIncompatible: a reader schema cannot read data written with a writer schema (see CanRead, Check).
	ErrIncompatible = errors.New("incompatible avro schemas")
	// ErrMalformed: bytes that are not a valid Avro binary datum for the schema.
	ErrMalformed = errors.New("malformed avro data")
)
