package converter

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/rmqconnect/rmqconnect/schema"
)

// decoder turns parsed JSON (encoding/json with UseNumber: map[string]any, []any, json.Number, string, bool, nil)
// into Connect schemas and values, checking every value against its schema.
type decoder struct {
	replaceNull bool
}

func nodeKind(n any) string {
	switch n.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case json.Number:
		return "number"
	case string:
		return "string"
	case bool:
		return "boolean"
	}
	return fmt.Sprintf("%T", n)
}

func schemaErr(reason string) error {
	return schema.NewFieldError("", schema.ErrInvalidSchema, reason)
}

// parseSchema reads a Kafka JSON schema. null is the schemaless (nil) schema.
func (d *decoder) parseSchema(node any) (*schema.Schema, error) {
	if node == nil {
		return nil, nil
	}
	obj, ok := node.(map[string]any)
	if !ok {
		return nil, schemaErr("schema must be a JSON object, got " + nodeKind(node))
	}
	typeName, ok := obj["type"].(string)
	if !ok {
		return nil, schemaErr(`schema must contain a string "type" field`)
	}
	s := &schema.Schema{Type: schema.Type(typeName)}
	switch s.Type {
	case schema.Int8, schema.Int16, schema.Int32, schema.Int64, schema.Float32, schema.Float64, schema.Boolean,
		schema.String, schema.Bytes:
	case schema.StructType:
		fields, ok := obj["fields"].([]any)
		if !ok {
			return nil, schemaErr(`struct schema's "fields" must be an array`)
		}
		s.Fields = make([]schema.Field, 0, len(fields))
		seen := make(map[string]struct{}, len(fields))
		for i, fn := range fields {
			fobj, ok := fn.(map[string]any)
			if !ok {
				return nil, schemaErr(fmt.Sprintf("struct field %d must be an object", i))
			}
			name, ok := fobj["field"].(string)
			if !ok {
				return nil, schemaErr(fmt.Sprintf(`struct field %d has no string "field" name`, i))
			}
			if _, dup := seen[name]; dup {
				return nil, schema.NewFieldError(name, schema.ErrInvalidSchema, "duplicate field name")
			}
			seen[name] = struct{}{}
			fs, err := d.parseSchema(fobj)
			if err != nil {
				return nil, schema.AtField(err, name)
			}
			s.Fields = append(s.Fields, schema.Field{Name: name, Index: i, Schema: fs})
		}
	case schema.Array:
		items, ok := obj["items"]
		if !ok || items == nil {
			return nil, schemaErr(`array schema must have "items"`)
		}
		elem, err := d.parseSchema(items)
		if err != nil {
			return nil, schema.AtField(err, "[]")
		}
		s.ElemSchema = elem
	case schema.Map:
		keys, okK := obj["keys"]
		values, okV := obj["values"]
		if !okK || !okV || keys == nil || values == nil {
			return nil, schemaErr(`map schema must have "keys" and "values"`)
		}
		var err error
		if s.KeySchema, err = d.parseSchema(keys); err != nil {
			return nil, schema.AtField(err, "[key]")
		}
		if s.ValueSchema, err = d.parseSchema(values); err != nil {
			return nil, schema.AtField(err, "[value]")
		}
	default:
		return nil, schema.NewFieldError("", schema.ErrUnknownType, strconv.Quote(typeName))
	}
	if opt, ok := obj["optional"].(bool); ok {
		s.Optional = opt
	}
	if name, ok := obj["name"].(string); ok {
		s.Name = name
	}
	if v, ok := obj["version"]; ok && v != nil {
		n, isNum := v.(json.Number)
		ver, err := strconv.ParseInt(string(n), 10, 32)
		if !isNum || err != nil {
			return nil, schemaErr(`"version" must be a 32-bit integer`)
		}
		s.Version = int(ver)
	}
	if doc, ok := obj["doc"].(string); ok {
		s.Doc = doc
	}
	if p, ok := obj["parameters"]; ok && p != nil {
		pobj, isObj := p.(map[string]any)
		if !isObj {
			return nil, schemaErr(`"parameters" must be an object`)
		}
		s.Parameters = make(map[string]string, len(pobj))
		for k, v := range pobj {
			str, isStr := v.(string)
			if !isStr {
				return nil, schemaErr(fmt.Sprintf("schema parameter %q must be a string", k))
			}
			s.Parameters[k] = str
		}
	}
	if s.Name == schema.DecimalName && s.Type == schema.Bytes {
		if _, err := schema.DecimalScale(s); err != nil {
			return nil, err
		}
	}
	if def, ok := obj["default"]; ok && def != nil {
		v, err := d.convert(s, def)
		if err != nil {
			return nil, fmt.Errorf("schema default value: %w", err)
		}
		s.Default = v
	}
	return s, nil
}

func (d *decoder) typeErr(s *schema.Schema, node any) error {
	return schema.NewFieldError("", schema.ErrInvalidValue, fmt.Sprintf("%s cannot be read from a JSON %s", s, nodeKind(node)))
}

// convert reads a JSON node as a value of s (nil s = schemaless).
func (d *decoder) convert(s *schema.Schema, node any) (any, error) {
	if node == nil {
		switch {
		case s == nil:
			return nil, nil
		case s.Default != nil && d.replaceNull:
			return schema.CopyValue(s.Default), nil
		case s.Optional:
			return nil, nil
		}
		return nil, schema.NewFieldError("", schema.ErrNullValue, s.String())
	}
	if s == nil {
		return d.schemaless(node)
	}
	if schema.IsLogical(s) {
		return d.logical(s, node)
	}
	switch s.Type {
	case schema.Int8:
		n, err := d.integer(s, node, 8)
		return int8(n), err
	case schema.Int16:
		n, err := d.integer(s, node, 16)
		return int16(n), err
	case schema.Int32:
		n, err := d.integer(s, node, 32)
		return int32(n), err
	case schema.Int64:
		return d.integer(s, node, 64)
	case schema.Float32:
		f, err := d.float(s, node, 32)
		return float32(f), err
	case schema.Float64:
		return d.float(s, node, 64)
	case schema.Boolean:
		if b, ok := node.(bool); ok {
			return b, nil
		}
	case schema.String:
		if str, ok := node.(string); ok {
			return str, nil
		}
	case schema.Bytes:
		if str, ok := node.(string); ok {
			b, err := base64.StdEncoding.DecodeString(str)
			if err != nil {
				return nil, schema.NewFieldError("", schema.ErrInvalidValue, "bytes must be base64: "+err.Error())
			}
			return b, nil
		}
	case schema.Array:
		arr, ok := node.([]any)
		if !ok {
			break
		}
		out := make([]any, len(arr))
		for i, e := range arr {
			v, err := d.convert(s.ElemSchema, e)
			if err != nil {
				return nil, schema.AtIndex(err, i)
			}
			out[i] = v
		}
		return out, nil
	case schema.Map:
		return d.mapValue(s, node)
	case schema.StructType:
		obj, ok := node.(map[string]any)
		if !ok {
			break
		}
		values := make([]any, len(s.Fields))
		for i, f := range s.Fields {
			v, err := d.convert(f.Schema, obj[f.Name])
			if err != nil {
				return nil, schema.AtField(err, f.Name)
			}
			values[i] = v
		}
		// Each value was built from its field schema, so Put's deep re-validation is skipped.
		return schema.StructFromValues(s, values)
	default:
		return nil, schema.NewFieldError("", schema.ErrUnknownType, strconv.Quote(string(s.Type)))
	}
	return nil, d.typeErr(s, node)
}

func (d *decoder) integer(s *schema.Schema, node any, bits int) (int64, error) {
	n, ok := node.(json.Number)
	if !ok {
		return 0, d.typeErr(s, node)
	}
	v, err := strconv.ParseInt(string(n), 10, bits)
	if err == nil {
		return v, nil
	}
	// An integral value written with a fraction or exponent (1.0, 1e3) is accepted, as Jackson does. One with
	// more significant digits than an int64 has is not integral or out of range: refused without reading it.
	if significantDigits(string(n)) <= maxInt64Digits {
		if dec, derr := schema.ParseDecimal(string(n)); derr == nil {
			if whole, rerr := dec.Rescale(0); rerr == nil && whole.Unscaled.IsInt64() {
				x := whole.Unscaled.Int64()
				if lim := int64(1) << (bits - 1); bits == 64 || (x >= -lim && x < lim) {
					return x, nil
				}
			}
		}
	}
	return 0, schema.NewFieldError("", schema.ErrInvalidValue, fmt.Sprintf("%s is not a valid %s", numberText(n), s.Type))
}

// maxInt64Digits is the most significant digits an integral int64 has (9223372036854775807).
const maxInt64Digits = 19

// significantDigits counts the digits of a JSON number's mantissa without its leading and trailing zeros: an
// integral value with more than 19 is at least 10^19, beyond int64.
func significantDigits(n string) int {
	if i := strings.IndexAny(n, "eE"); i >= 0 {
		n = n[:i]
	}
	first, last, count := -1, -1, 0
	for i := 0; i < len(n); i++ {
		if c := n[i]; c >= '0' && c <= '9' {
			if c != '0' {
				if first < 0 {
					first = count
				}
				last = count
			}
			count++
		}
	}
	if first < 0 {
		return 0
	}
	return last - first + 1
}

// numberText is a JSON number for an error message: cut to its first 40 bytes and its length when longer.
func numberText(n json.Number) string {
	if len(n) <= 64 {
		return string(n)
	}
	return string(n[:40]) + "… (" + strconv.Itoa(len(n)) + " bytes)"
}

func (d *decoder) float(s *schema.Schema, node any, bits int) (float64, error) {
	n, ok := node.(json.Number)
	if !ok {
		return 0, d.typeErr(s, node)
	}
	f, err := strconv.ParseFloat(string(n), bits)
	if err != nil || math.IsInf(f, 0) {
		return 0, schema.NewFieldError("", schema.ErrInvalidValue, fmt.Sprintf("%s is out of range for %s", n, s.Type))
	}
	return f, nil
}

func hashable(k any) bool {
	switch k.(type) {
	case []byte, []any, map[any]any, map[string]any:
		return false
	}
	return true
}

func (d *decoder) mapValue(s *schema.Schema, node any) (any, error) {
	if s.KeySchema == nil || s.ValueSchema == nil {
		return nil, schemaErr("map schema without key or value schema")
	}
	if s.KeySchema.Type == schema.String && !schema.IsLogical(s.KeySchema) {
		obj, ok := node.(map[string]any)
		if !ok {
			return nil, schema.NewFieldError("", schema.ErrInvalidValue, "a map with string keys must be a JSON object, got "+nodeKind(node))
		}
		out := make(map[any]any, len(obj))
		for k, e := range obj {
			v, err := d.convert(s.ValueSchema, e)
			if err != nil {
				return nil, schema.AtKey(err, k)
			}
			out[k] = v
		}
		return out, nil
	}
	arr, ok := node.([]any)
	if !ok {
		return nil, schema.NewFieldError("", schema.ErrInvalidValue, "a map with non-string keys must be a JSON array of [key, value] pairs, got "+nodeKind(node))
	}
	out := make(map[any]any, len(arr))
	for i, e := range arr {
		pair, ok := e.([]any)
		if !ok || len(pair) != 2 {
			return nil, schema.AtIndex(schema.NewFieldError("", schema.ErrInvalidValue, "map entry must be a [key, value] array"), i)
		}
		k, err := d.convert(s.KeySchema, pair[0])
		if err != nil {
			return nil, schema.AtIndex(schema.AtField(err, "key"), i)
		}
		if !hashable(k) {
			return nil, schema.AtIndex(schema.NewFieldError("key", ErrUnsupportedType, fmt.Sprintf("a %s cannot be a Go map key", s.KeySchema.Type)), i)
		}
		v, err := d.convert(s.ValueSchema, pair[1])
		if err != nil {
			return nil, schema.AtKey(err, k)
		}
		out[k] = v
	}
	return out, nil
}

func (d *decoder) logical(s *schema.Schema, node any) (any, error) {
	switch s.Name {
	case schema.DecimalName:
		scale, err := schema.DecimalScale(s)
		if err != nil {
			return nil, err
		}
		switch n := node.(type) {
		case json.Number:
			dec, err := schema.ParseDecimal(string(n))
			if err != nil {
				return nil, schema.NewFieldError("", err, "") // err wraps schema.ErrInvalidValue
			}
			if dec, err = dec.Rescale(scale); err != nil {
				return nil, schema.NewFieldError("", schema.ErrInvalidValue, fmt.Sprintf("decimal %s does not fit scale %d", numberText(n), scale))
			}
			return dec, nil
		case string:
			b, err := base64.StdEncoding.DecodeString(n)
			if err != nil || len(b) == 0 {
				return nil, schema.NewFieldError("", schema.ErrInvalidValue, "decimal must be a number or non-empty base64 bytes")
			}
			dec := schema.DecimalFromBytes(b, scale)
			if !schema.FitsDigits(dec.Unscaled, schema.MaxDecimalDigits) {
				return nil, schema.NewFieldError("", schema.ErrInvalidValue, fmt.Sprintf("decimal of %d bytes has more than the %d digits a decimal may have", len(b), schema.MaxDecimalDigits))
			}
			return dec, nil
		}
		return nil, d.typeErr(s, node)
	case schema.DateName:
		n, err := d.integer(s, node, 32)
		return schema.DaysToDate(int32(n)), err
	case schema.TimeName:
		n, err := d.integer(s, node, 32)
		if err == nil && (n < 0 || n >= 24*60*60*1000) {
			return nil, schema.NewFieldError("", schema.ErrInvalidValue, fmt.Sprintf("time %d ms is not within a day", n))
		}
		return schema.MillisToTime(int32(n)), err
	}
	n, err := d.integer(s, node, 64)
	return schema.MillisToTimestamp(n), err
}

// schemaless converts parsed JSON to schemaless Connect values: objects → map[string]any, arrays → []any,
// integers → int64 (float64 when they do not fit), other numbers → float64.
func (d *decoder) schemaless(node any) (any, error) {
	switch n := node.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, schema.NewFieldError("", schema.ErrInvalidValue, fmt.Sprintf("number %s is out of range", n))
		}
		return f, nil
	case map[string]any:
		for k, e := range n {
			v, err := d.schemaless(e)
			if err != nil {
				return nil, schema.AtKey(err, k)
			}
			n[k] = v
		}
		return n, nil
	case []any:
		for i, e := range n {
			v, err := d.schemaless(e)
			if err != nil {
				return nil, schema.AtIndex(err, i)
			}
			n[i] = v
		}
		return n, nil
	}
	return node, nil
}
