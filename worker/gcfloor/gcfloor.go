// Package gcfloor keeps the garbage collector's heap goal at or above a floor. Go's collector starts a
// cycle each time the heap has grown by GOGC percent of what the last cycle found live. A Connect task
// allocates a record per row or message and keeps few of them, so a worker whose live heap is a few MiB
// collects hundreds of times a second under load and spends as much CPU marking as converting. With a
// floor the collector runs at most once per floor's worth of allocation while the live heap is small,
// and as GOGC says once it is larger than the floor: the memory it costs is bounded by the floor (by rise
// floors while allocating fast), unlike raising GOGC, which multiplies the heap of a large worker too.
//
// After each collection, the percent is set so that the next goal is max(floor, live × (1 + base/100)).
// While the worker allocates faster than a floor per pace, the floor rises with the rate, up to rise
// times its value: a task streaming a million small records a second would otherwise still collect every
// few milliseconds and mark through most of its time. The GOGC environment variable, when set, is the
// user's choice and disables the floor.
package gcfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// Default is the worker's heap floor: four times Go's own minimum goal (4 MiB). Measured against 8 and
// 32 MiB (docs/adr/20261204-gc-heap-floor.md): it takes as much CPU off a jdbc-source task as 32 MiB,
// for half the memory, and costs a postgres-cdc task less (a larger heap is colder in the caches).
const Default = 16 << 20

// heapMinimum is Go's smallest heap goal at GOGC=100; it scales with the percent (4 MiB × GOGC/100), so
// a percent above floor/heapMinimum × 100 would put the goal above the floor.
const heapMinimum = 4 << 20

// base is the percent without a floor: GOGC's default (Set does nothing when GOGC is set).
const base = 100

// pace is the shortest interval between collections the floor aims for, and rise how far above its
// set value it goes for that. Measured on mysql-cdc (1.5 M changes/s, ~1.2 GB/s of short-lived records):
// a goal of ~25 MiB instead of 16 took ~15% off the task's CPU a change; PostgreSQL CDC and jdbc-source
// allocate slowly enough to keep the set floor.
const (
	pace = 25 * time.Millisecond
	rise = 4
)

var (
	mu      sync.Mutex
	floor   uint64 // 0: off
	percent int    // the percent last set
	hooked  bool
	// The allocation count and time at the last adjust, for the rate since.
	lastAllocs uint64
	lastAt     time.Time
)

// Set keeps the heap goal at or above bytes from the next collection on; 0 turns the floor off and
// restores Go's default percent. It does nothing when GOGC is set in the environment, and reports whether
// the floor is in force.
func Set(bytes uint64) bool {
	if _, ok := os.LookupEnv("GOGC"); ok {
		return false
	}
	mu.Lock()
	defer mu.Unlock()
	floor = bytes
	if bytes == 0 {
		lastAt = time.Time{} // a floor set again measures its rate afresh
		percent = base       // exactly, not within setPercent's tolerance
		debug.SetGCPercent(base)
		return false
	}
	if !hooked {
		hooked = true
		watch()
	}
	adjust()
	return true
}

// watch runs adjust after every collection: a finalizer runs once the collector has found its object
// unreachable, and it arms the next one.
func watch() {
	o := new(sentinel)
	runtime.SetFinalizer(o, func(*sentinel) {
		mu.Lock()
		on := floor != 0
		if on {
			adjust()
		} else {
			hooked = false
		}
		mu.Unlock()
		if on {
			watch()
		}
	})
}

// sentinel is big enough (16 bytes) not to share a tiny-allocator block, whose finalizer would wait for
// every object of the block.
type sentinel struct{ _ [16]byte }

// liveMetric is the heap the last collection marked live; allocsMetric, the bytes allocated ever.
const (
	liveMetric   = "/gc/heap/live:bytes"
	allocsMetric = "/gc/heap/allocs:bytes"
)

// adjust sets the percent for the live heap the last collection found and the allocation rate since the
// previous one. Called with mu held.
func adjust() {
	s := []metrics.Sample{{Name: liveMetric}, {Name: allocsMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[1].Value.Kind() != metrics.KindUint64 {
		return
	}
	now, allocs := time.Now(), s[1].Value.Uint64()
	var rate float64
	if !lastAt.IsZero() && allocs >= lastAllocs {
		rate = float64(allocs-lastAllocs) / max(now.Sub(lastAt).Seconds(), 1e-6)
	}
	lastAllocs, lastAt = allocs, now
	setPercent(Percent(Paced(floor, rate), s[0].Value.Uint64(), base))
}

// Paced is the floor for an allocation rate in bytes a second: what the rate allocates in pace, kept
// between floor and rise × floor.
func Paced(floor uint64, rate float64) uint64 {
	want := rate * pace.Seconds()
	if want <= float64(floor) {
		return floor
	}
	return min(uint64(want), rise*floor)
}

// Percent is the GOGC percent that puts the next heap goal at max(floor, live × (1 + base/100)): the
// goal is the larger of live × (1 + percent/100) and heapMinimum × percent/100, so a small live heap
// reaches the floor through the second.
func Percent(floor, live uint64, base int) int {
	if live >= floor {
		return base
	}
	p := floor * 100 / heapMinimum
	if live > 0 {
		p = min(p, (floor-live)*100/live)
	}
	return max(base, int(p))
}

// setPercent sets the percent when it moved by more than an eighth: SetGCPercent stops the world.
func setPercent(p int) {
	if percent != 0 {
		d := p - percent
		if d < 0 {
			d = -d
		}
		if d*8 < percent {
			return
		}
	}
	percent = p
	debug.SetGCPercent(p)
}
