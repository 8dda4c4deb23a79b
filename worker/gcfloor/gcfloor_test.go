package gcfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		floor, live uint64
		base, want  int
	}{
		{floor: 32 << 20, live: 2 << 20, base: 100, want: 800},  // goal: Go's minimum, 4 MiB × 8
		{floor: 32 << 20, live: 4 << 20, base: 100, want: 700},  // goal 4 MiB × 8 = 32 MiB
		{floor: 32 << 20, live: 16 << 20, base: 100, want: 100}, // 2 × live reaches the floor
		{floor: 32 << 20, live: 12 << 20, base: 100, want: 166},
		{floor: 32 << 20, live: 64 << 20, base: 100, want: 100}, // above the floor: GOGC's default
		{floor: 32 << 20, live: 1 << 10, base: 100, want: 800},
		{floor: 32 << 20, live: 0, base: 100, want: 800},
		{floor: 32 << 20, live: 8 << 20, base: 300, want: 300},
		{floor: 2 << 20, live: 0, base: 100, want: 100}, // below Go's own minimum: nothing to do
	} {
		require.Equal(t, c.want, Percent(c.floor, c.live, c.base), "floor %d live %d base %d", c.floor, c.live, c.base)
	}
}

func TestPaced(t *testing.T) {
	const floor = 16 << 20
	for _, c := range []struct {
		rate float64 // bytes a second
		want uint64
	}{
		{rate: 0, want: floor},
		{rate: 100 << 20, want: floor},     // 2.5 MiB in pace: the floor
		{rate: 640 << 20, want: floor},     // exactly a floor in pace
		{rate: 1280 << 20, want: 32 << 20}, // twice that
		{rate: 100 << 30, want: 64 << 20},  // never above rise × floor
	} {
		require.Equal(t, c.want, Paced(floor, c.rate), "rate %.0f", c.rate)
	}
}

// TestFloorSetsTheHeapGoal: with a 64 MiB floor over a near-empty heap the collector's goal is the floor
// (not less: fewer collections; not more: the memory it costs is bounded), churning 256 MiB of short-lived
// objects takes a collection per ~64 MiB or more (the floor rises with a fast churn's rate, TestPaced)
// instead of one per few MiB, never past rise × floor, and turning the floor off restores the default
// percent.
func TestFloorSetsTheHeapGoal(t *testing.T) {
	if _, ok := os.LookupEnv("GOGC"); ok {
		t.Skip("GOGC is set: the floor stays off by design (TestPercent covers the arithmetic)")
	}
	goal := func() uint64 {
		s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	collections := func() uint32 {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		var keep []byte
		for range 256 << 10 {
			keep = make([]byte, 1<<10)
		}
		runtime.KeepAlive(keep)
		runtime.ReadMemStats(&after)
		return after.NumGC - before.NumGC
	}
	runtime.GC()
	goalWithout, without := goal(), collections()
	require.True(t, Set(64<<20))
	runtime.GC() // the first collection under the floor sets its percent
	runtime.GC()
	goalWith, with := goal(), collections()
	goalChurned := goal() // the floor may have risen with the churn's rate
	require.False(t, Set(0))
	require.Equal(t, 100, debug.SetGCPercent(100), "turning the floor off restores the default percent")
	t.Logf("heap goal %d MiB without a floor, %d MiB with 64 MiB (%d MiB after the churn); collections churning 256 MiB: %d, %d",
		goalWithout>>20, goalWith>>20, goalChurned>>20, without, with)
	require.Less(t, goalWithout, uint64(32<<20))
	require.InDelta(t, 64<<20, goalWith, 8<<20)
	require.Less(t, with*2, without) // timing moves the counts (a loaded machine: 17 without); the goal above is exact
	require.GreaterOrEqual(t, with, uint32(1))
	// However fast the churn, the goal stays within rise × floor (and the live heap's share).
	require.LessOrEqual(t, goalChurned, uint64(rise*64<<20+8<<20))
	require.GreaterOrEqual(t, goalChurned, uint64(56<<20))
}
