package worker

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/rmqconnect/rmqconnect/scheduler"
)

// applyConfig folds one config record (called by the config log in offset order).
func (d *Distributed) applyConfig(off int64, body []byte) error {
	var r configRecord
	if err := json.Unmarshal(body, &r); err != nil {
		d.log.Warn("config topic record ignored: not JSON", "offset", off, "err", err)
		return err
	}
	if err := d.foreign(0, r.Cluster); err != nil {
		return err
	}
	d.mu.Lock()
	if r.Type == recSnapshot && r.At.After(d.lastSnap[0]) {
		d.lastSnap[0] = r.At
	}
	err := d.config.apply(off, r)
	live := off >= d.configLive
	d.dirty = true
	d.mu.Unlock()
	if errors.Is(err, errCopy) {
		return nil // its writer's write was applied once, by the first copy
	}
	if err != nil {
		return err
	}
	if live && r.Type == recLogLevel {
		d.applyLogLevel(r)
	}
	d.trigger()
	if live && (r.Type == recRestart || r.Type == recRestartTask) {
		d.mu.Lock()
		stopping := d.stopping
		d.mu.Unlock()
		if !stopping {
			d.crew.Go(func() { d.carryOutRestart(r) })
		}
	}
	return nil
}

// applyStatus folds one status record and fences local tasks another worker has claimed.
func (d *Distributed) applyStatus(off int64, body []byte) error {
	var r statusRecord
	if err := json.Unmarshal(body, &r); err != nil {
		d.log.Warn("status topic record ignored: not JSON", "offset", off, "err", err)
		return err
	}
	if err := d.foreign(1, r.Cluster); err != nil {
		return err
	}
	d.mu.Lock()
	if r.Snapshot != nil && r.At.After(d.lastSnap[1]) {
		d.lastSnap[1] = r.At
	}
	// The sticky strategy's Rebalance reads the placement in force: a record that moves it
	// (a claim, a release, a connector taken or given up) is a new input, and every worker
	// reacts to it as it does to a config record. Otherwise a unit released on its way to a
	// worker whose view gave it elsewhere would wait for the periodic reconcile.
	_, sticky := d.strategy.(scheduler.Sticky)
	sticky = sticky && r.Snapshot == nil && (r.Task >= 0 || r.Task == scheduler.ConnectorTask)
	var before inForceMark
	if sticky {
		before = inForceMarkOf(d.status, r)
	}
	err := d.status.apply(r)
	placementMoved := sticky && err == nil && inForceMarkOf(d.status, r) != before
	d.dirty = true
	close(d.statusMoved)
	d.statusMoved = make(chan struct{})
	d.mu.Unlock()
	if placementMoved {
		d.trigger()
	}
	if err == nil && r.ResetTopics != "" {
		if rt := d.engine.lookup(r.Connector); rt != nil && rt.inc == r.Inc {
			rt.forgetTopics()
		}
	}
	if err == nil && r.Task >= 0 && !d.mine(r) {
		if rt := d.engine.lookup(r.Connector); rt != nil && rt.inc == r.Inc && rt.fenceTask(r.Task, r.Gen) {
			d.trigger() // if the task is still assigned here, it must be claimed again
		}
	}
	return err
}

func (d *Distributed) applyPosition(off int64, body []byte) error {
	var r positionRecord
	if err := decodeExact(body, &r); err != nil {
		d.log.Warn("position topic record ignored: not JSON", "offset", off, "err", err)
		return err
	}
	if err := d.foreign(2, r.Cluster); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if r.Snapshot != nil && r.At.After(d.lastSnap[2]) {
		d.lastSnap[2] = r.At
	}
	d.dirty = true
	return d.posState.apply(r)
}

// foreign returns an error when a record of store topic i was written by another cluster
// (records from before clusters were recorded have none and count as this cluster's);
// the first such record of each topic is logged with the key to set.
func (d *Distributed) foreign(i int, cluster string) error {
	if cluster == "" || cluster == d.cfg.ClusterID {
		return nil
	}
	d.mu.Lock()
	first := !d.foreignSeen[i]
	d.foreignSeen[i] = true
	d.mu.Unlock()
	if first {
		d.log.Warn("store topic shared with another cluster; its records are ignored, but each cluster should have its own topics",
			"topic", []string{d.cfg.ConfigTopic, d.cfg.StatusTopic, d.cfg.PositionTopic}[i], "cluster", cluster,
			"set", storeTopicKeys[i])
	}
	return fmt.Errorf("%w %s (set %s to a topic of its own)", errForeignRecord, cluster, storeTopicKeys[i])
}
