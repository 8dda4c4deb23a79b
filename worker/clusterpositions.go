package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// clusterPositions is the PositionStore of the position topic, for one task incarnation
// (inc, gen) or, with inc 0, for the offsets API (the connector's current incarnation).
type clusterPositions struct {
	d   *Distributed
	inc int64
	gen int64
	// run marks the store of a run of task under claim gen (forTask): its commits are
	// written only while that claim is in force.
	run  bool
	task int
}

// errPositionsFenced: a task run's commit was not written because the run no longer owns
// the task (its claim was replaced).
var errPositionsFenced = errors.New("positions fenced")

// errClaimBehind: a task run's commit was refused for partitions whose stored positions
// carry a higher generation than the run's claim, which is still in force. The run must
// not go on committing what will never be stored (nor tell its task that it was): it
// fails, and its restart claims the task again, with a generation above them.
var errClaimBehind = errors.New("the task's claim is older than positions stored for its partitions")

// forTask returns ps, when it is a cluster store of a task run, as the store of task id's
// run: fenced by that run's claim. Other stores are returned as they are.
func forTask(ps PositionStore, id int) PositionStore {
	if p, ok := ps.(clusterPositions); ok && p.gen > 0 {
		p.run, p.task = true, id
		return p
	}
	return ps
}

// positionsRefused reports whether err is a position store's refusal of a commit that
// retrying cannot change: the run no longer owns the positions it commits.
func positionsRefused(err error) bool {
	return errors.Is(err, errStale) || errors.Is(err, errPositionsFenced)
}

func (p clusterPositions) incOf(name string) int64 {
	if p.inc != 0 {
		return p.inc
	}
	return p.d.incOf(name)
}

// incOf returns the incarnation of connector name in force, 0 when there is none.
func (d *Distributed) incOf(name string) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c := d.config.Connectors[name]; c != nil {
		return c.Inc
	}
	return 0
}

func (p clusterPositions) Get(name string, partition map[string]any) (map[string]any, error) {
	k, err := partitionKey(partition)
	if err != nil {
		return nil, err
	}
	inc := p.incOf(name)
	p.d.mu.Lock()
	defer p.d.mu.Unlock()
	cp := p.d.posState.Connectors[name]
	if cp == nil || cp.Inc != inc {
		return nil, nil
	}
	return cloneAny(cp.Parts[k].Offset), nil
}

func (p clusterPositions) All(name string) ([]plugins.PartitionPosition, error) {
	inc := p.incOf(name)
	p.d.mu.Lock()
	defer p.d.mu.Unlock()
	return p.d.posState.all(name, inc), nil
}

// Put stores positions in the position topic and returns once this worker has applied them.
//
// A task run's commit is written only while its claim is in force: the commit of a run
// another worker's claim has fenced (stopping, or not told yet) fails with
// errPositionsFenced and writes nothing. A graceful stop's last commit passes: the claim is
// released after it. A lapsed lease alone does not fence a commit: a stopping worker renews
// it no more while its tasks stop (up to their stop timeout, longer than the lease), and a
// commit is the run's own acknowledged prefix, so one written before the next holder's
// claim applies costs nothing but records sent again. The check and the write are not atomic: a claim applied
// between them lets through one commit of the older generation, which the new holder's
// first commit replaces (it resumed from what it read, at worst sending records again).
// When the fold refuses the commit or some of its partitions, the error says why: the claim
// is no longer in force, or belongs to an incarnation of the connector that was deleted
// (errPositionsFenced); or it is in force but below what the fold holds (errClaimBehind):
// partitions at a higher generation, or an offsets change's floor set after it was claimed
// (a resume through another worker raced the change), which a claim above them mends.
func (p clusterPositions) Put(name string, ps []plugins.PartitionPosition) error {
	if err := p.fenced(name); err != nil {
		return err
	}
	err := p.write(positionRecord{Connector: name, Inc: p.incOf(name), Gen: p.gen, Positions: entries(ps)})
	if !p.run || !errors.Is(err, errStale) {
		return err
	}
	if ferr := p.fenced(name); ferr != nil {
		return fmt.Errorf("%w (%w)", ferr, err)
	}
	var behind *stalePositionsError
	if errors.As(err, &behind) || errors.Is(err, errBelowFloor) {
		return fmt.Errorf("task %s-%d: %w: %w", name, p.task, errClaimBehind, err)
	}
	return fmt.Errorf("task %s-%d: %w (%w)", name, p.task, errPositionsFenced, err)
}

// fenced returns an error wrapping errPositionsFenced when p is a task run's store and the
// run's claim is no longer in force.
func (p clusterPositions) fenced(name string) error {
	if !p.run || p.d.holdsClaim(name, p.inc, p.task, p.gen) {
		return nil
	}
	return fmt.Errorf("task %s-%d: %w: its claim (generation %d) is no longer in force", name, p.task, errPositionsFenced, p.gen)
}

// Delete removes the connector's positions (the offsets API's reset): each partition's
// position is set to null with the offsets API's generation, so that the tasks' later
// commits apply again.
func (p clusterPositions) Delete(name string) error {
	inc := p.incOf(name)
	p.d.mu.Lock()
	all := p.d.posState.all(name, inc)
	p.d.mu.Unlock()
	// Written even when there is nothing to delete: its floor makes a task still stopping
	// somewhere unable to commit positions the reset was meant to remove.
	r := positionRecord{Connector: name, Inc: inc, Gen: adminGen}
	for _, pp := range all {
		r.Positions = append(r.Positions, positionEntry{Partition: pp.Partition})
	}
	return p.write(r)
}

// clear drops every position of a deleted connector's incarnation for good.
func (p clusterPositions) clear(name string) error {
	return p.write(positionRecord{Connector: name, Inc: p.incOf(name), Clear: true})
}

func (p clusterPositions) write(r positionRecord) error {
	if r.Inc == 0 {
		return fmt.Errorf("connector %s: %w", r.Connector, restapi.ErrNotFound)
	}
	r.Cluster = p.d.cfg.ClusterID
	if r.Gen == adminGen {
		p.d.mu.Lock()
		r.Floor = max(p.d.status.MaxGen[r.Connector], p.d.posState.maxGen(r.Connector))
		p.d.mu.Unlock()
	}
	body, err := json.Marshal(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	off, err := p.d.positionLog.append(ctx, r.Connector, body)
	if err != nil {
		return err
	}
	return p.d.positionLog.waitApplied(ctx, off)
}

func entries(ps []plugins.PartitionPosition) []positionEntry {
	out := make([]positionEntry, len(ps))
	for i, p := range ps {
		out[i] = positionEntry{Partition: p.Partition, Offset: p.Offset}
	}
	return out
}

func cloneAny(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	return maps.Clone(m)
}
