package transforms

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
)

// Cast converts the whole key/value (spec=int32) or some fields
// (spec=a:int64,b:string) to another primitive type: int8, int16, int32,
// int64, float32, float64, boolean or string. Numbers, booleans, strings,
// decimals and timestamps are accepted as input. Null stays null.
type Cast struct {
	side   side
	whole  schema.Type
	fields map[string]schema.Type
	order  []string
	cache  schemaCache
}

var castSpec = plugins.MustConfigSpec(
	plugins.Field{Name: "spec", Type: plugins.TypeList, Required: true, Validators: []plugins.Validator{plugins.NonEmpty()},
		Doc: "Either one type for the whole value, or field:type pairs. Types: int8, int16, int32, int64, float32, float64, boolean, string."},
)

// Spec declares the configuration keys.
func (t *Cast) Spec() *plugins.ConfigSpec { return castSpec }

func castType(s string) (schema.Type, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "int8":
		return schema.Int8, true
	case "int16":
		return schema.Int16, true
	case "int32":
		return schema.Int32, true
	case "int64":
		return schema.Int64, true
	case "float32", "float":
		return schema.Float32, true
	case "float64", "double":
		return schema.Float64, true
	case "boolean":
		return schema.Boolean, true
	case "string":
		return schema.String, true
	}
	return "", false
}

// Configure reads the configuration.
func (t *Cast) Configure(cfg map[string]string) error {
	v, err := castSpec.Parse(cfg)
	if err != nil {
		return err
	}
	raw := cfg["spec"]
	bad := func(reason string) error {
		return &cfgerr.Error{Key: "spec", Value: raw, Reason: reason, Err: plugins.ErrInvalidValue}
	}
	items := v.List("spec")
	t.fields = map[string]schema.Type{}
	for _, item := range items {
		name, typ, hasColon := strings.Cut(item, ":")
		if !hasColon {
			if len(items) != 1 {
				return bad("a whole-value cast must be the only entry")
			}
			ct, ok := castType(item)
			if !ok {
				return bad(fmt.Sprintf("unsupported cast type %q", item))
			}
			t.whole = ct
			return nil
		}
		name = strings.TrimSpace(name)
		ct, ok := castType(typ)
		if name == "" || !ok {
			return bad(fmt.Sprintf("bad entry %q: want field:type with a supported type", item))
		}
		if _, dup := t.fields[name]; dup {
			return bad(fmt.Sprintf("field %q listed twice", name))
		}
		t.fields[name] = ct
		t.order = append(t.order, name)
	}
	return nil
}

// Apply casts.
func (t *Cast) Apply(r *schema.Record) (*schema.Record, error) {
	sc, v := t.side.get(r)
	if t.whole != "" {
		if sc != nil && !sc.Type.IsPrimitive() {
			return nil, unsupported("Cast %s: a whole-value cast needs a primitive schema, got %s", t.side, sc)
		}
		out, err := castValue(v, t.whole)
		if err != nil {
			return nil, fmt.Errorf("Cast %s: %w", t.side, err)
		}
		var outSc *schema.Schema
		if sc != nil {
			outSc = schema.PrimitiveSchema(t.whole, sc.Optional)
		}
		return t.side.with(r, outSc, out), nil
	}
	if v == nil {
		return r, nil
	}
	if sc == nil {
		m, err := requireMap(v, "Cast "+t.side.String())
		if err != nil {
			return nil, err
		}
		out := copyMap(m)
		for name, typ := range t.fields {
			x, ok := m[name]
			if !ok {
				continue
			}
			if out[name], err = castValue(x, typ); err != nil {
				return nil, fmt.Errorf("Cast field %q: %w", name, err)
			}
		}
		return t.side.with(r, nil, out), nil
	}
	st, err := requireStruct(sc, v, "Cast "+t.side.String())
	if err != nil {
		return nil, err
	}
	newSc, err := t.cache.get(sc, func(sc *schema.Schema) (*schema.Schema, error) {
		fields := append([]schema.Field(nil), sc.Fields...)
		for i, f := range fields {
			typ, ok := t.fields[f.Name]
			if !ok {
				continue
			}
			if !f.Schema.Type.IsPrimitive() {
				return nil, unsupported("Cast: field %q has non-primitive schema %s", f.Name, f.Schema)
			}
			ns := schema.PrimitiveSchema(typ, f.Schema.Optional)
			if f.Schema.Default != nil {
				if d, err := castValue(f.Schema.Default, typ); err == nil {
					c := *ns
					c.Default = d
					ns = &c
				}
			}
			fields[i].Schema = ns
		}
		return structWith(sc, fields), nil
	})
	if err != nil {
		return nil, err
	}
	vals := make([]any, len(sc.Fields))
	for i, f := range sc.Fields {
		vals[i] = st.GetIndex(i)
		if typ, ok := t.fields[f.Name]; ok {
			if vals[i], err = castValue(vals[i], typ); err != nil {
				return nil, fmt.Errorf("Cast field %q: %w", f.Name, err)
			}
		}
	}
	out, err := fill(newSc, vals)
	if err != nil {
		return nil, fmt.Errorf("Cast: %w", err)
	}
	return t.side.with(r, newSc, out), nil
}

// castValue converts x to the Go type of target (nil stays nil).
func castValue(x any, target schema.Type) (any, error) {
	if x == nil {
		return nil, nil
	}
	if target == schema.String {
		return castString(x)
	}
	var (
		i     int64
		f     float64
		isInt bool
	)
	switch v := x.(type) {
	case int8:
		i, isInt = int64(v), true
	case int16:
		i, isInt = int64(v), true
	case int32:
		i, isInt = int64(v), true
	case int64:
		i, isInt = v, true
	case int:
		i, isInt = int64(v), true
	case float32:
		f = float64(v)
	case float64:
		f = v
	case bool:
		if v {
			i = 1
		}
		isInt = true
	case schema.Decimal:
		f = v.Float64()
	case time.Time:
		i, isInt = v.UnixMilli(), true
	case string:
		s := strings.TrimSpace(v)
		if target == schema.Boolean {
			b, err := strconv.ParseBool(s)
			if err != nil {
				return nil, unsupported("cannot cast %q to boolean", v)
			}
			return b, nil
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			i, isInt = n, true
		} else if fl, err := strconv.ParseFloat(s, 64); err == nil {
			f = fl
		} else {
			return nil, unsupported("cannot cast %q to %s", v, target)
		}
	default:
		return nil, unsupported("cannot cast a %T to %s", x, target)
	}
	if !isInt && (target == schema.Int8 || target == schema.Int16 || target == schema.Int32 || target == schema.Int64) {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, unsupported("cannot cast %v to %s", f, target)
		}
		i, isInt = int64(f), true
	} else if isInt {
		f = float64(i)
	}
	switch target {
	case schema.Int8:
		return int8(i), nil
	case schema.Int16:
		return int16(i), nil
	case schema.Int32:
		return int32(i), nil
	case schema.Int64:
		return i, nil
	case schema.Float32:
		return float32(f), nil
	case schema.Float64:
		return f, nil
	case schema.Boolean:
		return f != 0, nil
	}
	return nil, unsupported("cannot cast to %s", target)
}

func castString(x any) (any, error) {
	switch v := x.(type) {
	case string:
		return v, nil
	case int8, int16, int32, int64, int, bool:
		return fmt.Sprint(v), nil
	case float32:
		return strconv.FormatFloat(float64(v), 'g', -1, 32), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case schema.Decimal:
		return v.String(), nil
	case time.Time:
		return v.UTC().Format("2006-01-02T15:04:05.000Z"), nil
	case []byte:
		return base64.StdEncoding.EncodeToString(v), nil
	}
	return nil, unsupported("cannot cast a %T to string", x)
}
