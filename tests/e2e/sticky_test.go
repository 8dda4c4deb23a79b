package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/scheduler"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

// stickyPlacement is the placement states show: worker → units.
func stickyPlacement(states []unitState) scheduler.Assignment {
	a := scheduler.Assignment{}
	for _, s := range states {
		a[s.Worker] = append(a[s.Worker], s.Unit)
	}
	return a
}

// atStickyFixedPoint reports whether every unit is RUNNING on one of members and the placement
// is a fixed point of the sticky strategy: Rebalance keeps every unit where it runs (so every
// bound holds and the workers have nothing left to move).
func atStickyFixedPoint(states []unitState, members []string) bool {
	if !allRunning(states, len(states), members) {
		return false
	}
	units := make([]scheduler.Unit, 0, len(states))
	for _, s := range states {
		units = append(units, s.Unit)
	}
	a, err := scheduler.NewSticky().Rebalance(members, units, stickyPlacement(states))
	if err != nil {
		return false
	}
	o := a.Owners()
	for _, s := range states {
		if o[s.Unit] != s.Worker {
			return false
		}
	}
	return true
}

// stickyTaskMoves counts the units, and of them the tasks, whose worker differs between two
// placements of the same units.
func stickyTaskMoves(before, after []unitState) (units, tasks int) {
	was := map[scheduler.Unit]string{}
	for _, s := range before {
		was[s.Unit] = s.Worker
	}
	for _, s := range after {
		if was[s.Unit] != s.Worker {
			units++
			if !s.Unit.IsConnector() {
				tasks++
			}
		}
	}
	return units, tasks
}

// TestDistributedStickyJoinAndRollingRestart: workers running the default strategy (sticky, no
// allocTaskStrategy set) settle at a fixed point of scheduler.Rebalance, move at most 1.5 × MinMoves on a join and over a rolling
// restart (each leave and each rejoin measured between settled placements), and never run a task
// twice (the claims on the status topic do not overlap).
func TestDistributedStickyJoinAndRollingRestart(t *testing.T) {
	rmqtest.Require(t)
	c := newCluster(t)
	w1 := c.start("worker-1")
	c.start("worker-2")
	c.start("worker-3")
	ps := []pipeline{c.pipeline(t, w1, "a", 10000), c.pipeline(t, w1, "b", 10000), c.pipeline(t, w1, "c", 10000)}
	all := names(ps...)
	genTopic := rmqtest.Topic(t, 4)
	for _, g := range []string{"g1", "g2", "g3", "g4"} {
		createConnector(t, w1, g, map[string]string{"connector.class": "generator-source", "connect.topicname": genTopic,
			"max.tasks": "6", "rate": "2"})
		all = append(all, g)
	}
	const units = 12 + 4*7
	settled := func(w *workerProc, members []string) []unitState {
		t.Helper()
		var s []unitState
		require.Eventually(t, func() bool {
			s = c.states(w, all...)
			return len(s) == units && atStickyFixedPoint(s, members)
		}, 90*time.Second, 20*time.Millisecond, "no fixed point of Rebalance over %v: %v", members, s)
		return s
	}
	before := settled(w1, c.IDs())
	// The claims of the first placement (connectors created one at a time move a few tasks).
	firstClaims := checkNoOverlap(t, c.statusHistory(t), func(string, int) bool { return false })
	loads := stickyPlacement(before)
	for _, id := range c.IDs() {
		require.LessOrEqual(t, len(loads[id]), scheduler.LoadBound(units, 3), "%s", id)
		require.GreaterOrEqual(t, len(loads[id]), scheduler.TargetFloor(units, 3), "%s", id)
	}

	joinedAt := time.Now()
	c.start("worker-4")
	after := settled(w1, c.IDs())
	moved, taskMoves := stickyTaskMoves(before, after)
	minimum := scheduler.MinMoves(stickyPlacement(before), c.IDs(), units)
	t.Logf("FIGURE sticky-join: worker-4 joined; %d of %d units moved (minimum %d, bound 1.5× = %.1f); at a fixed point of Rebalance after %v",
		moved, units, minimum, 1.5*float64(minimum), time.Since(joinedAt).Round(time.Millisecond))
	require.LessOrEqual(t, float64(moved), 1.5*float64(minimum), "units moved on a join")

	// Rolling restart while the inputs grow: each leave and each rejoin between settled placements.
	next := 10000
	cur := after
	totalMoved, totalMin := 0, 0
	ids := c.IDs()
	for _, id := range ids {
		for _, p := range ps {
			appendLines(t, p.in, next, 2000)
		}
		next += 2000
		c.Workers[id].Stop(t, 90*time.Second)
		var others []string
		for _, o := range ids {
			if o != id {
				others = append(others, o)
			}
		}
		mid := settled(c.Workers[others[0]], others)
		leaveMoved, leaveTasks := stickyTaskMoves(cur, mid)
		leaveMin := scheduler.MinMoves(stickyPlacement(cur), others, units)
		w := c.start(id)
		back := settled(w, ids)
		joinMoved, joinTasks := stickyTaskMoves(mid, back)
		joinMin := scheduler.MinMoves(stickyPlacement(mid), ids, units)
		taskMoves += leaveTasks + joinTasks
		t.Logf("FIGURE sticky-restart %s: leave moved %d (minimum %d), rejoin moved %d (minimum %d)", id, leaveMoved, leaveMin, joinMoved, joinMin)
		totalMoved += leaveMoved + joinMoved
		totalMin += leaveMin + joinMin
		cur = back
	}
	total := 0
	for _, p := range ps {
		total += p.check(t, next)
	}
	claims := checkNoOverlap(t, c.statusHistory(t), func(string, int) bool { return false })
	// One claim per task move between settled placements is what the events needed; claims
	// beyond that are moves made and undone on the way (units in the middle of a handover).
	t.Logf("FIGURE sticky-rolling-restart: 4 workers restarted one by one; %d units moved (minimum %d, %.2f×); %d task claims, none overlapping: %d for the first placement, %d for the join and the restarts against %d task moves between settled placements; %d duplicates of 3 × %d lines",
		totalMoved, totalMin, float64(totalMoved)/float64(max(totalMin, 1)), claims, firstClaims, claims-firstClaims, taskMoves, total, next)
	require.LessOrEqual(t, float64(claims-firstClaims), 1.5*float64(taskMoves), "tasks started elsewhere, transient moves included")
	require.LessOrEqual(t, float64(totalMoved), 1.5*float64(totalMin), "units moved over a rolling restart")
}
