package faults

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// count is n for the full suite and short for the subset.
func count(n, short int) int {
	if *full {
		return n
	}
	return short
}

// victim picks a worker to hurt: one running both a source task and a sink task when there
// is one, else one running any task; it also returns the units it runs.
func (c *cluster) victim(rng *rand.Rand) (string, []string) {
	ids := c.IDs()
	rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	best, bestUnits, bestScore := "", []string(nil), -1
	for _, id := range ids {
		units := c.unitsOn(id)
		src, sink := false, false
		for _, u := range units {
			src = src || strings.Contains(u, "-src-")
			sink = sink || strings.Contains(u, "-sink-")
		}
		score := 0
		if src {
			score++
		}
		if sink {
			score++
		}
		if score > bestScore {
			best, bestUnits, bestScore = id, units, score
		}
	}
	return best, bestUnits
}

// TestBounce: workers are killed (SIGKILL) or stopped (SIGTERM) during flow and started
// again, one at a time; nothing is lost or reordered. The SIGKILL trials also give the
// failover time: from the kill to every unit of the victim RUNNING elsewhere.
func TestBounce(t *testing.T) {
	suite(t)
	for _, tc := range []struct {
		name, signal string
		sig          syscall.Signal
		n            int
	}{{"hard", "SIGKILL", syscall.SIGKILL, count(*bounce, 1)}, {"clean", "SIGTERM", syscall.SIGTERM, count(*bounce, 0)}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.n == 0 {
				t.Skip("full suite only (-faults.full)")
			}
			began := time.Now()
			c := newCluster(t, 3)
			c.addPipes(4, "")
			m := c.watch(t)
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 21))
			var times []string
			for range tc.n {
				time.Sleep(3 * time.Second)
				id, units := c.victim(rng)
				m.impair(id, true)
				at := time.Now()
				if tc.sig == syscall.SIGKILL {
					c.Workers[id].Kill()
				} else {
					c.Workers[id].Stop(t, time.Minute)
				}
				require.Eventually(t, func() bool { return c.running() }, 2*time.Minute, 20*time.Millisecond)
				d := time.Since(at)
				times = append(times, secs(d))
				if tc.sig == syscall.SIGKILL && slices.ContainsFunc(units, func(u string) bool { return strings.Contains(u, "-src-") }) &&
					slices.ContainsFunc(units, func(u string) bool { return strings.Contains(u, "-sink-") }) {
					resultsMu.Lock()
					failovers = append(failovers, d)
					resultsMu.Unlock()
				}
				t.Logf("%s of %s (running %v): every unit RUNNING elsewhere after %v", tc.signal, id, units, d.Round(time.Millisecond))
				c.Start(id)
				m.impair(id, false)
				c.waitRunning(2 * time.Minute)
			}
			time.Sleep(3 * time.Second)
			tl := c.finish(3 * time.Minute)
			un, unit := m.longest()
			record(t, result{Scenario: "bounce " + tc.name + " (" + tc.signal + ", restart)", Trials: tc.n, tally: tl,
				Unavail: un, UnavailUnit: unit, Offered: rate * len(c.pipes), Took: time.Since(began),
				Notes: "3 workers; victim's units RUNNING elsewhere after " + strings.Join(times, ", ")})
		})
	}
}

// TestRocketMQRestart: the broker, the name server, or both are stopped during flow and
// started again; the workers carry on, nothing is lost or reordered.
func TestRocketMQRestart(t *testing.T) {
	suite(t)
	outage := time.Duration(count(30, 15)) * time.Second
	for _, tc := range []struct {
		name     string
		stop     []string
		start    []string
		shortToo bool
	}{
		{"broker", []string{"stop-broker"}, []string{"start-broker"}, true},
		{"name server", []string{"stop-namesrv"}, []string{"start-namesrv"}, false},
		{"both", []string{"stop-broker", "stop-namesrv"}, []string{"start-namesrv", "start-broker"}, false},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "-"), func(t *testing.T) {
			if !*full && !tc.shortToo {
				t.Skip("full suite only (-faults.full)")
			}
			began := time.Now()
			c := newCluster(t, 3)
			c.addPipes(3, "")
			m := c.watch(t)
			time.Sleep(5 * time.Second)
			for _, s := range tc.stop {
				require.NoError(t, rocketmq(s))
			}
			time.Sleep(outage)
			size := c.outputSize()
			restarted := time.Now()
			for _, s := range tc.start {
				require.NoError(t, rocketmq(s))
			}
			ready := time.Since(restarted)
			require.Eventually(t, func() bool { return c.outputSize() > size }, 3*time.Minute, 50*time.Millisecond,
				"no record arrived after the restart")
			flowing := time.Since(restarted)
			c.waitRunning(2 * time.Minute)
			time.Sleep(10 * time.Second)
			tl := c.finish(3 * time.Minute)
			un, unit := m.longest()
			record(t, result{Scenario: tc.name + " restart (" + secs(outage) + " down)", Trials: 1, tally: tl, Unavail: un,
				UnavailUnit: unit, Offered: rate * len(c.pipes), Took: time.Since(began),
				Notes: "3 workers; restart took " + secs(ready) + "; records reached the sinks again " + secs(flowing) + " after it began"})
		})
	}
}

// outputSize is the bytes in all sink files.
func (c *cluster) outputSize() int64 {
	var n int64
	for _, p := range c.pipes {
		if fi, err := os.Stat(p.out); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// TestPartition: one worker is cut off from the broker and name server by nftables rules in
// its namespace while its process keeps running: its tasks stop acting within the lease, the
// others take them over, and it rejoins once healed; nothing is lost, reordered or torn.
func TestPartition(t *testing.T) {
	suite(t)
	hold := 10 * time.Second
	for _, tc := range []struct {
		name     string
		cut      cut
		shortToo bool
	}{{"two-way", cutBoth, true}, {"worker-to-broker", cutOut, false}, {"broker-to-worker", cutIn, false}} {
		t.Run(tc.name, func(t *testing.T) {
			if !*full && !tc.shortToo {
				t.Skip("full suite only (-faults.full)")
			}
			began := time.Now()
			c := newCluster(t, 3)
			c.addPipes(3, "")
			m := c.watch(t)
			time.Sleep(3 * time.Second)
			id, units := c.victim(rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3)))
			slot := slotOf(id)
			require.NoError(t, partition(slot, tc.cut, rmqPorts...))
			healed := false
			defer func() {
				if !healed {
					_ = heal(slot)
				}
			}()
			m.impair(id, true)
			at := time.Now()
			require.Eventually(t, func() bool { return c.running(id) }, 4*time.Minute, 100*time.Millisecond,
				"the others never took over from %s", id)
			takeover := time.Since(at)
			time.Sleep(hold)
			require.NoError(t, heal(slot))
			healed = true
			m.impair(id, false)
			at = time.Now()
			require.Eventually(t, func() bool { return c.running() && len(c.unitsOn(id)) > 0 }, 4*time.Minute, 100*time.Millisecond,
				"%s never rejoined", id)
			rejoin := time.Since(at)
			time.Sleep(5 * time.Second)
			tl := c.finish(3 * time.Minute)
			un, unit := m.longest()
			fenced := strings.Contains(clusterLog(c, id), "has not confirmed its cluster membership")
			record(t, result{Scenario: "partition " + tc.cut.String(), Trials: 1, tally: tl, Unavail: un, UnavailUnit: unit,
				Offered: rate * len(c.pipes), Took: time.Since(began),
				Notes: "3 workers; " + id + " (running " + strings.Join(units, " ") + ") cut off: its units RUNNING elsewhere after " +
					secs(takeover) + ", healed after " + secs(hold) + " more, units back on it after " + secs(rejoin) +
					map[bool]string{true: "; it fenced its tasks (lease)", false: "; it never reported its lease lapsed"}[fenced] +
					stalled(c)})
		})
	}
}

// stalled notes how long the first store write through the observer (worker-1) answered 503
// after the heal: its connections to the broker recover only when the broker retransmits.
func stalled(c *cluster) string {
	if c.retried == 0 {
		return ""
	}
	return "; store writes through worker-1 answered 503 (retry) for " + secs(c.retried) + " after the rejoin"
}

func clusterLog(c *cluster, id string) string {
	b, _ := os.ReadFile(filepath.Join(c.Dir, id+".log"))
	return string(b)
}
