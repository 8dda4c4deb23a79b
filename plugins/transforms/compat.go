package transforms

import "github.com/rmqconnect/rmqconnect/schema"

// Names from package schema that this package refers to in many places,
// gathered here so a rename in schema touches one file.
const (
	typeStruct = schema.StructType // the STRUCT schema Type
)

// structValue is the Go value of a STRUCT schema.
type structValue = schema.Struct
