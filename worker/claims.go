package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// errTasksChanged: the config topic shows the connector with another incarnation or other
// task configs than the run being claimed for; that run is not started (its runtime is
// about to be stopped or replaced by the reconcile).
var errTasksChanged = errors.New("task configs changed")

// claim serves clusterPlacement: it waits until the task is free (never claimed, released,
// or held by a worker that left) and no task of the connector's other task configs is held
// by a live worker (otherConfigsHeldLocked), then writes a claim with a generation above
// every earlier one of the connector and returns once that claim is in force and settled
// (settleClaim). It returns errTasksChanged, holding no claim, once the config topic shows
// other task configs.
//
// Generations are compared in two folds: the status fold takes a claim only above the
// generation in force, and the position fold refuses a commit older than the one stored
// for a partition (or than an offsets change's floor). So the claim's generation is above
// both folds' highest for the connector, the position fold read to its end first: the
// status fold alone can be far behind the position topic (a new or re-created status
// topic, a status fold rebuilt without a snapshot), and a task claimed from it alone would
// have every commit refused until claims had climbed past the stored generations.
func (d *Distributed) claim(ctx context.Context, rt *connRuntime, id int) (int64, error) {
	rt.mu.Lock()
	ver := rt.tasksVersion
	rt.mu.Unlock()
	var wait otherConfigsWaiting
	for {
		d.mu.Lock()
		// Other task configs than rt's (a newer version; none, as for a stopped connector or
		// a replaced config; another incarnation): the reconcile, which may not have run
		// yet, stops this run, so it must not start now.
		if c := d.config.Connectors[rt.name]; c != nil && (c.Inc != rt.inc || c.TasksVersion != ver) {
			d.mu.Unlock()
			return 0, errTasksChanged
		}
		// Any incarnation's record counts: a task of a deleted connector's incarnation may
		// still run on a live worker until that worker has retired it.
		cur, held := d.status.Tasks[rt.name][id]
		// A claim of this worker's id from another incarnation is not free: that process may
		// still run the task (suspended past its expiry and resumed) until it has left.
		free := (!held || released(cur.State) || d.mine(cur) || cur.Worker == d.cfg.WorkerID && cur.Proc == "") &&
			d.lingering[taskKey{rt.name, id}] == 0
		departed := held && !free && !d.mine(cur) && !holderLive(cur, d.members)
		var others []statusRecord
		if free || departed {
			others = d.otherConfigsHeldLocked(rt.name, rt.inc, ver)
		}
		members := slices.Clone(d.members)
		wake := d.statusMoved
		d.mu.Unlock()
		ask := departed || slices.ContainsFunc(others, func(r statusRecord) bool { return !holderLive(r, members) })
		if ask {
			// A holder is missing from this worker's member list; ask the broker itself
			// before taking the task from it (a joining worker's first list can be short).
			mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			live, err := d.view.Members(mctx)
			cancel()
			known := err == nil && len(live) > 0
			if departed {
				free = known && !holderLive(cur, live)
			}
			others = slices.DeleteFunc(others, func(r statusRecord) bool {
				return !holderLive(r, members) && known && !holderLive(r, live)
			})
		}
		if free && len(others) > 0 && d.waitForOtherConfigs(rt.name, id, ver, others, &wait) {
			free = false
		}
		if free && d.fence() != nil {
			// The lease has lapsed (suspended, cut off, or replaced by another process of
			// this workerId): a task released meanwhile is its next owner's, not this one's.
			free = false
		}
		if free && ctx.Err() != nil {
			return 0, ctx.Err() // stopped meanwhile: no claim for a task this worker will not run
		}
		if free {
			if err := d.awaitPositions(ctx, rt.name, id); err != nil {
				return 0, err // stopped meanwhile
			}
			if d.fence() != nil {
				continue // the lease lapsed while the position topic was read: not free any more
			}
			gen := d.claimGen(rt.name)
			rec := statusRecord{Cluster: d.cfg.ClusterID, Connector: rt.name, Task: id, Inc: rt.inc, State: restapi.StateRunning, Worker: d.cfg.WorkerID, Proc: d.proc,
				Gen: gen, Claim: true, Ver: ver}
			if held {
				rec.Prev = cur.Gen
			}
			body, _ := json.Marshal(rec)
			off, err := d.statusLog.append(ctx, rt.name, body)
			if err != nil {
				if ctx.Err() != nil {
					return 0, ctx.Err()
				}
			} else if err = d.statusLog.waitApplied(ctx, off); ctx.Err() != nil {
				// Stopped while the claim was on its way: it may be in force, for a run
				// that will not happen.
				d.releaseUnused(rt, id, gen, ver, off)
				return 0, ctx.Err()
			}
			if err == nil {
				switch err := d.settleClaim(ctx, rt, id, gen, ver, off, &wait); {
				case errors.Is(err, errClaimWithdrawn):
					continue
				case err != nil:
					return 0, err
				}
				prev := "none"
				if held {
					prev = fmt.Sprintf("%s %s gen %d", cur.Worker, cur.State, cur.Gen)
				}
				d.log.Info("task claimed", "connector", rt.name, "task", id, "gen", gen, "previous", prev, "members", d.membersNow())
				// Resume from the last positions the previous holder committed: never start
				// without having read them. A holder that released the task made its last
				// commit before its release, so the read before the claim has it; one taken
				// over as departed (suspended, or cut off from the broker) may have committed
				// after that read and before it learnt of this claim, which fences its
				// commits from then on (clusterPositions.Put). Reading again now, with the
				// claim in force, resumes from those commits instead of sending their
				// records again (and, for a source that acknowledges upstream in Commit, from
				// no earlier than what it acknowledged). A commit it still makes after this
				// read was checked against the claim before this one applied: it carries an
				// older generation, and this task's first commit replaces it.
				if err := d.awaitPositions(ctx, rt.name, id); err != nil {
					d.releaseUnused(rt, id, gen, ver, off)
					return 0, err
				}
				return gen, nil
			}
			if !errors.Is(err, errStale) {
				d.log.Warn("claiming a task failed; retrying", "connector", rt.name, "task", id, "err", err)
				select {
				case <-ctx.Done():
					return 0, ctx.Err()
				case <-time.After(time.Second):
				}
			}
			continue
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-wake:
		case <-time.After(time.Second):
		}
	}
}

// otherConfigsHeldLocked returns the records of tasks of incarnation inc of connector name,
// of any task id (also ids the current task configs no longer have), that were written for
// task configs other than version ver and still hold their task: not released, and of
// another worker process or of a run of this one that was abandoned and has not returned.
//
// A task of older configs may still read a source partition that the configs of ver gave
// to another task id, and its last commit of that partition's position is only certain
// once it has released its claim: a task of ver starting meanwhile would resume from an
// older position and send what the old task sends too. Every worker's reconcile stops the
// tasks of older configs and releases them after their last commit. A task of newer
// configs means this worker has not read them yet: its task of ver is about to be stopped,
// and must not start beside the new ones.
//
// A record without a version (written by an earlier release of rmqconnect) is not known to
// be of other configs and holds nothing back. This worker's own runs of other configs have
// stopped before its tasks of ver start (syncDistributed). A run of configs without a
// version (a config fold adopted from an earlier release's snapshot) waits for none either.
// d.mu is held.
func (d *Distributed) otherConfigsHeldLocked(name string, inc, ver int64) []statusRecord {
	if ver <= 0 {
		return nil
	}
	var out []statusRecord
	for _, r := range d.status.Tasks[name] {
		if r.Inc != inc || r.Ver <= 0 || r.Ver == ver || released(r.State) {
			continue
		}
		if d.mine(r) && d.lingering[taskKey{name, r.Task}] == 0 {
			continue
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b statusRecord) int { return a.Task - b.Task })
	return out
}

// otherConfigsWait bounds how long a claim waits for the tasks of other task configs
// (otherConfigsHeldLocked): a worker whose reconcile is held up (a task that does not stop,
// a broker it cannot reach) or a record no run stands behind (a release that was never
// written, which repairClaims leaves while its worker runs a task of that id) must not keep
// the connector's new tasks from starting for good. Past it the task is claimed, with a
// warning naming what still held: at worst records are sent twice, as without the barrier.
// A var so that tests can shorten it.
var otherConfigsWait = 2 * time.Minute

// otherConfigsWaiting is one claim's wait for tasks of other task configs: one budget of
// otherConfigsWait from the first wait, before the claim is written and after (settleClaim).
type otherConfigsWaiting struct {
	since  time.Time // the first wait; zero before it
	logged string    // what the last log line named as waited for
	warned string    // what the last warning named as claimed over
}

// waitForOtherConfigs reports whether a claim of task id (of task configs version ver) waits
// for held, the live holders of tasks of other configs: until otherConfigsWait has passed
// since w's first wait. It logs what it waits for once per change of held, and a warning
// naming them once it stops waiting for them.
func (d *Distributed) waitForOtherConfigs(name string, id int, ver int64, held []statusRecord, w *otherConfigsWaiting) bool {
	if w.since.IsZero() {
		w.since = time.Now()
	}
	desc := describeHeld(held)
	if time.Since(w.since) < otherConfigsWait {
		if desc != w.logged {
			w.logged = desc
			d.log.Info("task waits for tasks of the connector's other task configs to stop", "connector", name,
				"task", id, "tasks_version", ver, "waits_for", desc)
		}
		return true
	}
	if desc != w.warned {
		w.warned = desc
		d.log.Warn("task claimed while tasks of the connector's other task configs still hold their claims; records they "+
			"still send may be sent twice", "connector", name, "task", id, "tasks_version", ver, "waited", otherConfigsWait,
			"held_by", desc)
	}
	return false
}

// errClaimWithdrawn: settleClaim found the claim no longer in force, or released it for a
// task of newer task configs; the claim waits again.
var errClaimWithdrawn = errors.New("claim withdrawn")

// settleClaim runs once claim gen of task id (of task configs version ver) is in force. The
// checks before the claim was written cannot see a claim for other task configs written
// meanwhile: by a worker that had not read the newer configs yet, or one this worker had
// not read yet. The status topic has one queue, so such a claim is either folded now, or
// written after this one, and then its writer finds this one here:
//   - a held task of newer configs: this claim is released and the claim waits again
//     (errClaimWithdrawn), until the reconcile stops this run;
//   - a held task of older configs: the claim stays in force and its run waits until that
//     task is released, within what is left of w's budget (otherConfigsWait from the first
//     wait, before the claim or here), so of two such claims the older yields and the newer
//     waits for it.
//
// A claim another worker replaced meanwhile (it took the task as departed) is left to it
// (errClaimWithdrawn). On any other error (ctx ended, the configs changed) the claim is
// released.
func (d *Distributed) settleClaim(ctx context.Context, rt *connRuntime, id int, gen, ver, off int64, w *otherConfigsWaiting) error {
	for {
		d.mu.Lock()
		if c := d.config.Connectors[rt.name]; c != nil && (c.Inc != rt.inc || c.TasksVersion != ver) {
			d.mu.Unlock()
			d.releaseUnused(rt, id, gen, ver, off)
			return errTasksChanged
		}
		held := d.otherConfigsHeldLocked(rt.name, rt.inc, ver)
		members := slices.Clone(d.members)
		wake := d.statusMoved
		d.mu.Unlock()
		if !d.holdsClaim(rt.name, rt.inc, id, gen) {
			return errClaimWithdrawn
		}
		held = d.liveHolders(ctx, held, members)
		if len(held) == 0 || !d.waitForOtherConfigs(rt.name, id, ver, held, w) {
			return nil
		}
		if slices.ContainsFunc(held, func(r statusRecord) bool { return r.Ver > ver }) {
			d.log.Info("claim withdrawn: tasks of the connector's newer task configs hold their claims", "connector", rt.name,
				"task", id, "gen", gen, "tasks_version", ver)
			d.releaseUnused(rt, id, gen, ver, off)
			return errClaimWithdrawn
		}
		select {
		case <-ctx.Done():
			d.releaseUnused(rt, id, gen, ver, off)
			return ctx.Err()
		case <-wake:
		case <-time.After(time.Second):
		}
	}
}

// liveHolders drops from held the records whose holder has left the cluster: missing from
// members and, asked when one is missing (a joining worker's first list can be short),
// from the broker's own list of them.
func (d *Distributed) liveHolders(ctx context.Context, held []statusRecord, members []string) []statusRecord {
	if !slices.ContainsFunc(held, func(r statusRecord) bool { return !holderLive(r, members) }) {
		return held
	}
	mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	live, err := d.view.Members(mctx)
	cancel()
	if err != nil || len(live) == 0 {
		return held
	}
	return slices.DeleteFunc(held, func(r statusRecord) bool { return !holderLive(r, members) && !holderLive(r, live) })
}

// describeHeld names the holders of task records for a log line.
func describeHeld(rs []statusRecord) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("task %d on %s (%s, tasks version %d)", r.Task, r.Worker, r.State, r.Ver)
	}
	return strings.Join(parts, ", ")
}

// claimGen is the generation of a new claim of a task of connector name: above every
// generation the status and position folds hold for it.
func (d *Distributed) claimGen(name string) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return max(d.status.MaxGen[name], d.posState.maxGen(name)) + 1
}

// positionSyncTimeout bounds one attempt to catch up with the position topic before a
// claimed task starts (a hung read is retried, and logged, instead of holding the task
// claimed but not running for good).
const positionSyncTimeout = 10 * time.Second

// awaitPositions returns once this worker has read the position topic up to its end, so
// that a task resumes from the last positions its previous holder committed; it retries
// until ctx ends.
func (d *Distributed) awaitPositions(ctx context.Context, name string, id int) error {
	for {
		sctx, cancel := context.WithTimeout(ctx, positionSyncTimeout)
		err := d.positionLog.sync(sctx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		d.log.Warn("position topic not caught up; the task waits for it", "connector", name, "task", id, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// releaseSettle bounds how long a claim abandoned on its way waits to learn whether it
// is in force (the apply of a record this worker wrote: normally milliseconds).
const releaseSettle = 5 * time.Second

// releaseUnused releases claim gen of task id (of task configs version ver), written at
// offset off of the status topic, when it is in force: the run it was written for was stopped before it started (the task
// moved away or the worker is stopping while it was being claimed). Without the release
// the task would stay held by a run that never happens: its next owner would wait for
// repairClaims, and once this worker has left, the status history would show the task
// taken from a worker that still held it. A release of a claim that lost its race, or that
// a newer claim replaced, is not written (the fold would ignore it anyway).
func (d *Distributed) releaseUnused(rt *connRuntime, id int, gen, ver, off int64) {
	ctx, cancel := context.WithTimeout(context.Background(), releaseSettle)
	defer cancel()
	// A claim in force is released at once: one settleClaim kept in force for long is past
	// what the status log remembers of its appends' outcomes (waitApplied would not know it).
	if !d.holdsClaim(rt.name, rt.inc, id, gen) {
		if err := d.statusLog.waitApplied(ctx, off); err != nil {
			if !errors.Is(err, errStale) {
				d.log.Warn("a claim abandoned on its way may still hold the task; repairClaims releases it",
					"connector", rt.name, "task", id, "gen", gen, "err", err)
			}
			return
		}
	}
	d.log.Info("releasing a claim whose run was stopped before it started", "connector", rt.name, "task", id, "gen", gen)
	d.report(statusRecord{Connector: rt.name, Task: id, Inc: rt.inc, State: restapi.StateUnassigned, Worker: d.cfg.WorkerID, Gen: gen,
		Ver: ver})
}

// holds serves clusterPlacement.
func (d *Distributed) holds(rt *connRuntime, id int, gen int64) bool {
	return d.holdsClaim(rt.name, rt.inc, id, gen)
}

// holdsClaim reports whether claim gen of task id of incarnation inc of connector name, by
// this worker, is the task's record in force.
func (d *Distributed) holdsClaim(name string, inc int64, id int, gen int64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.status.Tasks[name][id]
	return ok && d.mine(r) && r.Gen == gen && r.Inc == inc
}

// linger serves clusterPlacement.
func (d *Distributed) linger(name string, id int, done <-chan struct{}, release *statusRecord) {
	key := taskKey{name, id}
	d.mu.Lock()
	d.lingering[key]++
	d.mu.Unlock()
	d.log.Warn("an abandoned task keeps its claim until it returns", "connector", name, "task", id)
	d.crew.Go(func() {
		select {
		case <-done:
		case <-d.leaving:
			return // this worker has left the cluster: its claims lapse with its membership
		}
		if release != nil {
			d.log.Info("an abandoned task returned; releasing it", "connector", name, "task", id, "gen", release.Gen)
			d.report(*release)
		}
		d.mu.Lock()
		if d.lingering[key]--; d.lingering[key] <= 0 {
			delete(d.lingering, key)
		}
		close(d.statusMoved) // a claim waiting for it may go on
		d.statusMoved = make(chan struct{})
		d.mu.Unlock()
	})
}

// writeConfig appends a config record and waits until this worker has applied it; the
// error is the fold's verdict (ErrAlreadyExists, ErrNotFound, errStale, ...).
func (d *Distributed) writeConfig(ctx context.Context, r configRecord) error {
	_, err := d.writeConfigAt(ctx, r)
	return err
}

func (d *Distributed) writeConfigAt(ctx context.Context, r configRecord) (int64, error) {
	r.Worker, r.Cluster = d.cfg.WorkerID, d.cfg.ClusterID
	r.Req = d.proc + "-" + strconv.FormatUint(d.reqs.Add(1), 36)
	body, err := json.Marshal(r)
	if err != nil {
		return 0, err
	}
	off, err := d.configLog.append(ctx, r.Name, body)
	if err != nil {
		return 0, err
	}
	return off, d.configLog.waitApplied(ctx, off)
}
