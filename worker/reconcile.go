package worker

import (
	"context"
	"errors"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/rmqconnect/rmqconnect/scheduler"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

func (d *Distributed) trigger() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

func (d *Distributed) reconcileLoop(ctx context.Context) {
	d.trigger()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.kick:
			d.reconcile()
		}
	}
}

// reconcile computes the assignment from the members and the config fold (with the sticky
// strategy, and the placement in force of the status fold) and moves every local connector
// runtime to it.
func (d *Distributed) reconcile() {
	began := time.Now()
	through := d.configLog.position() // the fold below includes every record before it
	d.mu.Lock()
	members := workerIDs(d.members)
	conns := make(map[string]clusterConnector, len(d.config.Connectors))
	var units []scheduler.Unit
	for name, c := range d.config.Connectors {
		conns[name] = *c
		units = append(units, scheduler.Unit{Connector: name, Task: scheduler.ConnectorTask})
		for i := range c.Tasks {
			units = append(units, scheduler.Unit{Connector: name, Task: i})
		}
	}
	sticky, isSticky := d.strategy.(scheduler.Sticky)
	var current scheduler.Assignment
	if isSticky {
		current = placementInForce(d.members, conns, d.status)
	}
	d.mu.Unlock()
	var assignment scheduler.Assignment
	if len(members) > 0 {
		var a scheduler.Assignment
		var err error
		if isSticky {
			a, err = sticky.Rebalance(members, units, current)
		} else {
			a, err = d.strategy.Assign(members, units)
		}
		if err != nil {
			d.log.Error("assignment failed", "err", err)
			return
		}
		assignment = a
	}
	owners := assignment.Owners()
	d.mu.Lock()
	changed := !assignmentEqual(d.assignment, assignment)
	d.assignment, d.owners = assignment, owners
	if changed {
		d.rebalancing = true
	}
	d.mu.Unlock()

	me := d.cfg.WorkerID
	retire := d.engine.retire(func(rt *connRuntime) bool {
		c, ok := conns[rt.name]
		return ok && c.Epoch == rt.epoch
	})
	var retiring errgroup.Group
	for _, rt := range retire {
		retiring.Go(func() error {
			rt.shutdownReleasing()
			d.engine.retired(rt)
			if _, still := conns[rt.name]; !still {
				d.engine.metrics.forget(me, rt.name)
			}
			return nil
		})
	}
	_ = retiring.Wait()

	var syncing errgroup.Group

	for name, c := range conns {
		want := desiredConn{target: c.Target, ownConn: owners[scheduler.Unit{Connector: name, Task: scheduler.ConnectorTask}] == me,
			tasks: c.Tasks, tasksVersion: c.TasksVersion, ownTasks: map[int]bool{}}
		for i := range c.Tasks {
			if owners[scheduler.Unit{Connector: name, Task: i}] == me {
				want.ownTasks[i] = true
			}
		}
		rt := d.engine.lookup(name)
		if rt == nil {
			// Resolving reads files and validating runs the plugin's Validate: neither
			// under a lock. Only this loop adds runtimes, so none appears meanwhile.
			fresh, err := d.engine.newRuntime(name, c.Config, resolveConfig(d.engine.cfg.Secrets, c.Config), false)
			if err != nil {
				d.log.Error("connector of the config topic cannot run on this worker", "connector", name, "err", err)
				continue
			}
			fresh.epoch, fresh.inc = c.Epoch, c.Inc
			rt = d.engine.adopt(fresh)
		}
		syncing.Go(func() error { rt.syncDistributed(want); return nil })
	}
	_ = syncing.Wait()
	if changed {
		d.engine.metrics.rebalanced(me, time.Since(began))
		d.log.Info("assignment applied", "units", assignment.Len(), "mine", len(assignment[me]),
			"members", members, "took", time.Since(began).Round(time.Millisecond))
	}
	d.mu.Lock()
	d.rebalancing = false
	if through > d.reconciled {
		d.reconciled = through
		close(d.reconMoved)
		d.reconMoved = make(chan struct{})
	}
	d.mu.Unlock()
}

// awaitReconciled waits until the config record at off has been acted on here.
func (d *Distributed) awaitReconciled(ctx context.Context, off int64) {
	for {
		d.mu.Lock()
		done, moved := d.reconciled > off, d.reconMoved
		d.mu.Unlock()
		if done {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-moved:
		}
	}
}

func assignmentEqual(a, b scheduler.Assignment) bool {
	if len(a) != len(b) {
		return false
	}
	for w, us := range a {
		if !slices.Equal(us, b[w]) {
			return false
		}
	}
	return true
}

// carryOutRestart applies a live restart record to what runs here.
func (d *Distributed) carryOutRestart(r configRecord) {
	rt := d.engine.lookup(r.Name)
	if rt == nil || rt.inc != r.Inc {
		return
	}
	if r.Type == recRestartTask {
		rt.restartTaskDistributed(r.Task)
		return
	}
	rt.restartDistributed(restapi.RestartRequest{IncludeTasks: r.IncludeTasks, OnlyFailed: r.OnlyFailed})
}

// publishTasks serves clusterPlacement.
func (d *Distributed) publishTasks(name string, epoch int64, cfgs []map[string]string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if cfgs == nil {
		cfgs = []map[string]string{}
	}
	err := d.writeConfig(ctx, configRecord{Type: recTasks, Name: name, Epoch: epoch, Tasks: cfgs})
	if errors.Is(err, errStale) {
		return nil // the config changed meanwhile: the new epoch's owner publishes
	}
	return err
}
