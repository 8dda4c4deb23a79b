package avro

import (
	"fmt"

	"github.com/linkedin/goavro/v2"
	"github.com/rmqconnect/rmqconnect/schema"
)

// Codec encodes Connect values as Avro binary and decodes them back. It is immutable and safe for concurrent use.
type Codec struct {
	reader  *Schema         // the schema values are encoded with, and decoded into
	writer  *Schema         // the schema the decoded data was written with (== reader unless resolving)
	connect *schema.Schema  // the Connect form of reader
	wire    *goavro.Codec   // goavro codec of writer's physical schema
	enc     *goavro.Codec   // goavro codec of reader's physical schema
	sizes   map[*Schema]int // minSizes(writer), for validate
}

// NewCodec returns a codec for Avro schema s. c is the Connect schema values are given in and returned as; nil
// means ToConnect(s).
func NewCodec(s *Schema, c *schema.Schema) (*Codec, error) {
	if c == nil {
		var err error
		if c, err = ToConnect(s); err != nil {
			return nil, err
		}
	}
	g, err := goavro.NewCodec(s.physical())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSchema, err)
	}
	return &Codec{reader: s, writer: s, connect: c, wire: g, enc: g, sizes: minSizes(s)}, nil
}

// NewResolvingCodec returns a codec that decodes data written with writer into values of reader (and encodes
// with reader). It fails with a *CompatibilityError when reader cannot read writer.
func NewResolvingCodec(writer, reader *Schema) (*Codec, error) {
	if err := CanRead(reader, writer); err != nil {
		return nil, err
	}
	c, err := NewCodec(reader, nil)
	if err != nil {
		return nil, err
	}
	if writer.String() == reader.String() {
		return c, nil
	}
	w, err := goavro.NewCodec(writer.physical())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSchema, err)
	}
	c.writer, c.wire, c.sizes = writer, w, minSizes(writer)
	return c, nil
}

// Schema returns the Avro schema values are encoded with and decoded into.
func (c *Codec) Schema() *Schema { return c.reader }

// ConnectSchema returns the Connect schema of decoded values.
func (c *Codec) ConnectSchema() *schema.Schema { return c.connect }

// Encode appends the Avro binary encoding of v (a value of the codec's Connect schema; a *schema.Struct whose
// schema differs is matched field by field by name) to buf. A value that does not fit gives a
// *schema.FieldError naming the field.
func (c *Codec) Encode(buf []byte, v any) ([]byte, error) {
	n, err := encodeValue(c.reader, c.connect, v, 0)
	if err != nil {
		return nil, err
	}
	out, err := c.enc.BinaryFromNative(buf, n)
	if err != nil {
		return nil, fmt.Errorf("avro encode: %w: %v", schema.ErrInvalidValue, err)
	}
	return out, nil
}

// Decode decodes one Avro binary datum that fills data exactly. Bad input gives an error wrapping ErrMalformed
// (or a *schema.FieldError); it never panics.
func (c *Codec) Decode(data []byte) (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = nil, fmt.Errorf("%w: %v", ErrMalformed, p)
		}
	}()
	if err := validate(c.writer, c.sizes, data); err != nil {
		return nil, err
	}
	n, rest, err := c.wire.NativeFromBinary(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("%w: %d bytes after the datum", ErrMalformed, len(rest))
	}
	return decodeValue(c.writer, c.reader, c.connect, n, 0)
}
