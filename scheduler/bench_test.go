package scheduler

import (
	"fmt"
	"testing"
)

func benchCluster(m, conns, tasks int) ([]string, []Unit) {
	ms := make([]string, m)
	for i := range ms {
		ms[i] = fmt.Sprintf("worker-%d", i+1)
	}
	var us []Unit
	for c := range conns {
		us = append(us, Units(fmt.Sprintf("connector-%d", c), tasks)...)
	}
	return ms, us
}

// figure5 lists the strategies of BENCHMARKS.md figure 5, in its order.
var figure5 = []struct {
	name string
	s    Strategy
}{
	{"sticky", stickyStrategy{}},
	{"consistent-hash", consistentHashStrategy{}},
	{"consistent-hash-ring-only", consistentHashStrategy{first: firstRing}},
	{"consistent-hash-rendezvous-only", consistentHashStrategy{first: firstScore}},
	{"before", legacyConsistentHash{}},
	{"round-robin", roundRobin{}},
	{"rendezvous-bounded", rendezvousBounded{}},
	{"ring-bounded-per-unit", boundedRing{}},
}

// BenchmarkAssign is the time and memory of one assignment of 100 connectors × 100 tasks (10,100 units
// with the connectors) over 100 workers.
func BenchmarkAssign(b *testing.B) {
	ms, us := benchCluster(100, 100, 100)
	for _, st := range figure5 {
		b.Run(st.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := st.s.Assign(ms, us); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRebalance is the time and memory of the sticky strategy's Rebalance on the cluster of
// BenchmarkAssign after one worker joins (the placement in force as input): what a worker computes on
// a membership change.
func BenchmarkRebalance(b *testing.B) {
	pool, us := benchCluster(101, 100, 100)
	s := NewSticky()
	base, err := s.Assign(pool[:100], us)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("sticky-join", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Rebalance(pool, us, base); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPlacement is figure 5: for each strategy and the shapes of issue 15, the balance of the
// assignment (max/avg, min/avg, idle workers) and the units moved against MinMoves when one worker
// joins, when each of three leaves, and over a rolling restart (each worker leaves and rejoins in turn).
// Shape "wide" sums the moves over wideShapes (1-101 workers, 1-100 units per worker); its balance
// metrics are the worst over those shapes. The metrics are computed once; the time per op is one
// assignment of the shape (of the last shape for "wide").
func BenchmarkPlacement(b *testing.B) {
	shapes := []struct {
		name                  string
		workers, conns, tasks int
	}{
		{"50w-100u", 50, 20, 4},
		{"50w-200u", 50, 20, 9},
		{"50w-1000u", 50, 100, 9},
		{"10w-100u", 10, 10, 9},
		{"100w-10100u", 100, 100, 100},
		{"101w-1001u-one-connector", 101, 1, 1000},
	}
	for _, sh := range shapes {
		for _, st := range figure5 {
			b.Run(sh.name+"/"+st.name, func(b *testing.B) {
				pool, us := benchCluster(sh.workers+1, sh.conns, sh.tasks)
				members := pool[:sh.workers]
				leavers := []string{members[0], members[len(members)/2], members[len(members)-1]}
				ss, err := measureShape(st.s, members, pool[sh.workers], us, leavers, true)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := st.s.Assign(members, us); err != nil {
						b.Fatal(err)
					}
				}
				reportShape(b, ss, 0) // after the loop: its first iteration clears reported metrics
			})
		}
	}
	wide := wideShapes(7)
	for _, st := range figure5 {
		b.Run("wide/"+st.name, func(b *testing.B) {
			var sum shapeStats
			sum.minAvg = 1
			over := 0
			for _, sh := range wide {
				ss, err := measureShape(st.s, sh.members, sh.extra, sh.units, sh.leavers, len(sh.units) <= 2000 && len(sh.members) <= 50)
				if err != nil {
					b.Fatal(err)
				}
				sum.maxAvg, sum.minAvg, sum.idle = max(sum.maxAvg, ss.maxAvg), min(sum.minAvg, ss.minAvg), sum.idle+ss.idle
				sum.joinMoved, sum.joinMin = sum.joinMoved+ss.joinMoved, sum.joinMin+ss.joinMin
				sum.leaveMoved, sum.leaveMin = sum.leaveMoved+ss.leaveMoved, sum.leaveMin+ss.leaveMin
				sum.rollMoved, sum.rollMin = sum.rollMoved+ss.rollMoved, sum.rollMin+ss.rollMin
				sum.worstRatio = max(sum.worstRatio, ss.worstRatio)
				if ss.worstRatio > 2.5 {
					over++
				}
			}
			last := wide[len(wide)-1]
			b.ReportAllocs()
			for b.Loop() {
				if _, err := st.s.Assign(last.members, last.units); err != nil {
					b.Fatal(err)
				}
			}
			reportShape(b, sum, len(wide))
			b.ReportMetric(float64(over), "shapes-over-2.5x")
			b.ReportMetric(sum.worstRatio, "worst-event/min")
		})
	}
}

func reportShape(b *testing.B, ss shapeStats, shapes int) {
	if shapes > 0 {
		b.ReportMetric(float64(shapes), "shapes")
	} else {
		b.ReportMetric(float64(ss.workers), "workers")
		b.ReportMetric(float64(ss.units), "units")
	}
	b.ReportMetric(ss.maxAvg, "max/avg")
	b.ReportMetric(ss.minAvg, "min/avg")
	b.ReportMetric(float64(ss.idle), "idle")
	ratio := func(moved, min int) float64 { return float64(moved) / float64(max(min, 1)) }
	b.ReportMetric(ratio(ss.joinMoved, ss.joinMin), "join-moved/min")
	b.ReportMetric(ratio(ss.leaveMoved, ss.leaveMin), "leave-moved/min")
	b.ReportMetric(ratio(ss.rollMoved, ss.rollMin), "restart-moved/min")
}
