package replicator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

var checkpointSpec = plugins.MustConfigSpec(slices.Concat(clusterFields(), targetFields(true), selectionFields(), []plugins.Field{
	{Name: KeyGroups, Type: plugins.TypeString, Required: true, Aliases: []string{"sync.gids"},
		Validators: []plugins.Validator{plugins.NonEmpty()},
		Doc:        "Consumer groups whose offsets are translated, separated by ',' or ';'."},
	{Name: KeyCheckpoints, Type: plugins.TypeString, Default: DefaultCheckpoints,
		Validators: topicName(), Doc: "Target topic of the checkpoints."},
	{Name: KeyCheckpointIntv, Type: plugins.TypeDuration, Default: "5s",
		Validators: []plugins.Validator{plugins.DurationBetween(100*time.Millisecond, time.Hour)},
		Doc:        "How often the groups' source offsets are read and translated."},
	{Name: KeySyncGroups, Type: plugins.TypeBoolean, Default: false,
		Doc: "Also set each group's offsets on the target cluster to the translated ones, where they are behind (stop the group's consumers on the target first: a running consumer writes its own)."},
})...)

// CheckpointConnector is rocketmq-replicator-checkpoint: one task translates the chosen
// groups' offsets.
type CheckpointConnector struct{ cfg map[string]string }

// NewCheckpointConnector returns an unstarted rocketmq-replicator-checkpoint connector.
func NewCheckpointConnector() *CheckpointConnector { return &CheckpointConnector{} }

var _ plugins.SourceConnector = (*CheckpointConnector)(nil)

// Spec implements plugins.Connector.
func (*CheckpointConnector) Spec() *plugins.ConfigSpec { return checkpointSpec }

// Validate implements plugins.Connector.
func (*CheckpointConnector) Validate(cfg map[string]string) error {
	v, err := checkpointSpec.Parse(cfg)
	if err != nil {
		return err
	}
	_, err = newSelection(v)
	return err
}

// Start implements plugins.Connector.
func (c *CheckpointConnector) Start(_ context.Context, _ plugins.ConnectorContext, cfg map[string]string) error {
	c.cfg = maps.Clone(cfg)
	return nil
}

// TaskConfigs implements plugins.Connector: one task does all groups.
func (c *CheckpointConnector) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{maps.Clone(c.cfg)}, nil
}

// Stop implements plugins.Connector.
func (*CheckpointConnector) Stop(context.Context) error { return nil }

// NewSourceTask implements plugins.SourceConnector.
func (*CheckpointConnector) NewSourceTask() plugins.SourceTask { return &checkpointTask{} }

type checkpointTask struct {
	log      *slog.Logger
	sel      *selection
	groups   []string
	topic    string
	interval time.Duration
	apply    bool
	src, dst *rmqclient.Client
	reader   *rmqclient.Reader
	syncs    *syncStore
	syncNext map[rmqclient.Queue]int64
	last     map[string]int64 // partition key → last emitted upstream offset
	lastRun  time.Time
	applied  map[string]int64 // group|target queue → offset last set on the target
}

// Start implements plugins.SourceTask.
func (t *checkpointTask) Start(ctx context.Context, tctx plugins.SourceTaskContext, _ map[string]string) error {
	v := tctx.Config()
	t.log = tctx.Logger()
	sel, err := newSelection(v)
	if err != nil {
		return err
	}
	t.sel, t.topic, t.interval, t.apply = sel, v.String(KeyCheckpoints), v.Duration(KeyCheckpointIntv), v.Bool(KeySyncGroups)
	t.groups = append(t.groups, strings.FieldsFunc(v.String(KeyGroups), func(r rune) bool { return r == ',' || r == ';' || r == ' ' })...)
	role := fmt.Sprintf("ckpt-%d", time.Now().UnixNano()%1e9)
	if t.src, err = newClient(sourceCluster(v), role, t.log); err != nil {
		return err
	}
	if t.dst, err = newClient(targetCluster(v), role, t.log); err != nil {
		return err
	}
	t.reader = t.dst.NewReader(role)
	t.syncs, t.syncNext, t.last, t.applied = newSyncStore(), map[rmqclient.Queue]int64{}, map[string]int64{}, map[string]int64{}
	return nil
}

// Poll implements plugins.SourceTask: every emit.checkpoints.interval it reads the new
// offset syncs, the groups' offsets on the source, and returns a checkpoint for each that
// changed (applying them to the target groups when enabled).
func (t *checkpointTask) Poll(ctx context.Context) ([]*schema.Record, error) {
	if wait := t.interval - time.Since(t.lastRun); wait > 0 {
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(min(wait, maxPollBlock)):
			return nil, nil
		}
	}
	t.lastRun = time.Now()
	if err := t.readSyncs(ctx); err != nil {
		t.log.Warn("reading offset syncs failed; will retry", "err", err)
		return nil, nil
	}
	cps, err := t.checkpoints(ctx)
	if err != nil {
		t.log.Warn("reading group offsets failed; will retry", "cluster", t.sel.srcAlias, "err", err)
		return nil, nil
	}
	var recs []*schema.Record
	for _, cp := range cps {
		part := map[string]any{"group": cp.Group, PartCluster: cp.Cluster, PartTopic: cp.Topic, PartBroker: cp.Broker, PartQueue: int64(cp.Queue)}
		key := fmt.Sprintf("%s|%s|%s|%d", cp.Group, cp.Topic, cp.Broker, cp.Queue)
		if prev, ok := t.last[key]; ok && prev == cp.Downstream {
			continue
		}
		t.last[key] = cp.Downstream
		b, _ := json.Marshal(cp) // plain fields: never fails
		recs = append(recs, &schema.Record{SourcePartition: part, SourceOffset: map[string]any{"upstream": cp.Upstream},
			Topic: t.topic, QueueID: -1, Value: b, Timestamp: time.UnixMilli(cp.Timestamp)})
	}
	if t.apply {
		if err := t.applyTargets(ctx, cps); err != nil {
			t.log.Warn("setting target group offsets failed; will retry", "cluster", t.sel.dstAlias, "err", err)
		}
	}
	return recs, nil
}

// readSyncs reads the offset syncs written since the last call.
func (t *checkpointTask) readSyncs(ctx context.Context) error {
	qs, err := t.dst.TopicQueues(ctx, t.sel.syncsTopic)
	if errors.Is(err, rmqclient.ErrNoRoute) {
		return nil // nothing replicated yet
	}
	if err != nil {
		return err
	}
	for _, q := range qs {
		lo, hi, err := t.dst.QueueOffsets(ctx, q)
		if err != nil {
			return err
		}
		next := max(t.syncNext[q], lo)
		for next < hi {
			msgs, n, err := t.reader.ReadBelow(ctx, q, next, hi, pullMax)
			if err != nil {
				return err
			}
			for _, m := range msgs {
				s, err := decodeSync(m.Body)
				if err != nil {
					t.log.Warn("skipping a malformed offset sync", "queue", q.String(), "offset", m.Offset, "err", err)
					continue
				}
				t.syncs.add(s)
			}
			if n <= next {
				break
			}
			next = n
		}
		t.syncNext[q] = next
	}
	return nil
}

// checkpoints translates every chosen group's offset in every replicated source queue.
func (t *checkpointTask) checkpoints(ctx context.Context) ([]Checkpoint, error) {
	existing, err := t.src.ListTopics(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now().UnixMilli()
	var out []Checkpoint
	for _, topic := range t.sel.choose(existing) {
		qs, err := t.src.TopicQueues(ctx, topic)
		if errors.Is(err, rmqclient.ErrNoRoute) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, g := range t.groups {
			for _, q := range qs {
				off, found, err := t.src.GroupOffset(ctx, g, q)
				if err != nil {
					return nil, err
				}
				sq := srcQueue{t.sel.srcAlias, q.Topic, q.BrokerName, q.QueueID}
				var s OffsetSync
				var down int64
				var ok bool
				if found {
					s, down, ok = t.syncs.translate(sq, off)
				} else if s, ok = t.syncs.first(sq); ok {
					// The group never read this queue: on the target it reads all of it.
					off, down = s.Upstream, s.Downstream
				}
				if !ok {
					continue
				}
				out = append(out, Checkpoint{Group: g, Cluster: sq.cluster, Topic: q.Topic, Broker: q.BrokerName, Queue: q.QueueID,
					Upstream: off, TargetTopic: s.TargetTopic, TargetBroker: s.TargetBroker, TargetQueue: s.TargetQueue,
					Downstream: down, Timestamp: now})
			}
		}
	}
	return out, nil
}

// applyTargets moves each group's offset on the target forward to the translated one.
// Where several source queues share a target queue, the lowest translation wins, so that
// nothing is skipped.
func (t *checkpointTask) applyTargets(ctx context.Context, cps []Checkpoint) error {
	type tq struct {
		group string
		q     rmqclient.Queue
	}
	want := map[tq]int64{}
	for _, cp := range cps {
		k := tq{cp.Group, rmqclient.Queue{Topic: cp.TargetTopic, BrokerName: cp.TargetBroker, QueueID: cp.TargetQueue}}
		if cur, ok := want[k]; !ok || cp.Downstream < cur {
			want[k] = cp.Downstream
		}
	}
	keys := slices.SortedFunc(maps.Keys(want), func(a, b tq) int {
		return strings.Compare(a.group+"|"+a.q.String(), b.group+"|"+b.q.String())
	})
	for _, k := range keys {
		off := want[k]
		id := k.group + "|" + k.q.String()
		if prev, ok := t.applied[id]; ok && prev == off {
			continue
		}
		cur, found, err := t.dst.GroupOffset(ctx, k.group, k.q)
		if err != nil {
			return err
		}
		if found && cur >= off {
			t.applied[id] = off
			continue
		}
		if err := t.dst.SetGroupOffset(ctx, k.group, k.q, off); err != nil {
			return err
		}
		t.applied[id] = off
	}
	return nil
}

// Commit implements plugins.SourceTask.
func (*checkpointTask) Commit(context.Context) error { return nil }

// Stop implements plugins.SourceTask.
func (t *checkpointTask) Stop(context.Context) error {
	var errs []error
	if t.reader != nil {
		errs = append(errs, t.reader.Close())
	}
	for _, c := range []*rmqclient.Client{t.src, t.dst} {
		if c != nil {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}
