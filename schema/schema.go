package schema

import (
	"fmt"
	"maps"
	"reflect"
	"strconv"
	"strings"
)

// Type is a Connect schema type. The string values are the names the Kafka Connect JSON envelope uses.
type Type string

// The Connect schema types. The STRUCT type is StructType because Struct is the struct value type.
const (
	Int8       Type = "int8"
	Int16      Type = "int16"
	Int32      Type = "int32"
	Int64      Type = "int64"
	Float32    Type = "float"
	Float64    Type = "double"
	Boolean    Type = "boolean"
	String     Type = "string"
	Bytes      Type = "bytes"
	Array      Type = "array"
	Map        Type = "map"
	StructType Type = "struct"
)

// Types lists every Type, primitives first.
var Types = []Type{Int8, Int16, Int32, Int64, Float32, Float64, Boolean, String, Bytes, Array, Map, StructType}

// ParseType returns the Type named s (a JSON-envelope name such as "int32" or "double"); the Java enum spellings
// (INT32, FLOAT64, ...) are accepted too. An unknown name gives an error wrapping ErrUnknownType.
func ParseType(s string) (Type, error) {
	switch t := Type(s); t {
	case Int8, Int16, Int32, Int64, Float32, Float64, Boolean, String, Bytes, Array, Map, StructType:
		return t, nil
	}
	switch strings.ToUpper(s) {
	case "INT8":
		return Int8, nil
	case "INT16":
		return Int16, nil
	case "INT32":
		return Int32, nil
	case "INT64":
		return Int64, nil
	case "FLOAT32", "FLOAT":
		return Float32, nil
	case "FLOAT64", "DOUBLE":
		return Float64, nil
	case "BOOLEAN":
		return Boolean, nil
	case "STRING":
		return String, nil
	case "BYTES":
		return Bytes, nil
	case "ARRAY":
		return Array, nil
	case "MAP":
		return Map, nil
	case "STRUCT":
		return StructType, nil
	}
	return "", fmt.Errorf("%w %q", ErrUnknownType, s)
}

// IsPrimitive reports whether t is neither ARRAY, MAP nor STRUCT.
func (t Type) IsPrimitive() bool {
	switch t {
	case Array, Map, StructType:
		return false
	}
	return true
}

// Schema describes a Connect value. Schemas are plain data; once built and shared (the predefined schemas, a schema
// referenced by a Struct or a Record) they must be treated as immutable — use Copy or FromSchema to derive a new one.
//
// A nil *Schema means "schemaless": any JSON-like value is accepted (see Validate).
type Schema struct {
	Type     Type
	Optional bool
	// Default is the value used in place of nil (nil = no default). It must validate against the schema.
	Default any
	Name    string
	// Version is the schema version; 0 means unset.
	Version    int
	Doc        string
	Parameters map[string]string
	// Fields of a STRUCT, in order; Field.Index is the position in this slice.
	Fields []Field
	// KeySchema and ValueSchema of a MAP.
	KeySchema, ValueSchema *Schema
	// ElemSchema of an ARRAY.
	ElemSchema *Schema
}

// Field is one field of a STRUCT schema.
type Field struct {
	Name   string
	Index  int
	Schema *Schema
}

// Predefined schemas. They are shared: treat them as read-only.
var (
	Int8Schema    = &Schema{Type: Int8}
	Int16Schema   = &Schema{Type: Int16}
	Int32Schema   = &Schema{Type: Int32}
	Int64Schema   = &Schema{Type: Int64}
	Float32Schema = &Schema{Type: Float32}
	Float64Schema = &Schema{Type: Float64}
	BooleanSchema = &Schema{Type: Boolean}
	StringSchema  = &Schema{Type: String}
	BytesSchema   = &Schema{Type: Bytes}

	OptionalInt8Schema    = &Schema{Type: Int8, Optional: true}
	OptionalInt16Schema   = &Schema{Type: Int16, Optional: true}
	OptionalInt32Schema   = &Schema{Type: Int32, Optional: true}
	OptionalInt64Schema   = &Schema{Type: Int64, Optional: true}
	OptionalFloat32Schema = &Schema{Type: Float32, Optional: true}
	OptionalFloat64Schema = &Schema{Type: Float64, Optional: true}
	OptionalBooleanSchema = &Schema{Type: Boolean, Optional: true}
	OptionalStringSchema  = &Schema{Type: String, Optional: true}
	OptionalBytesSchema   = &Schema{Type: Bytes, Optional: true}
)

// PrimitiveSchema returns the predefined (shared, read-only) schema of a primitive type, or nil for ARRAY, MAP,
// STRUCT and unknown types.
func PrimitiveSchema(t Type, optional bool) *Schema {
	var req, opt *Schema
	switch t {
	case Int8:
		req, opt = Int8Schema, OptionalInt8Schema
	case Int16:
		req, opt = Int16Schema, OptionalInt16Schema
	case Int32:
		req, opt = Int32Schema, OptionalInt32Schema
	case Int64:
		req, opt = Int64Schema, OptionalInt64Schema
	case Float32:
		req, opt = Float32Schema, OptionalFloat32Schema
	case Float64:
		req, opt = Float64Schema, OptionalFloat64Schema
	case Boolean:
		req, opt = BooleanSchema, OptionalBooleanSchema
	case String:
		req, opt = StringSchema, OptionalStringSchema
	case Bytes:
		req, opt = BytesSchema, OptionalBytesSchema
	default:
		return nil
	}
	if optional {
		return opt
	}
	return req
}

// Field returns the STRUCT field called name.
func (s *Schema) Field(name string) (Field, bool) {
	if s == nil {
		return Field{}, false
	}
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// FieldNames returns the names of a STRUCT's fields in order.
func (s *Schema) FieldNames() []string {
	if s == nil {
		return nil
	}
	names := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		names[i] = f.Name
	}
	return names
}

// Validate reports whether v is a valid value for s, as a *FieldError wrapping a sentinel. A nil schema accepts
// anything. nil is valid when the schema is optional or has a default (nil stands for the default). See the package
// documentation for the Go representation of each type.
func (s *Schema) Validate(v any) error {
	return validateValue(s, v)
}

// Equal reports whether two schemas are identical in every attribute, recursively (defaults compared with Equal).
// A nil and an empty Parameters map are equal.
func (s *Schema) Equal(o *Schema) bool {
	return s.equal(o, true)
}

// SameShape is Equal except that the top-level Optional flag and Default are ignored: a Struct of schema o is an
// acceptable value for s (a struct default, for one, cannot hold a schema equal to the one carrying it).
func (s *Schema) SameShape(o *Schema) bool {
	return s.equal(o, false)
}

func (s *Schema) equal(o *Schema, top bool) bool {
	if s == o {
		return true
	}
	if s == nil || o == nil {
		return false
	}
	if top && s.Optional != o.Optional {
		return false
	}
	if s.Type != o.Type || s.Name != o.Name || s.Version != o.Version || s.Doc != o.Doc {
		return false
	}
	if !maps.Equal(s.Parameters, o.Parameters) {
		return false
	}
	if len(s.Fields) != len(o.Fields) {
		return false
	}
	for i := range s.Fields {
		a, b := s.Fields[i], o.Fields[i]
		if a.Name != b.Name || a.Index != b.Index || !a.Schema.Equal(b.Schema) {
			return false
		}
	}
	if !s.KeySchema.Equal(o.KeySchema) || !s.ValueSchema.Equal(o.ValueSchema) || !s.ElemSchema.Equal(o.ElemSchema) {
		return false
	}
	return !top || Equal(s.Default, o.Default)
}

// Copy returns a deep copy of s (nil for nil). Default values are deep-copied too.
func (s *Schema) Copy() *Schema {
	if s == nil {
		return nil
	}
	c := *s
	if s.Parameters != nil {
		c.Parameters = maps.Clone(s.Parameters)
	}
	if s.Fields != nil {
		c.Fields = make([]Field, len(s.Fields))
		for i, f := range s.Fields {
			c.Fields[i] = Field{Name: f.Name, Index: f.Index, Schema: f.Schema.Copy()}
		}
	}
	c.KeySchema = s.KeySchema.Copy()
	c.ValueSchema = s.ValueSchema.Copy()
	c.ElemSchema = s.ElemSchema.Copy()
	if s.Default != nil {
		c.Default = CopyValue(s.Default)
		if st, ok := c.Default.(*Struct); ok && st.schema == s {
			st.schema = &c
		}
	}
	return &c
}

// String is a short description for messages: `Schema{name:type}`, with `?` after an optional type.
func (s *Schema) String() string {
	if s == nil {
		return "Schema{<none>}"
	}
	opt := ""
	if s.Optional {
		opt = "?"
	}
	return "Schema{" + s.Name + ":" + string(s.Type) + opt + "}"
}

// ParameterInt returns an integer parameter (for example the Decimal scale).
func (s *Schema) ParameterInt(name string) (int, bool) {
	if s == nil {
		return 0, false
	}
	v, ok := s.Parameters[name]
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	return n, err == nil
}

func typeName(v any) string {
	if v == nil {
		return "nil"
	}
	return reflect.TypeOf(v).String()
}

func mismatch(s *Schema, v any) error {
	return &FieldError{Reason: fmt.Sprintf("%s expects %s, got %s", s, goTypeFor(s), typeName(v)), Err: ErrInvalidValue}
}

// goTypeFor names the Go type that holds values of s, for messages.
func goTypeFor(s *Schema) string {
	switch logicalKindOf(s) {
	case logicalDecimal:
		return "schema.Decimal"
	case logicalDate, logicalTime, logicalTimestamp:
		return "time.Time"
	}
	switch s.Type {
	case Int8, Int16, Int32, Int64, String:
		return string(s.Type)
	case Float32:
		return "float32"
	case Float64:
		return "float64"
	case Boolean:
		return "bool"
	case Bytes:
		return "[]byte"
	case Array:
		return "[]any"
	case Map:
		return "map[any]any"
	case StructType:
		return "*schema.Struct"
	}
	return "?"
}

func validateValue(s *Schema, v any) error {
	if s == nil {
		return nil
	}
	if v == nil {
		if s.Optional || s.Default != nil {
			return nil
		}
		return &FieldError{Reason: s.String(), Err: ErrNullValue}
	}
	if k := logicalKindOf(s); k != logicalNone {
		return validateLogical(k, s, v)
	}
	ok := false
	switch s.Type {
	case Int8:
		_, ok = v.(int8)
	case Int16:
		_, ok = v.(int16)
	case Int32:
		_, ok = v.(int32)
	case Int64:
		_, ok = v.(int64)
	case Float32:
		_, ok = v.(float32)
	case Float64:
		_, ok = v.(float64)
	case Boolean:
		_, ok = v.(bool)
	case String:
		_, ok = v.(string)
	case Bytes:
		_, ok = v.([]byte)
	case Array:
		if s.ElemSchema == nil {
			return &FieldError{Reason: "array schema without element schema", Err: ErrInvalidSchema}
		}
		isArr, err := RangeArray(v, func(i int, e any) error { return AtIndex(validateValue(s.ElemSchema, e), i) })
		if isArr {
			return err
		}
	case Map:
		if s.KeySchema == nil || s.ValueSchema == nil {
			return &FieldError{Reason: "map schema without key or value schema", Err: ErrInvalidSchema}
		}
		isMap, err := RangeMap(v, func(k, e any) error {
			if err := validateValue(s.KeySchema, k); err != nil {
				return AtKey(err, k)
			}
			return AtKey(validateValue(s.ValueSchema, e), k)
		})
		if isMap {
			return err
		}
	case StructType:
		st, isStruct := v.(*Struct)
		if !isStruct || st == nil {
			break
		}
		if st.schema != s && !st.schema.SameShape(s) {
			return &FieldError{Reason: fmt.Sprintf("struct has schema %s, expected %s", st.schema, s), Err: ErrInvalidValue}
		}
		return st.Validate()
	default:
		return &FieldError{Reason: fmt.Sprintf("%q", s.Type), Err: ErrUnknownType}
	}
	if !ok {
		return mismatch(s, v)
	}
	return nil
}

// RangeArray calls fn for each element of an ARRAY value: a []any or any other slice or array except []byte.
// It reports false (and does nothing) when v is not such a value; it stops at the first error fn returns.
func RangeArray(v any, fn func(i int, e any) error) (bool, error) {
	switch a := v.(type) {
	case []any:
		for i, e := range a {
			if err := fn(i, e); err != nil {
				return true, err
			}
		}
		return true, nil
	case []byte, nil:
		return false, nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return false, nil
	}
	for i := range rv.Len() {
		if err := fn(i, rv.Index(i).Interface()); err != nil {
			return true, err
		}
	}
	return true, nil
}

// RangeMap calls fn for each entry of a MAP value: a map[any]any, map[string]any or any other Go map, in
// unspecified order. It reports false when v is not a map; it stops at the first error fn returns.
func RangeMap(v any, fn func(k, e any) error) (bool, error) {
	switch m := v.(type) {
	case map[any]any:
		for k, e := range m {
			if err := fn(k, e); err != nil {
				return true, err
			}
		}
		return true, nil
	case map[string]any:
		for k, e := range m {
			if err := fn(k, e); err != nil {
				return true, err
			}
		}
		return true, nil
	case nil:
		return false, nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Map {
		return false, nil
	}
	it := rv.MapRange()
	for it.Next() {
		if err := fn(it.Key().Interface(), it.Value().Interface()); err != nil {
			return true, err
		}
	}
	return true, nil
}
