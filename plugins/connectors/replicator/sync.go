package replicator

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
)

// OffsetSync records that the message at Upstream in a source queue was stored at
// Downstream in a target queue. The replicator writes one (as JSON) to the offset-syncs
// topic at least every offset.lag.max messages of a queue, for its first message and
// whenever it reaches the end of the queue.
type OffsetSync struct {
	Cluster      string `json:"cluster"` // the source cluster's alias
	Topic        string `json:"topic"`
	Broker       string `json:"broker"`
	Queue        int    `json:"queue"`
	Upstream     int64  `json:"upstream"`
	TargetTopic  string `json:"targetTopic"`
	TargetBroker string `json:"targetBroker"`
	TargetQueue  int    `json:"targetQueue"`
	Downstream   int64  `json:"downstream"`
}

// Checkpoint is a consumer group's committed offset in a source queue and its translation
// to a target queue the source queue is replicated to, written (as JSON) to the checkpoints
// topic. Upstream and Downstream are "next offset to consume". A source queue whose copies
// went to several target queues after the group's offset (it moved) has a checkpoint on
// each: the group resumes on every one of them.
type Checkpoint struct {
	Group        string `json:"group"`
	Cluster      string `json:"cluster"`
	Topic        string `json:"topic"`
	Broker       string `json:"broker"`
	Queue        int    `json:"queue"`
	Upstream     int64  `json:"upstream"`
	TargetTopic  string `json:"targetTopic"`
	TargetBroker string `json:"targetBroker"`
	TargetQueue  int    `json:"targetQueue"`
	Downstream   int64  `json:"downstream"`
	Timestamp    int64  `json:"timestamp"` // ms, when the checkpoint was made
}

func decodeSync(b []byte) (OffsetSync, error) {
	var s OffsetSync
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%w: %w", ErrBadSync, err)
	}
	if s.Cluster == "" || s.Topic == "" || s.TargetTopic == "" || s.Upstream < 0 || s.Downstream < 0 {
		return s, fmt.Errorf("%w: %s", ErrBadSync, b)
	}
	return s, nil
}

// srcQueue names a source queue across clusters: by alias, never by broker cluster name.
type srcQueue struct {
	cluster, topic, broker string
	queue                  int
}

// syncStore keeps, per source queue, offset syncs sorted by upstream offset. Older syncs
// are thinned once a queue holds more than maxSyncs, keeping recent ones dense and every
// sync whose target queue differs from the one before it: the first copy on a queue the
// source queue moved to, which ahead needs exactly.
type syncStore struct {
	m map[srcQueue][]OffsetSync
}

const maxSyncs = 4096

func newSyncStore() *syncStore { return &syncStore{m: map[srcQueue][]OffsetSync{}} }

func (s *syncStore) add(x OffsetSync) {
	k := srcQueue{x.Cluster, x.Topic, x.Broker, x.Queue}
	l := s.m[k]
	i := sort.Search(len(l), func(i int) bool { return l[i].Upstream >= x.Upstream })
	if i < len(l) && l[i].Upstream == x.Upstream {
		// A replay after a crash stores the message again: the newer sync wins, as a
		// consumer on the target reads the later copy too.
		if x.TargetQueue == l[i].TargetQueue && x.TargetTopic == l[i].TargetTopic && x.Downstream < l[i].Downstream {
			return
		}
		l[i] = x
		return
	}
	l = append(l, OffsetSync{})
	copy(l[i+1:], l[i:])
	l[i] = x
	if len(l) > maxSyncs {
		half := len(l) / 2
		kept := l[:0]
		var prev OffsetSync
		for j, y := range l {
			if j >= half || j%2 == 0 || !sameTarget(y, prev) {
				kept = append(kept, y)
			}
			prev = y
		}
		l = kept
	}
	s.m[k] = l
}

// sameTarget reports whether two syncs name one target queue.
func sameTarget(a, b OffsetSync) bool {
	return a.TargetTopic == b.TargetTopic && a.TargetBroker == b.TargetBroker && a.TargetQueue == b.TargetQueue
}

// translate returns where a consumer that will next read upstream offset next in q should
// resume on the target: the sync of the nearest message at or before next gives it; when
// the group is exactly at that message it resumes at it, otherwise just after it (the
// messages between are read again, none is skipped). ok is false when no sync is at or
// before next (replication has not reached it, or started later).
func (s *syncStore) translate(q srcQueue, next int64) (sync OffsetSync, downstream int64, ok bool) {
	l := s.m[q]
	i := sort.Search(len(l), func(i int) bool { return l[i].Upstream > next }) - 1
	if i < 0 {
		return OffsetSync{}, 0, false
	}
	sync = l[i]
	if sync.Upstream == next {
		return sync, sync.Downstream, true
	}
	return sync, sync.Downstream + 1, true
}

// first returns the earliest sync of q.
func (s *syncStore) first(q srcQueue) (OffsetSync, bool) {
	l := s.m[q]
	if len(l) == 0 {
		return OffsetSync{}, false
	}
	return l[0], true
}

// ahead returns, for a consumer that will next read upstream offset next in q and resumes on
// from's target queue (from is translate's sync, or first's), the syncs of the other target
// queues copies of q went to from next on (q moved: see sourceTask.CommitRecord), one per
// queue, in upstream order: on each, the one with the lowest downstream offset, where the
// consumer must resume there to skip none of them. The sync written at a move is the first
// copy on the new queue, so a consumer behind the move resumes there at that copy.
func (s *syncStore) ahead(q srcQueue, next int64, from OffsetSync) []OffsetSync {
	l := s.m[q]
	var out []OffsetSync
	for _, x := range l[sort.Search(len(l), func(i int) bool { return l[i].Upstream > next }):] {
		if sameTarget(x, from) {
			continue
		}
		i := slices.IndexFunc(out, func(y OffsetSync) bool { return sameTarget(x, y) })
		switch {
		case i < 0:
			out = append(out, x)
		case x.Downstream < out[i].Downstream:
			out[i] = x
		}
	}
	return out
}
