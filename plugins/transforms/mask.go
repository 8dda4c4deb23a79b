package transforms

import (
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
)

// MaskField replaces the listed fields with the zero value of their type, or
// with replacement (numbers and strings only). Null fields stay null, and a
// listed field the record does not have is skipped, with a schema as without
// one, as Kafka's does: a field dropped from an evolving schema must not fail
// every record after it.
type MaskField struct {
	side        side
	fields      []string
	replacement string
	hasRepl     bool
}

var maskFieldSpec = plugins.MustConfigSpec(
	plugins.Field{Name: "fields", Type: plugins.TypeList, Required: true, Validators: []plugins.Validator{plugins.NonEmpty()},
		Doc: "Fields to mask."},
	// An empty replacement fits no number, so it would fail every record with a numeric field; Kafka refuses it too.
	plugins.Field{Name: "replacement", Type: plugins.TypeString, Validators: []plugins.Validator{plugins.NonEmpty()},
		Doc: "Replacement for numeric and string fields instead of the zero value."},
)

// Spec declares the configuration keys.
func (t *MaskField) Spec() *plugins.ConfigSpec { return maskFieldSpec }

// Configure reads the configuration.
func (t *MaskField) Configure(cfg map[string]string) error {
	v, err := maskFieldSpec.Parse(cfg)
	if err != nil {
		return err
	}
	t.fields, t.replacement, t.hasRepl = v.List("fields"), v.String("replacement"), v.IsSet("replacement")
	return nil
}

// Apply masks the fields.
func (t *MaskField) Apply(r *schema.Record) (*schema.Record, error) {
	sc, v := t.side.get(r)
	if v == nil {
		return r, nil
	}
	if sc == nil {
		m, err := requireMap(v, "MaskField "+t.side.String())
		if err != nil {
			return nil, err
		}
		out := copyMap(m)
		for _, f := range t.fields {
			x, ok := m[f]
			if !ok || x == nil {
				continue
			}
			masked, err := t.mask(nil, x)
			if err != nil {
				return nil, fmt.Errorf("MaskField field %q: %w", f, err)
			}
			out[f] = masked
		}
		return t.side.with(r, nil, out), nil
	}
	st, err := requireStruct(sc, v, "MaskField "+t.side.String())
	if err != nil {
		return nil, err
	}
	vals := make([]any, len(sc.Fields))
	for i := range sc.Fields {
		vals[i] = st.GetIndex(i)
	}
	for _, name := range t.fields {
		f, ok := sc.Field(name)
		if !ok || vals[f.Index] == nil {
			continue
		}
		masked, err := t.mask(f.Schema, vals[f.Index])
		if err != nil {
			return nil, fmt.Errorf("MaskField field %q: %w", name, err)
		}
		vals[f.Index] = masked
	}
	out, err := fill(sc, vals)
	if err != nil {
		return nil, fmt.Errorf("MaskField: %w", err)
	}
	return t.side.with(r, sc, out), nil
}

var epoch = time.Unix(0, 0).UTC()

// mask returns the masked form of x (of schema sc, or schemaless when nil).
func (t *MaskField) mask(sc *schema.Schema, x any) (any, error) {
	if !t.hasRepl {
		switch v := x.(type) {
		case int8:
			return int8(0), nil
		case int16:
			return int16(0), nil
		case int32:
			return int32(0), nil
		case int64:
			return int64(0), nil
		case int:
			return 0, nil
		case float32:
			return float32(0), nil
		case float64:
			return float64(0), nil
		case bool:
			return false, nil
		case string:
			return "", nil
		case []byte:
			return []byte{}, nil
		case schema.Decimal:
			return schema.Decimal{Unscaled: new(big.Int), Scale: v.Scale}, nil
		case time.Time:
			return epoch, nil
		case []any:
			return []any{}, nil
		case map[any]any:
			return map[any]any{}, nil
		case map[string]any:
			return map[string]any{}, nil
		}
		return nil, unsupported("cannot mask a value of type %T", x)
	}
	repl := t.replacement
	bad := func(err error) error {
		return unsupported("replacement %q does not fit a %T field: %v", repl, x, err)
	}
	switch x.(type) {
	case int8, int16, int32, int64, int:
		n, err := strconv.ParseInt(repl, 10, intBits(x))
		if err != nil {
			return nil, bad(err)
		}
		return castInt(n, x), nil
	case float32:
		f, err := strconv.ParseFloat(repl, 32)
		if err != nil {
			return nil, bad(err)
		}
		return float32(f), nil
	case float64:
		f, err := strconv.ParseFloat(repl, 64)
		if err != nil {
			return nil, bad(err)
		}
		return f, nil
	case string:
		return repl, nil
	case schema.Decimal:
		d, err := schema.ParseDecimal(repl)
		if err != nil {
			return nil, bad(err)
		}
		if sc != nil {
			scale, _ := schema.DecimalScale(sc)
			if d, err = d.Rescale(scale); err != nil {
				return nil, bad(err)
			}
		}
		return d, nil
	}
	return nil, unsupported("cannot mask a value of type %T with a replacement", x)
}

// intBits is the width of an integer value's type.
func intBits(x any) int {
	switch x.(type) {
	case int8:
		return 8
	case int16:
		return 16
	case int32:
		return 32
	}
	return 64
}

// castInt converts n to the integer type of like.
func castInt(n int64, like any) any {
	switch like.(type) {
	case int8:
		return int8(n)
	case int16:
		return int16(n)
	case int32:
		return int32(n)
	case int:
		return int(n)
	}
	return n
}
