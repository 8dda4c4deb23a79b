package converter

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema"
)

func TestStringConverter(t *testing.T) {
	cases := []struct {
		enc  string
		in   string
		wire []byte
	}{
		{"", "héllo", []byte("héllo")},
		{"utf8", "héllo", []byte("héllo")},
		{"UTF-16", "hé", []byte{0xfe, 0xff, 0, 'h', 0, 0xe9}},
		{"UTF-16BE", "h😀", []byte{0, 'h', 0xd8, 0x3d, 0xde, 0x00}},
		{"utf_16le", "hé", []byte{'h', 0, 0xe9, 0}},
		{"ISO-8859-1", "hé", []byte{'h', 0xe9}},
		{"latin1", "h☃", []byte{'h', '?'}},
		{"US-ASCII", "hé", []byte{'h', '?'}},
	}
	for _, tc := range cases {
		c := NewStringConverter()
		require.NoError(t, c.Configure(map[string]string{"encoding": tc.enc}, false))
		b, err := c.FromConnect("t", schema.StringSchema, tc.in)
		require.NoError(t, err)
		require.Equal(t, tc.wire, b, tc.enc)
		s, v, err := c.ToConnect("t", b)
		require.NoError(t, err)
		require.Same(t, schema.OptionalStringSchema, s)
		if tc.in == "h☃" || tc.enc == "US-ASCII" {
			require.Equal(t, "h?", v)
		} else {
			require.Equal(t, tc.in, v, tc.enc)
		}
	}
	c := NewStringConverter()
	for _, tc := range []struct {
		v    any
		want string
	}{{int32(5), "5"}, {[]byte("raw"), "raw"}, {true, "true"}, {1.5, "1.5"}} {
		b, err := c.FromConnect("t", nil, tc.v)
		require.NoError(t, err)
		require.Equal(t, tc.want, string(b))
	}
	d, err := c.FromConnect("t", nil, schema.NewDecimal(-105, 2))
	require.NoError(t, err)
	require.Equal(t, "-1.05", string(d))
	b, err := c.FromConnect("t", nil, nil)
	require.NoError(t, err)
	require.Nil(t, b)
	s, v, err := c.ToConnect("t", nil)
	require.NoError(t, err)
	require.Same(t, schema.OptionalStringSchema, s)
	require.Nil(t, v)
	_, v, _ = c.ToConnect("t", []byte("a\xffb"))
	require.Equal(t, "a\uFFFDb", v)

	// UTF-16 input: little-endian BOM detected; a dangling byte becomes U+FFFD.
	u := NewStringConverter()
	require.NoError(t, u.Configure(map[string]string{"converter.encoding": "UTF-16"}, false))
	_, v, _ = u.ToConnect("t", []byte{0xff, 0xfe, 'h', 0, 'i'})
	require.Equal(t, "h\uFFFD", v)
	_, v, _ = NewStringConverterWith(t, "US-ASCII").ToConnect("t", []byte{'a', 0x80})
	require.Equal(t, "a\uFFFD", v)

	require.ErrorIs(t, NewStringConverter().Configure(map[string]string{"encoding": "EBCDIC"}, false), ErrInvalidConfig)
}

func NewStringConverterWith(t *testing.T, enc string) *StringConverter {
	c := NewStringConverter()
	require.NoError(t, c.Configure(map[string]string{"encoding": enc}, false))
	return c
}

func TestByteArrayConverter(t *testing.T) {
	c := NewByteArrayConverter()
	require.NoError(t, c.Configure(map[string]string{"anything": "x"}, true))
	b, err := c.FromConnect("t", schema.BytesSchema, []byte{1, 2})
	require.NoError(t, err)
	require.Equal(t, []byte{1, 2}, b)
	b, err = c.FromConnect("t", nil, nil)
	require.NoError(t, err)
	require.Nil(t, b)
	_, err = c.FromConnect("t", schema.StringSchema, []byte{1})
	require.ErrorIs(t, err, ErrUnsupportedType)
	_, err = c.FromConnect("t", nil, "str")
	require.ErrorIs(t, err, ErrUnsupportedType)
	s, v, err := c.ToConnect("t", []byte{3})
	require.NoError(t, err)
	require.Same(t, schema.OptionalBytesSchema, s)
	require.Equal(t, []byte{3}, v)
	s, v, err = c.ToConnect("t", nil)
	require.NoError(t, err)
	require.Same(t, schema.OptionalBytesSchema, s)
	require.Nil(t, v)
}

func TestNumberConverters(t *testing.T) {
	cases := []struct {
		name  string
		value any
		wire  []byte
	}{
		{"short", int16(-2), []byte{0xff, 0xfe}},
		{"short", int16(0x1234), []byte{0x12, 0x34}},
		{"integer", int32(-1), []byte{0xff, 0xff, 0xff, 0xff}},
		{"integer", int32(0x01020304), []byte{1, 2, 3, 4}},
		{"long", int64(math.MinInt64), []byte{0x80, 0, 0, 0, 0, 0, 0, 0}},
		{"long", int64(258), []byte{0, 0, 0, 0, 0, 0, 1, 2}},
		{"float", float32(1.5), []byte{0x3f, 0xc0, 0, 0}},
		{"double", 1.5, []byte{0x3f, 0xf8, 0, 0, 0, 0, 0, 0}},
		{"double", math.Inf(-1), []byte{0xff, 0xf0, 0, 0, 0, 0, 0, 0}},
		{"boolean", true, []byte{1}},
		{"boolean", false, []byte{0}},
	}
	for _, tc := range cases {
		c, err := New(tc.name)
		require.NoError(t, err)
		require.NoError(t, c.Configure(nil, false))
		b, err := c.FromConnect("t", nil, tc.value)
		require.NoError(t, err)
		require.Equal(t, tc.wire, b, "%s %v", tc.name, tc.value)
		s, v, err := c.ToConnect("t", b)
		require.NoError(t, err)
		require.True(t, s.Optional)
		require.Equal(t, tc.value, v)

		// The schema's own type is accepted; nil round-trips as nil; wrong widths and types are rejected.
		_, err = c.FromConnect("t", schema.PrimitiveSchema(s.Type, false), tc.value)
		require.NoError(t, err)
		b, err = c.FromConnect("t", nil, nil)
		require.NoError(t, err)
		require.Nil(t, b)
		s2, v, err := c.ToConnect("t", nil)
		require.NoError(t, err)
		require.Same(t, s, s2)
		require.Nil(t, v)
		_, _, err = c.ToConnect("t", append(tc.wire, 0))
		require.ErrorIs(t, err, ErrMalformed)
		_, err = c.FromConnect("t", nil, "1")
		require.ErrorIs(t, err, schema.ErrInvalidValue)
		_, err = c.FromConnect("t", schema.StringSchema, tc.value)
		require.ErrorIs(t, err, ErrUnsupportedType)
	}
	_, _, err := NewNumberConverter(schema.Boolean).ToConnect("t", []byte{2})
	require.ErrorIs(t, err, ErrMalformed)
}
