package worker

import (
	"context"
	"encoding/json"
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
func (p clusterPositions) Put(name string, ps []plugins.PartitionPosition) error {
	return p.write(positionRecord{Connector: name, Inc: p.incOf(name), Gen: p.gen, Positions: entries(ps)})
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
		r.Floor = p.d.status.MaxGen[r.Connector]
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
