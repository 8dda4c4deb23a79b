package transforms

import (
	"fmt"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
)

// Flatten turns nested structs (or nested maps) into top-level fields named
// by joining the path with delimiter ("." by default). Fields under an
// optional struct become optional. Arrays and maps with a schema are kept as
// they are. Null keys/values pass through. Two fields that flatten to the same
// name fail the record.
type Flatten struct {
	side  side
	delim string
	cache schemaCache
}

var flattenSpec = plugins.MustConfigSpec(
	plugins.Field{Name: "delimiter", Type: plugins.TypeString, Default: ".", Doc: "Joins the names of nested fields."},
)

// Spec declares the configuration keys.
func (t *Flatten) Spec() *plugins.ConfigSpec { return flattenSpec }

// Configure reads the configuration.
func (t *Flatten) Configure(cfg map[string]string) error {
	v, err := flattenSpec.Parse(cfg)
	t.delim = v.String("delimiter")
	return err
}

// Apply flattens.
func (t *Flatten) Apply(r *schema.Record) (*schema.Record, error) {
	sc, v := t.side.get(r)
	if v == nil {
		return r, nil
	}
	if sc == nil {
		m, err := requireMap(v, "Flatten "+t.side.String())
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(m))
		if err := t.flattenMap("", m, out, 0); err != nil {
			return nil, err
		}
		return t.side.with(r, nil, out), nil
	}
	st, err := requireStruct(sc, v, "Flatten "+t.side.String())
	if err != nil {
		return nil, err
	}
	newSc, err := t.cache.get(sc, func(sc *schema.Schema) (*schema.Schema, error) {
		var fields []schema.Field
		seen := map[string]bool{}
		if err := t.flattenSchema("", sc, false, &fields, seen, 0); err != nil {
			return nil, err
		}
		return structWith(sc, fields), nil
	})
	if err != nil {
		return nil, err
	}
	vals := make([]any, 0, len(newSc.Fields))
	vals = t.flattenStruct(sc, st, vals)
	out, err := fill(newSc, vals)
	if err != nil {
		return nil, fmt.Errorf("Flatten: %w", err)
	}
	return t.side.with(r, newSc, out), nil
}

const maxDepth = 64

func (t *Flatten) name(prefix, n string) string {
	if prefix == "" {
		return n
	}
	return prefix + t.delim + n
}

func (t *Flatten) flattenSchema(prefix string, sc *schema.Schema, opt bool, out *[]schema.Field, seen map[string]bool, depth int) error {
	if depth > maxDepth {
		return unsupported("Flatten: structs nested deeper than %d", maxDepth)
	}
	for _, f := range sc.Fields {
		name := t.name(prefix, f.Name)
		if f.Schema.Type == typeStruct {
			if err := t.flattenSchema(name, f.Schema, opt || f.Schema.Optional, out, seen, depth+1); err != nil {
				return err
			}
			continue
		}
		if seen[name] {
			return unsupported("Flatten: two fields flatten to %q", name)
		}
		seen[name] = true
		fs := f.Schema
		if opt {
			fs = optional(fs)
		}
		*out = append(*out, schema.Field{Name: name, Schema: fs})
	}
	return nil
}

// flattenStruct appends leaf values in schema order; a nil struct
// contributes nils for all its leaves.
func (t *Flatten) flattenStruct(sc *schema.Schema, st *structValue, vals []any) []any {
	for i, f := range sc.Fields {
		var v any
		if st != nil {
			v = st.GetIndex(i)
		}
		if f.Schema.Type == typeStruct {
			inner, _ := v.(*structValue)
			if inner == nil && f.Schema.Default != nil {
				inner, _ = f.Schema.Default.(*structValue)
			}
			vals = t.flattenStruct(f.Schema, inner, vals)
			continue
		}
		vals = append(vals, v)
	}
	return vals
}

// flattenMap adds the leaves of m to out. Two leaves with the same flattened name ({"a.b": 1, "a": {"b": 2}}) are an
// error, as with a schema: which one would win depends on Go's random map order.
func (t *Flatten) flattenMap(prefix string, m map[string]any, out map[string]any, depth int) error {
	for k, v := range m {
		name := t.name(prefix, k)
		if inner, ok := v.(map[string]any); ok && depth < maxDepth {
			if err := t.flattenMap(name, inner, out, depth+1); err != nil {
				return err
			}
			continue
		}
		if _, dup := out[name]; dup {
			return unsupported("Flatten: two fields flatten to %q", name)
		}
		out[name] = v
	}
	return nil
}
