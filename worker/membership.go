package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// Cluster membership: member ids (worker id and process incarnation), joining, the
// broker's member list and its confirmation, and the lease that renewing it extends.

// newIncarnation returns a process-unique incarnation: random, so that two processes with
// the same workerId on different hosts differ too.
func newIncarnation() string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	return hex.EncodeToString(b[:])
}

// incSep separates a member id's worker id from its incarnation ('.' is not allowed in a workerId).
const incSep = "."

// memberID is the member id of a worker incarnation (a bare worker id for proc "").
func memberID(worker, proc string) string {
	if proc == "" {
		return worker
	}
	return worker + incSep + proc
}

// workerOf returns the worker id of a member id.
func workerOf(member string) string {
	w, _, _ := strings.Cut(member, incSep)
	return w
}

// workerIDs returns the distinct worker ids of members, sorted: what the assignment is
// computed over, so that a restarted worker (a new incarnation) gets its units back.
func workerIDs(members []string) []string {
	out := make([]string, 0, len(members))
	for _, m := range members {
		out = append(out, workerOf(m))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// join joins the cluster under this incarnation's member id, refusing to when another
// process with this workerId is live. That check and the join are not atomic (two
// processes can both pass it): claims carry the incarnation, so that even then only one
// of them runs a task.
func (d *Distributed) join(ctx context.Context) (*rmqclient.Consumer, error) {
	if err := d.client.CreateTopic(ctx, rmqclient.TopicSpec{Name: d.cfg.ClusterTopic, Queues: 1}); err != nil {
		return nil, err
	}
	live, err := d.view.Members(ctx)
	if err != nil {
		return nil, err
	}
	if slices.Contains(workerIDs(live), d.cfg.WorkerID) {
		return nil, fmt.Errorf("%w: workerId %q is live in group %s (members %v); give each worker its own workerId",
			rmqclient.ErrDuplicateMember, d.cfg.WorkerID, d.cfg.ClusterID, workerIDs(live))
	}
	return d.client.Join(ctx, d.cfg.ClusterID, d.cfg.ClusterTopic, memberID(d.cfg.WorkerID, d.proc), d.setMembers)
}

// mine reports whether r was written by this incarnation of this worker.
func (d *Distributed) mine(r statusRecord) bool {
	return r.Worker == d.cfg.WorkerID && r.Proc == d.proc
}

// holderLive reports whether the worker incarnation holding r is among members (a record
// without incarnation, written before they were recorded, by its worker id).
func holderLive(r statusRecord, members []string) bool {
	if r.Proc == "" {
		return slices.Contains(workerIDs(members), r.Worker)
	}
	return slices.Contains(members, memberID(r.Worker, r.Proc))
}

// setMembers takes a member list observed from the broker (its change notifications, or
// the periodic check). A worker that appears is a member at once. A worker that is missing
// is dropped only when a second look at the broker, memberConfirm later, still misses it:
// the broker's list can briefly lack a live member while clients register, and dropping
// one would let others claim tasks it still runs.
func (d *Distributed) setMembers(observed []string) {
	d.mu.Lock()
	next := slices.Clone(observed)
	var missing []string
	for _, m := range d.members {
		if !slices.Contains(observed, m) {
			missing = append(missing, m)
			next = append(next, m)
		}
	}
	slices.Sort(next)
	confirm := len(missing) > 0 && !d.confirming
	if confirm {
		d.confirming = true
	}
	d.mu.Unlock()
	d.applyMembers(next, "observed")
	if confirm && d.crew.Go(func() { d.confirmDepartures(missing) }) == nil {
		d.mu.Lock()
		d.confirming = false // Run is returning
		d.mu.Unlock()
	}
}

// memberConfirm is how long a departure waits for its confirmation.
const memberConfirm = 300 * time.Millisecond

// confirmDepartures asks the broker again and drops the members missing from both looks.
// A look that lacks this worker itself is not trusted (the broker restarted or lost this
// worker's registration: others are likely missing for the same reason) and drops no one;
// after such a disruption, or a failed look, departures wait for DepartGrace, so that
// members re-registering with a restarted broker keep their units.
func (d *Distributed) confirmDepartures(missing []string) {
	defer func() {
		d.mu.Lock()
		d.confirming = false
		d.mu.Unlock()
	}()
	time.Sleep(memberConfirm)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		live, err := d.view.Members(ctx)
		cancel()
		if err != nil || !slices.Contains(live, memberID(d.cfg.WorkerID, d.proc)) {
			if err != nil {
				d.log.Warn("membership check failed", "err", err)
			}
			d.markDisrupted()
			return // the periodic check tries again
		}
		d.mu.Lock()
		wait := time.Until(d.disrupted.Add(d.cfg.DepartGrace))
		d.mu.Unlock()
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
				continue // look again
			case <-d.leaving:
				t.Stop()
				return
			}
		}
		d.mu.Lock()
		next := slices.Clone(live)
		for _, m := range d.members {
			if !slices.Contains(next, m) && !slices.Contains(missing, m) {
				next = append(next, m) // missing from this look only: wait for another
			}
		}
		d.mu.Unlock()
		slices.Sort(next)
		d.applyMembers(next, "confirmed")
		return
	}
}

// markDisrupted notes that the broker's member list cannot be trusted now.
func (d *Distributed) markDisrupted() {
	d.mu.Lock()
	d.disrupted = time.Now()
	d.mu.Unlock()
}

func (d *Distributed) applyMembers(members []string, how string) {
	d.mu.Lock()
	changed := !slices.Equal(members, d.members)
	if changed {
		d.members = slices.Clone(members)
		close(d.statusMoved)
		d.statusMoved = make(chan struct{})
	}
	d.mu.Unlock()
	if changed {
		d.log.Info("cluster members changed", "members", members, "how", how)
		for _, m := range members {
			if workerOf(m) == d.cfg.WorkerID && m != memberID(d.cfg.WorkerID, d.proc) {
				d.log.Error("another process with this workerId is in the cluster; only the one holding a task's claim runs it",
					"worker", d.cfg.WorkerID, "other", m, "this", memberID(d.cfg.WorkerID, d.proc))
			}
		}
		d.trigger()
	}
}

// memberLoop confirms the membership with the broker and renews the lease.
func (d *Distributed) memberLoop(ctx context.Context) {
	t := time.NewTicker(d.cfg.MemberCheck)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if d.renew(ctx) {
				d.rejoin(ctx)
			}
			if n%5 == 0 {
				d.trigger() // a periodic reconcile retries what failed (a task config publish, a start)
			}
		}
	}
}

// renew asks the broker for the members and catches up with the status topic (which
// fences tasks claimed elsewhere meanwhile); only then, and only when the broker lists
// this worker, is the lease extended. It reports whether this worker should register
// with the broker again: it has been missing from two looks in a row (a restarted broker
// learns of its clients only from their heartbeats, every 30s).
func (d *Distributed) renew(ctx context.Context) (rejoin bool) {
	began := time.Now()
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	members, err := d.view.Members(rctx)
	if err != nil {
		d.markDisrupted()
		d.log.Warn("membership check failed", "err", err)
		return false
	}
	self := memberID(d.cfg.WorkerID, d.proc)
	if !slices.Contains(members, self) {
		d.markDisrupted()
		d.mu.Lock()
		d.selfMissing++
		missing := d.selfMissing
		d.mu.Unlock()
		d.log.Warn("this worker is missing from the broker's member list; its lease is not renewed", "worker", self,
			"members", members, "looks", missing)
		return missing >= 2
	}
	d.mu.Lock()
	d.selfMissing = 0
	d.mu.Unlock()
	d.setMembers(members)
	if err := d.statusLog.sync(rctx); err != nil {
		d.markDisrupted()
		d.log.Warn("status topic check failed", "err", err)
		return false
	}
	d.mu.Lock()
	d.lastRenew = began
	d.mu.Unlock()
	d.repairClaims()
	return false
}

// rejoin leaves and joins the cluster again, so that the broker lists this worker at once
// instead of at its client's next heartbeat. While another process with this workerId is
// live, the join is refused and this worker stays out (its lease lapses).
func (d *Distributed) rejoin(ctx context.Context) {
	if d.membership != nil {
		if err := d.membership.Close(); err != nil {
			d.log.Warn("leaving the cluster to register again", "err", err)
		}
		d.membership = nil
	}
	m, err := d.join(ctx)
	if err != nil {
		d.log.Error("registering with the broker again failed; retrying", "err", err)
		return
	}
	d.membership = m
	d.mu.Lock()
	d.selfMissing = 0
	d.mu.Unlock()
	d.log.Info("registered with the broker again", "worker", memberID(d.cfg.WorkerID, d.proc))
}

// fence is asked by tasks before they send or hand records on.
func (d *Distributed) fence() error {
	d.mu.Lock()
	last := d.lastRenew
	d.mu.Unlock()
	if age := time.Since(last); age > d.cfg.Lease {
		return fmt.Errorf("worker %s has not confirmed its cluster membership for %s (suspended or cut off from the broker); "+
			"its tasks stop until it has", d.cfg.WorkerID, age.Round(time.Second))
	}
	return nil
}

// repairClaims releases claims the status topic shows this worker holding for tasks it does
// not run (a release that was never written, or a claim from before a restart), so that
// their owners do not wait for them forever.
func (d *Distributed) repairClaims() {
	d.mu.Lock()
	var held []statusRecord
	for _, ts := range d.status.Tasks {
		for _, r := range ts {
			if d.mine(r) && !released(r.State) {
				held = append(held, r)
			}
		}
	}
	d.mu.Unlock()
	for _, r := range held {
		d.mu.Lock()
		lingers := d.lingering[taskKey{r.Connector, r.Task}] > 0
		d.mu.Unlock()
		if lingers {
			continue // released once it returns
		}
		if d.engine.runsTask(r.Connector, r.Inc, r.Task) {
			continue // also while a retired runtime's task stops: it releases the claim itself
		}
		// A release, not a claim: the record in force may be this worker's own claim.
		r.State, r.Trace, r.Claim, r.Prev = restapi.StateUnassigned, "", false, 0
		d.log.Info("releasing a task this worker does not run", "connector", r.Connector, "task", r.Task, "gen", r.Gen)
		d.report(r)
	}
}

func (d *Distributed) membersNow() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.members)
}
