package worker

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/scheduler"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// purgeRec is the purge DeleteConnector writes for incarnation inc of connector name.
func purgeRec(name string, inc int64) statusRecord {
	return statusRecord{Connector: name, Task: topicTask, Inc: inc, Worker: "w1", Purge: true}
}

func taskRec(name string, inc int64, id int, w string, gen int64, st restapi.State) statusRecord {
	return statusRecord{Connector: name, Task: id, Inc: inc, State: st, Worker: w, Proc: "p-" + w, Gen: gen}
}

func claimRec(name string, inc int64, id int, w string, prev, gen int64) statusRecord {
	r := taskRec(name, inc, id, w, gen, restapi.StateRunning)
	r.Claim, r.Prev = true, prev
	return r
}

func connRec(name string, inc int64, w string, st restapi.State, trace string) statusRecord {
	return statusRecord{Connector: name, Task: -1, Inc: inc, State: st, Worker: w, Proc: "p-" + w, Trace: trace}
}

// TestStatusPurgeDropsAndStrips: a purge drops the deleted incarnation's connector and topic
// records (and older ones), refuses such records arriving later, and keeps its task records,
// held or released and also those arriving later, with only what decisions read. The
// re-created connector's records are left alone.
func TestStatusPurgeDropsAndStrips(t *testing.T) {
	s := newStatusState()
	trace := strings.Repeat("x", 1000)
	require.NoError(t, s.apply(connRec("c", 1, "w1", restapi.StateFailed, trace)))
	require.NoError(t, s.apply(connRec("c", 1, "w2", restapi.StateUnassigned, "")))
	require.NoError(t, s.apply(statusRecord{Connector: "c", Task: topicTask, Inc: 1, Worker: "w1", Topic: "t"}))
	require.NoError(t, s.apply(statusRecord{Connector: "d", Task: topicTask, Inc: 2, Worker: "w1", Topic: "t"}))
	held := claimRec("c", 1, 0, "w1", 0, 3)
	held.Cluster, held.Ver = "k", 7
	require.NoError(t, s.apply(held))
	held.Claim, held.Prev, held.State, held.Trace = false, 0, restapi.StateFailed, trace
	require.NoError(t, s.apply(held))
	require.NoError(t, s.apply(claimRec("c", 1, 1, "w2", 0, 4)))
	require.NoError(t, s.apply(taskRec("c", 1, 1, "w2", 4, restapi.StateUnassigned)))

	require.NoError(t, s.apply(purgeRec("c", 1)))
	assert.NotContains(t, s.Connectors, "c")
	assert.NotContains(t, s.Topics, "c")
	assert.Contains(t, s.Topics, "d", "another connector's topics stay")
	assert.Equal(t, map[string]int64{"c": 1}, s.Purged)
	assert.Equal(t, int64(4), s.MaxGen["c"])
	r, ok := s.task("c", 1, 0)
	require.True(t, ok, "a held task's record stays")
	assert.Equal(t, statusRecord{Connector: "c", Task: 0, Inc: 1, State: restapi.StateFailed, Worker: "w1", Proc: "p-w1", Gen: 3, Ver: 7}, r)
	r, ok = s.task("c", 1, 1)
	require.True(t, ok, "a released task's record stays")
	assert.Equal(t, taskRec("c", 1, 1, "w2", 4, restapi.StateUnassigned), r)

	// Late records: the connector's and its topics' are stale; a task's is judged as
	// always and kept stripped.
	assert.ErrorIs(t, s.apply(connRec("c", 1, "w3", restapi.StateFailed, trace)), errStale)
	assert.ErrorIs(t, s.apply(statusRecord{Connector: "c", Task: topicTask, Inc: 1, Worker: "w1", Topic: "u"}), errStale)
	assert.ErrorIs(t, s.apply(statusRecord{Connector: "c", Task: topicTask, Inc: 1, Worker: "w1", ResetTopics: "r"}), errStale)
	late := taskRec("c", 1, 0, "w1", 3, restapi.StateFailed)
	late.Trace = trace + "again"
	require.NoError(t, s.apply(late))
	r, _ = s.task("c", 1, 0)
	assert.Zero(t, len(r.Trace), "the trace of a late report is stripped")
	assert.ErrorIs(t, s.apply(taskRec("c", 1, 1, "w3", 4, restapi.StateRunning)), errStale, "same generation, another worker")
	require.NoError(t, s.apply(taskRec("c", 1, 2, "w3", 5, restapi.StateFailed)))
	assert.Equal(t, int64(5), s.MaxGen["c"])
	require.NoError(t, s.apply(taskRec("c", 1, 0, "w1", 3, restapi.StateUnassigned)), "the holder's release")

	// The connector created again: its records are not purged, its claims go as always.
	require.NoError(t, s.apply(connRec("c", 9, "w2", restapi.StateRunning, "")))
	require.NoError(t, s.apply(statusRecord{Connector: "c", Task: topicTask, Inc: 9, Worker: "w2", Topic: "t"}))
	assert.ErrorIs(t, s.apply(claimRec("c", 9, 0, "w2", 0, 6)), errStale, "the released record of incarnation 1 is in force")
	fresh := claimRec("c", 9, 0, "w2", 3, 6)
	fresh.Trace = "kept"
	require.NoError(t, s.apply(fresh))
	r, _ = s.task("c", 9, 0)
	assert.Equal(t, fresh, r)
	// A late purge of an older incarnation changes nothing of it.
	require.NoError(t, s.apply(purgeRec("c", 1)))
	assert.Contains(t, s.Connectors["c"], "w2")
	assert.Equal(t, int64(9), s.Topics["c"].Inc)
	r, _ = s.task("c", 9, 0)
	assert.Equal(t, fresh, r)
	assert.Equal(t, map[string]int64{"c": 1}, s.Purged)
}

// heldView is what a status fold's decisions read of a task's record in force.
type heldView struct {
	Worker, Proc  string
	Gen, Inc, Ver int64
	State         restapi.State
}

func claimView(s *statusState) map[string]map[int]heldView {
	out := map[string]map[int]heldView{}
	for name, ts := range s.Tasks {
		if len(ts) == 0 {
			continue
		}
		out[name] = map[int]heldView{}
		for id, r := range ts {
			out[name][id] = heldView{Worker: r.Worker, Proc: r.Proc, Gen: r.Gen, Inc: r.Inc, Ver: r.Ver, State: r.State}
		}
	}
	return out
}

// sortedPlacement is placementInForce with each worker's units sorted.
func sortedPlacement(members []string, conns map[string]clusterConnector, st *statusState) scheduler.Assignment {
	a := placementInForce(members, conns, st)
	for _, units := range a {
		slices.SortFunc(units, func(x, y scheduler.Unit) int {
			return cmp.Or(strings.Compare(x.Connector, y.Connector), cmp.Compare(x.Task, y.Task))
		})
	}
	return a
}

// viaSnapshot is s written as a status snapshot and adopted by another worker.
func viaSnapshot(t *testing.T, s *statusState) *statusState {
	t.Helper()
	src := &Distributed{config: newConfigState(), status: s, posState: newPositionState()}
	body, err := src.snapshotBody(1, snapshotHeader{Through: 1})
	require.NoError(t, err)
	dst := &Distributed{config: newConfigState(), status: newStatusState(), posState: newPositionState()}
	require.NoError(t, dst.snapshotters()[1].adopt(body))
	return dst.status
}

// purgeFold is a status fold as one kind of worker keeps it.
type purgeFold struct {
	name string
	s    *statusState
	// purges reports whether the fold applies the purge of the step (a worker of an earlier
	// release never does; a worker upgraded from it does from some step on).
	purges func(step int) bool
	// rebuilt reports whether the fold is adopted from its own snapshot before the step.
	rebuilt func(step int) bool
}

// TestStatusPurgeFoldsAgreeOnClaims: status folds that apply purges and folds that do not
// (a worker of an earlier release, which reads a purge as a topic record; a worker upgraded
// at some point, whose fold came from a snapshot older than the purges), fed the same
// random-ish records (connectors deleted and created again, claims based on what either
// fold holds, late reports and releases, late connector and topic records), accept and
// refuse exactly the same task records and hold the same record in force for every task,
// the same highest generation per name and the same placement in force; the purging folds
// keep no trace, connector or topic record of a purged incarnation.
func TestStatusPurgeFoldsAgreeOnClaims(t *testing.T) {
	var purgesApplied, stripped, claimsTaken, claimsRefused int
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		upgradeAt := rng.IntN(120)
		folds := []*purgeFold{
			{name: "purging", s: newStatusState(), purges: func(int) bool { return true }, rebuilt: func(int) bool { return false }},
			{name: "earlier release", s: newStatusState(), purges: func(int) bool { return false }, rebuilt: func(int) bool { return false }},
			{name: "purging, rebuilt from snapshots", s: newStatusState(), purges: func(int) bool { return true },
				rebuilt: func(step int) bool { return step%17 == 5 }},
			{name: "upgraded", s: newStatusState(), purges: func(step int) bool { return step >= upgradeAt },
				rebuilt: func(step int) bool { return step == upgradeAt }},
		}
		g := newPurgeGen(rng)
		for step := range 150 {
			for _, f := range folds {
				if f.rebuilt(step) {
					f.s = viaSnapshot(t, f.s)
				}
			}
			for _, r := range g.next(folds[0].s, folds[1].s) {
				verdicts := make([]error, len(folds))
				for i, f := range folds {
					applied := r
					if r.Purge && !f.purges(step) {
						applied.Purge = false // what a decoder without the field reads
					}
					verdicts[i] = f.s.apply(applied)
				}
				if r.Purge {
					purgesApplied++
				}
				if r.Task < 0 {
					continue // connector and topic records: refused by a fold that purged their incarnation
				}
				for i, f := range folds[1:] {
					require.Equal(t, verdicts[0] == nil, verdicts[i+1] == nil, "seed %d step %d: %s judges %+v otherwise: %v / %v",
						seed, step, f.name, r, verdicts[0], verdicts[i+1])
				}
				switch {
				case r.Claim && verdicts[0] == nil:
					claimsTaken++
				case r.Claim:
					claimsRefused++
				}
			}
			want := claimView(folds[0].s)
			for _, f := range folds[1:] {
				require.Equal(t, want, claimView(f.s), "seed %d step %d: %s", seed, step, f.name)
				require.Equal(t, folds[0].s.MaxGen, f.s.MaxGen, "seed %d step %d: %s", seed, step, f.name)
				require.Equal(t, sortedPlacement(g.members, g.live(), folds[0].s), sortedPlacement(g.members, g.live(), f.s),
					"seed %d step %d: %s", seed, step, f.name)
			}
		}
		for _, f := range folds {
			if f.name == "earlier release" {
				continue
			}
			for name, mark := range f.s.Purged {
				for _, r := range f.s.Connectors[name] {
					require.Greater(t, r.Inc, mark, "seed %d: %s keeps a connector record of a purged incarnation", seed, f.name)
				}
				if ts, ok := f.s.Topics[name]; ok {
					require.Greater(t, ts.Inc, mark, "seed %d: %s keeps topics of a purged incarnation", seed, f.name)
				}
				for _, r := range f.s.Tasks[name] {
					if r.Inc <= mark {
						require.Equal(t, r.stripped(), r, "seed %d: %s", seed, f.name)
						stripped++
					}
				}
			}
		}
	}
	t.Logf("%d purge records, %d stripped task records, %d claims taken, %d refused", purgesApplied, stripped, claimsTaken, claimsRefused)
	require.Positive(t, stripped)
	require.Positive(t, claimsTaken)
	require.Positive(t, claimsRefused)
}

// purgeGen writes random-ish status records for TestStatusPurgeFoldsAgreeOnClaims: two
// connector names deleted and created again, claims by workers (one of them with two
// processes) based on what either fold holds or on nothing, reports and releases of their
// holders, and records that arrive late (purges too).
type purgeGen struct {
	rng     *rand.Rand
	liveInc map[string]int64   // the incarnation in force per name (absent: deleted)
	incs    map[string][]int64 // every incarnation of each name so far
	nextInc int64
	late    []statusRecord // written, not delivered yet
	history []statusRecord // task records delivered so far
	members []string
}

var (
	purgeNames   = []string{"a", "b"}
	purgeWorkers = []struct{ worker, proc string }{{"w1", "p1"}, {"w1", "p1b"}, {"w2", "p2"}, {"w3", "p3"}}
	purgeStates  = []restapi.State{restapi.StateRunning, restapi.StateFailed, restapi.StateUnassigned, restapi.StatePaused,
		restapi.StateStopped}
)

func newPurgeGen(rng *rand.Rand) *purgeGen {
	return &purgeGen{rng: rng, liveInc: map[string]int64{}, incs: map[string][]int64{},
		members: []string{memberID("w1", "p1"), memberID("w2", "p2")}}
}

// live is the config fold's connectors: each name in force with three tasks.
func (g *purgeGen) live() map[string]clusterConnector {
	out := map[string]clusterConnector{}
	for name, inc := range g.liveInc {
		out[name] = clusterConnector{Inc: inc, Tasks: make([]map[string]string, 3)}
	}
	return out
}

func (g *purgeGen) pick(n int) int { return g.rng.IntN(n) }

// anyInc is one of name's incarnations so far, mostly the one in force.
func (g *purgeGen) anyInc(name string) (int64, bool) {
	if inc, ok := g.liveInc[name]; ok && g.pick(10) < 7 {
		return inc, true
	}
	if len(g.incs[name]) == 0 {
		return 0, false
	}
	return g.incs[name][g.pick(len(g.incs[name]))], true
}

func (g *purgeGen) trace(st restapi.State) string {
	if st != restapi.StateFailed && g.pick(4) > 0 {
		return ""
	}
	return strings.Repeat("e", 100+g.pick(900))
}

// deliver returns r now or keeps it for later.
func (g *purgeGen) deliver(r statusRecord) []statusRecord {
	if g.pick(5) == 0 {
		g.late = append(g.late, r)
		return nil
	}
	if r.Task >= 0 {
		g.history = append(g.history, r)
	}
	return []statusRecord{r}
}

// next is the records of one step; purging and earlier are two of the folds (claims name
// what one of them holds in force).
func (g *purgeGen) next(purging, earlier *statusState) []statusRecord {
	name := purgeNames[g.pick(len(purgeNames))]
	w := purgeWorkers[g.pick(len(purgeWorkers))]
	switch n := g.pick(100); {
	case n < 10: // create
		if _, ok := g.liveInc[name]; ok {
			return nil
		}
		g.nextInc += int64(1 + g.pick(5))
		g.liveInc[name] = g.nextInc
		g.incs[name] = append(g.incs[name], g.nextInc)
		return nil
	case n < 16: // delete: the purge follows (or arrives late)
		inc, ok := g.liveInc[name]
		if !ok {
			return nil
		}
		delete(g.liveInc, name)
		return g.deliver(purgeRec(name, inc))
	case n < 18: // a purge of a deleted incarnation again
		var deleted []int64
		for _, inc := range g.incs[name] {
			if inc != g.liveInc[name] {
				deleted = append(deleted, inc)
			}
		}
		if len(deleted) == 0 {
			return nil
		}
		return []statusRecord{purgeRec(name, deleted[g.pick(len(deleted))])}
	case n < 48: // a claim
		inc, ok := g.anyInc(name)
		if !ok {
			return nil
		}
		id := g.pick(3)
		view := purging
		if g.pick(2) == 0 {
			view = earlier
		}
		top := max(purging.MaxGen[name], earlier.MaxGen[name])
		r := statusRecord{Cluster: "k", Connector: name, Task: id, Inc: inc, State: restapi.StateRunning, Worker: w.worker,
			Proc: w.proc, Gen: top + 1, Claim: true, Ver: int64(1 + g.pick(3))}
		if cur, held := view.Tasks[name][id]; held {
			r.Prev = cur.Gen
		}
		if g.pick(6) == 0 {
			r.Prev = g.rng.Int64N(top + 2)
		}
		if g.pick(6) == 0 {
			r.Gen = g.rng.Int64N(top + 2)
		}
		return g.deliver(r)
	case n < 72: // a report of a task's holder
		id := g.pick(3)
		cur, held := purging.Tasks[name][id]
		if !held {
			return nil
		}
		st := purgeStates[g.pick(len(purgeStates))]
		return g.deliver(statusRecord{Cluster: "k", Connector: name, Task: id, Inc: cur.Inc, State: st, Trace: g.trace(st),
			Worker: cur.Worker, Proc: cur.Proc, Gen: cur.Gen, Ver: cur.Ver})
	case n < 84: // something late: a record kept back, or a report of an earlier run
		if len(g.late) > 0 && g.pick(3) > 0 {
			i := g.pick(len(g.late))
			r := g.late[i]
			g.late = slices.Delete(g.late, i, i+1)
			if r.Task >= 0 {
				g.history = append(g.history, r)
			}
			return []statusRecord{r}
		}
		if len(g.history) == 0 {
			return nil
		}
		r := g.history[g.pick(len(g.history))]
		r.Claim, r.Prev = false, 0
		r.State = purgeStates[g.pick(len(purgeStates))]
		r.Trace = g.trace(r.State)
		return []statusRecord{r}
	case n < 93: // a connector's report
		inc, ok := g.anyInc(name)
		if !ok {
			return nil
		}
		st := purgeStates[g.pick(len(purgeStates))]
		return g.deliver(statusRecord{Cluster: "k", Connector: name, Task: -1, Inc: inc, State: st, Trace: g.trace(st),
			Worker: w.worker, Proc: w.proc})
	default: // a topic used, or the topics reset
		inc, ok := g.anyInc(name)
		if !ok {
			return nil
		}
		r := statusRecord{Cluster: "k", Connector: name, Task: topicTask, Inc: inc, Worker: w.worker, Topic: fmt.Sprintf("t%d", g.pick(3))}
		if g.pick(4) == 0 {
			r.Topic, r.ResetTopics = "", fmt.Sprintf("r%d", g.pick(1000))
		}
		return g.deliver(r)
	}
}

// TestStatusPurgeKeepsSnapshotsSmall: 200 deleted connectors whose 4 tasks each failed with
// a 60 KiB trace (reported by 3 workers for the connector too) leave a status snapshot far
// below maxSnapshotBytes with every trace whole, whether a task's holder left without
// releasing it, released it, or reported its failure after the purge.
func TestStatusPurgeKeepsSnapshotsSmall(t *testing.T) {
	d := &Distributed{config: newConfigState(), status: newStatusState(), posState: newPositionState()}
	s := d.status
	trace := strings.Repeat("x", 60<<10)
	failed := func(name string, inc int64, id int, gen int64) statusRecord {
		r := taskRec(name, inc, id, "w1", gen, restapi.StateFailed)
		r.Trace, r.Ver = trace, 1
		return r
	}
	for i := range 200 {
		name, inc := fmt.Sprintf("connector-%03d", i), int64(10*i+1)
		for _, w := range []string{"w1", "w2", "w3"} {
			require.NoError(t, s.apply(connRec(name, inc, w, restapi.StateFailed, trace)))
		}
		require.NoError(t, s.apply(statusRecord{Connector: name, Task: topicTask, Inc: inc, Worker: "w1", Topic: "topic-" + name}))
		for id := range 4 {
			require.NoError(t, s.apply(claimRec(name, inc, id, "w1", 0, int64(id+1))))
			require.NoError(t, s.apply(failed(name, inc, id, int64(id+1))))
		}
		switch i % 3 {
		case 0: // the holder left: the failed records stay in force
			require.NoError(t, s.apply(purgeRec(name, inc)))
		case 1: // the holder reports its failure again, then releases, after the purge
			require.NoError(t, s.apply(purgeRec(name, inc)))
			for id := range 4 {
				require.NoError(t, s.apply(failed(name, inc, id, int64(id+1))))
				require.NoError(t, s.apply(taskRec(name, inc, id, "w1", int64(id+1), restapi.StateUnassigned)))
			}
		case 2: // released before the purge
			for id := range 4 {
				require.NoError(t, s.apply(taskRec(name, inc, id, "w1", int64(id+1), restapi.StateUnassigned)))
			}
			require.NoError(t, s.apply(purgeRec(name, inc)))
		}
	}
	body, err := d.snapshotBody(1, snapshotHeader{Through: 1})
	require.NoError(t, err)
	assert.Less(t, len(body), maxSnapshotBytes/10, "a status snapshot after the purges")
	assert.False(t, bytes.Contains(body, []byte("xxxx")), "the snapshot holds a trace")
	assert.Len(t, s.Purged, 200)
	assert.Len(t, claimView(s), 200, "the task records stay")
}

// TestStatusPurgeSnapshotKeepsMarks: a worker adopting a snapshot taken after a purge keeps
// the purge marks, so it strips and refuses late records as the snapshot's writer does.
func TestStatusPurgeSnapshotKeepsMarks(t *testing.T) {
	src := newStatusState()
	require.NoError(t, src.apply(taskRec("c", 1, 0, "w1", 3, restapi.StateUnassigned)))
	require.NoError(t, src.apply(purgeRec("c", 1)))
	dst := viaSnapshot(t, src)
	assert.Equal(t, src, dst)
	for _, s := range []*statusState{src, dst} {
		late := taskRec("c", 1, 1, "w2", 4, restapi.StateFailed)
		late.Trace = "boom"
		require.NoError(t, s.apply(late))
		assert.ErrorIs(t, s.apply(connRec("c", 1, "w2", restapi.StateFailed, "boom")), errStale)
	}
	assert.Equal(t, src, dst)
	r, _ := dst.task("c", 1, 1)
	assert.Empty(t, r.Trace)
}

// TestStatusPurgeIgnoredByEarlierRelease: a worker of a release without purges decodes the
// purge as a topic record of the deleted incarnation that adds no topic: nothing it reads
// changes.
func TestStatusPurgeIgnoredByEarlierRelease(t *testing.T) {
	body, err := json.Marshal(purgeRec("c", 1))
	require.NoError(t, err)
	var r statusRecord
	require.NoError(t, json.Unmarshal(body, &r))
	r.Purge = false // what a decoder without the field reads
	s := newStatusState()
	require.NoError(t, s.apply(claimRec("c", 1, 0, "w1", 0, 3)))
	require.NoError(t, s.apply(taskRec("c", 1, 0, "w1", 3, restapi.StateUnassigned)))
	require.NoError(t, s.apply(connRec("c", 1, "w1", restapi.StateUnassigned, "")))
	require.NoError(t, s.apply(statusRecord{Connector: "c", Task: topicTask, Inc: 1, Worker: "w1", Topic: "t"}))
	before, _ := json.Marshal(s)
	require.NoError(t, s.apply(r))
	after, _ := json.Marshal(s)
	assert.JSONEq(t, string(before), string(after))
}

// TestStatusPurgeWrittenOnDelete: deleting a connector writes the purge of its incarnation
// to the status topic, and this worker's fold applies it.
// storeLogsHarness is a started test Distributed whose three store logs run on memory queues
// and which runs no reconcile.
func storeLogsHarness(t *testing.T) *Distributed {
	t.Helper()
	return storeLogsHarnessWith(t, &memQueue{})
}

// storeLogsHarnessWith is storeLogsHarness with config as the config topic's queue.
func storeLogsHarnessWith(t *testing.T, config storeQueue) *Distributed {
	t.Helper()
	d := newTestDistributed(t, 5*time.Second)
	close(d.started)
	d.reconciled = 1 << 40 // no reconcile runs here: the delete does not wait for one
	d.configLog = newStoreLog("config", config, quiet())
	d.statusLog = newStoreLog("status", &memQueue{}, quiet())
	d.positionLog = newStoreLog("position", &memQueue{}, quiet())
	d.appendStatus = d.statusLog.append
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{}, 3)
	for _, l := range []struct {
		log   *storeLog
		apply func(int64, []byte) error
	}{{d.configLog, d.applyConfig}, {d.statusLog, d.applyStatus}, {d.positionLog, d.applyPosition}} {
		go func() { l.log.run(ctx, 0, 0, nil, l.apply); done <- struct{}{} }()
	}
	t.Cleanup(func() {
		stop()
		for range 3 {
			<-done
		}
		d.engine.crew.close()
	})
	return d
}

func TestStatusPurgeWrittenOnDelete(t *testing.T) {
	d := storeLogsHarness(t)
	d.mu.Lock()
	d.config.Connectors["c"] = &clusterConnector{Config: map[string]string{}, Target: restapi.TargetStopped, Epoch: 1, Inc: 1}
	failed := taskRec("c", 1, 0, "w2", 2, restapi.StateFailed)
	failed.Trace = "boom"
	require.NoError(t, d.status.apply(failed))
	require.NoError(t, d.status.apply(connRec("c", 1, "w2", restapi.StateFailed, "boom")))
	d.mu.Unlock()

	require.NoError(t, d.DeleteConnector(context.Background(), "c"))
	require.Eventually(t, func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.status.Purged["c"] == 1
	}, 10*time.Second, 5*time.Millisecond)
	d.mu.Lock()
	defer d.mu.Unlock()
	assert.NotContains(t, d.config.Connectors, "c")
	assert.NotContains(t, d.status.Connectors, "c")
	assert.Equal(t, failed.stripped(), d.status.Tasks["c"][0])
	assert.Equal(t, int64(2), d.status.MaxGen["c"])
}

// snapshotHarness is a Distributed, first member of its cluster, whose status log is in
// memory and read as a worker does; only the status topic's snapshot is due.
func snapshotHarness(t *testing.T) (*Distributed, *memQueue, *bytes.Buffer) {
	t.Helper()
	d := newTestDistributed(t, 5*time.Second)
	var logs bytes.Buffer
	d.log = slog.New(slog.NewJSONHandler(&logs, nil))
	d.members = []string{memberID(d.cfg.WorkerID, d.proc)}
	d.cfg.SnapshotInterval = time.Hour
	d.lastSnap[0], d.lastSnap[2] = time.Now(), time.Now()
	q := &memQueue{}
	d.configLog = newStoreLog("config", &memQueue{}, quiet())
	d.statusLog = newStoreLog("status", q, quiet())
	d.positionLog = newStoreLog("position", &memQueue{}, quiet())
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.statusLog.run(ctx, 0, 0, nil, d.applyStatus); close(done) }()
	t.Cleanup(func() {
		stop()
		<-done
		d.engine.crew.close()
	})
	return d, q, &logs
}

// TestStatusSnapshotCutsTraces: a status fold too big for a snapshot record with whole
// traces is written with each trace cut (marked as cut), or else without traces; every other
// field goes whole, and the fold itself keeps its traces. Only a fold too big even so is
// refused, logged as an error with its size.
func TestStatusSnapshotCutsTraces(t *testing.T) {
	for _, tc := range []struct {
		name        string
		tasks       int
		traceBytes  int
		traces      string // the Info line's traces attribute; "" for whole traces
		topicsBytes int    // topic names of one connector, to make the fold too big without traces
	}{
		{name: "whole", tasks: 20, traceBytes: 60 << 10},
		{name: "cut", tasks: 100, traceBytes: 60 << 10, traces: "cut"},
		{name: "dropped", tasks: 2000, traceBytes: 3 << 10, traces: "dropped"},
		{name: "too big", tasks: 100, traceBytes: 60 << 10, topicsBytes: maxSnapshotBytes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, q, logs := snapshotHarness(t)
			trace := strings.Repeat("é", tc.traceBytes/2)
			d.mu.Lock()
			for i := range tc.tasks {
				name := fmt.Sprintf("c%d", i/4)
				r := taskRec(name, 1, i%4, "w1", int64(i+1), restapi.StateFailed)
				r.Trace = trace
				require.NoError(t, d.status.apply(r))
				require.NoError(t, d.status.apply(connRec(name, 1, "w1", restapi.StateFailed, trace)))
			}
			if tc.topicsBytes > 0 {
				names := map[string]bool{}
				for n := 0; n < tc.topicsBytes; n += 100 {
					names[fmt.Sprintf("%0100d", n)] = true
				}
				d.status.Topics = map[string]topicSet{"c0": {Inc: 1, Names: names}}
			}
			want := claimView(d.status)
			d.mu.Unlock()

			d.snapshotDue(context.Background())
			var entry struct {
				Level, Msg, Traces string
				Bytes              int
				MaxBytes           int `json:"max_bytes"`
			}
			require.NoError(t, json.Unmarshal(logs.Bytes(), &entry), logs.String())
			d.mu.Lock()
			assert.True(t, d.status.Tasks["c0"][0].Trace == trace, "the fold keeps its traces")
			d.mu.Unlock()
			q.mu.Lock()
			records := slices.Clone(q.records)
			q.mu.Unlock()
			if tc.topicsBytes > 0 {
				assert.Equal(t, "ERROR", entry.Level)
				assert.Equal(t, "store topic snapshot too big to write", entry.Msg)
				assert.Greater(t, entry.Bytes, maxSnapshotBytes)
				assert.Equal(t, maxSnapshotBytes, entry.MaxBytes)
				assert.Empty(t, records)
				// The next check, before an interval has passed, does not encode the fold again.
				logs.Reset()
				d.snapshotDue(context.Background())
				assert.Empty(t, logs.String(), "a fold too big is tried again only an interval later")
				return
			}
			assert.Equal(t, "INFO", entry.Level, logs.String())
			assert.Equal(t, tc.traces, entry.Traces)
			require.Len(t, records, 1)
			body := records[0]
			assert.LessOrEqual(t, len(body), maxSnapshotBytes)
			assert.Equal(t, len(body), entry.Bytes)
			dst := &Distributed{config: newConfigState(), status: newStatusState(), posState: newPositionState()}
			require.NoError(t, dst.snapshotters()[1].adopt(body))
			assert.Equal(t, want, claimView(dst.status))
			got := []string{dst.status.Tasks["c0"][0].Trace, dst.status.Connectors["c0"]["w1"].Trace}
			for _, g := range got {
				switch tc.traces {
				case "":
					assert.True(t, g == trace, "a whole trace: %d bytes of %d", len(g), len(trace))
				case "cut":
					assert.LessOrEqual(t, len(g), snapshotTraceCut)
					assert.True(t, utf8.ValidString(g), "cut between runes")
					assert.True(t, strings.HasPrefix(trace, strings.TrimSuffix(g, fmt.Sprintf(" ... (cut in a status snapshot: %d bytes)", len(trace)))))
					assert.Contains(t, g, "cut in a status snapshot")
					assert.Greater(t, len(g), snapshotTraceCut-100)
				case "dropped":
					assert.Zero(t, len(g), "a dropped trace")
				}
			}
		})
	}
}

// TestResetTopicsOfPurgedConnector: a topics reset that races the connector's delete (its
// record lands after the purge, which the fold refuses) answers not found at once, instead
// of waiting out the write timeout and answering as if it had reset.
func TestResetTopicsOfPurgedConnector(t *testing.T) {
	d := storeLogsHarness(t)
	d.mu.Lock()
	d.config.Connectors["c"] = &clusterConnector{Config: map[string]string{}, Target: restapi.TargetStopped, Epoch: 1, Inc: 1}
	require.NoError(t, d.status.apply(statusRecord{Connector: "c", Task: topicTask, Inc: 1, Worker: "w2", Purge: true}))
	d.mu.Unlock()
	start := time.Now()
	err := d.ResetConnectorTopics(context.Background(), "c")
	require.ErrorIs(t, err, restapi.ErrNotFound)
	require.Less(t, time.Since(start), writeTimeout/2, "the reset waited for a record the fold refuses")
}
