package jdbc

import (
	"fmt"
	"math/big"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/internal/box/boxtest"
	"github.com/rmqconnect/rmqconnect/schema"
)

// TestArenaIntsAreIndependent: big.Ints from one arena block do not share memory.
func TestArenaIntsAreIndependent(t *testing.T) {
	var a arena
	var ints []*big.Int
	for i := range 2*arenaBlock + 3 {
		ints = append(ints, a.bigInt(int64(i)-arenaBlock))
	}
	ints[5].Add(ints[5], big.NewInt(1<<40))
	ints[6].Neg(ints[6])
	for i, z := range ints {
		want := int64(i) - arenaBlock
		switch i {
		case 5:
			want += 1 << 40
		case 6:
			want = -want
		}
		require.Equal(t, want, z.Int64(), "int %d", i)
	}
}

// TestArenaValuesAreOrdinaryValues: a value an arena boxes is, to anything that holds it, the value Go
// would have boxed itself: the same dynamic type and value under a type switch, ==, reflect, fmt, JSON
// and schema.Equal, each in its own slot, and still whole after the arena and its blocks are dropped and
// collected.
func TestArenaValuesAreOrdinaryValues(t *testing.T) {
	base := time.Date(2024, 2, 29, 13, 14, 15, 678e6, time.UTC)
	want := func(i int) []any {
		return []any{int64(i) * 1_000_003, base.Add(time.Duration(i) * time.Second), schema.NewDecimal(int64(i)*7-900, 2),
			fmt.Sprintf("name %d", i)}
	}
	const n = 2*arenaBlock + 5
	got := make([][]any, n)
	func() {
		var a arena
		for i := range got {
			w := want(i)
			buf := []byte(w[3].(string))
			d := w[2].(schema.Decimal)
			got[i] = []any{a.int64(w[0].(int64)), a.time(w[1].(time.Time)), a.decimal(d.Unscaled.Int64(), d.Scale), a.text(buf)}
			copy(buf, "xxxxxxxxxx") // the string is a copy of the bytes
		}
	}()
	runtime.GC()
	runtime.GC()
	for i, row := range got {
		boxtest.RequireOrdinary(t, want(i), row, i)
	}
}

// TestArenaStrings: strings of every length, long ones on their own, and a nil arena.
func TestArenaStrings(t *testing.T) {
	var a arena
	var got, want []any
	for i := range 3 * arenaText / 16 {
		s := strings.Repeat(string(rune('a'+i%26)), i%(arenaText/4))
		want = append(want, s)
		got = append(got, a.text([]byte(s)))
	}
	require.Equal(t, want, got)
	var none *arena
	require.Equal(t, "abc", none.text([]byte("abc")))
	require.Equal(t, int64(300), none.int64(300))
	require.Equal(t, base0, none.time(base0))
	require.True(t, schema.NewDecimal(-5, 3).Equal(none.decimal(-5, 3).(schema.Decimal)))
}

var base0 = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
