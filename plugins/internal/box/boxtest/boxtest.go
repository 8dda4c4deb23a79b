// Package boxtest checks, for tests, that values boxed by hand (package box, or a connector's arena) are to
// everything that holds them the values Go would have boxed itself.
package boxtest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema"
)

// RequireOrdinary fails t unless each got[j] is want[j] to a type switch, ==, reflect, fmt, JSON and
// schema.Equal (decimals, whose == compares pointers, by the others only).
func RequireOrdinary(t testing.TB, want, got []any, row int) {
	t.Helper()
	require.Len(t, got, len(want), "row %d", row)
	for j := range got {
		w, g := want[j], got[j]
		require.Equal(t, reflect.TypeOf(w), reflect.TypeOf(g), "row %d value %d", row, j)
		switch w.(type) {
		case schema.Decimal: // == compares a decimal's pointer
		case []byte: // == panics on a slice, boxed or not
		default:
			require.True(t, w == g, "row %d value %d: == on the interfaces", row, j)
		}
		require.True(t, reflect.DeepEqual(w, g), "row %d value %d: %#v vs %#v", row, j, w, g)
		require.True(t, schema.Equal(w, g), "row %d value %d", row, j)
		require.Equal(t, fmt.Sprint(w), fmt.Sprint(g), "row %d value %d", row, j)
		wj, err := json.Marshal(w)
		require.NoError(t, err)
		gj, err := json.Marshal(g)
		require.NoError(t, err)
		require.Equal(t, string(wj), string(gj), "row %d value %d", row, j)
		switch v := g.(type) {
		case schema.Decimal:
			require.True(t, w.(schema.Decimal).Equal(v), "row %d value %d", row, j)
		case int64:
			require.Equal(t, w.(int64), v, "row %d value %d", row, j)
		case []byte:
			require.Equal(t, w.([]byte), v, "row %d value %d", row, j)
		}
	}
}
