package converter

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/rmqconnect/rmqconnect/schema"
)

// StringConverter writes a value's string form in a character encoding and reads bytes back as an optional
// string (Kafka Connect's StringConverter). Settings: `encoding` (or `converter.encoding`): UTF-8 (default),
// UTF-16 (BOM on write, BOM-detecting on read), UTF-16BE, UTF-16LE, ISO-8859-1, US-ASCII.
type StringConverter struct {
	enc string
}

// NewStringConverter returns a UTF-8 StringConverter.
func NewStringConverter() *StringConverter { return &StringConverter{enc: "UTF-8"} }

// Configure reads `encoding` / `converter.encoding`.
func (c *StringConverter) Configure(cfg map[string]string, _ bool) error {
	key, v := "encoding", cfg["encoding"]
	if v == "" {
		key, v = "converter.encoding", cfg["converter.encoding"]
	}
	if v == "" {
		return nil
	}
	norm := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(v), "_", "-"))
	switch norm {
	case "UTF8":
		norm = "UTF-8"
	case "UTF16":
		norm = "UTF-16"
	case "LATIN1", "ISO8859-1":
		norm = "ISO-8859-1"
	case "ASCII":
		norm = "US-ASCII"
	}
	switch norm {
	case "UTF-8", "UTF-16", "UTF-16BE", "UTF-16LE", "ISO-8859-1", "US-ASCII":
		c.enc = norm
		return nil
	}
	return configError(key, v, "unsupported encoding (UTF-8, UTF-16, UTF-16BE, UTF-16LE, ISO-8859-1, US-ASCII)")
}

// FromConnect writes v's string form: a string as is, []byte as UTF-8 text, anything else via fmt (Struct and
// Decimal have String methods). nil gives nil.
func (c *StringConverter) FromConnect(_ string, _ *schema.Schema, v any) ([]byte, error) {
	var s string
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		s = x
	case []byte:
		s = string(x)
	default:
		s = fmt.Sprint(x)
	}
	return encodeString(c.enc, s), nil
}

// ToConnect returns (OptionalStringSchema, the decoded string), or a nil value for nil data. Invalid sequences
// decode to U+FFFD, as Java does.
func (c *StringConverter) ToConnect(_ string, data []byte) (*schema.Schema, any, error) {
	if data == nil {
		return schema.OptionalStringSchema, nil, nil
	}
	return schema.OptionalStringSchema, decodeString(c.enc, data), nil
}

func encodeString(enc, s string) []byte {
	switch enc {
	case "UTF-16", "UTF-16BE", "UTF-16LE":
		units := utf16.Encode([]rune(s))
		out := make([]byte, 0, 2*len(units)+2)
		var order binary.AppendByteOrder = binary.BigEndian
		if enc == "UTF-16LE" {
			order = binary.LittleEndian
		}
		if enc == "UTF-16" {
			out = append(out, 0xFE, 0xFF)
		}
		for _, u := range units {
			out = order.AppendUint16(out, u)
		}
		return out
	case "ISO-8859-1", "US-ASCII":
		limit := rune(0xFF)
		if enc == "US-ASCII" {
			limit = 0x7F
		}
		out := make([]byte, 0, len(s))
		for _, r := range s {
			if r > limit {
				r = '?'
			}
			out = append(out, byte(r))
		}
		return out
	}
	return []byte(s)
}

func decodeString(enc string, b []byte) string {
	switch enc {
	case "UTF-16", "UTF-16BE", "UTF-16LE":
		var order binary.ByteOrder = binary.BigEndian
		if enc == "UTF-16LE" {
			order = binary.LittleEndian
		}
		if enc == "UTF-16" && len(b) >= 2 {
			switch {
			case b[0] == 0xFE && b[1] == 0xFF:
				b = b[2:]
			case b[0] == 0xFF && b[1] == 0xFE:
				b, order = b[2:], binary.LittleEndian
			}
		}
		units := make([]uint16, 0, len(b)/2)
		for i := 0; i+1 < len(b); i += 2 {
			units = append(units, order.Uint16(b[i:]))
		}
		s := string(utf16.Decode(units))
		if len(b)%2 == 1 {
			s += string(utf8.RuneError)
		}
		return s
	case "ISO-8859-1", "US-ASCII":
		r := make([]rune, len(b))
		for i, c := range b {
			if enc == "US-ASCII" && c > 0x7F {
				r[i] = utf8.RuneError
				continue
			}
			r[i] = rune(c)
		}
		return string(r)
	}
	return strings.ToValidUTF8(string(b), string(utf8.RuneError))
}

// ByteArrayConverter passes bytes through (Kafka Connect's ByteArrayConverter): FromConnect accepts only a BYTES
// (or nil) schema and a []byte (or nil) value; ToConnect returns (OptionalBytesSchema, data).
type ByteArrayConverter struct{}

// NewByteArrayConverter returns a ByteArrayConverter.
func NewByteArrayConverter() *ByteArrayConverter { return &ByteArrayConverter{} }

// Configure accepts and ignores any settings.
func (*ByteArrayConverter) Configure(map[string]string, bool) error { return nil }

// FromConnect returns v unchanged.
func (*ByteArrayConverter) FromConnect(_ string, s *schema.Schema, v any) ([]byte, error) {
	if s != nil && s.Type != schema.Bytes {
		return nil, &schema.FieldError{Reason: fmt.Sprintf("bytearray converter needs a bytes schema, got %s", s), Err: ErrUnsupportedType}
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []byte:
		return x, nil
	}
	return nil, &schema.FieldError{Reason: fmt.Sprintf("bytearray converter needs []byte, got %T", v), Err: ErrUnsupportedType}
}

// ToConnect returns data unchanged with OptionalBytesSchema.
func (*ByteArrayConverter) ToConnect(_ string, data []byte) (*schema.Schema, any, error) {
	if data == nil {
		return schema.OptionalBytesSchema, nil, nil
	}
	return schema.OptionalBytesSchema, data, nil
}

// NumberConverter reads and writes one fixed-width big-endian number, as Kafka's serialisers do: BOOLEAN 1 byte
// (0/1), INT16 2, INT32 4, INT64 8, FLOAT32 4 and FLOAT64 8 (IEEE 754 bits). nil ↔ nil (and empty data reads
// as nil). It backs the short, integer, long, float, double and boolean converters.
type NumberConverter struct {
	t schema.Type
}

// NewNumberConverter returns the converter for t (Boolean, Int16, Int32, Int64, Float32 or Float64).
func NewNumberConverter(t schema.Type) *NumberConverter { return &NumberConverter{t: t} }

// Configure accepts and ignores any settings.
func (*NumberConverter) Configure(map[string]string, bool) error { return nil }

func (c *NumberConverter) width() int {
	switch c.t {
	case schema.Boolean:
		return 1
	case schema.Int16:
		return 2
	case schema.Int32, schema.Float32:
		return 4
	}
	return 8
}

// FromConnect encodes v, which must have the converter's Go type (int16 for short, ...); the schema, if given,
// must have the converter's type.
func (c *NumberConverter) FromConnect(_ string, s *schema.Schema, v any) ([]byte, error) {
	if s != nil && s.Type != c.t {
		return nil, &schema.FieldError{Reason: fmt.Sprintf("%s converter cannot write a %s schema", c.t, s.Type), Err: ErrUnsupportedType}
	}
	if v == nil {
		return nil, nil
	}
	var out []byte
	ok := false
	switch c.t {
	case schema.Boolean:
		var b bool
		if b, ok = v.(bool); ok {
			out = []byte{0}
			if b {
				out[0] = 1
			}
		}
	case schema.Int16:
		var x int16
		if x, ok = v.(int16); ok {
			out = binary.BigEndian.AppendUint16(nil, uint16(x))
		}
	case schema.Int32:
		var x int32
		if x, ok = v.(int32); ok {
			out = binary.BigEndian.AppendUint32(nil, uint32(x))
		}
	case schema.Int64:
		var x int64
		if x, ok = v.(int64); ok {
			out = binary.BigEndian.AppendUint64(nil, uint64(x))
		}
	case schema.Float32:
		var x float32
		if x, ok = v.(float32); ok {
			out = binary.BigEndian.AppendUint32(nil, math.Float32bits(x))
		}
	case schema.Float64:
		var x float64
		if x, ok = v.(float64); ok {
			out = binary.BigEndian.AppendUint64(nil, math.Float64bits(x))
		}
	}
	if !ok {
		return nil, &schema.FieldError{Reason: fmt.Sprintf("%s converter cannot write %T", c.t, v), Err: schema.ErrInvalidValue}
	}
	return out, nil
}

// ToConnect decodes exactly width bytes; any other length gives ErrMalformed.
func (c *NumberConverter) ToConnect(_ string, data []byte) (*schema.Schema, any, error) {
	s := schema.PrimitiveSchema(c.t, true)
	if len(data) == 0 {
		return s, nil, nil
	}
	if len(data) != c.width() {
		return nil, nil, fmt.Errorf("%s converter: %d bytes, want %d: %w", c.t, len(data), c.width(), ErrMalformed)
	}
	switch c.t {
	case schema.Boolean:
		switch data[0] {
		case 0:
			return s, false, nil
		case 1:
			return s, true, nil
		}
		return nil, nil, fmt.Errorf("boolean converter: byte %#x is neither 0 nor 1: %w", data[0], ErrMalformed)
	case schema.Int16:
		return s, int16(binary.BigEndian.Uint16(data)), nil
	case schema.Int32:
		return s, int32(binary.BigEndian.Uint32(data)), nil
	case schema.Int64:
		return s, int64(binary.BigEndian.Uint64(data)), nil
	case schema.Float32:
		return s, math.Float32frombits(binary.BigEndian.Uint32(data)), nil
	}
	return s, math.Float64frombits(binary.BigEndian.Uint64(data)), nil
}
