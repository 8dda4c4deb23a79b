package worker

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// replayLease is how long a replay taken in the config topic and never finished (its
// worker crashed, or lost its answer and could not give it up) keeps the record from being
// replayed again: far longer than one send takes. A var so that tests can shorten it.
var replayLease = 2 * time.Minute

// clusterReplays keeps DLQ replay records in the config topic: the takes of replays in
// progress, by replayKey, in clusterConnector.Replays (with Takers), and the done ones of
// the connector's DLQ topic in clusterConnector.Replayed (a replay of a former DLQ topic
// that finishes after the topic was changed only ends its take). The connector's Replays
// also holds, done, the replay records of earlier releases (keys with ids of the earlier
// form) until the broker's retention deletes their records.
type clusterReplays struct{ d *Distributed }

func (r clusterReplays) replayed(name string) *dlqReplays {
	r.d.mu.Lock()
	defer r.d.mu.Unlock()
	out := &dlqReplays{}
	c := r.d.config.Connectors[name]
	if c == nil {
		return out
	}
	if c.Replayed != nil {
		out = c.Replayed.clone()
	}
	for key, info := range c.Replays {
		if info.MsgID != "" {
			if out.Legacy == nil {
				out.Legacy = map[string]restapi.ReplayInfo{}
			}
			out.Legacy[key] = info
		}
	}
	return out
}

// begin takes the replay of ref in the config topic, naming this process as its taker. A
// replay in progress elsewhere is taken over once it is stale (see stale) — by a record
// naming the take it replaces, so that every worker's fold agrees which take won without
// asking the clock or the membership; otherwise it is a *replayBusyError.
func (r clusterReplays) begin(ctx context.Context, name string, ref replayRef, force bool) (replayTicket, error) {
	key := ref.key
	t := replayTicket{key: key, taker: memberID(r.d.cfg.WorkerID, r.d.proc), at: time.Now().UTC()}
	rec := configRecord{Type: recReplay, Name: name, ReplayID: key, Stored: ref.stored, Force: force, Taker: t.taker,
		Replay: &restapi.ReplayInfo{At: t.at}}
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
func (r clusterReplays) finish(ctx context.Context, name string, ref replayRef, info restapi.ReplayInfo) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return r.d.writeConfig(ctx, configRecord{Type: recReplay, Name: name, Inc: r.d.incOf(name), ReplayID: ref.key, Stored: ref.stored,
		Prev: ref.prev, Replay: &info})
}

func (r clusterReplays) prune(ctx context.Context, name, topic string, floors map[string]int64) error {
	return r.d.writeConfig(ctx, configRecord{Type: recReplayFloor, Name: name, Inc: r.d.incOf(name),
		Floors: &replayFloors{Topic: topic, Queues: floors}})
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

// replayFloors are the first offsets the broker's retention kept of a DLQ topic's queues
// (by queueKey), below which the replay records of its records go (recReplayFloor).
type replayFloors struct {
	Topic  string           `json:"topic"`
	Queues map[string]int64 `json:"queues"`
}

// Takes of replays in progress are dropped replayRetention after they were made (by the
// time in the record being folded, so that every worker drops alike): long after their
// lease let another replay take them over, so only takes never finished nor given up
// (their worker crashed) go, and nothing is sent because they did. A done replay is only
// dropped once its record is gone (foldReplayFloors).
const replayRetention = 7 * 24 * time.Hour

// foldReplay folds a recReplay record of the connector, r.Replay set: a take (no MsgID), a
// done replay or a give-up (Abandon). See clusterReplays.
func (c *clusterConnector) foldReplay(r configRecord) error {
	key := r.ReplayID
	if !r.Replay.At.IsZero() {
		for k, info := range c.Replays {
			if info.MsgID == "" && info.At.Before(r.Replay.At.Add(-replayRetention)) {
				delete(c.Replays, k)
				delete(c.Takers, k)
			}
		}
	}
	cur, taken := c.Replays[key]
	inProgress := taken && cur.MsgID == ""
	if r.Abandon {
		// Only the take it names: a late give-up must not free a take made since.
		if inProgress && c.Takers[key] == r.Taker && cur.At.Equal(r.Replay.At) {
			delete(c.Replays, key)
			delete(c.Takers, key)
		}
		return nil
	}
	topic, id, placed := parseReplayKey(key)
	if r.Replay.MsgID == "" && !r.Force {
		_, done := c.Replayed.run(topic, id, r.Stored)
		if taken && !inProgress || placed && done {
			return fmt.Errorf("dlq record %s of %s: %w", key, r.Name, restapi.ErrAlreadyExists)
		}
		if inProgress {
			if t := r.Takeover; t == nil || t.Taker != c.Takers[key] || !t.At.Equal(cur.At) {
				return fmt.Errorf("dlq record %s of %s: %w", key, r.Name, &replayBusyError{taker: c.Takers[key], since: cur.At})
			}
		}
	}
	if r.Replay.MsgID != "" && placed {
		delete(c.Replays, key)
		delete(c.Takers, key)
		if topic != c.dlqTopic() {
			// A replay of a former DLQ topic of the connector, finished after the topic was
			// changed: it ends its take and is not kept. Replayed keeps one topic's records, so
			// keeping it would drop the current topic's, and their records would be sent again.
			return nil
		}
		if c.Replayed == nil {
			c.Replayed = &dlqReplays{}
		}
		c.Replayed.add(topic, id, r.Stored, r.Prev, *r.Replay)
		return nil
	}
	if c.Replays == nil {
		c.Replays = map[string]restapi.ReplayInfo{}
	}
	c.Replays[key] = *r.Replay
	if r.Replay.MsgID == "" && r.Taker != "" {
		if c.Takers == nil {
			c.Takers = map[string]string{}
		}
		c.Takers[key] = r.Taker
	} else {
		delete(c.Takers, key)
	}
	return nil
}

// dlqTopic is the connector's DLQ topic as its config names it ("" for none).
func (c *clusterConnector) dlqTopic() string {
	return strings.TrimSpace(c.Config["errors.deadletterqueue.topic.name"])
}

// foldReplayFloors drops the replay records, done or taken, of the records below f.
func (c *clusterConnector) foldReplayFloors(f replayFloors) {
	c.Replayed.prune(f.Topic, f.Queues)
	for key := range c.Replays {
		topic, id, placed := parseReplayKey(key)
		var gone bool
		if placed {
			floor, ok := f.Queues[id.queueKey()]
			gone = topic == f.Topic && ok && id.offset < floor
		} else {
			gone = legacyOfTopic(key, f.Topic) && legacyGone(key, f.Queues)
		}
		if gone {
			delete(c.Replays, key)
			delete(c.Takers, key)
		}
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
