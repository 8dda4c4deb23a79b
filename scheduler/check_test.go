package scheduler

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// moveAllowance is the per-event form of property (3) the tests enforce: 1.5 × MinMoves plus hashing
// noise of 2 × sqrt(min) + 2 units. Strictly 1.5 × min cannot hold for any stateless hash (3 units over
// 5 workers: whichever worker owns a unit, seen as the newcomer, took 1 > 1.5 × floor(3/5)), and the
// newcomer's share of independently hashed units varies by about sqrt(min). It is checked only when
// workers average at least denseUnitsPerWorker units; below that, only the aggregate bound holds.
func moveAllowance(min int) int { return min*3/2 + 2*int(math.Ceil(math.Sqrt(float64(min)))) + 2 }

// denseUnitsPerWorker is where the per-event movement bound starts to be enforced.
const denseUnitsPerWorker = 16

// checkAssignment verifies properties (2) LoadBound, (4) SpreadBound and (5) exactly once, which
// both strategies keep (round robin within tighter bounds), and that every member has a sorted slice.
func checkAssignment(a Assignment, members []string, units []Unit) error {
	if len(a) != len(members) {
		return fmt.Errorf("assignment has %d workers, want %d", len(a), len(members))
	}
	seen := make(map[Unit]string, len(units))
	tasks := map[string]int{}
	for _, u := range units {
		if !u.IsConnector() {
			tasks[u.Connector]++
		}
	}
	for _, w := range members {
		us, ok := a[w]
		if !ok {
			return fmt.Errorf("worker %s missing", w)
		}
		if !slices.IsSortedFunc(us, Unit.Compare) {
			return fmt.Errorf("worker %s: units not sorted", w)
		}
		if len(us) > LoadBound(len(units), len(members)) {
			return fmt.Errorf("worker %s holds %d units, bound %d", w, len(us), LoadBound(len(units), len(members)))
		}
		per := map[string]int{}
		for _, u := range us {
			if prev, dup := seen[u]; dup {
				return fmt.Errorf("unit %s on %s and %s", u, prev, w)
			}
			seen[u] = w
			if !u.IsConnector() {
				per[u.Connector]++
			}
		}
		if len(members) >= 2 {
			for c, k := range per {
				if b := SpreadBound(tasks[c], len(members)); k > b {
					return fmt.Errorf("worker %s holds %d of %d tasks of %s, bound %d", w, k, tasks[c], c, b)
				}
			}
		}
	}
	for _, u := range units {
		if _, ok := seen[u]; !ok {
			return fmt.Errorf("unit %s unassigned", u)
		}
	}
	if len(seen) != len(units) {
		return fmt.Errorf("%d units assigned, want %d", len(seen), len(units))
	}
	return nil
}

// genMembers returns m distinct worker ids in the styles clusters use.
func genMembers(r *rand.Rand, m int) []string {
	style := r.IntN(3)
	ms := make([]string, 0, m)
	seen := map[string]bool{}
	for len(ms) < m {
		var id string
		switch style {
		case 0:
			id = fmt.Sprintf("worker-%d", len(ms)+1)
		case 1:
			id = fmt.Sprintf("10.0.%d.%d@%d", r.IntN(4), r.IntN(250), 1000+r.IntN(9000))
		default:
			id = fmt.Sprintf("w%x", r.Uint32())
		}
		if !seen[id] {
			seen[id] = true
			ms = append(ms, id)
		}
	}
	return ms
}

// genUnits returns k connectors with random task counts; big skews toward many tasks.
func genUnits(r *rand.Rand, k int, maxTasks int) []Unit {
	var us []Unit
	for i := range k {
		us = append(us, Units(fmt.Sprintf("conn-%c%d", 'a'+rune(r.IntN(26)), i), r.IntN(maxTasks+1))...)
	}
	return us
}

func shuffled[T any](r *rand.Rand, s []T) []T {
	c := slices.Clone(s)
	r.Shuffle(len(c), func(i, j int) { c[i], c[j] = c[j], c[i] })
	return c
}

func strategies(t testing.TB) map[string]Strategy {
	t.Helper()
	out := map[string]Strategy{}
	for _, name := range []string{ConsistentHash, RoundRobin} {
		s, err := New(name)
		require.NoError(t, err)
		out[name] = s
	}
	return out
}
