package box_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/internal/box"
	"github.com/rmqconnect/rmqconnect/schema"
)

// A boxed value is, to anything that holds it, the value Go would have boxed itself: the same dynamic type
// and value under a type switch, ==, reflect, fmt, JSON and schema.Equal, each in a slot of its own, and
// still whole after the Boxes and its blocks are dropped and collected.
func TestBoxedValuesAreOrdinaryValues(t *testing.T) {
	base := time.Date(2024, 2, 29, 13, 14, 15, 678e6, time.UTC)
	want := func(i int) []any {
		return []any{int64(i) * 1_000_003, base.Add(time.Duration(i) * time.Second), schema.NewDecimal(int64(i)*7-900, 2),
			fmt.Sprintf("name %d", i)}
	}
	const n = 2*box.Block + 5
	got := make([][]any, n)
	func() {
		var (
			i64   box.Boxes[int64]
			times box.Boxes[time.Time]
			decs  box.Boxes[schema.Decimal]
			strs  box.Boxes[string]
		)
		for i := range got {
			w := want(i)
			got[i] = []any{i64.Box(w[0].(int64)), times.Box(w[1].(time.Time)), decs.Box(w[2].(schema.Decimal)),
				strs.Box(w[3].(string))}
		}
	}()
	runtime.GC()
	runtime.GC()
	for i, row := range got {
		w := want(i)
		require.True(t, w[0] == row[0], "row %d: == on the interfaces", i)
		require.True(t, w[1] == row[1], "row %d", i)
		require.True(t, w[3] == row[3], "row %d", i)
		for j := range row {
			require.Equal(t, reflect.TypeOf(w[j]), reflect.TypeOf(row[j]), "row %d value %d", i, j)
			require.True(t, reflect.DeepEqual(w[j], row[j]), "row %d value %d: %#v vs %#v", i, j, w[j], row[j])
			require.True(t, schema.Equal(w[j], row[j]), "row %d value %d", i, j)
			require.Equal(t, fmt.Sprint(w[j]), fmt.Sprint(row[j]), "row %d value %d", i, j)
			wj, err := json.Marshal(w[j])
			require.NoError(t, err)
			gj, err := json.Marshal(row[j])
			require.NoError(t, err)
			require.Equal(t, string(wj), string(gj), "row %d value %d", i, j)
		}
		switch v := row[0].(type) {
		case int64:
			require.Equal(t, w[0].(int64), v, "row %d", i)
		default:
			t.Fatalf("row %d: int64 is a %T", i, v)
		}
		switch v := row[2].(type) {
		case schema.Decimal:
			require.True(t, w[2].(schema.Decimal).Equal(v), "row %d", i)
		default:
			t.Fatalf("row %d: decimal is a %T", i, v)
		}
	}
}
