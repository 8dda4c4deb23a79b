package avro

import (
	"bytes"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema"
)

// A block count far beyond what the data holds is refused before anything is allocated for it.
func TestDecodeHugeBlockCount(t *testing.T) {
	for _, text := range []string{`{"type":"array","items":"long"}`, `{"type":"map","values":"long"}`,
		`{"type":"array","items":{"type":"record","name":"E","fields":[]}}`} {
		c, err := NewCodec(MustParse(text), nil)
		require.NoError(t, err)
		// zigzag(2^30) = 2^31 as a varint.
		_, err = c.Decode([]byte{0x80, 0x80, 0x80, 0x80, 0x08, 0x02, 0x00})
		require.ErrorIs(t, err, ErrMalformed, text)
	}
	// Zero-size items are accepted up to the bound.
	c, err := NewCodec(MustParse(`{"type":"array","items":{"type":"record","name":"E","fields":[]}}`), nil)
	require.NoError(t, err)
	v, err := c.Decode([]byte{0x06, 0x00}) // three empty records
	require.NoError(t, err)
	require.Len(t, v, 3)
}

// zigzag appends the Avro encoding of n (a zigzag varint).
func zigzag(buf []byte, n int64) []byte {
	u := uint64(n<<1) ^ uint64(n>>63)
	for u >= 0x80 {
		buf = append(buf, byte(u)|0x80)
		u >>= 7
	}
	return append(buf, byte(u))
}

// The bound on items that take no bytes holds for the whole datum: nested arrays cannot multiply it (a few
// kilobytes of arrays of arrays of empty records could otherwise stand for a billion items).
func TestDecodeNestedZeroSizeItems(t *testing.T) {
	c, err := NewCodec(MustParse(`{"type":"array","items":{"type":"array","items":{"type":"record","name":"E","fields":[]}}}`), nil)
	require.NoError(t, err)
	nested := func(outer, inner int64) []byte {
		data := zigzag(nil, outer)
		for range outer {
			data = zigzag(data, inner)
			data = zigzag(data, 0)
		}
		return zigzag(data, 0)
	}
	v, err := c.Decode(nested(2, 3))
	require.NoError(t, err)
	require.Len(t, v, 2)
	_, err = c.Decode(nested(2, maxZeroSizeItems/2+1))
	require.ErrorIs(t, err, ErrMalformed)
	require.ErrorContains(t, err, "items that take no bytes")
	_, err = c.Decode(nested(1000, maxZeroSizeItems))
	require.ErrorIs(t, err, ErrMalformed)

	// A count that would overflow the running total is refused too.
	data := zigzag(nil, 2)
	data = zigzag(data, 5)
	data = zigzag(data, 0)
	data = zigzag(data, math.MaxInt64)
	_, err = c.Decode(zigzag(zigzag(data, 0), 0))
	require.ErrorIs(t, err, ErrMalformed)
}

// A decimal with far more digits than its precision is refused by its size, and the error does not spell it out.
func TestDecodeOversizedDecimal(t *testing.T) {
	c, err := NewCodec(MustParse(`{"type":"bytes","logicalType":"decimal","precision":10,"scale":0}`), nil)
	require.NoError(t, err)
	huge := bytes.Repeat([]byte{0x55}, 1<<20)
	_, err = c.Decode(append(zigzag(nil, int64(len(huge))), huge...))
	require.ErrorIs(t, err, schema.ErrInvalidValue)
	require.ErrorContains(t, err, "more than 10 digits")
	require.Less(t, len(err.Error()), 200)

	_, err = c.Encode(nil, schema.DecimalFromBytes(huge, 0))
	require.ErrorIs(t, err, schema.ErrInvalidValue)
	require.Less(t, len(err.Error()), 200)

	// At the precision's edge the digits decide.
	for n, ok := range map[int64]bool{9999999999: true, -9999999999: true, 10000000000: false} {
		data, err := c.Encode(nil, schema.NewDecimal(n, 0))
		if !ok {
			require.ErrorIs(t, err, schema.ErrInvalidValue, n)
			continue
		}
		require.NoError(t, err, n)
		v, err := c.Decode(data)
		require.NoError(t, err, n)
		require.True(t, v.(schema.Decimal).Equal(schema.NewDecimal(n, 0)), n)
	}
}

// FuzzDecode: decoding arbitrary bytes with a schema covering every type never panics, and whatever decodes
// encodes again and decodes to an equal value.
func FuzzDecode(f *testing.F) {
	s, v := kitchenSink()
	a, err := FromConnect(s)
	if err != nil {
		f.Fatal(err)
	}
	c, err := NewCodec(a, s)
	if err != nil {
		f.Fatal(err)
	}
	data, err := c.Encode(nil, v)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte{})
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x08})
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := c.Decode(data)
		if err != nil {
			return
		}
		again, err := c.Encode(nil, out)
		if err != nil {
			t.Fatalf("decoded value does not encode again: %v", err)
		}
		back, err := c.Decode(again)
		if err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
		_ = back
	})
}

// FuzzParse: parsing arbitrary schema text never panics, and a parsed schema renders to text that parses to the
// same rendering.
func FuzzParse(f *testing.F) {
	s, _ := kitchenSink()
	a, _ := FromConnect(s)
	f.Add(a.String())
	f.Add(`{"type":"record","name":"L","fields":[{"name":"next","type":["null","L"]}]}`)
	f.Add(`{"type":"enum","name":"E","symbols":["A"],"default":"A"}`)
	f.Fuzz(func(t *testing.T, text string) {
		p, err := Parse(text)
		if err != nil {
			return
		}
		again, err := Parse(p.String())
		if err != nil {
			t.Fatalf("rendering %s does not parse: %v", p.String(), err)
		}
		if again.String() != p.String() {
			t.Fatalf("rendering not stable:\n%s\n%s", p.String(), again.String())
		}
	})
}
