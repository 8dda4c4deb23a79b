package worker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/rmqconnect/rmqconnect/scheduler"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// The management API of a distributed worker: reads answer from this worker's fold of the
// store topics (cluster-wide), writes go through the config topic and return once this
// worker has applied them.

var _ restapi.Management = (*Distributed)(nil)

const writeTimeout = 15 * time.Second

// ready fails writes until the worker has caught up with the store topics and joined.
func (d *Distributed) ready() error {
	select {
	case <-d.started:
	default:
		return fmt.Errorf("worker %s is still joining the cluster: %w", d.cfg.WorkerID, restapi.ErrRebalancing)
	}
	return d.engine.checkRunning()
}

// write stores a config record and maps the fold's verdict to the API's errors.
func (d *Distributed) write(ctx context.Context, r configRecord) error {
	if err := d.ready(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	off, err := d.writeConfigAt(ctx, r)
	if errors.Is(err, errStale) {
		return fmt.Errorf("%w: %w", restapi.ErrConflict, err)
	}
	if err != nil {
		return err
	}
	// Read-your-writes: this worker has acted on the record (stopped what it stops, set
	// the target its offsets API checks) before the call returns. The record is durable
	// already, so running out of time here is not an error.
	d.awaitReconciled(ctx, off)
	return nil
}

func (d *Distributed) connector(name string) (clusterConnector, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.config.Connectors[name]
	if c == nil {
		return clusterConnector{}, fmt.Errorf("connector %s: %w", name, restapi.ErrNotFound)
	}
	return *c, nil
}

// Connectors lists connector names.
func (d *Distributed) Connectors(context.Context) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Sorted(maps.Keys(d.config.Connectors)), nil
}

// ConnectorInfo returns a connector's config and tasks.
func (d *Distributed) ConnectorInfo(_ context.Context, name string) (restapi.ConnectorInfo, error) {
	c, err := d.connector(name)
	if err != nil {
		return restapi.ConnectorInfo{}, err
	}
	cfg, typ := d.engine.display(name, c.Config, c.Config)
	info := restapi.ConnectorInfo{Name: name, Config: cfg, Type: typ, Tasks: []restapi.TaskID{}}
	for i := range c.Tasks {
		info.Tasks = append(info.Tasks, restapi.TaskID{Connector: name, Task: i})
	}
	return info, nil
}

// ConnectorStatus returns the connector's and its tasks' states as their workers reported
// them; a unit nobody has reported for yet is UNASSIGNED on the worker it is assigned to.
func (d *Distributed) ConnectorStatus(_ context.Context, name string) (restapi.ConnectorStatus, error) {
	c, err := d.connector(name)
	if err != nil {
		return restapi.ConnectorStatus{}, err
	}
	_, typ := d.engine.display(name, c.Config, nil)
	d.mu.Lock()
	defer d.mu.Unlock()
	owner := d.owners[scheduler.Unit{Connector: name, Task: scheduler.ConnectorTask}]
	s := restapi.ConnectorStatus{Name: name, Type: typ, Tasks: []restapi.TaskState{}, Connector: restapi.StateInfo{State: restapi.StateUnassigned, WorkerID: owner}}
	if r, ok := d.status.Connectors[name][owner]; ok && r.Inc == c.Inc {
		s.Connector = restapi.StateInfo{State: r.State, WorkerID: r.Worker, Trace: r.Trace}
	}
	switch c.Target {
	case restapi.TargetStopped:
		s.Connector.State = restapi.StateStopped
		return s, nil
	case restapi.TargetPaused:
		if s.Connector.State != restapi.StateFailed {
			s.Connector.State = restapi.StatePaused
		}
	}
	for i := range c.Tasks {
		ts := restapi.TaskState{ID: i, StateInfo: restapi.StateInfo{State: restapi.StateUnassigned, WorkerID: d.owners[scheduler.Unit{Connector: name, Task: i}]}}
		if r, ok := d.status.task(name, c.Inc, i); ok {
			ts.StateInfo = restapi.StateInfo{State: r.State, WorkerID: r.Worker, Trace: r.Trace}
		}
		if c.Target == restapi.TargetPaused && ts.State != restapi.StateFailed {
			ts.State = restapi.StatePaused
		}
		s.Tasks = append(s.Tasks, ts)
	}
	return s, nil
}

// CreateConnector stores a new connector; its owner starts it.
func (d *Distributed) CreateConnector(ctx context.Context, name string, cfg map[string]string, initial restapi.TargetState) (restapi.ConnectorInfo, error) {
	if _, err := d.engine.validate(name, cfg); err != nil {
		return restapi.ConnectorInfo{}, err
	}
	if initial == "" {
		initial = restapi.TargetStarted
	}
	if err := d.write(ctx, configRecord{Type: recConnector, Name: name, Config: maps.Clone(cfg), Target: initial}); err != nil {
		return restapi.ConnectorInfo{}, err
	}
	return d.ConnectorInfo(ctx, name)
}

// PutConnectorConfig creates or replaces a connector's config (keeping its target state).
func (d *Distributed) PutConnectorConfig(ctx context.Context, name string, cfg map[string]string) (restapi.ConnectorInfo, bool, error) {
	if _, err := d.engine.validate(name, cfg); err != nil {
		return restapi.ConnectorInfo{}, false, err
	}
	var base int64
	if c, err := d.connector(name); err == nil {
		base = c.Epoch
	}
	if err := d.write(ctx, configRecord{Type: recConnector, Name: name, Config: maps.Clone(cfg), Base: base}); err != nil {
		if base == 0 && errors.Is(err, restapi.ErrAlreadyExists) {
			err = fmt.Errorf("%w: connector %s was created concurrently", restapi.ErrConflict, name)
		}
		return restapi.ConnectorInfo{}, false, err
	}
	info, err := d.ConnectorInfo(ctx, name)
	return info, base == 0, err
}

// PatchConnectorConfig merges set into the stored config and removes the keys in remove.
func (d *Distributed) PatchConnectorConfig(ctx context.Context, name string, set map[string]string, remove []string) (restapi.ConnectorInfo, error) {
	c, err := d.connector(name)
	if err != nil {
		return restapi.ConnectorInfo{}, err
	}
	cfg := maps.Clone(c.Config)
	for _, k := range remove {
		delete(cfg, k)
	}
	maps.Copy(cfg, set)
	if _, err := d.engine.validate(name, cfg); err != nil {
		return restapi.ConnectorInfo{}, err
	}
	if err := d.write(ctx, configRecord{Type: recConnector, Name: name, Config: cfg, Base: c.Epoch}); err != nil {
		return restapi.ConnectorInfo{}, err
	}
	return d.ConnectorInfo(ctx, name)
}

// DeleteConnector removes the connector everywhere, with its tasks, status and positions.
func (d *Distributed) DeleteConnector(ctx context.Context, name string) error {
	unlock := d.names.lock(name)
	defer unlock()
	c, err := d.connector(name)
	if err != nil {
		return err
	}
	if err := d.write(ctx, configRecord{Type: recDelete, Name: name, Inc: c.Inc}); err != nil {
		return err
	}
	// Positions and status of the incarnation are dead now (a re-created connector is a new
	// incarnation); clearing the positions and purging the status records frees their space
	// in every worker's fold (statusState.purge).
	if err := (clusterPositions{d: d, inc: c.Inc}).clear(name); err != nil {
		return err
	}
	// The delete is done: a purge that fails leaves the records in the folds (as before
	// purges), which the next delete of the name purges too.
	purge := statusRecord{Connector: name, Task: topicTask, Inc: c.Inc, Worker: d.cfg.WorkerID, Purge: true}
	if err := d.writeStatus(purge, deadline(ctx)); err != nil {
		d.log.Warn("deleted connector's status records not purged; they stay in every worker's status fold",
			"connector", name, "inc", c.Inc, "err", err)
	}
	return nil
}

// TaskConfigs returns the task configs the connector's owner published.
func (d *Distributed) TaskConfigs(_ context.Context, name string) ([]restapi.TaskInfo, error) {
	c, err := d.connector(name)
	if err != nil {
		return nil, err
	}
	out := []restapi.TaskInfo{}
	for i, tc := range c.Tasks {
		cfg, _ := d.engine.display(name, c.Config, tc)
		out = append(out, restapi.TaskInfo{ID: restapi.TaskID{Connector: name, Task: i}, Config: cfg})
	}
	return out, nil
}

// TaskStatus returns one task's state.
func (d *Distributed) TaskStatus(ctx context.Context, id restapi.TaskID) (restapi.TaskState, error) {
	s, err := d.ConnectorStatus(ctx, id.Connector)
	if err != nil {
		return restapi.TaskState{}, err
	}
	for _, ts := range s.Tasks {
		if ts.ID == id.Task {
			return ts, nil
		}
	}
	return restapi.TaskState{}, fmt.Errorf("task %s-%d: %w", id.Connector, id.Task, restapi.ErrNotFound)
}

// RestartConnector asks the workers running the connector (and, per req, its tasks) to
// restart them; it returns the status with the units it restarts shown RESTARTING.
func (d *Distributed) RestartConnector(ctx context.Context, name string, req restapi.RestartRequest) (restapi.ConnectorStatus, error) {
	c, err := d.connector(name)
	if err != nil {
		return restapi.ConnectorStatus{}, err
	}
	before, err := d.ConnectorStatus(ctx, name)
	if err != nil {
		return restapi.ConnectorStatus{}, err
	}
	if c.Target != restapi.TargetStarted {
		return before, nil
	}
	if err := d.write(ctx, configRecord{Type: recRestart, Name: name, Inc: c.Inc, IncludeTasks: req.IncludeTasks, OnlyFailed: req.OnlyFailed}); err != nil {
		return restapi.ConnectorStatus{}, err
	}
	if !req.OnlyFailed || before.Connector.State == restapi.StateFailed {
		before.Connector.State = restapi.StateRestarting
	}
	if req.IncludeTasks {
		for i := range before.Tasks {
			if !req.OnlyFailed || before.Tasks[i].State == restapi.StateFailed {
				before.Tasks[i].State = restapi.StateRestarting
			}
		}
	}
	return before, nil
}

// RestartTask asks the worker running the task to restart it.
func (d *Distributed) RestartTask(ctx context.Context, id restapi.TaskID) error {
	c, err := d.connector(id.Connector)
	if err != nil {
		return err
	}
	if id.Task < 0 || id.Task >= len(c.Tasks) {
		return fmt.Errorf("task %s-%d: %w", id.Connector, id.Task, restapi.ErrNotFound)
	}
	if c.Target != restapi.TargetStarted {
		return fmt.Errorf("connector %s is %s: %w", id.Connector, c.Target, restapi.ErrBadState)
	}
	return d.write(ctx, configRecord{Type: recRestartTask, Name: id.Connector, Inc: c.Inc, Task: id.Task})
}

func (d *Distributed) setTarget(ctx context.Context, name string, target restapi.TargetState) error {
	unlock := d.names.lock(name)
	defer unlock()
	c, err := d.connector(name)
	if err != nil {
		return err
	}
	return d.write(ctx, configRecord{Type: recTarget, Name: name, Inc: c.Inc, Target: target})
}

// PauseConnector pauses the connector's tasks everywhere.
func (d *Distributed) PauseConnector(ctx context.Context, name string) error {
	return d.setTarget(ctx, name, restapi.TargetPaused)
}

// ResumeConnector starts a paused or stopped connector again.
func (d *Distributed) ResumeConnector(ctx context.Context, name string) error {
	return d.setTarget(ctx, name, restapi.TargetStarted)
}

// StopConnector stops the connector and its tasks, keeping its config.
func (d *Distributed) StopConnector(ctx context.Context, name string) error {
	return d.setTarget(ctx, name, restapi.TargetStopped)
}

// AlterOffsets sets a STOPPED connector's offsets (engine.AlterOffsets); see offsetsChange.
func (d *Distributed) AlterOffsets(ctx context.Context, name string, offsets []restapi.ConnectorOffset) error {
	return d.offsetsChange(ctx, name, func() error { return d.engine.AlterOffsets(ctx, name, offsets) })
}

// ResetOffsets resets a STOPPED connector's offsets (engine.ResetOffsets); see offsetsChange.
func (d *Distributed) ResetOffsets(ctx context.Context, name string) error {
	return d.offsetsChange(ctx, name, func() error { return d.engine.ResetOffsets(ctx, name) })
}

// offsetsChange runs change, an offsets change of connector name, which the connector's
// tasks must not overwrite: none may run from its check that the connector is STOPPED to
// its last write. A target change or delete through this worker waits for it (the name
// lock). One through another worker cannot be held off, so it is found instead: the status
// topic is read to its end, then the config topic, before the check, so a task claimed
// before the check was claimed for a target the check sees; the status topic is read to
// its end again after the write, and a task claimed since the check (a higher generation)
// may have read the offsets the change replaced. The change stays written then, and the
// call fails with ErrConflict. (A deleted connector's incarnation keeps a late change from
// reaching a connector created again under its name: clusterPositions.)
func (d *Distributed) offsetsChange(ctx context.Context, name string, change func() error) error {
	unlock := d.names.lock(name)
	defer unlock()
	if err := d.ready(); err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	if err := d.statusLog.sync(sctx); err != nil {
		return fmt.Errorf("offsets of %s: %w: %w", name, restapi.ErrUnavailable, err)
	}
	gen := d.maxGen(name)
	if err := d.configLog.sync(sctx); err != nil {
		return fmt.Errorf("offsets of %s: %w: %w", name, restapi.ErrUnavailable, err)
	}
	c, err := d.connector(name)
	if err != nil {
		return err
	}
	if c.Target != restapi.TargetStopped {
		return notStopped(name, c.Target)
	}
	if err := change(); err != nil {
		return err
	}
	if err := d.statusLog.sync(sctx); err != nil {
		return fmt.Errorf("offsets of %s were changed, but whether a task started meanwhile is unknown: %w: %w", name, restapi.ErrUnavailable, err)
	}
	if d.maxGen(name) > gen {
		return fmt.Errorf("connector %s was resumed while its offsets were changed: the change is stored, but its tasks may "+
			"have started from the offsets it replaced; stop it and change them again: %w", name, restapi.ErrConflict)
	}
	return nil
}

// maxGen is the highest task generation of connector name in the status fold.
func (d *Distributed) maxGen(name string) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.status.MaxGen[name]
}

// Members returns the live workers of the cluster, sorted.
func (d *Distributed) Members(context.Context) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return workerIDs(d.members), nil
}

// Rebalancing reports whether this worker is applying an assignment change now.
func (d *Distributed) Rebalancing() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rebalancing
}

// Health is nil once the worker has joined and while its lease is valid.
func (d *Distributed) Health(context.Context) error {
	select {
	case <-d.started:
	default:
		return errors.New("starting: catching up with the store topics and joining the cluster")
	}
	return d.fence()
}
