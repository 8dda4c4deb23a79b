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

// BenchmarkAssign is the assignment time for 100 connectors × 100 tasks (10,100 units with the
// connectors) over 100 workers.
func BenchmarkAssign(b *testing.B) {
	ms, us := benchCluster(100, 100, 100)
	for name, s := range strategies(b) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Assign(ms, us); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMovement reports, for each strategy and cluster shape, the units moved when one worker
// joins and when one leaves, the minimum that must move (MinMoves), and max/avg load after the change.
// The metrics are deterministic; the time is that of the three assignments.
func BenchmarkMovement(b *testing.B) {
	shapes := []struct {
		name                  string
		workers, conns, tasks int
	}{
		{"100w-100c-100t", 100, 100, 100},
		{"10w-20c-10t", 10, 20, 10},
		{"4w-10c-3t", 4, 10, 3},
	}
	for _, sh := range shapes {
		for name, s := range strategies(b) {
			b.Run(sh.name+"/"+name, func(b *testing.B) {
				b.ReportAllocs()
				pool, us := benchCluster(sh.workers+1, sh.conns, sh.tasks)
				members := pool[:sh.workers]
				leaveSet := pool[1:sh.workers] // worker-1 leaves
				var old, joined, left Assignment
				for b.Loop() {
					var err error
					if old, err = s.Assign(members, us); err != nil {
						b.Fatal(err)
					}
					if joined, err = s.Assign(pool, us); err != nil {
						b.Fatal(err)
					}
					if left, err = s.Assign(leaveSet, us); err != nil {
						b.Fatal(err)
					}
				}
				movedJoin, _ := Diff(old, joined)
				movedLeave, _ := Diff(old, left)
				b.ReportMetric(float64(movedJoin), "moved-join")
				b.ReportMetric(float64(MinMoves(old, pool, len(us))), "min-join")
				b.ReportMetric(float64(movedLeave), "moved-leave")
				b.ReportMetric(float64(MinMoves(old, leaveSet, len(us))), "min-leave")
				b.ReportMetric(maxOverAvg(joined), "maxload/avg-join")
				b.ReportMetric(maxOverAvg(left), "maxload/avg-leave")
			})
		}
	}
}

func maxOverAvg(a Assignment) float64 {
	m := 0
	for _, us := range a {
		m = max(m, len(us))
	}
	return float64(m) * float64(len(a)) / float64(a.Len())
}
