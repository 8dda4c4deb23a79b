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
