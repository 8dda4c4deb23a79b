package scheduler

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// shapeStats is what one strategy does on one cluster shape: balance (the worst of the initial
// assignment and of every one after a join, leave or restart step with at least as many units as
// workers; idle: the most idle workers of any of them) and units moved against MinMoves for one join, leaves and a rolling restart.
type shapeStats struct {
	workers, units       int
	maxAvg, minAvg       float64
	idle                 int
	joinMoved, joinMin   int
	leaveMoved, leaveMin int
	rollMoved, rollMin   int
	worstRatio           float64 // highest moved/minimum of a single event whose minimum is >= 4
	worstEvent           string
}

// reassign is the assignment after a membership change from old: Rebalance for a Sticky strategy,
// Assign for the others.
func reassign(s Strategy, members []string, units []Unit, old Assignment) (Assignment, error) {
	if st, ok := s.(Sticky); ok {
		return st.Rebalance(members, units, old)
	}
	return s.Assign(members, units)
}

func balance(a Assignment, n int) (maxAvg, minAvg float64, idle int) {
	lo, hi := n, 0
	for _, us := range a {
		lo, hi = min(lo, len(us)), max(hi, len(us))
		if len(us) == 0 {
			idle++
		}
	}
	avg := float64(n) / float64(len(a))
	return float64(hi) / avg, float64(lo) / avg, idle
}

// measureShape assigns units over members, then measures a join of extra, the leave of each member
// listed in leavers, and, if roll, a rolling restart (each member leaves, then rejoins, in turn).
func measureShape(s Strategy, members []string, extra string, units []Unit, leavers []string, roll bool) (shapeStats, error) {
	st := shapeStats{workers: len(members), units: len(units)}
	base, err := s.Assign(members, units)
	if err != nil {
		return st, err
	}
	st.maxAvg, st.minAvg, st.idle = balance(base, len(units))
	event := func(old Assignment, next []string, what string) (Assignment, int, int, error) {
		a, err := reassign(s, next, units, old)
		if err != nil {
			return nil, 0, 0, err
		}
		if len(units) >= len(next) { // with fewer units than workers some are idle by necessity
			mx, mn, idle := balance(a, len(units))
			st.maxAvg, st.minAvg, st.idle = max(st.maxAvg, mx), min(st.minAvg, mn), max(st.idle, idle)
		}
		moved, _ := movement(old, a)
		min := MinMoves(old, next, len(units))
		if min >= 4 {
			if r := float64(moved) / float64(min); r > st.worstRatio {
				st.worstRatio, st.worstEvent = r, fmt.Sprintf("%s: %d workers, %d units: moved %d, minimum %d", what, len(old), len(units), moved, min)
			}
		}
		return a, moved, min, nil
	}
	_, mv, mn, err := event(base, append(slices.Clone(members), extra), "join")
	if err != nil {
		return st, err
	}
	st.joinMoved, st.joinMin = mv, mn
	for _, l := range leavers {
		i := slices.Index(members, l)
		_, mv, mn, err := event(base, slices.Delete(slices.Clone(members), i, i+1), "leave")
		if err != nil {
			return st, err
		}
		st.leaveMoved += mv
		st.leaveMin += mn
	}
	if roll {
		cur := base
		for i := range members {
			down := slices.Delete(slices.Clone(members), i, i+1)
			a, mv, mn, err := event(cur, down, "restart-leave")
			if err != nil {
				return st, err
			}
			st.rollMoved += mv
			st.rollMin += mn
			if cur, mv, mn, err = event(a, members, "restart-join"); err != nil {
				return st, err
			}
			st.rollMoved += mv
			st.rollMin += mn
		}
	}
	return st, nil
}

// wideShapes is the set of cluster shapes the movement property is summed over: 1 to 101 workers,
// 1 to 100 units per worker on average (at most 10,100 units), connectors of mixed sizes.
func wideShapes(seed uint64) []struct {
	members []string
	extra   string
	units   []Unit
	leavers []string
} {
	r := rand.New(rand.NewPCG(seed, seed))
	var out []struct {
		members []string
		extra   string
		units   []Unit
		leavers []string
	}
	for _, m := range []int{2, 3, 5, 8, 10, 16, 25, 40, 50, 64, 100, 101} {
		for _, per := range []int{1, 2, 3, 4, 6, 10, 20, 50, 100} {
			target := min(m*per, 10100)
			pool := genMembers(r, m+1)
			var us []Unit
			for i := 0; len(us) < target; i++ {
				t := min(target-len(us)-1, []int{0, 1, 2, 4, 8, 16, 50, 100}[r.IntN(8)])
				us = append(us, Units(fmt.Sprintf("conn-%d", i), max(t, 0))...)
			}
			var leavers []string
			for _, j := range r.Perm(m)[:min(m, 3)] {
				leavers = append(leavers, pool[j])
			}
			out = append(out, struct {
				members []string
				extra   string
				units   []Unit
				leavers []string
			}{pool[:m], pool[m], us, leavers})
		}
	}
	return out
}
