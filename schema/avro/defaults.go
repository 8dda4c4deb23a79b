package avro

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/rmqconnect/rmqconnect/schema"
)

// defaultNative converts an Avro JSON default (numbers as json.Number) to the native form of a.
func defaultNative(a *Schema, d any) (any, error) {
	bad := func() error {
		return schema.NewFieldError("", ErrInvalidSchema, fmt.Sprintf("default %s is not a valid %s", renderJSON(d), a.Kind))
	}
	switch a.Kind {
	case Null:
		return nil, nil
	case Union:
		if len(a.Branches) == 0 {
			return nil, bad()
		}
		b := a.Branches[0]
		if b.Kind == Null {
			return nil, nil
		}
		n, err := defaultNative(b, d)
		if err != nil {
			return nil, err
		}
		return map[string]any{b.branchName(): n}, nil
	case Boolean:
		if b, ok := d.(bool); ok {
			return b, nil
		}
	case Int, Long, Float, Double:
		if f, special := nonFiniteDefault(d); special {
			switch a.Kind {
			case Float:
				return float32(f), nil
			case Double:
				return f, nil
			}
			return nil, bad()
		}
		num, ok := d.(json.Number)
		if !ok {
			if f, isFloat := d.(float64); isFloat {
				num, ok = json.Number(strconv.FormatFloat(f, 'g', -1, 64)), true
			}
		}
		if !ok {
			return nil, bad()
		}
		switch a.Kind {
		case Int:
			n, err := strconv.ParseInt(num.String(), 10, 32)
			if err != nil {
				return nil, bad()
			}
			return int32(n), nil
		case Long:
			n, err := strconv.ParseInt(num.String(), 10, 64)
			if err != nil {
				return nil, bad()
			}
			return n, nil
		case Float:
			f, err := strconv.ParseFloat(num.String(), 32)
			if err != nil {
				return nil, bad()
			}
			return float32(f), nil
		default:
			f, err := strconv.ParseFloat(num.String(), 64)
			if err != nil {
				return nil, bad()
			}
			return f, nil
		}
	case String, Enum:
		if s, ok := d.(string); ok {
			return s, nil
		}
	case Bytes, Fixed:
		s, ok := d.(string)
		if !ok {
			return nil, bad()
		}
		b := make([]byte, 0, len(s))
		for _, r := range s {
			if r > 0xff {
				return nil, bad()
			}
			b = append(b, byte(r))
		}
		return b, nil
	case Array:
		l, ok := d.([]any)
		if !ok {
			return nil, bad()
		}
		out := make([]any, len(l))
		for i, e := range l {
			n, err := defaultNative(a.Items, e)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case Map, Record:
		m, ok := d.(map[string]any)
		if !ok {
			return nil, bad()
		}
		out := make(map[string]any, len(m))
		if a.Kind == Map {
			for k, e := range m {
				n, err := defaultNative(a.Values, e)
				if err != nil {
					return nil, err
				}
				out[k] = n
			}
			return out, nil
		}
		for _, f := range a.Fields {
			e, ok := m[f.Name]
			if !ok {
				e = f.Default
			}
			n, err := defaultNative(f.Type, e)
			if err != nil {
				return nil, schema.AtField(err, f.Name)
			}
			out[f.Name] = n
		}
		return out, nil
	}
	return nil, bad()
}

// nonFinite maps the JSON strings that stand for float and double values JSON numbers cannot write to those values.
// Java Avro reads a float or double default given as such a string, and writes a NaN or infinite default so.
var nonFinite = map[string]float64{"NaN": math.NaN(), "Infinity": math.Inf(1), "-Infinity": math.Inf(-1)}

// nonFiniteDefault reports whether d is one of the nonFinite strings, and its value.
func nonFiniteDefault(d any) (float64, bool) {
	s, ok := d.(string)
	if !ok {
		return 0, false
	}
	f, ok := nonFinite[s]
	return f, ok
}

// floatJSON renders f as a JSON default: a number, or one of the nonFinite strings.
func floatJSON(f float64, bits int) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, bits))
}

// nativeToJSON renders a native value of a as an Avro JSON default: a union as its branch value, bytes as a string
// of code points 0-255, numbers as json.Number (NaN and infinities as nonFinite strings).
func nativeToJSON(a *Schema, v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case int32:
		return json.Number(strconv.FormatInt(int64(x), 10))
	case int64:
		return json.Number(strconv.FormatInt(x, 10))
	case float32:
		return floatJSON(float64(x), 32)
	case float64:
		return floatJSON(x, 64)
	case []byte:
		r := make([]rune, len(x))
		for i, b := range x {
			r[i] = rune(b)
		}
		return string(r)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = nativeToJSON(a.Items, e)
		}
		return out
	case map[string]any:
		switch a.Kind {
		case Union:
			for name, e := range x {
				for _, b := range a.Branches {
					if b.branchName() == name {
						return nativeToJSON(b, e)
					}
				}
			}
			return nil
		case Map:
			out := make(map[string]any, len(x))
			for k, e := range x {
				out[k] = nativeToJSON(a.Values, e)
			}
			return out
		case Record:
			out := make(map[string]any, len(x))
			for _, f := range a.Fields {
				out[f.Name] = nativeToJSON(f.Type, x[f.Name])
			}
			return out
		}
	}
	return v
}
