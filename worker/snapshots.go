package worker

import (
	"context"
	"encoding/json"
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
		if time.Since(last[i]) < d.cfg.SnapshotInterval {
			continue
		}
		if err := d.writeSnapshot(ctx, i, l); err != nil && ctx.Err() == nil {
			d.log.Warn("store topic snapshot not written", "topic", l.topic, "err", err)
		}
	}
}

// writeSnapshot appends the fold of store topic i as of the log's current offset.
func (d *Distributed) writeSnapshot(ctx context.Context, i int, l *storeLog) error {
	var body []byte
	var err error
	l.atomically(func(next int64) {
		body, err = d.snapshotBody(i, snapshotHeader{Through: next, At: time.Now().UTC()})
	})
	if err != nil {
		return err
	}
	if len(body) > maxSnapshotBytes {
		return fmt.Errorf("snapshot of %d bytes exceeds %d; a reader that loses the topic's start cannot rebuild it", len(body), maxSnapshotBytes)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	off, err := l.append(wctx, "", body)
	if err != nil {
		return err
	}
	d.log.Info("store topic snapshot written", "topic", l.topic, "offset", off, "bytes", len(body))
	return l.waitApplied(wctx, off)
}

// snapshotBody is the snapshot record of store topic i (config, status, position).
func (d *Distributed) snapshotBody(i int, h snapshotHeader) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch i {
	case 0:
		return json.Marshal(configRecord{Cluster: d.cfg.ClusterID, Type: recSnapshot, Worker: d.cfg.WorkerID, Snapshot: d.config, snapshotHeader: h})
	case 1:
		return json.Marshal(statusRecord{Cluster: d.cfg.ClusterID, Task: -1, Worker: d.cfg.WorkerID, Snapshot: d.status, snapshotHeader: h})
	default:
		return json.Marshal(positionRecord{Cluster: d.cfg.ClusterID, Snapshot: d.posState, snapshotHeader: h})
	}
}
