package scheduler

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// denseUnitsPerWorker is where the per-event movement bound starts to be enforced.
const denseUnitsPerWorker = 16

// checkAssignment verifies properties (2) LoadBound and FloorBound (no idle member when units >=
// members), (4) SpreadBound and (5) exactly once, which both strategies keep (round robin within
// tighter bounds), and that every member has a sorted slice.
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
		if f := FloorBound(len(units), len(members)); len(us) < f {
			return fmt.Errorf("worker %s holds %d units, floor %d", w, len(us), f)
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
		for c, k := range per {
			if b := SpreadBound(tasks[c], len(members)); k > b {
				return fmt.Errorf("worker %s holds %d of %d tasks of %s, bound %d", w, k, tasks[c], c, b)
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
