package scheduler

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/quick"

	"github.com/stretchr/testify/require"
)

// The property tests draw clusters from fixed seeds, so a failure reproduces exactly.

// iterations is n, or a fifth of it with -short or -race (make test-unit runs the whole sample).
func iterations(n int) int {
	if testing.Short() || raceDetector {
		return n / 5
	}
	return n
}

// genCluster draws a membership of 1..maxM workers and 0..maxK connectors.
func genCluster(r *rand.Rand, maxM, maxK int) ([]string, []Unit) {
	ms := genMembers(r, 1+r.IntN(maxM))
	us := genUnits(r, r.IntN(maxK+1), []int{0, 1, 3, 10, 40, 100}[r.IntN(6)])
	return ms, us
}

// Property (1): the same members and units in any order give the same assignment.
func TestPropertyDeterministic(t *testing.T) {
	for name, s := range strategies(t) {
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 1))
			for range iterations(300) {
				ms, us := genCluster(r, 40, 15)
				want, err := s.Assign(ms, us)
				require.NoError(t, err)
				for range 3 {
					got, err := s.Assign(shuffled(r, ms), shuffled(r, us))
					require.NoError(t, err)
					require.Equal(t, want, got)
				}
			}
		})
	}
}

// Properties (2) balance, (4) spread and (5) exactly once, over small and large clusters.
func TestPropertyInvariants(t *testing.T) {
	for name, s := range strategies(t) {
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(2, 2))
			for i := range iterations(500) {
				maxM, maxK := 12, 12
				if i%10 == 0 {
					maxM, maxK = 150, 30
				}
				ms, us := genCluster(r, maxM, maxK)
				a, err := s.Assign(ms, us)
				require.NoError(t, err)
				require.NoError(t, checkAssignment(a, ms, us), "members=%d units=%d", len(ms), len(us))
			}
		})
	}
}

// genShape draws a cluster of the shapes issue 15 names: 1-120 workers, 1-200 connectors of 1-100 tasks
// each (so up to 20,200 units); half of the draws have at least as many units as workers.
func genShape(r *rand.Rand) ([]string, []Unit) {
	ms := genMembers(r, 1+r.IntN(120))
	k := 1 + r.IntN(200)
	maxTasks := []int{1, 3, 10, 30, 100}[r.IntN(5)]
	var us []Unit
	for i := range k {
		us = append(us, Units(fmt.Sprintf("conn-%c%d", 'a'+rune(r.IntN(26)), i), 1+r.IntN(maxTasks))...)
	}
	return ms, us
}

// Balance at both ends over random shapes: no idle worker and least-loaded >= FloorBound when units >=
// workers, most-loaded <= LoadBound, each connector within SpreadBound (distinct workers while its
// tasks are at most 0.8 × workers), and the same result for the input shuffled.
func TestPropertyBounds(t *testing.T) {
	s := NewConsistentHash()
	r := rand.New(rand.NewPCG(4, 4))
	for range iterations(100) {
		ms, us := genShape(r)
		a, err := s.Assign(ms, us)
		require.NoError(t, err)
		require.NoError(t, checkAssignment(a, ms, us), "members=%d units=%d", len(ms), len(us))
		b, err := s.Assign(shuffled(r, ms), shuffled(r, us))
		require.NoError(t, err)
		require.Equal(t, a, b)
	}
}

// The bounds of TestPropertyBounds fail on the strategy before issue 15, at both the floor (it had none)
// and the spread (it allowed ceil(1.5 × t/m) + 1): the property test can fail.
func TestPropertyBoundsCatchLegacy(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	belowFloor, broken := 0, 0
	for range iterations(100) {
		ms, us := genShape(r)
		a, err := legacyConsistentHash{}.Assign(ms, us)
		require.NoError(t, err)
		if err := checkAssignment(a, ms, us); err != nil {
			if broken == 0 {
				t.Logf("first violation: members=%d units=%d: %v", len(ms), len(us), err)
			}
			broken++
		}
		for _, w := range ms {
			if len(a[w]) < FloorBound(len(us), len(ms)) {
				belowFloor++
				break
			}
		}
	}
	t.Logf("legacy: %d of %d shapes break a bound, %d have a worker below the floor", broken, iterations(100), belowFloor)
	require.Positive(t, belowFloor, "the legacy strategy should leave workers below the floor")
	require.Positive(t, broken, "the legacy strategy should break the bounds")
}

// Property (3) for consistent-hash: one join and one leave over random clusters of genShape with units
// >= workers, moves measured against MinMoves. The total stays within 1.5 × the total minimum, over all
// clusters and over the dense ones (workers averaging denseUnitsPerWorker units or more); it measured
// 1.32 and 1.26. Single events can exceed 2.5 × their minimum (25 of 374 here, one of them dense): where
// workers average a few units, the caps and the floor bind on many workers and a join or leave shifts
// what they reject. The test logs the dense ones and bounds the share of all of them.
func TestPropertyMovement(t *testing.T) {
	dense, all := movementTally(t, NewConsistentHash())
	for name, tl := range map[string]tally{"dense": dense, "all": all} {
		t.Logf("%s: %d events, moved %d, minimum %d (ratio %.3f), %d events above 2.5 × a minimum >= 4",
			name, tl.events, tl.moved, tl.min, float64(tl.moved)/float64(max(tl.min, 1)), tl.over)
	}
	require.LessOrEqual(t, 2*dense.moved, 3*dense.min, "dense: total moves within 1.5 × total minimum")
	require.LessOrEqual(t, 2*all.moved, 3*all.min, "all: total moves within 1.5 × total minimum")
	require.LessOrEqual(t, 10*all.over, all.events, "at most a tenth of the events above 2.5 × their minimum")
	// The same events as TestStickyMovement, whose per-event bound this strategy breaks: that
	// assertion can fail.
	require.Positive(t, all.over, "consistent-hash has events above 2.5 × their minimum")
}

// tally sums join and leave events: units moved, MinMoves, and events above 2.5 × a minimum >= 4.
type tally struct{ events, moved, min, over int }

// movementTally runs one join and one leave on each of 200 random clusters of genShape (units >=
// workers), over all of them and over the dense ones.
func movementTally(t *testing.T, s Strategy) (dense, all tally) {
	r := rand.New(rand.NewPCG(3, 3))
	for range 200 { // a total ratio needs the whole sample, -short too: a fifth of it drew 1.77
		pool, us := genShape(r)
		if len(pool) < 2 {
			continue
		}
		members := pool[:len(pool)-1]
		if len(us) < len(pool) {
			continue
		}
		old, err := s.Assign(members, us)
		require.NoError(t, err)
		left := r.IntN(len(members))
		for _, next := range [][]string{pool, slices.Delete(slices.Clone(members), left, left+1)} {
			if len(next) == 0 {
				continue
			}
			a, err := reassign(s, next, us, old)
			require.NoError(t, err)
			require.NoError(t, checkAssignment(a, next, us))
			moved, _ := movement(old, a)
			min := MinMoves(old, next, len(us))
			over := min >= 4 && 2*moved > 5*min
			all.events++
			all.moved += moved
			all.min += min
			if over {
				all.over++
			}
			if len(us) >= denseUnitsPerWorker*max(len(next), len(members)) {
				dense.events++
				dense.moved += moved
				dense.min += min
				if over {
					dense.over++
					t.Logf("members %d -> %d, units %d: moved %d, minimum %d", len(members), len(next), len(us), moved, min)
				}
			}
		}
	}
	return dense, all
}

// Property (6): errors for empty, duplicate and invalid input, wrapping the package sentinels.
func TestPropertyInvalidInput(t *testing.T) {
	for name, s := range strategies(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				name    string
				members []string
				units   []Unit
				want    error
			}{
				{"nil members", nil, Units("a", 2), ErrNoMembers},
				{"empty members", []string{}, nil, ErrNoMembers},
				{"duplicate member", []string{"w1", "w2", "w1"}, Units("a", 1), ErrDuplicateMember},
				{"empty member", []string{"w1", ""}, nil, ErrInvalidMember},
				{"duplicate unit", []string{"w1"}, append(Units("a", 2), Unit{"a", 1}), ErrDuplicateUnit},
				{"duplicate connector", []string{"w1"}, append(Units("a", 0), Units("a", 0)...), ErrDuplicateUnit},
				{"empty connector", []string{"w1"}, []Unit{{"", 0}}, ErrInvalidUnit},
				{"bad task", []string{"w1"}, []Unit{{"a", -2}}, ErrInvalidUnit},
			} {
				a, err := s.Assign(tc.members, tc.units)
				require.ErrorIs(t, err, tc.want, tc.name)
				require.Nil(t, a, tc.name)
			}
		})
	}
}

// Arbitrary input from testing/quick, with empty and repeated names: Assign never panics, and either
// fails with a package sentinel or returns a valid assignment.
func TestPropertyQuickNeverPanics(t *testing.T) {
	sentinels := []error{ErrNoMembers, ErrDuplicateMember, ErrDuplicateUnit, ErrInvalidMember, ErrInvalidUnit}
	for name, s := range strategies(t) {
		t.Run(name, func(t *testing.T) {
			f := func(members []string, conns []string, tasks []int8) bool {
				var us []Unit
				for i, c := range conns {
					task := ConnectorTask
					if i < len(tasks) {
						task = int(tasks[i]) % 8
					}
					us = append(us, Unit{Connector: c, Task: task})
				}
				a, err := s.Assign(members, us)
				if err != nil {
					return slices.ContainsFunc(sentinels, func(e error) bool { return errors.Is(err, e) })
				}
				return checkAssignment(a, members, us) == nil
			}
			require.NoError(t, quick.Check(f, &quick.Config{MaxCount: 2000, Rand: nil}))
		})
	}
}

// Edge cases that crash github.com/buraksezer/consistent when used naively.
func TestConsistentHashEdges(t *testing.T) {
	s := NewConsistentHash()
	// one member, no units
	a, err := s.Assign([]string{"w1"}, nil)
	require.NoError(t, err)
	require.Equal(t, Assignment{"w1": {}}, a)
	// one member holds everything (the library needs ReplicationFactor >= 2 here)
	us := Units("a", 5)
	a, err = s.Assign([]string{"w1"}, us)
	require.NoError(t, err)
	require.Equal(t, us, a["w1"])
	// more members than the library's partitions would panic; ringPartitions keeps P >= M
	require.Equal(t, chPartitions, ringPartitions(1))
	require.Equal(t, chPartitions+5, ringPartitions(chPartitions+5))
	// more members than units: each holds at most one
	ms := genMembers(rand.New(rand.NewPCG(5, 5)), 30)
	a, err = s.Assign(ms, Units("a", 3))
	require.NoError(t, err)
	for _, w := range ms {
		require.LessOrEqual(t, len(a[w]), 1)
	}
}
