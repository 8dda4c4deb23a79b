package box_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins/internal/box"
	"github.com/rmqconnect/rmqconnect/plugins/internal/box/boxtest"
	"github.com/rmqconnect/rmqconnect/schema"
)

// A boxed value is, to anything that holds it, the value Go would have boxed itself: the same dynamic type
// and value under a type switch, ==, reflect, fmt, JSON and schema.Equal, each in a slot of its own, and
// still whole after the Boxes and its blocks are dropped and collected.
func TestBoxedValuesAreOrdinaryValues(t *testing.T) {
	base := time.Date(2024, 2, 29, 13, 14, 15, 678e6, time.UTC)
	want := func(i int) []any {
		return []any{int64(i) * 1_000_003, base.Add(time.Duration(i) * time.Second), schema.NewDecimal(int64(i)*7-900, 2),
			fmt.Sprintf("name %d", i), []byte(fmt.Sprintf("bytes %d", i))}
	}
	const n = 2*box.Block + 5
	got := make([][]any, n)
	func() {
		var (
			i64   box.Boxes[int64]
			times box.Boxes[time.Time]
			decs  box.Boxes[schema.Decimal]
			strs  box.Boxes[string]
			bytes box.Boxes[[]byte]
		)
		for i := range got {
			w := want(i)
			got[i] = []any{i64.Box(w[0].(int64)), times.Box(w[1].(time.Time)), decs.Box(w[2].(schema.Decimal)),
				strs.Box(w[3].(string)), bytes.Box(w[4].([]byte))}
		}
	}()
	runtime.GC()
	runtime.GC()
	for i, row := range got {
		boxtest.RequireOrdinary(t, want(i), row, i)
	}
}

// Size sets the slots of the blocks made after it: boxing n values into blocks of n costs one allocation.
func TestSizeSetsTheBlock(t *testing.T) {
	for _, c := range []struct{ size, values, allocs int }{{3, 3, 1}, {3, 4, 2}, {1, 2, 2}, {0, 5, 1}} {
		allocs := testing.AllocsPerRun(50, func() {
			var b box.Boxes[string]
			if c.size > 0 {
				b.Size(c.size)
			}
			for range c.values {
				_ = b.Box("text")
			}
		})
		if int(allocs) != c.allocs {
			t.Errorf("Size(%d), %d values: %v allocations, want %d", c.size, c.values, allocs, c.allocs)
		}
	}
}
