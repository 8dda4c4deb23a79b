package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"
)

// snapshotters let each store log adopt a snapshot record of its topic as its base.
func (d *Distributed) snapshotters() [3]*snapshotter {
	return [3]*snapshotter{
		{through: func(b []byte) (int64, bool) {
			var r configRecord
			if json.Unmarshal(b, &r) != nil || r.Type != recSnapshot || r.Snapshot == nil || d.foreign(0, r.Cluster) != nil {
				return 0, false
			}
			return r.Through, true
		}, adopt: func(b []byte) error {
			var r configRecord
			if err := json.Unmarshal(b, &r); err != nil {
				return err
			}
			if r.Snapshot.Connectors == nil {
				r.Snapshot.Connectors = map[string]*clusterConnector{}
			}
			d.mu.Lock()
			d.config, d.dirty = r.Snapshot, true
			d.mu.Unlock()
			return nil
		}},
		{through: func(b []byte) (int64, bool) {
			var r statusRecord
			if json.Unmarshal(b, &r) != nil || r.Snapshot == nil || d.foreign(1, r.Cluster) != nil {
				return 0, false
			}
			return r.Through, true
		}, adopt: func(b []byte) error {
			var r statusRecord
			if err := json.Unmarshal(b, &r); err != nil {
				return err
			}
			st := newStatusState()
			maps.Copy(st.Connectors, r.Snapshot.Connectors)
			maps.Copy(st.Tasks, r.Snapshot.Tasks)
			maps.Copy(st.MaxGen, r.Snapshot.MaxGen)
			st.Topics = maps.Clone(r.Snapshot.Topics)
			st.Purged = maps.Clone(r.Snapshot.Purged)
			d.mu.Lock()
			d.status, d.dirty = st, true
			d.mu.Unlock()
			return nil
		}},
		{through: func(b []byte) (int64, bool) {
			var r positionRecord
			if json.Unmarshal(b, &r) != nil || r.Snapshot == nil || d.foreign(2, r.Cluster) != nil {
				return 0, false
			}
			return r.Through, true
		}, adopt: func(b []byte) error {
			var r positionRecord
			if err := decodeExact(b, &r); err != nil {
				return err
			}
			ps := newPositionState()
			maps.Copy(ps.Cleared, r.Snapshot.Cleared)
			maps.Copy(ps.Connectors, r.Snapshot.Connectors)
			ps.normalize()
			d.mu.Lock()
			d.posState, d.dirty = ps, true
			d.mu.Unlock()
			return nil
		}},
	}
}

// snapshotLoop has the first member (by id) append a snapshot of each store topic's fold
// whenever the topic's newest snapshot is older than SnapshotInterval.
func (d *Distributed) snapshotLoop(ctx context.Context) {
	check := min(time.Minute, d.cfg.SnapshotInterval/4)
	t := time.NewTicker(check)
	defer t.Stop()
	for {
		d.snapshotDue(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (d *Distributed) snapshotDue(ctx context.Context) {
	d.mu.Lock()
	first := len(d.members) > 0 && d.members[0] == memberID(d.cfg.WorkerID, d.proc)
	last := d.lastSnap
	d.mu.Unlock()
	if !first {
		return
	}
	for i, l := range []*storeLog{d.configLog, d.statusLog, d.positionLog} {
		if time.Since(last[i]) < d.cfg.SnapshotInterval || time.Since(d.tooBigAt[i]) < d.cfg.SnapshotInterval {
			continue
		}
		err := d.writeSnapshot(ctx, i, l)
		var big *snapshotTooBigError
		switch {
		case errors.As(err, &big):
			// Refused at every interval until the fold shrinks: once the broker's retention
			// deletes the topic's start, a worker without a cache rebuilds only part of it.
			d.tooBigAt[i] = time.Now()
			d.log.Error("store topic snapshot too big to write", "topic", l.topic, "bytes", big.bytes, "max_bytes", big.max)
		case err != nil && ctx.Err() == nil:
			d.log.Warn("store topic snapshot not written", "topic", l.topic, "err", err)
		}
	}
}

// writeSnapshot appends the fold of store topic i as of the log's current offset.
func (d *Distributed) writeSnapshot(ctx context.Context, i int, l *storeLog) error {
	var body []byte
	var traces string
	var err error
	l.atomically(func(next int64) {
		body, traces, err = d.fittingSnapshot(i, snapshotHeader{Through: next, At: time.Now().UTC()})
	})
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	off, err := l.append(wctx, "", body)
	if err != nil {
		return err
	}
	attrs := []any{"topic", l.topic, "offset", off, "bytes", len(body)}
	if traces != "" {
		attrs = append(attrs, "traces", traces)
	}
	d.log.Info("store topic snapshot written", attrs...)
	return l.waitApplied(wctx, off)
}

// snapshotTraceCut is the size each trace is cut to in a status snapshot that does not fit
// maxSnapshotBytes with whole traces.
const snapshotTraceCut = 2 << 10

// fittingSnapshot is the snapshot record of store topic i, at most maxSnapshotBytes. A
// status fold too big for that with whole traces is written with each trace cut to
// snapshotTraceCut, or else with none (traces says which: "cut" or "dropped"); a trace is
// only ever shown (a connector's or task's status), so a worker that adopts such a
// snapshot decides as the writer does, and shows the trace so until its unit reports again.
func (d *Distributed) fittingSnapshot(i int, h snapshotHeader) (body []byte, traces string, err error) {
	body, err = d.snapshotBody(i, h)
	if err != nil || len(body) <= maxSnapshotBytes {
		return body, "", err
	}
	if i == 1 {
		for _, try := range []struct {
			limit  int
			traces string
		}{{snapshotTraceCut, "cut"}, {0, "dropped"}} {
			d.mu.Lock()
			body, err = d.statusSnapshotBody(d.status.tracesCut(try.limit), h)
			d.mu.Unlock()
			if err != nil || len(body) <= maxSnapshotBytes {
				return body, try.traces, err
			}
		}
	}
	return nil, "", &snapshotTooBigError{bytes: len(body), max: maxSnapshotBytes}
}

// snapshotTooBigError: a store topic's fold is larger than one snapshot record may be, even
// without the status fold's traces (bytes is the smallest form tried).
type snapshotTooBigError struct{ bytes, max int }

func (e *snapshotTooBigError) Error() string {
	return fmt.Sprintf("snapshot of %d bytes exceeds %d; a reader that loses the topic's start cannot rebuild it", e.bytes, e.max)
}

// tracesCut is a copy of the fold for a snapshot, with every connector's and task's trace
// cut to limit bytes (marked as cut), or dropped when limit is 0. The fold is not changed.
func (s *statusState) tracesCut(limit int) *statusState {
	cp := *s
	cp.Connectors = make(map[string]map[string]statusRecord, len(s.Connectors))
	for name, byWorker := range s.Connectors {
		cp.Connectors[name] = recordsTracesCut(byWorker, limit)
	}
	cp.Tasks = make(map[string]map[int]statusRecord, len(s.Tasks))
	for name, byTask := range s.Tasks {
		cp.Tasks[name] = recordsTracesCut(byTask, limit)
	}
	return &cp
}

func recordsTracesCut[K comparable](rs map[K]statusRecord, limit int) map[K]statusRecord {
	out := make(map[K]statusRecord, len(rs))
	for k, r := range rs {
		r.Trace = snapshotTrace(r.Trace, limit)
		out[k] = r
	}
	return out
}

// snapshotTrace is trace cut to at most limit bytes, its end saying so ("" when limit is 0).
func snapshotTrace(trace string, limit int) string {
	if len(trace) <= limit {
		return trace
	}
	if limit == 0 {
		return ""
	}
	return cutMarked(trace, limit, "cut in a status snapshot")
}

// snapshotBody is the snapshot record of store topic i (config, status, position).
func (d *Distributed) snapshotBody(i int, h snapshotHeader) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch i {
	case 0:
		return json.Marshal(configRecord{Cluster: d.cfg.ClusterID, Type: recSnapshot, Worker: d.cfg.WorkerID, Snapshot: d.config, snapshotHeader: h})
	case 1:
		return d.statusSnapshotBody(d.status, h)
	default:
		return json.Marshal(positionRecord{Cluster: d.cfg.ClusterID, Snapshot: d.posState, snapshotHeader: h})
	}
}

// statusSnapshotBody is the snapshot record of status fold st. d.mu is held.
func (d *Distributed) statusSnapshotBody(st *statusState, h snapshotHeader) ([]byte, error) {
	return json.Marshal(statusRecord{Cluster: d.cfg.ClusterID, Task: -1, Worker: d.cfg.WorkerID, Snapshot: st, snapshotHeader: h})
}
