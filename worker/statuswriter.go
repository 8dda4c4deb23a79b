package worker

import (
	"context"
	"encoding/json"
	"time"
)

// flushTimeout bounds how long a stopping worker spends writing its last status records.
const flushTimeout = 10 * time.Second

// statusWriter writes the pending status records, each task's (and connector's) latest,
// retrying a failed write with backoff until it is stored; it returns once nothing is
// pending after reports were closed, or at flushBy with what could not be written logged.
func (d *Distributed) statusWriter() {
	backoff := d.statusBackoff
	failing := false
	for {
		d.reportMu.Lock()
		closed, flushBy := d.reportsClosed, d.flushBy
		if len(d.pendingOrder) == 0 {
			d.reportMu.Unlock()
			if closed {
				return
			}
			<-d.reportWake
			continue
		}
		key := d.pendingOrder[0]
		r := d.pending[key]
		d.reportMu.Unlock()
		if !flushBy.IsZero() && !time.Now().Before(flushBy) {
			d.abandonPending()
			return
		}
		err := d.writeStatus(r, flushBy)
		if err == nil {
			d.reportMu.Lock()
			if d.pending[key] == r {
				delete(d.pending, key)
				d.pendingOrder = d.pendingOrder[1:]
			} // else a newer state came meanwhile: it is written next
			d.reportMu.Unlock()
			if failing {
				d.log.Info("status topic writable again")
			}
			backoff, failing = d.statusBackoff, false
			continue
		}
		if !failing {
			d.log.Warn("status not written; retrying until it is", "connector", r.Connector, "task", r.Task, "state", r.State, "err", err)
		}
		failing = true
		wait := time.NewTimer(backoff)
		select {
		case <-wait.C:
		case <-d.reportWake: // a newer state or the close: retry at once (the close bounds it by flushBy)
		}
		wait.Stop()
		backoff = min(backoff*2, 5*time.Second)
	}
}

// maxStatusTrace bounds the trace a status record carries. A trace is an error's text, and
// one that quotes what failed (a statement, a payload) can be any size: a record larger than
// RocketMQ takes would be refused on every try, and the records queued behind it (other
// tasks' releases, which handovers wait for) would never be written.
const maxStatusTrace = 64 << 10

// writeStatus stores one status record, within flushBy when it is set; its trace is cut to
// maxStatusTrace, which every worker's status view shows.
func (d *Distributed) writeStatus(r statusRecord, flushBy time.Time) error {
	r.Cluster, r.Proc = d.cfg.ClusterID, d.proc
	r.Trace = cutValue(r.Trace, maxStatusTrace)
	body, err := json.Marshal(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if !flushBy.IsZero() {
		// Shutting down: what is left must not hold the exit up when the broker is gone.
		cancel()
		ctx, cancel = context.WithDeadline(context.Background(), flushBy)
	}
	defer cancel()
	_, err = d.appendStatus(ctx, r.Connector, body)
	return err
}

// abandonPending logs the status records a stopping worker could not write in time.
func (d *Distributed) abandonPending() {
	d.reportMu.Lock()
	defer d.reportMu.Unlock()
	for _, k := range d.pendingOrder {
		r := d.pending[k]
		d.log.Warn("status not written before the worker stopped", "connector", r.Connector, "task", r.Task, "state", r.State)
	}
	d.pending, d.pendingOrder = map[taskKey]statusRecord{}, nil
}

func (d *Distributed) wakeWriter() {
	select {
	case d.reportWake <- struct{}{}:
	default:
	}
}

// report serves clusterPlacement: r replaces whatever is pending for its task.
func (d *Distributed) report(r statusRecord) {
	d.reportMu.Lock()
	if d.reportsClosed {
		d.reportMu.Unlock()
		return // an abandoned task reporting after the worker stopped
	}
	key := taskKey{r.Connector, r.Task}
	if r.Task == topicTask {
		key = topicKey(r)
	}
	if _, ok := d.pending[key]; !ok {
		d.pendingOrder = append(d.pendingOrder, key)
	}
	d.pending[key] = r
	d.reportMu.Unlock()
	d.wakeWriter()
}
