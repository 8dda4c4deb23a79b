package position_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/internal/position"
)

func TestInt64(t *testing.T) {
	tests := []struct {
		name   string
		off    map[string]any
		want   int64
		ok     bool
		hasErr bool
	}{
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := position.Int64(tt.off, "p")
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
