package worker

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// replayLease is how long a replay taken in the config topic and never finished (its
// worker crashed, or lost its answer and could not give it up) keeps the record from being
// replayed again: far longer than one send takes. A var so that tests can shorten it.
var replayLease = 2 * time.Minute

// clusterReplays keeps DLQ replay records in the config topic.
type clusterReplays struct{ d *Distributed }

func (r clusterReplays) replayed(name string) map[string]restapi.ReplayInfo {
	r.d.mu.Lock()
	defer r.d.mu.Unlock()
	out := map[string]restapi.ReplayInfo{}
	if c := r.d.config.Connectors[name]; c != nil {
		for id, info := range c.Replays {
			if info.MsgID != "" {
				out[id] = info
			}
		}
	}
	return out
}

// begin takes the replay of key in the config topic, naming this process as its taker. A
// replay in progress elsewhere is taken over once it is stale (see stale) — by a record
// naming the take it replaces, so that every worker's fold agrees which take won without
// asking the clock or the membership; otherwise it is a *replayBusyError.
func (r clusterReplays) begin(ctx context.Context, name, key string, force bool) (replayTicket, error) {
	t := replayTicket{key: key, taker: memberID(r.d.cfg.WorkerID, r.d.proc), at: time.Now().UTC()}
	rec := configRecord{Type: recReplay, Name: name, ReplayID: key, Force: force, Taker: t.taker, Replay: &restapi.ReplayInfo{At: t.at}}
	r.d.mu.Lock()
	c := r.d.config.Connectors[name]
	if c != nil {
		rec.Inc = c.Inc
		if cur, ok := c.Replays[key]; ok && cur.MsgID == "" && !force {
			taker := c.Takers[key]
			if !r.staleLocked(taker, cur.At, t.at) {
				r.d.mu.Unlock()
				return t, &replayBusyError{taker: taker, since: cur.At}
			}
			rec.Takeover = &replayTake{Taker: taker, At: cur.At}
		}
	}
	r.d.mu.Unlock()
	return t, r.d.writeConfig(ctx, rec)
}

// staleLocked reports whether a take of taker at since may be taken over at now: its lease
// passed, its taker left the cluster, or it is this process's own (a replay runs under
// engine.replayMu, so a take of this process from an earlier call was left behind). Called
// with d.mu held.
func (r clusterReplays) staleLocked(taker string, since, now time.Time) bool {
	switch {
	case now.Sub(since) >= replayLease:
		return true
	case taker == "":
		return false // taken by a worker that does not name itself: only the lease frees it
	case taker == memberID(r.d.cfg.WorkerID, r.d.proc):
		return true
	default:
		return len(r.d.members) > 0 && !slices.Contains(r.d.members, taker)
	}
}

// finish records a done replay. The record was sent: it is recorded even when ctx has
// ended, else it would read as in progress and be sent again once its lease passed.
func (r clusterReplays) finish(ctx context.Context, name, key string, info restapi.ReplayInfo) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return r.d.writeConfig(ctx, configRecord{Type: recReplay, Name: name, Inc: r.d.incOf(name), ReplayID: key, Replay: &info})
}

func (r clusterReplays) abandon(name string, t replayTicket) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.d.writeConfig(ctx, configRecord{Type: recReplay, Name: name, Inc: r.d.incOf(name), ReplayID: t.key, Abandon: true,
		Taker: t.taker, Replay: &restapi.ReplayInfo{At: t.at}}); err != nil {
		r.d.log.Warn("a failed DLQ replay stays taken until its lease passes", "connector", name, "record", t.key,
			"lease", replayLease, "err", err)
	}
}

// replayTake names a take of a replay in the config fold: its taker (a member id) and when.
type replayTake struct {
	Taker string    `json:"taker,omitempty"`
	At    time.Time `json:"at"`
}

// replayBusyError: a replay of the record is in progress (taken and not finished), by taker
// since since. It wraps ErrAlreadyExists.
type replayBusyError struct {
	taker string
	since time.Time
}

func (e *replayBusyError) Error() string {
	by := "another worker"
	if e.taker != "" {
		by = "worker " + e.taker
	}
	return fmt.Sprintf("being replayed by %s since %s; replay it again once that replay ends, or after %s if it never does "+
		"(sooner if that worker leaves the cluster)", by, e.since.UTC().Format(time.RFC3339), replayLease)
}

func (e *replayBusyError) Unwrap() error { return restapi.ErrAlreadyExists }
