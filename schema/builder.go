package schema

import (
	"errors"
	"fmt"
	"maps"
)

// SchemaBuilder builds a Schema fluently:
//
//	s, err := schema.StructBuilder().Name("com.example.User").
//		Field("id", schema.Int64Schema).
//		Field("email", schema.OptionalStringSchema).
//		Build()
//
// Mistakes (a field on a non-struct, a duplicate field name, a default that does not match) are remembered and
// reported by Build, so a chain never needs intermediate checks. MustBuild panics instead; use it only for schemas
// written in code, never for ones derived from configuration or input.
type SchemaBuilder struct {
	s   Schema
	err error
}

// NewBuilder starts a schema of type t. For ARRAY and MAP prefer ArrayOf and MapOf, which set the element schemas.
func NewBuilder(t Type) *SchemaBuilder {
	b := &SchemaBuilder{s: Schema{Type: t}}
	if !isCanonical(t) {
		b.err = &FieldError{Reason: fmt.Sprintf("%q", t), Err: ErrUnknownType}
	}
	return b
}

// StructBuilder starts a STRUCT schema.
func StructBuilder() *SchemaBuilder { return NewBuilder(StructType) }

// ArrayOf starts an ARRAY schema with elements of schema elem.
func ArrayOf(elem *Schema) *SchemaBuilder {
	b := NewBuilder(Array)
	b.s.ElemSchema = elem
	return b
}

// MapOf starts a MAP schema with keys of schema key and values of schema value.
func MapOf(key, value *Schema) *SchemaBuilder {
	b := NewBuilder(Map)
	b.s.KeySchema, b.s.ValueSchema = key, value
	return b
}

// FromSchema starts a builder holding a deep copy of s, to derive a modified schema.
func FromSchema(s *Schema) *SchemaBuilder {
	if s == nil {
		return &SchemaBuilder{err: fmt.Errorf("builder from nil schema: %w", ErrInvalidSchema)}
	}
	return &SchemaBuilder{s: *s.Copy()}
}

// Optional marks the schema optional (nil is a valid value).
func (b *SchemaBuilder) Optional() *SchemaBuilder { b.s.Optional = true; return b }

// Required marks the schema required (the default).
func (b *SchemaBuilder) Required() *SchemaBuilder { b.s.Optional = false; return b }

// Name sets the schema name.
func (b *SchemaBuilder) Name(name string) *SchemaBuilder { b.s.Name = name; return b }

// Version sets the schema version.
func (b *SchemaBuilder) Version(v int) *SchemaBuilder { b.s.Version = v; return b }

// Doc sets the documentation string.
func (b *SchemaBuilder) Doc(doc string) *SchemaBuilder { b.s.Doc = doc; return b }

// Parameter sets one parameter.
func (b *SchemaBuilder) Parameter(k, v string) *SchemaBuilder {
	if b.s.Parameters == nil {
		b.s.Parameters = map[string]string{}
	}
	b.s.Parameters[k] = v
	return b
}

// Parameters sets several parameters (merged into any already set).
func (b *SchemaBuilder) Parameters(p map[string]string) *SchemaBuilder {
	if len(p) == 0 {
		return b
	}
	if b.s.Parameters == nil {
		b.s.Parameters = make(map[string]string, len(p))
	}
	maps.Copy(b.s.Parameters, p)
	return b
}

// Default sets the default value; Build checks it against the schema.
func (b *SchemaBuilder) Default(v any) *SchemaBuilder { b.s.Default = v; return b }

// Field appends a STRUCT field.
func (b *SchemaBuilder) Field(name string, s *Schema) *SchemaBuilder {
	switch {
	case b.s.Type != StructType:
		b.fail(fmt.Errorf("field %q on a %s schema: %w", name, b.s.Type, ErrNotStruct))
	case name == "":
		b.fail(fmt.Errorf("empty field name: %w", ErrInvalidSchema))
	case s == nil:
		b.fail(fmt.Errorf("field %q has no schema: %w", name, ErrInvalidSchema))
	default:
		if _, dup := b.s.Field(name); dup {
			b.fail(fmt.Errorf("duplicate field %q: %w", name, ErrInvalidSchema))
			return b
		}
		b.s.Fields = append(b.s.Fields, Field{Name: name, Index: len(b.s.Fields), Schema: s})
	}
	return b
}

// RemoveField drops a STRUCT field (if present) and renumbers the rest.
func (b *SchemaBuilder) RemoveField(name string) *SchemaBuilder {
	out := b.s.Fields[:0:0]
	for _, f := range b.s.Fields {
		if f.Name != name {
			f.Index = len(out)
			out = append(out, f)
		}
	}
	b.s.Fields = out
	return b
}

// Items sets the ARRAY element schema.
func (b *SchemaBuilder) Items(elem *Schema) *SchemaBuilder { b.s.ElemSchema = elem; return b }

// Keys sets the MAP key schema.
func (b *SchemaBuilder) Keys(k *Schema) *SchemaBuilder { b.s.KeySchema = k; return b }

// Values sets the MAP value schema.
func (b *SchemaBuilder) Values(v *Schema) *SchemaBuilder { b.s.ValueSchema = v; return b }

func (b *SchemaBuilder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// Build returns the schema, or the first mistake made while building it (wrapping ErrInvalidSchema,
// ErrNotStruct or ErrUnknownType). The builder may be reused; each Build returns an independent copy.
func (b *SchemaBuilder) Build() (*Schema, error) {
	if b.err != nil {
		return nil, b.err
	}
	s := b.s.Copy()
	if err := CheckSchema(s); err != nil {
		return nil, err
	}
	return s, nil
}

// MustBuild is Build that panics on error; for schemas written in code.
func (b *SchemaBuilder) MustBuild() *Schema {
	s, err := b.Build()
	if err != nil {
		panic("schema: " + err.Error())
	}
	return s
}

// CheckSchema reports whether s is well formed: a known type, element schemas present exactly where the type needs
// them, field indexes equal to positions, unique field names, a Decimal scale that parses, and a default that
// validates. Errors wrap ErrInvalidSchema or ErrUnknownType and name the field path.
func CheckSchema(s *Schema) error { return checkSchema(s) }

func checkSchema(s *Schema) error {
	if s == nil {
		return &FieldError{Reason: "nil schema", Err: ErrInvalidSchema}
	}
	bad := func(format string, a ...any) error {
		return &FieldError{Reason: fmt.Sprintf(format, a...), Err: ErrInvalidSchema}
	}
	if _, err := ParseType(string(s.Type)); err != nil || !isCanonical(s.Type) {
		return &FieldError{Reason: fmt.Sprintf("%q", s.Type), Err: ErrUnknownType}
	}
	if s.Type != StructType && len(s.Fields) > 0 {
		return bad("%s schema has fields", s.Type)
	}
	if s.Type != Array && s.ElemSchema != nil {
		return bad("%s schema has an element schema", s.Type)
	}
	if s.Type != Map && (s.KeySchema != nil || s.ValueSchema != nil) {
		return bad("%s schema has key/value schemas", s.Type)
	}
	switch s.Type {
	case StructType:
		seen := make(map[string]struct{}, len(s.Fields))
		for i, f := range s.Fields {
			if f.Index != i {
				return bad("field %q has index %d at position %d", f.Name, f.Index, i)
			}
			if _, dup := seen[f.Name]; dup {
				return bad("duplicate field %q", f.Name)
			}
			seen[f.Name] = struct{}{}
			if err := checkSchema(f.Schema); err != nil {
				return AtField(err, f.Name)
			}
		}
	case Array:
		if s.ElemSchema == nil {
			return bad("array schema without element schema")
		}
		if err := checkSchema(s.ElemSchema); err != nil {
			return AtField(err, "[]")
		}
	case Map:
		if s.KeySchema == nil || s.ValueSchema == nil {
			return bad("map schema without key or value schema")
		}
		if err := checkSchema(s.KeySchema); err != nil {
			return AtField(err, "[key]")
		}
		if err := checkSchema(s.ValueSchema); err != nil {
			return AtField(err, "[value]")
		}
	}
	if logicalKindOf(s) == logicalDecimal {
		if _, err := DecimalScale(s); err != nil {
			return err
		}
	}
	if s.Default != nil {
		if err := validateValue(s, s.Default); err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				return bad("default value: %s", fe.Reason)
			}
			return bad("default value: %v", err)
		}
	}
	return nil
}

func isCanonical(t Type) bool {
	for _, c := range Types {
		if c == t {
			return true
		}
	}
	return false
}
