package mysql

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc"
)

// The direct conversions of binlog values give what the text route gives.
func TestDirectMatchesText(t *testing.T) {
	cols := []*column{
		{name: "ti", kind: intKind(1, false), width: 1}, {name: "tiu", kind: intKind(1, true), unsigned: true, width: 1},
		{name: "si", kind: intKind(2, false), width: 2}, {name: "siu", kind: intKind(2, true), unsigned: true, width: 2},
		{name: "mi", kind: intKind(3, false), width: 3}, {name: "miu", kind: intKind(3, true), unsigned: true, width: 3},
		{name: "i", kind: intKind(4, false), width: 4}, {name: "iu", kind: intKind(4, true), unsigned: true, width: 4},
		{name: "bi", kind: kInt64, width: 8}, {name: "biu", kind: kInt64, unsigned: true, width: 8},
		{name: "f", kind: kFloat32}, {name: "d", kind: kFloat64}, {name: "s", kind: kString},
	}
	raws := []any{int8(-1), int8(127), int16(-2), int16(math.MaxInt16), int32(-3), int32(-8388608), int32(math.MaxInt32),
		int64(-4), int64(math.MaxInt64), float32(1.5), 2.25, "text"}
	for _, c := range cols {
		for _, raw := range raws {
			want, werr := c.parse(c.text(raw))
			got, ok := c.direct(raw)
			if !ok {
				continue
			}
			if werr != nil {
				t.Errorf("%s(%T %v): direct gave %v, text route fails: %v", c.name, raw, raw, got, werr)
				continue
			}
			require.Equal(t, want, got, "%s(%T %v)", c.name, raw, raw)
		}
	}
}

// valueIn, which streaming uses, gives what value gives, the slab or not.
func TestValueInMatchesValue(t *testing.T) {
	dec := &column{name: "amount", kind: kDecimal, scale: 2}
	for _, raw := range []any{"12.30", "-0.05", "0", "123456789012345678.9", "99999999999999999999.99", "1.005", "x", nil, int64(7)} {
		want, werr := dec.value(raw)
		for _, slab := range []*cdc.Slab{nil, {}} {
			got, err := dec.valueIn(raw, slab)
			if werr != nil {
				require.EqualError(t, err, werr.Error(), "%v", raw)
				continue
			}
			require.NoError(t, err, "%v", raw)
			require.Equal(t, want, got, "%v", raw)
		}
	}
}

// Streamed text is converted from the column's character set; one the connector cannot convert fails,
// naming the column and the character set, rather than pass on bytes that are not the text.
func TestStreamedTextCharsets(t *testing.T) {
	c := &column{name: "v", kind: kString}
	c.setCharset("latin1")
	v, err := c.valueIn("caf\xe9 \x80", nil)
	require.NoError(t, err)
	require.Equal(t, "café €", v)
	c.setCharset("ucs2")
	v, err = c.valueIn([]byte("\x00\xe9"), nil)
	require.NoError(t, err)
	require.Equal(t, "é", v)
	c = &column{name: "v", kind: kString}
	c.setCharset("armscii8")
	_, err = c.valueIn("x", nil)
	require.ErrorContains(t, err, "column v: character set armscii8")
	c = &column{name: "v", kind: kString}
	c.setCharset("utf8mb4")
	v, err = c.valueIn("é", nil)
	require.NoError(t, err)
	require.Equal(t, "é", v)
}

// A UUID in MariaDB's record order (segments reversed) and in memory order both give the same text.
func TestUUIDTextByteOrders(t *testing.T) {
	var rec, mem [16]byte
	copy(rec[:], "\x42\x66\x55\x44\x00\x00\xa4\x56\x12\xd3\xe8\x9b\x12\x3e\x45\x67")
	copy(mem[:], "\x12\x3e\x45\x67\xe8\x9b\x12\xd3\xa4\x56\x42\x66\x55\x44\x00\x00")
	require.Equal(t, "123e4567-e89b-12d3-a456-426655440000", uuidText(rec))
	require.Equal(t, "123e4567-e89b-12d3-a456-426655440000", uuidText(mem))
	require.Equal(t, "::ffff:1.2.3.4", inet6Text([16]byte{10: 0xff, 11: 0xff, 12: 1, 13: 2, 14: 3, 15: 4}))
	require.Equal(t, "::1", inet6Text([16]byte{15: 1}))
}
