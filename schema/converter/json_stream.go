package converter

import (
	"fmt"
	"math"
	"strconv"

	"github.com/rmqconnect/rmqconnect/schema"
)

// streamDecoder decodes a payload straight from its bytes guided by the schema, without building the generic
// tree for structs, arrays and maps (the tree costs a map and a string per object key). It only handles the
// success path: on any error the caller falls back to the tree-based decoder, which reports the error. The
// differential fuzz test checks that both agree.
type streamDecoder struct {
	p parser
	d decoder
}

var errFallback = fmt.Errorf("fall back to the tree decoder")

// decodePayload decodes payload (already validated as JSON) as a value of s.
func (d *decoder) decodePayload(s *schema.Schema, payload []byte) (any, error) {
	if s != nil && !s.Type.IsPrimitive() {
		sd := streamDecoder{p: parser{data: payload}, d: *d}
		if v, err := sd.value(s); err == nil && sd.p.end() == nil {
			return v, nil
		}
	}
	node, err := parseDocument(payload)
	if err != nil {
		return nil, err
	}
	return d.convert(s, node)
}

func (sd *streamDecoder) peek() byte {
	sd.p.skipSpace()
	if sd.p.pos >= len(sd.p.data) {
		return 0
	}
	return sd.p.data[sd.p.pos]
}

// expect consumes c (after whitespace) or reports a fallback.
func (sd *streamDecoder) expect(c byte) error {
	if sd.peek() != c {
		return errFallback
	}
	sd.p.pos++
	return nil
}

func (sd *streamDecoder) value(s *schema.Schema) (any, error) {
	c := sd.peek()
	if s != nil && (c == '-' || c >= '0' && c <= '9') && !schema.IsLogical(s) {
		if v, ok := sd.number(s); ok {
			return v, nil
		}
		return nil, errFallback
	}
	if s == nil || c == 'n' || s.Type.IsPrimitive() {
		node, err := sd.p.value(true)
		if err != nil {
			return nil, err
		}
		return sd.d.convert(s, node)
	}
	if err := sd.p.enter(); err != nil {
		return nil, err
	}
	defer func() { sd.p.depth-- }()
	switch s.Type {
	case schema.StructType:
		return sd.structValue(s)
	case schema.Array:
		return sd.arrayValue(s)
	case schema.Map:
		if s.KeySchema == nil || s.ValueSchema == nil {
			return nil, errFallback
		}
		if s.KeySchema.Type == schema.String && !schema.IsLogical(s.KeySchema) {
			return sd.objectMap(s)
		}
		return sd.pairMap(s)
	}
	return nil, errFallback
}

// number reads a plain INT8..FLOAT64 value directly from its token, without the json.Number detour. It reports
// false for anything it does not handle in one step (other types, fractions for integers, out of range).
func (sd *streamDecoder) number(s *schema.Schema) (any, bool) {
	tok, err := sd.p.number()
	if err != nil {
		return nil, false
	}
	switch s.Type {
	case schema.Int8, schema.Int16, schema.Int32, schema.Int64:
		bits := 64
		switch s.Type {
		case schema.Int8:
			bits = 8
		case schema.Int16:
			bits = 16
		case schema.Int32:
			bits = 32
		}
		n, err := strconv.ParseInt(string(tok), 10, bits)
		if err != nil {
			return nil, false
		}
		switch s.Type {
		case schema.Int8:
			return int8(n), true
		case schema.Int16:
			return int16(n), true
		case schema.Int32:
			return int32(n), true
		}
		return n, true
	case schema.Float32:
		f, err := strconv.ParseFloat(string(tok), 32)
		if err != nil || math.IsInf(f, 0) {
			return nil, false
		}
		return float32(f), true
	case schema.Float64:
		f, err := strconv.ParseFloat(string(tok), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, false
		}
		return f, true
	}
	return nil, false
}

// members calls fn for each member of an object, positioned on its value. key is only valid during the call.
func (sd *streamDecoder) members(fn func(key []byte) error) error {
	if err := sd.expect('{'); err != nil {
		return err
	}
	if sd.peek() == '}' {
		sd.p.pos++
		return nil
	}
	for {
		if sd.peek() != '"' {
			return errFallback
		}
		key, err := sd.p.key()
		if err != nil {
			return err
		}
		if err := sd.expect(':'); err != nil {
			return err
		}
		if err := fn(key); err != nil {
			return err
		}
		switch sd.peek() {
		case ',':
			sd.p.pos++
		case '}':
			sd.p.pos++
			return nil
		default:
			return errFallback
		}
	}
}

// elements calls fn for each element of an array, positioned on it.
func (sd *streamDecoder) elements(fn func(i int) error) error {
	if err := sd.expect('['); err != nil {
		return err
	}
	if sd.peek() == ']' {
		sd.p.pos++
		return nil
	}
	for i := 0; ; i++ {
		if err := fn(i); err != nil {
			return err
		}
		switch sd.peek() {
		case ',':
			sd.p.pos++
		case ']':
			sd.p.pos++
			return nil
		default:
			return errFallback
		}
	}
}

func (sd *streamDecoder) structValue(s *schema.Schema) (any, error) {
	values := make([]any, len(s.Fields))
	seen := make([]bool, len(s.Fields))
	next := 0 // fields usually come in schema order
	err := sd.members(func(key []byte) error {
		idx := -1
		if next < len(s.Fields) && s.Fields[next].Name == string(key) {
			idx = next
		} else {
			for i := range s.Fields {
				if s.Fields[i].Name == string(key) {
					idx = i
					break
				}
			}
		}
		if idx < 0 {
			_, err := sd.p.value(false) // a member the schema does not know is ignored
			return err
		}
		next = idx + 1
		v, err := sd.value(s.Fields[idx].Schema)
		if err != nil {
			return err
		}
		values[idx], seen[idx] = v, true
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, f := range s.Fields {
		if !seen[i] {
			v, err := sd.d.convert(f.Schema, nil)
			if err != nil {
				return nil, err
			}
			values[i] = v
		}
	}
	return schema.StructFromValues(s, values)
}

func (sd *streamDecoder) arrayValue(s *schema.Schema) (any, error) {
	if s.ElemSchema == nil {
		return nil, errFallback
	}
	out := []any{}
	err := sd.elements(func(int) error {
		v, err := sd.value(s.ElemSchema)
		out = append(out, v)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (sd *streamDecoder) objectMap(s *schema.Schema) (any, error) {
	out := map[any]any{}
	err := sd.members(func(key []byte) error {
		k := string(key)
		v, err := sd.value(s.ValueSchema)
		out[k] = v
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (sd *streamDecoder) pairMap(s *schema.Schema) (any, error) {
	out := map[any]any{}
	err := sd.elements(func(int) error {
		if err := sd.expect('['); err != nil {
			return err
		}
		k, err := sd.value(s.KeySchema)
		if err != nil {
			return err
		}
		if !hashable(k) {
			return errFallback
		}
		if err := sd.expect(','); err != nil {
			return err
		}
		v, err := sd.value(s.ValueSchema)
		if err != nil {
			return err
		}
		out[k] = v
		return sd.expect(']')
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
