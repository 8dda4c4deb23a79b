package worker

import (
	"context"
	"fmt"
	"strconv"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// Offsets returns a connector's committed offsets: source positions, or its consumer
// group's offsets on every queue of its topics.
func (e *engine) Offsets(ctx context.Context, name string) (restapi.ConnectorOffsets, error) {
	rt, err := e.runtime(name)
	if err != nil {
		return restapi.ConnectorOffsets{}, err
	}
	out := restapi.ConnectorOffsets{Offsets: []restapi.ConnectorOffset{}}
	if rt.connType() == restapi.TypeSource {
		ps, err := e.positions.All(name)
		if err != nil {
			return out, err
		}
		for _, p := range ps {
			out.Offsets = append(out.Offsets, restapi.ConnectorOffset{Partition: p.Partition, Offset: p.Offset})
		}
		return out, nil
	}
	for _, t := range rt.st.topics {
		qs, err := e.client.TopicQueues(ctx, t)
		if err != nil {
			return out, err
		}
		for _, q := range qs {
			off, found, err := e.client.GroupOffset(ctx, rt.st.group, q)
			if err != nil {
				return out, err
			}
			if found {
				out.Offsets = append(out.Offsets, restapi.ConnectorOffset{Partition: sinkPartition(q), Offset: map[string]any{"offset": off}})
			}
		}
	}
	return out, nil
}

func sinkPartition(q rmqclient.Queue) map[string]any {
	return map[string]any{"topic": q.Topic, "broker": q.BrokerName, "queue": int64(q.QueueID)}
}

// stoppedRuntime returns the connector if it is STOPPED; offsets change only then, so no
// task overwrites them.
func (e *engine) stoppedRuntime(name string) (*connRuntime, error) {
	rt, err := e.runtime(name)
	if err != nil {
		return nil, err
	}
	rt.mu.Lock()
	target := rt.target
	rt.mu.Unlock()
	if target != restapi.TargetStopped {
		return nil, notStopped(name, target)
	}
	return rt, nil
}

func notStopped(name string, target restapi.TargetState) error {
	return fmt.Errorf("connector %s is %s; stop it (PUT /connectors/%s/stop) before changing its offsets: %w", name, target, name, restapi.ErrNotStopped)
}

// AlterOffsets sets offsets of a STOPPED connector. A nil offset removes a source
// partition's position, or rewinds a sink queue to where a new group would start. The
// herders call it so that the connector stays STOPPED until it returns (Standalone's and
// Distributed's AlterOffsets).
func (e *engine) AlterOffsets(ctx context.Context, name string, offsets []restapi.ConnectorOffset) error {
	rt, err := e.stoppedRuntime(name)
	if err != nil {
		return err
	}
	for i := range offsets {
		offsets[i].Partition = normalizeMap(offsets[i].Partition)
		offsets[i].Offset = normalizeMap(offsets[i].Offset)
	}
	if rt.connType() == restapi.TypeSource {
		batch := make([]plugins.PartitionPosition, 0, len(offsets))
		for i, o := range offsets {
			if len(o.Partition) == 0 {
				return invalidConfig(name, cfgerr.List{problem(fmt.Sprintf("offsets[%d].partition", i), "", "is required")})
			}
			batch = append(batch, plugins.PartitionPosition{Partition: o.Partition, Offset: o.Offset})
		}
		return e.positions.Put(name, batch)
	}
	for i, o := range offsets {
		q, err := e.sinkQueue(ctx, rt, o.Partition)
		if err != nil {
			return invalidConfig(name, cfgerr.List{problem(fmt.Sprintf("offsets[%d].partition", i), "", err.Error())})
		}
		var off int64
		if o.Offset == nil {
			if off, err = e.startOffset(ctx, rt, q); err != nil {
				return err
			}
		} else if off, err = asInt64(o.Offset["offset"]); err != nil || off < 0 {
			return invalidConfig(name, cfgerr.List{problem(fmt.Sprintf("offsets[%d].offset.offset", i),
				fmt.Sprint(o.Offset["offset"]), "must be a non-negative integer")})
		}
		if err := e.client.SetGroupOffset(ctx, rt.st.group, q, off); err != nil {
			return err
		}
	}
	return nil
}

// ResetOffsets forgets a STOPPED connector's progress: source positions are deleted; sink
// queues rewind to where consume.from.where starts a new group. The herders call it as
// they call AlterOffsets.
func (e *engine) ResetOffsets(ctx context.Context, name string) error {
	rt, err := e.stoppedRuntime(name)
	if err != nil {
		return err
	}
	if rt.connType() == restapi.TypeSource {
		return e.positions.Delete(name)
	}
	for _, t := range rt.st.topics {
		qs, err := e.client.TopicQueues(ctx, t)
		if err != nil {
			return err
		}
		for _, q := range qs {
			off, err := e.startOffset(ctx, rt, q)
			if err != nil {
				return err
			}
			if err := e.client.SetGroupOffset(ctx, rt.st.group, q, off); err != nil {
				return err
			}
		}
	}
	return nil
}

// startOffset is where a new group starts in q: its min offset, or its max offset with
// CONSUME_FROM_LAST_OFFSET.
func (e *engine) startOffset(ctx context.Context, rt *connRuntime, q rmqclient.Queue) (int64, error) {
	minOff, maxOff, err := e.client.QueueOffsets(ctx, q)
	if err != nil {
		return 0, err
	}
	if rt.st.fromFirst {
		return minOff, nil
	}
	return maxOff, nil
}

// sinkQueue resolves a sink partition map to one of the connector's queues.
func (e *engine) sinkQueue(ctx context.Context, rt *connRuntime, p map[string]any) (rmqclient.Queue, error) {
	topic, _ := p["topic"].(string)
	queue, err := asInt64(p["queue"])
	if topic == "" || err != nil {
		return rmqclient.Queue{}, fmt.Errorf(`want {"topic": "...", "queue": N[, "broker": "..."]}`)
	}
	known := false
	for _, t := range rt.st.topics {
		known = known || t == topic
	}
	if !known {
		return rmqclient.Queue{}, fmt.Errorf("topic %s is not one of the connector's topics", topic)
	}
	broker, _ := p["broker"].(string)
	qs, err := e.client.TopicQueues(ctx, topic)
	if err != nil {
		return rmqclient.Queue{}, err
	}
	for _, q := range qs {
		if int64(q.QueueID) == queue && (broker == "" || broker == q.BrokerName) {
			return q, nil
		}
	}
	return rmqclient.Queue{}, fmt.Errorf("topic %s has no queue %d on broker %q", topic, queue, broker)
}

func asInt64(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case float64:
		if x == float64(int64(x)) {
			return int64(x), nil
		}
	case string:
		return strconv.ParseInt(x, 10, 64)
	}
	return 0, fmt.Errorf("%v is not an integer", v)
}
