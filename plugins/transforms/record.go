package transforms

import (
	"fmt"
	"sync"

	"github.com/rmqconnect/rmqconnect/schema"
)

// side selects the part of a record a keyed transform works on.
type side bool

const (
	keySide   side = true
	valueSide side = false
)

func (s side) String() string {
	if s == keySide {
		return "key"
	}
	return "value"
}

func (s side) get(r *schema.Record) (*schema.Schema, any) {
	if s == keySide {
		return r.KeySchema, r.Key
	}
	return r.ValueSchema, r.Value
}

// with returns a shallow copy of r with the key or value replaced. Only the
// top-level record is copied: the caller never mutates anything it shares
// with r, it builds new values instead.
func (s side) with(r *schema.Record, sc *schema.Schema, v any) *schema.Record {
	c := *r
	if s == keySide {
		c.KeySchema, c.Key = sc, v
	} else {
		c.ValueSchema, c.Value = sc, v
	}
	return &c
}

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupportedValue, fmt.Sprintf(format, args...))
}

// requireStruct returns v as a struct of a STRUCT schema.
func requireStruct(sc *schema.Schema, v any, what string) (*structValue, error) {
	if sc.Type != typeStruct {
		return nil, unsupported("%s: %s needs a struct schema, got %s", what, "the transform", sc)
	}
	st, ok := v.(*structValue)
	if !ok || st == nil {
		return nil, unsupported("%s: expected a struct, got %T", what, v)
	}
	return st, nil
}

// requireMap returns a schemaless value as a map.
func requireMap(v any, what string) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, unsupported("%s: schemaless value must be a map[string]any, got %T", what, v)
	}
	return m, nil
}

// structWith copies base but with new fields (indexes renumbered).
func structWith(base *schema.Schema, fields []schema.Field) *schema.Schema {
	c := *base
	c.Fields = make([]schema.Field, len(fields))
	for i, f := range fields {
		c.Fields[i] = schema.Field{Name: f.Name, Index: i, Schema: f.Schema}
	}
	c.Default = nil // a struct default of the old schema does not fit the new one
	return &c
}

// fill builds a struct of sc from values in field order.
func fill(sc *schema.Schema, values []any) (*structValue, error) {
	st := schema.NewStruct(sc)
	for i, v := range values {
		if err := st.PutIndex(i, v); err != nil {
			return nil, unsupported("%v", err)
		}
	}
	return st, nil
}

// fieldValue returns a struct field's value (its default when unset).
func fieldValue(st *structValue, i int) any {
	if v := st.GetIndex(i); v != nil {
		return v
	}
	return st.Schema().Fields[i].Schema.Default
}

// optional returns s made optional (s itself if it already is).
func optional(s *schema.Schema) *schema.Schema {
	if s == nil || s.Optional {
		return s
	}
	if p := schema.PrimitiveSchema(s.Type, true); p != nil && s.Name == "" && s.Default == nil &&
		s.Version == 0 && s.Doc == "" && len(s.Parameters) == 0 {
		return p
	}
	c := *s
	c.Optional = true
	return &c
}

// schemaCache remembers derived schemas per input schema, so a transform
// rebuilds a schema once per distinct input, not once per record. It is
// bounded: past its size it starts over.
type schemaCache struct {
	mu sync.Mutex
	m  map[*schema.Schema]*schema.Schema
}

const schemaCacheSize = 64

func (c *schemaCache) get(in *schema.Schema, build func(*schema.Schema) (*schema.Schema, error)) (*schema.Schema, error) {
	c.mu.Lock()
	out, ok := c.m[in]
	c.mu.Unlock()
	if ok {
		return out, nil
	}
	out, err := build(in)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= schemaCacheSize {
		c.m = map[*schema.Schema]*schema.Schema{}
	}
	c.m[in] = out
	c.mu.Unlock()
	return out, nil
}

// copyMap returns a shallow copy of a schemaless map.
func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
