package converter

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rmqconnect/rmqconnect/schema"
)

// encoder writes JSON the way Jackson does for Kafka's JsonConverter: compact, numbers in Java's toString form,
// strings escaped like Jackson (control characters only, \uXXXX in upper case, no HTML escaping).
type encoder struct {
	decimalNumeric bool
	replaceNull    bool
}

func (e *encoder) appendSchema(buf []byte, s *schema.Schema) ([]byte, error) {
	if s == nil {
		return append(buf, "null"...), nil
	}
	buf = append(buf, `{"type":`...)
	buf = appendString(buf, string(s.Type))
	var err error
	switch s.Type {
	case schema.Array:
		if s.ElemSchema == nil {
			return nil, schema.NewFieldError("", schema.ErrInvalidSchema, "array schema without element schema")
		}
		buf = append(buf, `,"items":`...)
		if buf, err = e.appendSchema(buf, s.ElemSchema); err != nil {
			return nil, schema.AtField(err, "[]")
		}
	case schema.Map:
		if s.KeySchema == nil || s.ValueSchema == nil {
			return nil, schema.NewFieldError("", schema.ErrInvalidSchema, "map schema without key or value schema")
		}
		buf = append(buf, `,"keys":`...)
		if buf, err = e.appendSchema(buf, s.KeySchema); err != nil {
			return nil, schema.AtField(err, "[key]")
		}
		buf = append(buf, `,"values":`...)
		if buf, err = e.appendSchema(buf, s.ValueSchema); err != nil {
			return nil, schema.AtField(err, "[value]")
		}
	case schema.StructType:
		buf = append(buf, `,"fields":[`...)
		for i, f := range s.Fields {
			if i > 0 {
				buf = append(buf, ',')
			}
			if f.Schema == nil {
				return nil, schema.NewFieldError(f.Name, schema.ErrInvalidSchema, "field without a schema")
			}
			if buf, err = e.appendSchema(buf, f.Schema); err != nil {
				return nil, schema.AtField(err, f.Name)
			}
			buf = buf[:len(buf)-1] // reopen the field's object to add its name last, as Kafka does
			buf = append(buf, `,"field":`...)
			buf = appendString(buf, f.Name)
			buf = append(buf, '}')
		}
		buf = append(buf, ']')
	case schema.Int8, schema.Int16, schema.Int32, schema.Int64, schema.Float32, schema.Float64, schema.Boolean,
		schema.String, schema.Bytes:
	default:
		return nil, schema.NewFieldError("", schema.ErrUnknownType, strconv.Quote(string(s.Type)))
	}
	buf = append(buf, `,"optional":`...)
	buf = strconv.AppendBool(buf, s.Optional)
	if s.Name != "" {
		buf = append(buf, `,"name":`...)
		buf = appendString(buf, s.Name)
	}
	if s.Version != 0 {
		buf = append(buf, `,"version":`...)
		buf = strconv.AppendInt(buf, int64(s.Version), 10)
	}
	if s.Doc != "" {
		buf = append(buf, `,"doc":`...)
		buf = appendString(buf, s.Doc)
	}
	if s.Parameters != nil {
		buf = append(buf, `,"parameters":{`...)
		for i, k := range parameterOrder(s.Parameters) {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendString(buf, k)
			buf = append(buf, ':')
			buf = appendString(buf, s.Parameters[k])
		}
		buf = append(buf, '}')
	}
	if s.Default != nil {
		buf = append(buf, `,"default":`...)
		if buf, err = e.appendValue(buf, s, s.Default); err != nil {
			return nil, fmt.Errorf("schema default value: %w", err)
		}
	}
	return append(buf, '}'), nil
}

// parameterOrder sorts parameter names, the Decimal scale first (Kafka's Decimal builder sets it first).
func parameterOrder(p map[string]string) []string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if (keys[i] == schema.DecimalScaleParam) != (keys[j] == schema.DecimalScaleParam) {
			return keys[i] == schema.DecimalScaleParam
		}
		return keys[i] < keys[j]
	})
	return keys
}

func mismatch(s *schema.Schema, v any) error {
	return schema.NewFieldError("", schema.ErrInvalidValue, fmt.Sprintf("%s cannot hold a %T", s, v))
}

func (e *encoder) appendValue(buf []byte, s *schema.Schema, v any) ([]byte, error) {
	if v == nil {
		switch {
		case s == nil:
			return append(buf, "null"...), nil
		case s.Default != nil && e.replaceNull:
			return e.appendValue(buf, s, s.Default)
		case s.Optional:
			return append(buf, "null"...), nil
		}
		return nil, schema.NewFieldError("", schema.ErrNullValue, s.String())
	}
	if s == nil {
		return e.appendSchemaless(buf, v)
	}
	if schema.IsLogical(s) {
		return e.appendLogical(buf, s, v)
	}
	ok := true
	switch s.Type {
	case schema.Int8:
		var x int8
		if x, ok = v.(int8); ok {
			buf = strconv.AppendInt(buf, int64(x), 10)
		}
	case schema.Int16:
		var x int16
		if x, ok = v.(int16); ok {
			buf = strconv.AppendInt(buf, int64(x), 10)
		}
	case schema.Int32:
		var x int32
		if x, ok = v.(int32); ok {
			buf = strconv.AppendInt(buf, int64(x), 10)
		}
	case schema.Int64:
		var x int64
		if x, ok = v.(int64); ok {
			buf = strconv.AppendInt(buf, x, 10)
		}
	case schema.Float32:
		var x float32
		if x, ok = v.(float32); ok {
			return appendJavaFloat(buf, float64(x), 32)
		}
	case schema.Float64:
		var x float64
		if x, ok = v.(float64); ok {
			return appendJavaFloat(buf, x, 64)
		}
	case schema.Boolean:
		var x bool
		if x, ok = v.(bool); ok {
			buf = strconv.AppendBool(buf, x)
		}
	case schema.String:
		var x string
		if x, ok = v.(string); ok {
			buf = appendString(buf, x)
		}
	case schema.Bytes:
		var x []byte
		if x, ok = v.([]byte); ok {
			buf = appendBase64(buf, x)
		}
	case schema.Array:
		return e.appendArray(buf, s.ElemSchema, v, s)
	case schema.Map:
		return e.appendMap(buf, s, v)
	case schema.StructType:
		st, isStruct := v.(*schema.Struct)
		if !isStruct || st == nil {
			return nil, mismatch(s, v)
		}
		if st.Schema() != s && !st.Schema().SameShape(s) {
			return nil, schema.NewFieldError("", schema.ErrInvalidValue, fmt.Sprintf("struct has schema %s, expected %s", st.Schema(), s))
		}
		return e.appendStruct(buf, st)
	default:
		return nil, schema.NewFieldError("", schema.ErrUnknownType, strconv.Quote(string(s.Type)))
	}
	if !ok {
		return nil, mismatch(s, v)
	}
	return buf, nil
}

func (e *encoder) appendStruct(buf []byte, st *schema.Struct) ([]byte, error) {
	buf = append(buf, '{')
	var err error
	for i, f := range st.Schema().Fields {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendString(buf, f.Name)
		buf = append(buf, ':')
		if buf, err = e.appendValue(buf, f.Schema, st.GetIndex(i)); err != nil {
			return nil, schema.AtField(err, f.Name)
		}
	}
	return append(buf, '}'), nil
}

func (e *encoder) appendArray(buf []byte, elem *schema.Schema, v any, s *schema.Schema) ([]byte, error) {
	if s != nil && elem == nil {
		return nil, schema.NewFieldError("", schema.ErrInvalidSchema, "array schema without element schema")
	}
	buf = append(buf, '[')
	if arr, ok := v.([]any); ok { // the common case, without a closure
		var err error
		for i, x := range arr {
			if i > 0 {
				buf = append(buf, ',')
			}
			if buf, err = e.appendValue(buf, elem, x); err != nil {
				return nil, schema.AtIndex(err, i)
			}
		}
		return append(buf, ']'), nil
	}
	isArr, err := schema.RangeArray(v, func(i int, x any) error {
		if i > 0 {
			buf = append(buf, ',')
		}
		var err error
		buf, err = e.appendValue(buf, elem, x)
		return schema.AtIndex(err, i)
	})
	if !isArr {
		return nil, mismatch(s, v)
	}
	if err != nil {
		return nil, err
	}
	return append(buf, ']'), nil
}

type mapEntry struct {
	key, val any
	keyJSON  []byte
}

// appendMap writes a map as a JSON object when its keys are strings (by schema, or all of them when schemaless),
// else as an array of [key, value] pairs. Entries are sorted for deterministic output.
func (e *encoder) appendMap(buf []byte, s *schema.Schema, v any) ([]byte, error) {
	var keySchema, valSchema *schema.Schema
	if s != nil {
		if s.KeySchema == nil || s.ValueSchema == nil {
			return nil, schema.NewFieldError("", schema.ErrInvalidSchema, "map schema without key or value schema")
		}
		keySchema, valSchema = s.KeySchema, s.ValueSchema
	}
	var entries []mapEntry
	objectMode := true
	isMap, _ := schema.RangeMap(v, func(k, x any) error {
		if _, isString := k.(string); !isString {
			objectMode = false
		}
		entries = append(entries, mapEntry{key: k, val: x})
		return nil
	})
	if !isMap {
		return nil, mismatch(s, v)
	}
	if s != nil {
		objectMode = keySchema.Type == schema.String && !schema.IsLogical(keySchema)
	}
	for i := range entries {
		if objectMode {
			k, isString := entries[i].key.(string)
			if !isString {
				return nil, schema.AtKey(schema.NewFieldError("", schema.ErrInvalidValue, fmt.Sprintf("map key must be a string, got %T", entries[i].key)), entries[i].key)
			}
			entries[i].keyJSON = appendString(nil, k)
			continue
		}
		kj, err := e.appendValue(nil, keySchema, entries[i].key)
		if err != nil {
			return nil, schema.AtKey(err, entries[i].key)
		}
		entries[i].keyJSON = kj
	}
	// Keys that are equal in JSON but distinct in Go (pointer keys such as *Struct or Decimal) are ordered by
	// their values, so the output never depends on map iteration order.
	slices.SortFunc(entries, func(a, b mapEntry) int {
		if c := bytes.Compare(a.keyJSON, b.keyJSON); c != 0 {
			return c
		}
		av, _ := e.appendValue(nil, valSchema, a.val)
		bv, _ := e.appendValue(nil, valSchema, b.val)
		return bytes.Compare(av, bv)
	})
	var err error
	if objectMode {
		buf = append(buf, '{')
		for i, en := range entries {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, en.keyJSON...)
			buf = append(buf, ':')
			if buf, err = e.appendValue(buf, valSchema, en.val); err != nil {
				return nil, schema.AtKey(err, en.key)
			}
		}
		return append(buf, '}'), nil
	}
	buf = append(buf, '[')
	for i, en := range entries {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '[')
		buf = append(buf, en.keyJSON...)
		buf = append(buf, ',')
		if buf, err = e.appendValue(buf, valSchema, en.val); err != nil {
			return nil, schema.AtKey(err, en.key)
		}
		buf = append(buf, ']')
	}
	return append(buf, ']'), nil
}

func (e *encoder) appendLogical(buf []byte, s *schema.Schema, v any) ([]byte, error) {
	if s.Name == schema.DecimalName {
		d, ok := v.(schema.Decimal)
		if !ok {
			return nil, mismatch(s, v)
		}
		scale, err := schema.DecimalScale(s)
		if err != nil {
			return nil, err
		}
		if d.Scale != scale {
			return nil, schema.NewFieldError("", schema.ErrInvalidValue, fmt.Sprintf("decimal scale %d does not match schema scale %d", d.Scale, scale))
		}
		if e.decimalNumeric {
			return appendJavaDecimal(buf, d), nil
		}
		return appendBase64(buf, d.Bytes()), nil
	}
	t, ok := v.(time.Time)
	if !ok {
		return nil, mismatch(s, v)
	}
	switch s.Name {
	case schema.DateName:
		days, err := schema.DateToDays(t)
		if err != nil {
			return nil, err
		}
		return strconv.AppendInt(buf, int64(days), 10), nil
	case schema.TimeName:
		ms, err := schema.TimeToMillis(t)
		if err != nil {
			return nil, err
		}
		return strconv.AppendInt(buf, int64(ms), 10), nil
	}
	return strconv.AppendInt(buf, schema.TimestampToMillis(t), 10), nil
}

// appendSchemaless writes a value without a schema: JSON-like Go values, any slice or map, a *Struct with its own
// schema, a Decimal as a number and a time.Time as epoch milliseconds.
func (e *encoder) appendSchemaless(buf []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(buf, "null"...), nil
	case bool:
		return strconv.AppendBool(buf, x), nil
	case string:
		return appendString(buf, x), nil
	case []byte:
		return appendBase64(buf, x), nil
	case int8:
		return strconv.AppendInt(buf, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(buf, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(buf, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(buf, x, 10), nil
	case int:
		return strconv.AppendInt(buf, int64(x), 10), nil
	case uint8:
		return strconv.AppendUint(buf, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(buf, uint64(x), 10), nil
	case uint32:
		return strconv.AppendUint(buf, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(buf, x, 10), nil
	case uint:
		return strconv.AppendUint(buf, uint64(x), 10), nil
	case float32:
		return appendJavaFloat(buf, float64(x), 32)
	case float64:
		return appendJavaFloat(buf, x, 64)
	case schema.Decimal:
		return appendJavaDecimal(buf, x), nil
	case time.Time:
		return strconv.AppendInt(buf, x.UnixMilli(), 10), nil
	case *schema.Struct:
		if x == nil {
			return append(buf, "null"...), nil
		}
		return e.appendValue(buf, x.Schema(), x)
	case []any:
		return e.appendArray(buf, nil, x, nil)
	case map[string]any, map[any]any:
		return e.appendMap(buf, nil, x)
	}
	if isArr, _ := schema.RangeArray(v, func(int, any) error { return errStop }); isArr {
		return e.appendArray(buf, nil, v, nil)
	}
	if isMap, _ := schema.RangeMap(v, func(any, any) error { return errStop }); isMap {
		return e.appendMap(buf, nil, v)
	}
	return nil, schema.NewFieldError("", ErrUnsupportedType, fmt.Sprintf("no JSON form for %T", v))
}

var errStop = errors.New("stop")

// appendJavaFloat writes a float as Java's Float/Double.toString does (JDK 19+): the shortest decimal that
// reads back as the same value, but never fewer than two significant digits (picking the closest two-digit
// decimal, which matters only for tiny subnormals such as 4.9E-324); plain with at least one fractional digit for
// 1e-3 <= |f| < 1e7, else d.dddE±n. NaN and infinities have no JSON form.
func appendJavaFloat(buf []byte, f float64, bits int) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, schema.NewFieldError("", schema.ErrInvalidValue, fmt.Sprintf("%v has no JSON form", f))
	}
	if f == 0 {
		if math.Signbit(f) {
			return append(buf, "-0.0"...), nil
		}
		return append(buf, "0.0"...), nil
	}
	if f < 0 {
		buf = append(buf, '-')
		f = -f
	}
	var tmp [40]byte
	s := strconv.AppendFloat(tmp[:0], f, 'e', -1, bits) // d[.ddd]e±XX
	if s[1] == 'e' {
		s = strconv.AppendFloat(tmp[:0], f, 'e', 1, bits) // closest two-digit decimal
	}
	i := bytes.IndexByte(s, 'e')
	exp, _ := strconv.Atoi(string(s[i+1:]))
	var dbuf [24]byte
	digits := append(dbuf[:0], s[0])
	if i > 1 {
		digits = append(digits, s[2:i]...)
	}
	for len(digits) > 1 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	if f >= 1e-3 && f < 1e7 {
		if exp < 0 {
			buf = append(buf, "0."...)
			for range -exp - 1 {
				buf = append(buf, '0')
			}
			return append(buf, digits...), nil
		}
		if len(digits) <= exp+1 {
			buf = append(buf, digits...)
			for range exp + 1 - len(digits) {
				buf = append(buf, '0')
			}
			return append(buf, ".0"...), nil
		}
		buf = append(buf, digits[:exp+1]...)
		buf = append(buf, '.')
		return append(buf, digits[exp+1:]...), nil
	}
	buf = append(buf, digits[0], '.')
	if len(digits) > 1 {
		buf = append(buf, digits[1:]...)
	} else {
		buf = append(buf, '0')
	}
	buf = append(buf, 'E')
	return strconv.AppendInt(buf, int64(exp), 10), nil
}

// appendJavaDecimal writes a Decimal as Java's BigDecimal.toString does (the form Jackson writes).
func appendJavaDecimal(buf []byte, d schema.Decimal) []byte {
	u := d.Unscaled
	if u == nil {
		u = new(big.Int)
	}
	if u.Sign() < 0 {
		buf = append(buf, '-')
	}
	digits := new(big.Int).Abs(u).String()
	scale := int64(d.Scale)
	if scale == 0 {
		return append(buf, digits...)
	}
	adjusted := -scale + int64(len(digits)-1)
	if scale > 0 && adjusted >= -6 {
		if p := int64(len(digits)) - scale; p > 0 {
			buf = append(buf, digits[:p]...)
			buf = append(buf, '.')
			return append(buf, digits[p:]...)
		}
		buf = append(buf, "0."...)
		buf = append(buf, strings.Repeat("0", int(scale)-len(digits))...)
		return append(buf, digits...)
	}
	buf = append(buf, digits[0])
	if len(digits) > 1 {
		buf = append(buf, '.')
		buf = append(buf, digits[1:]...)
	}
	buf = append(buf, 'E')
	if adjusted >= 0 {
		buf = append(buf, '+')
	}
	return strconv.AppendInt(buf, adjusted, 10)
}

func appendBase64(buf []byte, b []byte) []byte {
	buf = append(buf, '"')
	buf = base64.StdEncoding.AppendEncode(buf, b)
	return append(buf, '"')
}

const hexDigits = "0123456789ABCDEF"

// appendString quotes s as Jackson does: `"` and `\` escaped, control characters as \b \t \n \f \r or \u00XX,
// everything else (including non-ASCII and U+2028/9) written raw. Invalid UTF-8 becomes U+FFFD.
func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				buf = append(buf, s[start:i]...)
				buf = append(buf, "\uFFFD"...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		buf = append(buf, s[start:i]...)
		switch c {
		case '"', '\\':
			buf = append(buf, '\\', c)
		case '\b':
			buf = append(buf, '\\', 'b')
		case '\t':
			buf = append(buf, '\\', 't')
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\f':
			buf = append(buf, '\\', 'f')
		case '\r':
			buf = append(buf, '\\', 'r')
		default:
			buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		i++
		start = i
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
