package transforms

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"math/big"
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
// decimals, dates, times and timestamps are accepted as input. Null stays null.
//
// Values are those of Kafka's Cast:
//   - a Date casts as its days since the epoch, a Time as its milliseconds of
//     the day, a Timestamp as its milliseconds since the epoch (so a Date to
//     int32 is a day count); schemaless, a time.Time casts as a Timestamp. To
//     string they read 2024-01-02, 03:04:05.000Z and 2024-01-02T03:04:05.000Z
//     (UTC);
//   - a number cast to a narrower integer keeps the low-order bits, as Java's
//     Number.byteValue and friends do: int64 300 to int8 is 44, not an error;
//     a float first truncates toward zero and saturates at the int32 range
//     (the int64 range for int64), as Java's (int) and (long) casts do, so
//     300.7 to int8 is 44 and 1e20 to int32 is 2147483647;
//   - a Decimal casts exactly, never through a float: to an integer, its
//     integer part (toward zero: -2.7 is -2), then narrowed as above;
//   - a number is true as a boolean when its integer part is not zero (0.5 is
//     false);
//   - a string must parse as the target type, as Java's Byte.parseByte,
//     Integer.parseInt and Double.parseDouble do: "1.5" to int32 and "300" to
//     int8 are errors.
//
// Unlike Kafka, these are errors rather than a wrapped or saturated value:
// NaN and ±Inf to an integer, a Decimal whose integer part does not fit in
// an int64, and a string out of a float's range (1e39 to float32). Spaces
// around a string are ignored. A string casts to boolean as Go's
// strconv.ParseBool reads it (1, t, T, true, TRUE, True and the same forms of
// false), and any other string is an error, where Kafka reads everything but
// "true" as false. To string, a time follows its schema (Kafka goes by the
// value, so a Timestamp at midnight UTC reads as a date there), a float is
// written in Go's shortest form (1 and 1e+21 where Java writes 1.0 and 1.0E21) and a
// Decimal in plain notation. A value that cannot be cast fails its record,
// which errors.tolerance then handles.
type Cast struct {
	side   side
	whole  schema.Type
	fields map[string]schema.Type
	order  []string
	cache  schemaCache
}

var castSpec = plugins.MustConfigSpec(
	plugins.Field{Name: "spec", Type: plugins.TypeList, Required: true, Validators: []plugins.Validator{plugins.NonEmpty()},
		Doc: "Either one type for the whole value, or field:type pairs. Types: int8, int16, int32, int64, float32, float64, boolean, string. Values as Kafka's Cast gives them: a Date casts as days since the epoch, a Time as milliseconds of the day, a Timestamp as epoch milliseconds; a narrower integer keeps the low-order bits (300 to int8 is 44); a Decimal or float truncates toward zero; a string must parse as the target type (\"1.5\" to int32 is an error)."},
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
		out, err := castValue(sc, v, t.whole)
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
			if out[name], err = castValue(nil, x, typ); err != nil {
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
				if d, err := castValue(f.Schema, f.Schema.Default, typ); err == nil {
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
			if vals[i], err = castValue(f.Schema, vals[i], typ); err != nil {
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

// castValue converts x, a value of schema sc (nil when schemaless), to the Go type of target (nil stays nil),
// as the Cast doc says. As in Kafka's Cast, a Date, Time or Timestamp is first encoded as the number its logical
// type stores (Cast.encodeLogicalType), except for a string target; the number then converts as Java converts
// a Number: integers keep their low-order bits (Long.byteValue), floats go through Java's saturating (int) and
// (long) casts.
func castValue(sc *schema.Schema, x any, target schema.Type) (any, error) {
	if x == nil {
		return nil, nil
	}
	if target == schema.String {
		return castString(sc, x)
	}
	if tm, ok := x.(time.Time); ok {
		n, err := encodeTime(sc, tm)
		if err != nil {
			return nil, err
		}
		x = n
	}
	switch v := x.(type) {
	case int8:
		return castFromInt(int64(v), target)
	case int16:
		return castFromInt(int64(v), target)
	case int32:
		return castFromInt(int64(v), target)
	case int64:
		return castFromInt(v, target)
	case int:
		return castFromInt(int64(v), target)
	case bool:
		var i int64
		if v {
			i = 1
		}
		return castFromInt(i, target)
	case float32:
		if target == schema.Float32 {
			return v, nil
		}
		return castFromFloat(float64(v), target)
	case float64:
		return castFromFloat(v, target)
	case schema.Decimal:
		return castFromDecimal(v, target)
	case string:
		return castFromString(v, target)
	}
	return nil, unsupported("cannot cast a %T to %s", x, target)
}

// encodeTime encodes a time as the number its logical type stores (Kafka's Cast.encodeLogicalType).
func encodeTime(sc *schema.Schema, t time.Time) (int64, error) {
	if sc != nil {
		switch {
		case sc.Name == schema.DateName && sc.Type == schema.Int32:
			days, err := schema.DateToDays(t)
			if err != nil {
				return 0, unsupported("cannot cast a Date: %v", err)
			}
			return int64(days), nil
		case sc.Name == schema.TimeName && sc.Type == schema.Int32:
			ms, err := schema.TimeToMillis(t)
			if err != nil {
				return 0, unsupported("cannot cast a Time: %v", err)
			}
			return int64(ms), nil
		}
	}
	return schema.TimestampToMillis(t), nil
}

// castFromInt converts an integer; narrower integer types keep the low-order bits, as Java's narrowing does.
func castFromInt(i int64, target schema.Type) (any, error) {
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
		return float32(i), nil
	case schema.Float64:
		return float64(i), nil
	case schema.Boolean:
		return i != 0, nil
	}
	return nil, unsupported("cannot cast to %s", target)
}

// castFromFloat converts a float64 with Java's semantics: (int) and (long) truncate toward zero and saturate; byte
// and short go through int.
func castFromFloat(f float64, target schema.Type) (any, error) {
	switch target {
	case schema.Float32:
		return float32(f), nil
	case schema.Float64:
		return f, nil
	case schema.Boolean:
		return !math.IsNaN(f) && math.Abs(f) >= 1, nil
	case schema.Int8, schema.Int16, schema.Int32, schema.Int64:
	default:
		return nil, unsupported("cannot cast to %s", target)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, unsupported("cannot cast %v to %s", f, target)
	}
	if target == schema.Int64 {
		switch {
		case f >= math.MaxInt64: // 2^63: the conversion below would be implementation-defined
			return int64(math.MaxInt64), nil
		case f <= math.MinInt64:
			return int64(math.MinInt64), nil
		}
		return int64(f), nil
	}
	i := int64(max(math.MinInt32, min(math.MaxInt32, f)))
	return castFromInt(i, target)
}

// castFromDecimal converts a Decimal exactly: to an integer through its integer part, never through a float.
func castFromDecimal(d schema.Decimal, target schema.Type) (any, error) {
	switch target {
	case schema.Float32:
		f, _ := strconv.ParseFloat(d.String(), 32) // ±Inf beyond the range, as Java's floatValue
		return float32(f), nil
	case schema.Float64:
		return d.Float64(), nil
	}
	ip, ok := decimalIntPart(d)
	if target == schema.Boolean {
		return !ok || ip.Sign() != 0, nil
	}
	if !ok || !ip.IsInt64() {
		return nil, unsupported("decimal %s is out of range for %s", d, target)
	}
	return castFromInt(ip.Int64(), target)
}

// decimalIntPart returns the integer part of d, truncated toward zero; ok is false when d is so large (a scale
// below -19) that it is not worth computing. The work is bounded by the size of the unscaled value: a scale far
// beyond its digits gives 0 without computing 10^scale.
func decimalIntPart(d schema.Decimal) (ip *big.Int, ok bool) {
	u := d.Unscaled
	switch {
	case u == nil:
		return new(big.Int), true
	case u.Sign() == 0 || d.Scale == 0:
		return u, true
	case d.Scale < -19: // |u| >= 1, so |d| >= 10^20 > MaxInt64
		return nil, false
	case d.Scale < 0:
		p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-d.Scale)), nil)
		return p.Mul(p, u), true
	case int64(d.Scale) > int64(u.BitLen())/3+1: // |u| < 2^bits < 10^(bits/3+1) <= 10^scale
		return new(big.Int), true
	}
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.Scale)), nil)
	return p.Quo(u, p), true // Quo truncates toward zero
}

// castFromString parses a string as the target type; a string that does not parse, or is out of the target's range,
// is an error (Java's Byte.parseByte, Integer.parseInt, Double.parseDouble... with surrounding spaces allowed).
func castFromString(v string, target schema.Type) (any, error) {
	s := strings.TrimSpace(v)
	var (
		out any
		err error
	)
	switch target {
	case schema.Boolean:
		out, err = strconv.ParseBool(s)
	case schema.Int8:
		var n int64
		n, err = strconv.ParseInt(s, 10, 8)
		out = int8(n)
	case schema.Int16:
		var n int64
		n, err = strconv.ParseInt(s, 10, 16)
		out = int16(n)
	case schema.Int32:
		var n int64
		n, err = strconv.ParseInt(s, 10, 32)
		out = int32(n)
	case schema.Int64:
		out, err = strconv.ParseInt(s, 10, 64)
	case schema.Float32:
		var f float64
		f, err = strconv.ParseFloat(s, 32)
		out = float32(f)
	case schema.Float64:
		out, err = strconv.ParseFloat(s, 64)
	default:
		return nil, unsupported("cannot cast to %s", target)
	}
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return nil, unsupported("cannot cast %q to %s: out of range", v, target)
		}
		return nil, unsupported("cannot cast %q to %s", v, target)
	}
	return out, nil
}

// castString renders x: bytes in base64, a Date as yyyy-MM-dd, a Time as HH:mm:ss.SSS'Z' and a Timestamp (or a
// schemaless time.Time) as yyyy-MM-dd'T'HH:mm:ss.SSS'Z', all in UTC, as Kafka's Cast does; floats in Go's
// shortest form and a Decimal in plain notation.
func castString(sc *schema.Schema, x any) (any, error) {
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
		layout := "2006-01-02T15:04:05.000Z"
		if sc != nil && sc.Type == schema.Int32 {
			switch sc.Name {
			case schema.DateName:
				layout = "2006-01-02"
			case schema.TimeName:
				layout = "15:04:05.000Z"
			}
		}
		return v.UTC().Format(layout), nil
	case []byte:
		return base64.StdEncoding.EncodeToString(v), nil
	}
	return nil, unsupported("cannot cast a %T to string", x)
}
