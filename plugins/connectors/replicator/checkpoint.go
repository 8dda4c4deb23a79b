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

	"github.com/rmqconnect/rmqconnect/conf/rmqname"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

var checkpointSpec = plugins.MustConfigSpec(slices.Concat(clusterFields(), targetFields(true), selectionFields(), []plugins.Field{
	{Name: KeyGroups, Type: plugins.TypeString, Required: true, Aliases: []string{"sync.gids"},
		Validators: []plugins.Validator{groupNames()},
		Doc:        "Consumer groups whose offsets are translated, separated by ',' or ';'."},
	{Name: KeyCheckpoints, Type: plugins.TypeString, Default: DefaultCheckpoints,
		Validators: topicName(), Doc: "Target topic of the checkpoints."},
	{Name: KeyCheckpointIntv, Type: plugins.TypeDuration, Default: "5s",
		Validators: []plugins.Validator{plugins.DurationBetween(100*time.Millisecond, time.Hour)},
		Doc:        "How often the groups' source offsets are read and translated."},
	{Name: KeySyncGroups, Type: plugins.TypeBoolean, Default: false,
		Doc: "Also set each group's offsets on the target cluster to the translated ones, where they are behind (stop the group's consumers on the target first: a running consumer writes its own)."},
})...)

// splitGroups returns the consumer groups a groups (sync.gids) value names.
func splitGroups(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' })
}

// groupNames validates a groups value: at least one group, each a name RocketMQ accepts.
func groupNames() plugins.Validator {
	return plugins.Custom("consumer group names separated by ',' or ';'", func(v any) error {
		s, _ := v.(string)
		groups := splitGroups(s)
		if len(groups) == 0 {
			return errors.New("names no consumer group")
		}
		for _, g := range groups {
			if !rmqname.Group(g) {
				return fmt.Errorf("%q is not a valid RocketMQ consumer group name (%s)", g, rmqname.GroupPattern)
			}
		}
		return nil
	})
}

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

// groupOffsets reads consumer groups' committed offsets: a cluster's client.
type groupOffsets interface {
	GroupOffset(ctx context.Context, group string, q rmqclient.Queue) (offset int64, found bool, err error)
}

type checkpointTask struct {
	log      *slog.Logger
	sel      *selection
	groups   []string
	topic    string
	interval time.Duration
	apply    bool
	src, dst *rmqclient.Client
	offsets  groupOffsets // src, unless a test puts a fake in front of it
	reader   *rmqclient.Reader
	syncs    *syncStore
	syncNext map[rmqclient.Queue]int64
	last     map[string]int64 // partition key → last emitted upstream offset
	lastRun  time.Time
	applied  map[string]int64     // group|target queue → offset last set on the target
	warned   map[string]time.Time // what fails (see warn) → when it was last warned about
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
	t.groups = splitGroups(v.String(KeyGroups))
	role := fmt.Sprintf("ckpt-%d", time.Now().UnixNano()%1e9)
	if t.src, err = newClient(sourceCluster(v), role, t.log); err != nil {
		return err
	}
	t.offsets = t.src
	if t.dst, err = newClient(targetCluster(v), role, t.log); err != nil {
		return err
	}
	t.reader = t.dst.NewReader(role)
	t.syncs, t.syncNext, t.last, t.applied = newSyncStore(), map[rmqclient.Queue]int64{}, map[string]int64{}, map[string]int64{}
	t.warned = map[string]time.Time{}
	return nil
}

// Poll implements plugins.SourceTask: every emit.checkpoints.interval it reads the new
// offset syncs, the groups' offsets on the source, and returns a checkpoint for each that
// changed (applying them to the target groups when enabled). Each group, topic and queue
// stands alone: one that cannot be read or set (its broker is down, ACL denies the group)
// is left out of the round with a warning (see warn) while the others go on.
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
	// Syncs not read yet are read next round; those read so far translate already (an older
	// sync only translates lower: a group reads more again, it never skips).
	if err := t.readSyncs(ctx); err != nil {
		t.warn("syncs", "reading offset syncs failed; will retry", "cluster", t.sel.dstAlias, "err", err)
	} else {
		t.clear("syncs", "reading offset syncs works again", "cluster", t.sel.dstAlias)
	}
	cps, err := t.checkpoints(ctx)
	if err != nil {
		t.warn("topics", "listing source topics failed; will retry", "cluster", t.sel.srcAlias, "err", err)
		return nil, nil
	}
	t.clear("topics", "listing source topics works again", "cluster", t.sel.srcAlias)
	var recs []*schema.Record
	for _, cp := range cps {
		part := map[string]any{"group": cp.Group, PartCluster: cp.Cluster, PartTopic: cp.Topic, PartBroker: cp.Broker, PartQueue: int64(cp.Queue)}
		key := fmt.Sprintf("%s|%s|%s|%d|%s|%s|%d", cp.Group, cp.Topic, cp.Broker, cp.Queue, cp.TargetTopic, cp.TargetBroker, cp.TargetQueue)
		if prev, ok := t.last[key]; ok && prev == cp.Downstream {
			continue
		}
		t.last[key] = cp.Downstream
		b, _ := json.Marshal(cp) // plain fields: never fails
		recs = append(recs, &schema.Record{SourcePartition: part, SourceOffset: map[string]any{"upstream": cp.Upstream},
			Topic: t.topic, QueueID: -1, Value: b, Timestamp: time.UnixMilli(cp.Timestamp)})
	}
	if t.apply {
		t.applyTargets(ctx, cps)
	}
	return recs, nil
}

// warn logs a warning about what key names (a group, a topic, the syncs) failing: at once,
// then at most every failWarnEvery while it keeps failing.
func (t *checkpointTask) warn(key, msg string, args ...any) {
	if last, ok := t.warned[key]; ok && time.Since(last) < failWarnEvery {
		return
	}
	t.warned[key] = time.Now()
	t.log.Warn(msg, args...)
}

// clear logs msg once when what key names works again after warn.
func (t *checkpointTask) clear(key, msg string, args ...any) {
	if _, ok := t.warned[key]; ok {
		delete(t.warned, key)
		t.log.Info(msg, args...)
	}
}

// readSyncs reads the offset syncs written since the last call. A queue that fails is
// read next time from where it stopped; the others are read.
func (t *checkpointTask) readSyncs(ctx context.Context) error {
	qs, err := t.dst.ReadableQueues(ctx, t.sel.syncsTopic)
	if errors.Is(err, rmqclient.ErrNoRoute) {
		return nil // nothing replicated yet
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, q := range qs {
		if err := t.readSyncQueue(ctx, q); err != nil {
			if ctx.Err() != nil {
				return err
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (t *checkpointTask) readSyncQueue(ctx context.Context, q rmqclient.Queue) error {
	lo, hi, err := t.dst.QueueOffsets(ctx, q)
	if err != nil {
		return err
	}
	next := max(t.syncNext[q], lo)
	defer func() { t.syncNext[q] = next }()
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
	return nil
}

// checkpoints translates every chosen group's offset in every replicated source queue (every
// readable queue: a drained queue still holds messages consumers read): onto the target
// queue of the nearest sync, and, where the source queue moved after the group's offset, onto
// each queue it moved to, at the first copy the group has not read there, so that a group
// behind a move skips no moved copy when its offsets are applied. A topic whose queues,
// or a group whose offsets, cannot be read is warned about and left out of the round; the
// error is only the source's topic list failing.
func (t *checkpointTask) checkpoints(ctx context.Context) ([]Checkpoint, error) {
	existing, err := t.src.ListTopics(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now().UnixMilli()
	failed := map[string]error{} // group → its first error this round
	var out []Checkpoint
	for _, topic := range t.sel.choose(existing) {
		qs, err := t.src.ReadableQueues(ctx, topic)
		if errors.Is(err, rmqclient.ErrNoRoute) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			t.warn("queues|"+topic, "reading a source topic's queues failed; its checkpoints wait", "cluster", t.sel.srcAlias,
				"topic", topic, "err", err)
			continue
		}
		t.clear("queues|"+topic, "reading a source topic's queues works again", "cluster", t.sel.srcAlias, "topic", topic)
		for _, g := range t.groups {
			for _, q := range qs {
				off, found, err := t.offsets.GroupOffset(ctx, g, q)
				if err != nil {
					if ctx.Err() != nil {
						return nil, err
					}
					if failed[g] == nil {
						failed[g] = err
					}
					continue
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
				// Copies the group has not read that went to other target queues (the source
				// queue moved after off): it resumes on each at the first of them.
				for _, a := range t.syncs.ahead(sq, off, s) {
					out = append(out, Checkpoint{Group: g, Cluster: sq.cluster, Topic: q.Topic, Broker: q.BrokerName, Queue: q.QueueID,
						Upstream: off, TargetTopic: a.TargetTopic, TargetBroker: a.TargetBroker, TargetQueue: a.TargetQueue,
						Downstream: a.Downstream, Timestamp: now})
				}
			}
		}
	}
	for _, g := range t.groups {
		if err := failed[g]; err != nil {
			t.warn("offsets|"+g, "reading a group's source offsets failed; its checkpoints wait", "cluster", t.sel.srcAlias,
				"group", g, "err", err)
		} else {
			t.clear("offsets|"+g, "reading a group's source offsets works again", "cluster", t.sel.srcAlias, "group", g)
		}
	}
	return out, nil
}

// applyTargets moves each group's offset on the target forward to the translated one.
// Where several source queues share a target queue, the lowest translation wins, so that
// nothing is skipped. A group or queue that cannot be read or set is warned about and tried
// again next round; the others are set.
func (t *checkpointTask) applyTargets(ctx context.Context, cps []Checkpoint) {
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
	failed := map[string]error{} // group → its first error this round
	for _, k := range keys {
		if ctx.Err() != nil {
			return
		}
		off := want[k]
		id := k.group + "|" + k.q.String()
		if prev, ok := t.applied[id]; ok && prev == off {
			continue
		}
		cur, found, err := t.dst.GroupOffset(ctx, k.group, k.q)
		if err == nil && !(found && cur >= off) {
			err = t.dst.SetGroupOffset(ctx, k.group, k.q, off)
		}
		if err != nil {
			if failed[k.group] == nil {
				failed[k.group] = err
			}
			continue
		}
		t.applied[id] = off
	}
	for _, g := range t.groups {
		if err := failed[g]; err != nil {
			t.warn("apply|"+g, "setting a group's target offsets failed; will retry", "cluster", t.sel.dstAlias, "group", g, "err", err)
		} else {
			t.clear("apply|"+g, "setting a group's target offsets works again", "cluster", t.sel.dstAlias, "group", g)
		}
	}
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
