package position_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/internal/position"
)

type intCase struct {
	name   string
	off    map[string]any
	want   int64
	ok     bool
	hasErr bool
}

// checkInts runs read on off["p"] of each case.
func checkInts(t *testing.T, read func(map[string]any, string) (int64, bool, error), tests []intCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := read(tt.off, "p")
			if tt.hasErr {
				require.ErrorIs(t, err, position.ErrBadPosition)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestInt64(t *testing.T) {
	checkInts(t, position.Int64, []intCase{
		{"nothing committed", nil, 0, false, false},
		{"int64", map[string]any{"p": int64(42)}, 42, true, false},
		{"int", map[string]any{"p": 7}, 7, true, false},
		{"int32", map[string]any{"p": int32(7)}, 7, true, false},
		{"float64", map[string]any{"p": float64(1 << 40)}, 1 << 40, true, false},
		{"json.Number", map[string]any{"p": json.Number("9")}, 9, true, false},
		{"string", map[string]any{"p": "12"}, 12, true, false},
		{"zero", map[string]any{"p": int64(0)}, 0, true, false},
		{"fraction", map[string]any{"p": 1.5}, 0, false, true},
		{"negative", map[string]any{"p": int64(-1)}, 0, false, true},
		{"missing key", map[string]any{"q": int64(1)}, 0, false, true},
		{"bool", map[string]any{"p": true}, 0, false, true},
		{"bad string", map[string]any{"p": "x"}, 0, false, true},
		{"bad json.Number", map[string]any{"p": json.Number("1e3")}, 0, false, true},
		{"2^63 as float64", map[string]any{"p": float64(1 << 63)}, 0, false, true},
	})
}

func TestSignedInt64(t *testing.T) {
	checkInts(t, position.SignedInt64, []intCase{
		{"nothing committed", nil, 0, false, false},
		{"negative int64", map[string]any{"p": int64(-9000000000000000000)}, -9000000000000000000, true, false},
		{"negative json.Number", map[string]any{"p": json.Number("-8999999999999999999")}, -8999999999999999999, true, false},
		{"negative string", map[string]any{"p": "-12"}, -12, true, false},
		{"negative float64", map[string]any{"p": float64(-(1 << 40))}, -(1 << 40), true, false},
		{"positive", map[string]any{"p": 7}, 7, true, false},
		{"fraction", map[string]any{"p": -1.5}, 0, false, true},
		{"2^63 as float64", map[string]any{"p": float64(1 << 63)}, 0, false, true},
		{"missing key", map[string]any{"q": int64(1)}, 0, false, true},
	})
}
