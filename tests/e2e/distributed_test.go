package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/scheduler"
	"github.com/rmqconnect/rmqconnect/tests/clustertest"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// cluster is a set of `rmqconnect distributed` processes sharing store topics of their own.
type cluster struct {
	*clustertest.Cluster
	t       *testing.T
	namesrv string // the name server the workers use (the tests' shared one unless set)
}

func newCluster(t *testing.T) *cluster {
	base := strings.ReplaceAll(rmqtest.Name(t, "c"), ".", "_")
	if len(base) > 60 {
		base = base[len(base)-60:]
	}
	c := &cluster{Cluster: clustertest.New(t, binary, t.TempDir(), base, ""), t: t}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		// Keep the workers' logs of a failed run (the temporary directory goes away).
		keep := filepath.Join(os.TempDir(), "rmqconnect-e2e-failed", strings.ReplaceAll(t.Name(), "/", "_"))
		_ = os.MkdirAll(keep, 0o755)
		logs, _ := filepath.Glob(filepath.Join(c.Dir, "*.log"))
		for _, l := range logs {
			if b, err := os.ReadFile(l); err == nil {
				_ = os.WriteFile(filepath.Join(keep, filepath.Base(l)), b, 0o644)
			}
		}
		t.Logf("worker logs kept in %s", keep)
	})
	return c
}

// start runs worker id (again, with its store dir kept) and waits for /health.
func (c *cluster) start(id string) *workerProc {
	c.t.Helper()
	c.NameServer = c.nameServer()
	return c.Start(id)
}

// launch runs worker id without waiting for it.
func (c *cluster) launch(id string) (*workerProc, error) {
	c.NameServer = c.nameServer()
	return c.Launch(id)
}

func (c *cluster) nameServer() string {
	if c.namesrv != "" {
		return c.namesrv
	}
	return rmqtest.NameServer(c.t)
}

// client is a RocketMQ client of the cluster's name server.
func (c *cluster) client(t *testing.T) *rmqclient.Client {
	if c.namesrv == "" {
		return rmqtest.Client(t)
	}
	cl, err := rmqclient.New(rmqclient.Config{NameServers: []string{c.namesrv}, Instance: "e2e-history"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// unitState is where a connector or task runs, from a worker's status route.
type unitState = clustertest.UnitState

func (c *cluster) states(w *workerProc, names ...string) []unitState {
	return clustertest.States(w, names...)
}

// allRunning reports whether every unit runs, on a live worker, and none on the excluded ones.
func allRunning(states []unitState, want int, live []string) bool {
	return clustertest.AllRunning(states, want, live)
}

// expectAssignment checks that every unit runs once, on one of members, where the sticky strategy
// (the workers' default) keeps it: within the bounds it promises (LoadBound, TargetFloor,
// StickySpreadBound) and at a fixed point of Rebalance given the members and the placement in force.
func expectAssignment(t *testing.T, states []unitState, members []string) {
	t.Helper()
	require.True(t, allRunning(states, len(states), members), "every unit RUNNING on one of %v: %v", members, states)
	seen := map[scheduler.Unit]bool{}
	tasks := map[string]int{}
	for _, s := range states {
		require.False(t, seen[s.Unit], "unit %s listed twice", s.Unit)
		seen[s.Unit] = true
		if !s.Unit.IsConnector() {
			tasks[s.Unit.Connector]++
		}
	}
	n, m := len(states), len(members)
	a := stickyPlacement(states)
	for _, w := range members {
		require.LessOrEqual(t, len(a[w]), scheduler.LoadBound(n, m), "units on %s", w)
		if n >= m {
			require.GreaterOrEqual(t, len(a[w]), scheduler.TargetFloor(n, m), "units on %s", w)
		}
		of := map[string]int{}
		for _, u := range a[w] {
			if !u.IsConnector() {
				of[u.Connector]++
			}
		}
		for conn, k := range of {
			require.LessOrEqual(t, k, scheduler.StickySpreadBound(tasks[conn], m), "tasks of %s on %s", conn, w)
		}
	}
	require.True(t, atStickyFixedPoint(states, members), "a fixed point of Rebalance over %v: %v", members, states)
}

// placedAsScheduled reports whether every unit is RUNNING at a fixed point of the sticky strategy
// (the workers' default) over members.
func placedAsScheduled(states []unitState, members []string) bool {
	return atStickyFixedPoint(states, members)
}

// expectConsistentHash checks that units run where the consistent-hash scheduler puts them.
func expectConsistentHash(t *testing.T, states []unitState, members []string) {
	t.Helper()
	var units []scheduler.Unit
	for _, s := range states {
		units = append(units, s.Unit)
	}
	a, err := scheduler.NewConsistentHash().Assign(members, units)
	require.NoError(t, err)
	owners := a.Owners()
	for _, s := range states {
		require.Equal(t, owners[s.Unit], s.Worker, "unit %s", s.Unit)
	}
}

// placedByConsistentHash reports whether every unit is RUNNING where the consistent-hash scheduler
// puts it.
func placedByConsistentHash(states []unitState, members []string) bool {
	units := make([]scheduler.Unit, 0, len(states))
	for _, s := range states {
		units = append(units, s.Unit)
	}
	a, err := scheduler.NewConsistentHash().Assign(members, units)
	if err != nil {
		return false
	}
	o := a.Owners()
	for _, s := range states {
		if s.State != "RUNNING" || o[s.Unit] != s.Worker {
			return false
		}
	}
	return true
}

func createConnector(t *testing.T, w *workerProc, name string, cfg map[string]string) {
	t.Helper()
	var out map[string]any
	code := w.Call(t, "POST", "/connectors", map[string]any{"name": name, "config": cfg}, &out)
	require.Equal(t, http.StatusCreated, code, "%v", out)
}

// pipeline is a file-source → topic → file-sink pair with ordered delivery.
type pipeline struct{ name, in, out, topic string }

func (c *cluster) pipeline(t *testing.T, w *workerProc, name string, lines int) pipeline {
	topic := c.ID + "-" + name // a broker of the test's own creates it on first use
	if c.namesrv == "" {
		topic = rmqtest.Topic(t, 4)
	}
	p := pipeline{name: name, in: filepath.Join(c.Dir, name+".in"), out: filepath.Join(c.Dir, name+".out"), topic: topic}
	appendLines(t, p.in, 0, lines)
	createConnector(t, w, name+"-src", map[string]string{"connector.class": "file-source", "filename": p.in,
		"connect.topicname": p.topic, "ordering.msg.enable": "true", "value.converter": "string", "key.converter": "string"})
	createConnector(t, w, name+"-sink", map[string]string{"connector.class": "file-sink", "filename": p.out,
		"connect.topicnames": p.topic, "ordering.msg.enable": "true", "value.converter": "string", "key.converter": "string",
		"task.group.id": rmqtest.Group(t) + name})
	return p
}

// check waits until every input line has arrived and returns the duplicates; lines must
// first appear in input order.
func (p pipeline) check(t *testing.T, lines int) int {
	t.Helper()
	require.Eventually(t, func() bool { return countLines(p.out) >= lines }, 3*time.Minute, 100*time.Millisecond,
		"%s: %d of %d lines arrived", p.name, countLines(p.out), lines)
	time.Sleep(time.Second) // a replayed tail may still land
	f, err := os.Open(p.out)
	require.NoError(t, err)
	defer f.Close()
	seen := make([]bool, lines)
	next, dups := 0, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var n int
		_, err := fmt.Sscanf(sc.Text(), "line-%d", &n)
		require.NoError(t, err, "line %q", sc.Text())
		require.Less(t, n, lines)
		if seen[n] {
			dups++
			continue
		}
		require.Equal(t, next, n, "%s: first appearances must follow input order", p.name)
		seen[n] = true
		next++
	}
	require.Equal(t, lines, next, "%s: every line arrived", p.name)
	return dups
}

func names(ps ...pipeline) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.name+"-src", p.name+"-sink")
	}
	return out
}

// statusHistory reads the status topic from the start.
type statusRec struct {
	Connector string `json:"connector"`
	Task      int    `json:"task"`
	Inc       int64  `json:"inc"`
	State     string `json:"state"`
	Worker    string `json:"worker"`
	Proc      string `json:"proc"`
	Gen       int64  `json:"gen"`
	Claim     bool   `json:"claim"`
	Prev      int64  `json:"prev"` // on a claim: the generation its writer saw in force
	// Snapshot is set on a snapshot record (the whole fold), which is no task's record.
	Snapshot json.RawMessage `json:"snapshot"`
}

// holder names the worker process that wrote r: its worker id and incarnation.
func (r statusRec) holder() string { return r.Worker + "." + r.Proc }

func (c *cluster) statusHistory(t *testing.T) []statusRec {
	t.Helper()
	cl := c.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A name server that was unreachable (TestDistributedNameServerOutage) has dropped the
	// broker's routes and learns them again only at the broker's next registration (every
	// 30s): wait for the route rather than read nothing.
	var qs []rmqclient.Queue
	for {
		var err error
		qs, err = cl.TopicQueues(ctx, c.Topics[2])
		if err == nil {
			break
		}
		require.ErrorIs(t, err, rmqclient.ErrNoRoute)
		select {
		case <-ctx.Done():
			require.NoError(t, err, "the status topic's route did not come back")
		case <-time.After(time.Second):
		}
	}
	r := cl.NewReader("history")
	defer r.Close()
	var out []statusRec
	var off int64
	for {
		msgs, next, err := r.Read(ctx, qs[0], off, 32)
		require.NoError(t, err)
		if len(msgs) == 0 && next == off {
			return out
		}
		for _, m := range msgs {
			var s statusRec
			require.NoError(t, json.Unmarshal(m.Body, &s))
			out = append(out, s)
		}
		off = next
	}
}

// checkNoOverlap folds the status topic's task records exactly as the workers do
// (worker.statusState.apply) and checks every change of generation: a new generation is
// taken only by a claim (a report under a generation never claimed means a run that did
// not claim), and a worker process claims a task only after its previous holder
// (statusRec.holder) released it (UNASSIGNED, PAUSED or STOPPED) or, when dead is true for
// that holder, died. A record the fold refuses changes nothing; among those, a RUNNING
// report is an error (an older run still acting after another claimed the task), and a
// claim that lost its race is not (its writer does not start the task). It returns the
// number of claims in force.
func checkNoOverlap(t *testing.T, hist []statusRec, dead func(worker string, at int) bool) (claims int) {
	t.Helper()
	type key struct {
		c string
		t int
	}
	released := func(st string) bool { return st == "UNASSIGNED" || st == "PAUSED" || st == "STOPPED" }
	inForce := map[key]statusRec{}
	var flagged []key
	defer func() { // the evidence: each flagged task's whole history
		shown := map[key]bool{}
		for _, k := range flagged {
			if shown[k] {
				continue
			}
			shown[k] = true
			for i, r := range hist {
				if r.Connector == k.c && r.Task == k.t {
					t.Logf("%s-%d record %d: %s %s gen %d claim %v prev %d inc %d", k.c, k.t, i, r.holder(), r.State, r.Gen, r.Claim, r.Prev, r.Inc)
				}
			}
		}
	}()
	for i, r := range hist {
		if r.Task < 0 || r.Snapshot != nil {
			continue
		}
		k := key{r.Connector, r.Task}
		cur, ok := inForce[k]
		refused := r.Claim && (r.Prev != cur.Gen || r.Gen <= cur.Gen) || // cur.Gen is 0 when !ok
			ok && (r.Inc < cur.Inc || r.Gen < cur.Gen || r.Gen == cur.Gen && r.holder() != cur.holder())
		switch {
		case refused && r.State == "RUNNING" && !r.Claim:
			flagged = append(flagged, k)
			t.Errorf("record %d: %s reports %s-%d RUNNING under gen %d after %s claimed gen %d", i, r.holder(), r.Connector, r.Task,
				r.Gen, cur.holder(), cur.Gen)
			continue
		case refused:
			continue
		case !r.Claim && (!ok || r.Gen > cur.Gen):
			flagged = append(flagged, k)
			t.Errorf("record %d: %s reports %s-%d %s under gen %d, which it never claimed", i, r.holder(), r.Connector, r.Task,
				r.State, r.Gen)
		case r.Claim:
			if ok && cur.holder() != r.holder() && !released(cur.State) && !dead(cur.holder(), i) {
				flagged = append(flagged, k)
				t.Errorf("record %d: %s claimed %s-%d (gen %d) while %s held it %s (gen %d)", i, r.holder(), r.Connector, r.Task,
					r.Gen, cur.holder(), cur.State, cur.Gen)
			}
			claims++
		}
		inForce[k] = r
	}
	return claims
}

// TestDistributedCreateAndFailover: a connector created through worker 1 runs and is
// listed through worker 3; a SIGKILLed worker's tasks run elsewhere; nothing is lost.
func TestDistributedCreateAndFailover(t *testing.T) {
	rmqtest.Require(t)
	c := newCluster(t)
	w1 := c.start("worker-1")
	c.start("worker-2")
	w3 := c.start("worker-3")

	// Visible through worker 3, tasks running, soon after the create through worker 1.
	began := time.Now()
	a := c.pipeline(t, w1, "a", 20000)
	require.Eventually(t, func() bool {
		return allRunning(c.states(w3, names(a)...), 4, c.IDs())
	}, 30*time.Second, 10*time.Millisecond)
	t.Logf("FIGURE create-visible: 2 connectors created through worker-1 listed with tasks RUNNING through worker-3 %v after the first POST",
		time.Since(began).Round(time.Millisecond))
	b := c.pipeline(t, w1, "b", 20000)
	all := names(a, b)
	require.Eventually(t, func() bool {
		s := c.states(w3, all...)
		return allRunning(s, 8, c.IDs()) && placedAsScheduled(s, c.IDs())
	}, 30*time.Second, 20*time.Millisecond)
	expectAssignment(t, c.states(w3, all...), c.IDs())

	// Keep the inputs growing, and kill a worker that runs tasks, mid-stream.
	stopAppend := make(chan struct{})
	appended := make(chan struct{})
	const more = 30000
	go func() {
		defer close(appended)
		for i := 0; i < more; i += 500 {
			appendLines(t, a.in, 20000+i, 500)
			appendLines(t, b.in, 20000+i, 500)
			select {
			case <-stopAppend:
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	defer close(stopAppend)
	require.Eventually(t, func() bool { return countLines(a.out) > 25000 }, time.Minute, 10*time.Millisecond)
	victim := ""
	for _, s := range c.states(w1, all...) {
		if s.Unit.Task >= 0 && s.Worker != "worker-1" {
			victim = s.Worker
			break
		}
	}
	require.NotEmpty(t, victim, "some task runs outside worker-1")
	var moved []scheduler.Unit
	for _, s := range c.states(w1, all...) {
		if s.Worker == victim {
			moved = append(moved, s.Unit)
		}
	}
	killedAt := time.Now()
	c.Workers[victim].Kill()
	live := c.IDs()
	require.Eventually(t, func() bool { return allRunning(c.states(w1, all...), 8, live) }, 60*time.Second, 10*time.Millisecond,
		"%v", c.states(w1, all...))
	t.Logf("FIGURE failover: SIGKILL of %s (running %v) → all its units RUNNING elsewhere in %v", victim, moved,
		time.Since(killedAt).Round(time.Millisecond))
	require.Eventually(t, func() bool { // settle
		s := c.states(w1, all...)
		return allRunning(s, 8, live) && placedAsScheduled(s, live)
	}, 30*time.Second, 20*time.Millisecond, "%v", c.states(w1, all...))
	expectAssignment(t, c.states(w1, all...), live)
	<-appended
	da, db := a.check(t, 20000+more), b.check(t, 20000+more)
	t.Logf("FIGURE failover-duplicates: %d + %d duplicates of 2 × %d lines (%.2f%%)", da, db, 20000+more,
		100*float64(da+db)/float64(2*(20000+more)))
	checkNoOverlap(t, c.statusHistory(t), func(w string, _ int) bool { return strings.HasPrefix(w, victim+".") })
}

// TestDistributedJoinAndRollingRestart: with allocTaskStrategy=consistent-hash (selectable, not
// the default), a 4th worker joins (units move as that scheduler says, no task runs twice), then
// every worker is restarted in turn; nothing is lost. TestDistributedStickyJoinAndRollingRestart is
// the same for the default strategy.
func TestDistributedJoinAndRollingRestart(t *testing.T) {
	rmqtest.Require(t)
	c := newCluster(t)
	c.Extra = "allocTaskStrategy=consistent-hash\n"
	w1 := c.start("worker-1")
	c.start("worker-2")
	c.start("worker-3")
	ps := []pipeline{c.pipeline(t, w1, "a", 10000), c.pipeline(t, w1, "b", 10000), c.pipeline(t, w1, "c", 10000)}
	all := names(ps...)
	// Plus slow generators, so that members hold about ten units each, the load at which the
	// scheduler's movement bound is meant to hold (see scheduler.consistentHashStrategy).
	genTopic := rmqtest.Topic(t, 4)
	for _, g := range []string{"g1", "g2", "g3", "g4"} {
		createConnector(t, w1, g, map[string]string{"connector.class": "generator-source", "connect.topicname": genTopic,
			"max.tasks": "6", "rate": "2"})
		all = append(all, g)
	}
	const units = 12 + 4*7
	// Settle: adding a connector can move units of others, so all RUNNING is not yet the placement.
	require.Eventually(t, func() bool {
		s := c.states(w1, all...)
		return allRunning(s, units, c.IDs()) && placedByConsistentHash(s, c.IDs())
	}, 60*time.Second, 20*time.Millisecond)
	before := c.states(w1, all...)
	expectConsistentHash(t, before, c.IDs())

	joinedAt := time.Now()
	c.start("worker-4")
	require.Eventually(t, func() bool {
		s := c.states(w1, all...)
		if !allRunning(s, units, c.IDs()) {
			return false
		}
		for _, u := range s {
			if u.Worker == "worker-4" {
				return true
			}
		}
		return false
	}, 60*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return placedByConsistentHash(c.states(w1, all...), c.IDs()) }, // settle
		60*time.Second, 20*time.Millisecond)
	after := c.states(w1, all...)
	movedUnits := 0
	old := scheduler.Assignment{}
	for i := range before {
		old[before[i].Worker] = append(old[before[i].Worker], before[i].Unit)
		if before[i].Worker != after[i].Worker {
			movedUnits++
		}
	}
	minimum := scheduler.MinMoves(old, c.IDs(), len(after))
	t.Logf("FIGURE join: worker-4 joined; %d of %d units moved (minimum %d, bound 1.5× = %.1f); all RUNNING where the scheduler puts them after %v",
		movedUnits, len(after), minimum, 1.5*float64(minimum), time.Since(joinedAt).Round(time.Millisecond))
	require.LessOrEqual(t, float64(movedUnits), 1.5*float64(minimum), "units moved on a join")

	// Rolling restart while the inputs grow.
	next := 10000
	for _, id := range []string{"worker-1", "worker-2", "worker-3", "worker-4"} {
		for _, p := range ps {
			appendLines(t, p.in, next, 2000)
		}
		next += 2000
		stopAt := time.Now()
		c.Workers[id].Stop(t, 90*time.Second)
		if d := time.Since(stopAt); d > 5*time.Second { // usually well under 1 s: keep the evidence
			t.Logf("slow stop of %s: %v; the end of its log:\n%s", id, d.Round(time.Millisecond), readFile(c.LogPath(id)))
		}
		w := c.start(id)
		require.Eventually(t, func() bool { return allRunning(c.states(w, all...), units, c.IDs()) }, 60*time.Second, 20*time.Millisecond,
			"after restarting %s: %v", id, c.states(w, all...))
	}
	total := 0
	for _, p := range ps {
		total += p.check(t, next)
	}
	claims := checkNoOverlap(t, c.statusHistory(t), func(string, int) bool { return false })
	t.Logf("FIGURE rolling-restart: 4 workers restarted one by one; %d task claims, none overlapping; %d duplicates of 3 × %d lines",
		claims, total, next)
}

// TestDistributedSuspendedWorker: a worker stopped with SIGSTOP is replaced once the
// broker expires it; after SIGCONT it rejoins without running its stale tasks.
func TestDistributedSuspendedWorker(t *testing.T) {
	rmqtest.Require(t)
	if testing.Short() {
		t.Skip("waits for the broker to expire a suspended client (about a minute)")
	}
	c := newCluster(t)
	w1 := c.start("worker-1")
	c.start("worker-2")
	c.start("worker-3")
	p := c.pipeline(t, w1, "a", 5000)
	all := names(p)
	require.Eventually(t, func() bool { return allRunning(c.states(w1, all...), 4, c.IDs()) }, 30*time.Second, 20*time.Millisecond)
	victim := ""
	for _, s := range c.states(w1, all...) {
		if s.Unit.Task >= 0 && s.Worker != "worker-1" {
			victim = s.Worker
		}
	}
	if victim == "" {
		victim = "worker-2" // the tasks run on worker-1: suspending another still checks the rejoin
	}
	p.check(t, 5000)
	vp := c.Workers[victim].Cmd.Process
	require.NoError(t, vp.Signal(syscall.SIGSTOP))
	stoppedAt := time.Now()
	resumed := false
	defer func() {
		if !resumed {
			_ = vp.Signal(syscall.SIGCONT)
		}
	}()
	appendLines(t, p.in, 5000, 5000)
	others := []string{}
	for _, id := range c.IDs() {
		if id != victim {
			others = append(others, id)
		}
	}
	require.Eventually(t, func() bool { return allRunning(c.states(w1, all...), 4, others) }, 3*time.Minute, 100*time.Millisecond,
		"%v", c.states(w1, all...))
	t.Logf("FIGURE suspended: SIGSTOP of %s → its units RUNNING elsewhere after %v (the broker's channelExpiredTimeout)",
		victim, time.Since(stoppedAt).Round(time.Second))
	resumedAt := len(c.statusHistory(t))
	require.NoError(t, vp.Signal(syscall.SIGCONT))
	resumed = true
	appendLines(t, p.in, 10000, 5000)
	require.Eventually(t, func() bool { return allRunning(c.states(w1, all...), 4, c.IDs()) }, time.Minute, 50*time.Millisecond)
	dups := p.check(t, 15000)
	hist := c.statusHistory(t)
	// Until the suspended worker has seen the claims made while it slept, its reports are
	// stale and must change nothing: checkNoOverlap fails on a RUNNING report under an old
	// generation. Its old holdings count as dead from the expiry on.
	checkNoOverlap(t, hist, func(w string, at int) bool { return strings.HasPrefix(w, victim+".") && at < resumedAt })
	t.Logf("FIGURE suspended-duplicates: %d of 15000 lines", dups)
	require.Contains(t, readFile(c.LogPath(victim))+"", "claimed by another worker", "the resumed worker fenced its stale tasks")
}

// TestDistributedSameIDZombie: a worker suspended past its expiry is replaced by a new
// process with the same workerId; once resumed, the old process is fenced by its
// replacement's claims and runs nothing of what the replacement holds.
func TestDistributedSameIDZombie(t *testing.T) {
	rmqtest.Require(t)
	if testing.Short() {
		t.Skip("waits for the broker to expire a suspended client (about a minute)")
	}
	c := newCluster(t)
	w1 := c.start("worker-1")
	c.start("worker-2")
	p := c.pipeline(t, w1, "a", 3000)
	all := names(p)
	require.Eventually(t, func() bool { return allRunning(c.states(w1, all...), 4, c.IDs()) }, 30*time.Second, 20*time.Millisecond)
	p.check(t, 3000)
	zombie, zombieURL := c.Workers["worker-2"].Cmd.Process, c.Workers["worker-2"].URL
	require.NoError(t, zombie.Signal(syscall.SIGSTOP))
	resumed := false
	defer func() {
		if !resumed {
			_ = zombie.Signal(syscall.SIGCONT)
		}
	}()
	stoppedAt := len(c.statusHistory(t))
	// The broker expires it; worker-1 takes everything; a new worker-2 joins and takes its share.
	require.Eventually(t, func() bool { return allRunning(c.states(w1, all...), 4, []string{"worker-1"}) }, 3*time.Minute,
		100*time.Millisecond, "%v", c.states(w1, all...))
	c.Ports["worker-2"] = clustertest.FreePort(t)
	c.Stores["worker-2"] = filepath.Join(c.Dir, "worker-2-replacement", "store") // the zombie holds its own
	c.start("worker-2")
	appendLines(t, p.in, 3000, 3000)
	require.Eventually(t, func() bool { return allRunning(c.states(w1, all...), 4, c.IDs()) }, time.Minute, 50*time.Millisecond)
	resumedAt := len(c.statusHistory(t))
	require.NoError(t, zombie.Signal(syscall.SIGCONT))
	resumed = true
	// The resumed process answers again; give it a few renewals (every 2s) and reconciles.
	require.Eventually(t, func() bool {
		resp, err := http.Get(zombieURL + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	}, time.Minute, 100*time.Millisecond)
	time.Sleep(6 * time.Second)
	appendLines(t, p.in, 6000, 3000)
	require.Eventually(t, func() bool { return allRunning(c.states(w1, all...), 4, c.IDs()) }, time.Minute, 50*time.Millisecond)
	dups := p.check(t, 9000)
	time.Sleep(3 * time.Second) // the resumed process's renewals, fences and reconciles have run
	hist := c.statusHistory(t)
	old := ""
	for _, r := range hist[:stoppedAt] {
		if r.Worker == "worker-2" {
			old = r.holder()
		}
	}
	require.NotEmpty(t, old)
	checkNoOverlap(t, hist, func(w string, at int) bool { return w == old && at < resumedAt })
	for i, r := range hist[resumedAt:] {
		if r.holder() == old && r.Task >= 0 && (r.Claim || r.State == "RUNNING") {
			t.Errorf("record %d: the resumed process %s reports %s-%d %s (gen %d, claim %v)", resumedAt+i, old, r.Connector, r.Task,
				r.State, r.Gen, r.Claim)
		}
	}
	t.Logf("FIGURE same-id-zombie: %d duplicates of 9000 lines", dups)
}

// TestDistributedDuplicateWorkerID: a second worker with a live worker's id refuses to start.
func TestDistributedDuplicateWorkerID(t *testing.T) {
	rmqtest.Require(t)
	c := newCluster(t)
	c.start("worker-1")
	id := "worker-1"
	c.Ports[id] = clustertest.FreePort(t) // same id, another port, process and store dir
	c.Stores[id] = filepath.Join(c.Dir, id+"-duplicate", "store")
	w, err := c.launch(id)
	require.NoError(t, err)
	select {
	case <-w.Exited():
		err := w.Err()
		require.Error(t, err, "the duplicate must exit non-zero")
	case <-time.After(60 * time.Second):
		t.Fatal("a second worker-1 kept running")
	}
	require.Contains(t, readFile(c.LogPath(id)), "already in use")
}

// TestDistributedLifecycle drives a connector through workers other than the one that
// created it: pause, resume, restart, stop, offsets, delete and re-create (fresh).
func TestDistributedLifecycle(t *testing.T) {
	rmqtest.Require(t)
	c := newCluster(t)
	w1 := c.start("worker-1")
	w2 := c.start("worker-2")
	w3 := c.start("worker-3")
	p := c.pipeline(t, w1, "a", 3000)
	all := names(p)
	require.Eventually(t, func() bool { return allRunning(c.states(w3, all...), 4, c.IDs()) }, 30*time.Second, 20*time.Millisecond)
	// Creating the two connectors adds units one at a time, and the placement of a unit
	// created a moment earlier may still move (more units change the strategy's bounds): a
	// source restarted that way before its first position commit sends its lines again.
	// Those startup duplicates are measured here; every lifecycle step below must add none.
	startDups := p.check(t, 3000)
	t.Logf("duplicates while the connectors were being created and placed: %d of 3000", startDups)

	// Members and what runs where, from every worker.
	var info struct{ Body []string }
	require.Equal(t, http.StatusOK, w2.Call(t, "GET", "/getClusterInfo", nil, &info))
	require.Equal(t, []string{"worker-1", "worker-2", "worker-3"}, info.Body)
	running := 0
	for _, w := range []*workerProc{w1, w2, w3} {
		var alloc struct {
			Body struct {
				RunningTasks []struct{ ConnectorName string } `json:"runningTasks"`
			}
		}
		require.Equal(t, http.StatusOK, w.Call(t, "GET", "/allocated/tasks", nil, &alloc))
		running += len(alloc.Body.RunningTasks)
	}
	require.Equal(t, 2, running, "each task is allocated to exactly one worker")

	// Pause through worker 2: tasks PAUSED as seen from worker 3; appended lines wait.
	require.Equal(t, http.StatusAccepted, w2.Call(t, "PUT", "/connectors/a-src/pause", nil, nil))
	waitConnector(t, w3, "a-src", "PAUSED", 1)
	appendLines(t, p.in, 3000, 1000)
	time.Sleep(time.Second)
	require.Equal(t, 3000+startDups, countLines(p.out), "a paused source sends nothing")
	require.Equal(t, http.StatusAccepted, w3.Call(t, "PUT", "/connectors/a-src/resume", nil, nil))
	waitConnector(t, w1, "a-src", "RUNNING", 1)
	require.Equal(t, startDups, p.check(t, 4000), "pause and resume add no duplicate")

	// Restart with tasks through worker 3.
	var st map[string]any
	require.Equal(t, http.StatusAccepted, w3.Call(t, "POST", "/connectors/a-sink/restart?includeTasks=true", nil, &st))
	waitConnector(t, w2, "a-sink", "RUNNING", 1)

	// Stop through worker 1; offsets are read and reset through worker 2 and 3.
	require.Equal(t, http.StatusBadRequest, w2.Call(t, "DELETE", "/connectors/a-src/offsets", nil, nil), "offsets of a running connector")
	require.Equal(t, http.StatusNoContent, w1.Call(t, "PUT", "/connectors/a-src/stop", nil, nil))
	waitConnector(t, w3, "a-src", "STOPPED", 0)
	var offs struct {
		Offsets []struct{ Offset map[string]any }
	}
	require.Equal(t, http.StatusOK, w2.Call(t, "GET", "/connectors/a-src/offsets", nil, &offs))
	require.Len(t, offs.Offsets, 1)
	require.NotEmpty(t, offs.Offsets[0].Offset)
	require.Equal(t, http.StatusOK, w3.Call(t, "DELETE", "/connectors/a-src/offsets", nil, nil))
	require.Equal(t, http.StatusOK, w3.Call(t, "GET", "/connectors/a-src/offsets", nil, &offs))
	require.Empty(t, offs.Offsets, "read-your-writes on worker 3")
	require.Eventually(t, func() bool {
		return w1.Call(t, "GET", "/connectors/a-src/offsets", nil, &offs) == http.StatusOK && len(offs.Offsets) == 0
	}, 5*time.Second, 10*time.Millisecond, "reset through worker 3 is seen through worker 1")
	// Resumed without positions, the source reads the file again from the start.
	require.Equal(t, http.StatusAccepted, w2.Call(t, "PUT", "/connectors/a-src/resume", nil, nil))
	require.Eventually(t, func() bool { return countLines(p.out) >= 8000 }, time.Minute, 50*time.Millisecond)

	// Delete through worker 2: gone everywhere; re-created through worker 3 it starts fresh.
	require.Equal(t, http.StatusNoContent, w2.Call(t, "DELETE", "/connectors/a-src", nil, nil))
	require.Equal(t, http.StatusNotFound, w2.Call(t, "GET", "/connectors/a-src/status", nil, nil))
	for _, w := range []*workerProc{w1, w3} {
		require.Eventually(t, func() bool { return w.Call(t, "GET", "/connectors/a-src/status", nil, nil) == http.StatusNotFound },
			5*time.Second, 10*time.Millisecond)
	}
	before := countLines(p.out)
	createConnector(t, w3, "a-src", map[string]string{"connector.class": "file-source", "filename": p.in,
		"connect.topicname": p.topic, "ordering.msg.enable": "true", "value.converter": "string", "key.converter": "string"})
	require.Eventually(t, func() bool { return countLines(p.out) >= before+4000 }, time.Minute, 50*time.Millisecond,
		"a re-created connector starts without the old positions")

	// A conflicting create and a bad config are refused with the key.
	var e struct {
		ErrorCode int `json:"error_code"`
		Message   string
	}
	require.Equal(t, http.StatusConflict, w1.Call(t, "POST", "/connectors", map[string]any{"name": "a-src",
		"config": map[string]string{"connector.class": "file-source", "filename": p.in, "connect.topicname": p.topic}}, &e))
	require.Equal(t, http.StatusBadRequest, w1.Call(t, "POST", "/connectors", map[string]any{"name": "bad",
		"config": map[string]string{"connector.class": "file-source", "connect.topicname": p.topic}}, &e))
	require.Contains(t, e.Message, "filename")
}

// TestDistributedDLQReplayOnce: DLQ records replayed through one worker are skipped when
// replayed again through another (the replay records live in the config topic).
func TestDistributedDLQReplayOnce(t *testing.T) {
	rmqtest.Require(t)
	c := newCluster(t)
	w1 := c.start("worker-1")
	w2 := c.start("worker-2")
	topic, dlqTopic := rmqtest.Topic(t, 1), rmqtest.Name(t, "dlq")
	in := filepath.Join(c.Dir, "dlq.in")
	appendLines(t, in, 0, 5) // "line-0000x": not JSON, so the json sink sends each to its DLQ
	createConnector(t, w1, "src", map[string]string{"connector.class": "file-source", "filename": in,
		"connect.topicname": topic, "value.converter": "string"})
	createConnector(t, w1, "bad", map[string]string{"connector.class": "file-sink", "filename": filepath.Join(c.Dir, "never.txt"),
		"connect.topicnames": topic, "task.group.id": rmqtest.Group(t), "value.converter": "json",
		"errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlqTopic})
	var page struct {
		Records []struct{ ID string } `json:"records"`
	}
	require.Eventually(t, func() bool {
		return w2.Call(t, "GET", "/connectors/bad/dlq", nil, &page) == http.StatusOK && len(page.Records) == 5
	}, time.Minute, 100*time.Millisecond)
	// (The replayed records fail again and land in the DLQ as new records, so the ids are
	// given explicitly.)
	var ids []string
	for _, r := range page.Records {
		ids = append(ids, r.ID)
	}
	var res struct{ Replayed, Skipped []string }
	require.Equal(t, http.StatusOK, w1.Call(t, "POST", "/connectors/bad/dlq/replay", map[string]any{"ids": ids}, &res))
	require.Len(t, res.Replayed, 5)
	require.Eventually(t, func() bool {
		return w2.Call(t, "POST", "/connectors/bad/dlq/replay", map[string]any{"ids": ids}, &res) == http.StatusOK &&
			len(res.Skipped) == 5
	}, 10*time.Second, 100*time.Millisecond, "replayed through worker 1, skipped through worker 2: %+v", res)
	require.Empty(t, res.Replayed)
	require.Equal(t, http.StatusOK, w2.Call(t, "POST", "/connectors/bad/dlq/replay", map[string]any{"ids": ids[:1], "force": true}, &res))
	require.Equal(t, ids[:1], res.Replayed, "force replays again")
}

// privateRocketMQ starts a name server and broker of the test's own (ports 24876/24911, its
// own data directory) with distribution/bin/rocketmq-local.sh and stops them at the end;
// it returns the name server address and the name server's pid.
func privateRocketMQ(t *testing.T) (namesrv string, nsPID int) {
	t.Helper()
	data := t.TempDir()
	env := append(os.Environ(), "RMQ_DATA_DIR="+data, "RMQ_NAMESRV_PORT=24876", "RMQ_BROKER_PORT=24911", "RMQ_CLEAN_STORE=1")
	script := "../../distribution/bin/rocketmq-local.sh"
	run := func(arg string) error {
		cmd := exec.Command(script, arg)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("rocketmq-local.sh %s: %w: %s", arg, err, out)
		}
		return nil
	}
	require.NoError(t, run("start"))
	t.Cleanup(func() {
		if err := run("stop"); err != nil {
			t.Error(err)
		}
	})
	b, err := os.ReadFile(filepath.Join(data, "run", "namesrv.pid"))
	require.NoError(t, err)
	_, err = fmt.Sscan(string(b), &nsPID)
	require.NoError(t, err)
	return "127.0.0.1:24876", nsPID
}

// TestDistributedNameServerOutage: the name server is unreachable for 30s (suspended, so
// calls to it hang) while a cluster runs a pipeline; no task stops or moves, and nothing
// is lost.
func TestDistributedNameServerOutage(t *testing.T) {
	rmqtest.Require(t)
	if testing.Short() {
		t.Skip("starts a RocketMQ of its own and keeps its name server down for 30s")
	}
	ns, nsPID := privateRocketMQ(t)
	c := newCluster(t)
	c.namesrv = ns
	w1 := c.start("worker-1")
	c.start("worker-2")
	p := c.pipeline(t, w1, "a", 2000)
	all := names(p)
	require.Eventually(t, func() bool { return allRunning(c.states(w1, all...), 4, c.IDs()) }, time.Minute, 50*time.Millisecond)
	p.check(t, 2000)
	before := len(c.statusHistory(t))

	nsProc, err := os.FindProcess(nsPID)
	require.NoError(t, err)
	require.NoError(t, nsProc.Signal(syscall.SIGSTOP))
	resumed := false
	defer func() {
		if !resumed {
			_ = nsProc.Signal(syscall.SIGCONT)
		}
	}()
	appendLines(t, p.in, 2000, 2000)
	time.Sleep(30 * time.Second) // the outage
	states := c.states(w1, all...)
	require.NoError(t, nsProc.Signal(syscall.SIGCONT))
	resumed = true
	require.True(t, allRunning(states, 4, c.IDs()), "after 30s without a name server: %v", states)

	appendLines(t, p.in, 4000, 2000)
	dups := p.check(t, 6000)
	hist := c.statusHistory(t)
	for i, r := range hist[before:] {
		if r.Task >= 0 && (r.Claim || r.State != "RUNNING") {
			t.Errorf("record %d: %s-%d %s by %s (gen %d, claim %v) during or after the name-server outage", before+i,
				r.Connector, r.Task, r.State, r.holder(), r.Gen, r.Claim)
		}
	}
	for _, id := range c.IDs() {
		require.NotContains(t, readFile(c.LogPath(id)), "has not confirmed its cluster membership", "%s stopped acting for its tasks", id)
	}
	t.Logf("FIGURE namesrv-outage: 30s without a name server; no claim, no state change; %d duplicates of 6000 lines", dups)
}
