package jdbc

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDistinctKeys(t *testing.T) {
	utc := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	tests := []struct {
		name string
		keys [][]any // one key per op
		want int     // length of the distinct prefix
	}{
		{"all different", [][]any{{int64(1)}, {int64(2)}, {int64(3)}}, 3},
		{"repeat cuts", [][]any{{int64(1)}, {int64(2)}, {int64(1)}, {int64(4)}}, 2},
		{"first repeats", [][]any{{"a"}, {"a"}}, 1},
		{"joined text collides", [][]any{{"a b", "c"}, {"a", "b c"}}, 2},
		{"string and number of one text", [][]any{{"1"}, {int64(1)}}, 2},
		{"string and bytes of one text", [][]any{{"ab"}, {[]byte("ab")}}, 2},
		{"nil and empty string", [][]any{{nil}, {""}}, 2},
		{"nil and text nil", [][]any{{nil}, {"<nil>"}}, 2},
		{"empty strings split differently", [][]any{{"", "ab"}, {"a", "b"}, {"ab", ""}}, 3},
		{"equal bytes", [][]any{{[]byte{1, 2}}, {[]byte{1, 2}}}, 1},
		{"negative zero is zero", [][]any{{0.0}, {negZero()}}, 1},
		{"same instant, other zone", [][]any{{utc}, {utc.In(time.FixedZone("x", 3600))}}, 1},
		{"other instant", [][]any{{utc}, {utc.Add(time.Nanosecond)}}, 2},
		{"booleans", [][]any{{true}, {false}, {true}}, 2},
		{"composite repeat", [][]any{{int64(1), "x"}, {int64(1), "y"}, {int64(1), "x"}}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chunk := make([]*op, len(tt.keys))
			for i, k := range tt.keys {
				chunk[i] = &op{args: append(k, "non-key"), nkeys: len(k)}
			}
			require.Len(t, distinctKeys(chunk), tt.want)
		})
	}
}

func negZero() float64 {
	z := 0.0
	return -z
}
