package replicator

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// Names of the connectors, as registered by plugins/builtin, with RocketMQ Connect's class
// names as aliases.
const (
	SourceName     = "rocketmq-replicator"
	CheckpointName = "rocketmq-replicator-checkpoint"
	HeartbeatName  = "rocketmq-replicator-heartbeat"
)

// Aliases of the three connectors.
var (
	SourceAliases     = []string{"org.apache.rocketmq.replicator.ReplicatorSourceConnector"}
	CheckpointAliases = []string{"org.apache.rocketmq.replicator.ReplicatorCheckpointConnector"}
	HeartbeatAliases  = []string{"org.apache.rocketmq.replicator.ReplicatorHeartbeatConnector"}
)

var sourceSpec = plugins.MustConfigSpec(slices.Concat(clusterFields(), targetFields(false), selectionFields(), []plugins.Field{
	{Name: KeyStart, Type: plugins.TypeString, Default: "earliest", Validators: []plugins.Validator{plugins.OneOf("earliest", "latest")},
		Doc: "Where a source queue without a committed position starts: its oldest message or its end."},
	{Name: KeyRefresh, Type: plugins.TypeDuration, Default: "30s", Validators: []plugins.Validator{plugins.DurationBetween(100*time.Millisecond, 24*time.Hour)},
		Doc: "How often the source cluster is asked for new or deleted topics and queues."},
	{Name: KeyPollBatch, Type: plugins.TypeInt, Default: 2048, Validators: []plugins.Validator{plugins.Between(1, 65536)},
		Doc: "Most messages one poll returns."},
	{Name: KeyEmitSyncs, Type: plugins.TypeBoolean, Default: true, Doc: "Write offset syncs (needed by rocketmq-replicator-checkpoint)."},
	{Name: KeyOffsetLagMax, Type: plugins.TypeLong, Default: int64(100), Validators: []plugins.Validator{plugins.Between(1, 1e9)},
		Doc: "Most messages of a source queue between two offset syncs: a translated offset re-reads at most about this many."},
	{Name: keyQueues, Type: plugins.TypeString, Doc: "Set by the connector in each task config: the task's source queues. Not for users."},
})...)

// SourceConnector is rocketmq-replicator: it lists the source cluster's matching topics,
// spreads their queues over the tasks and watches for topics created or deleted.
type SourceConnector struct {
	cctx   plugins.ConnectorContext
	cfg    map[string]string
	sel    *selection
	client *rmqclient.Client
	target targetAdmin // nil without target.namesrv
	cancel context.CancelFunc
	group  *errgroup.Group

	mu     sync.Mutex
	queues []rmqclient.Queue
}

// NewSourceConnector returns an unstarted rocketmq-replicator connector.
func NewSourceConnector() *SourceConnector { return &SourceConnector{} }

var _ plugins.SourceConnector = (*SourceConnector)(nil)

// Spec implements plugins.Connector.
func (*SourceConnector) Spec() *plugins.ConfigSpec { return sourceSpec }

// Validate implements plugins.Connector.
func (*SourceConnector) Validate(cfg map[string]string) error {
	v, err := sourceSpec.Parse(cfg)
	if err != nil {
		return err
	}
	_, err = sourceSelection(v)
	return err
}

// sourceSelection is newSelection plus the source connector's own cross-key rule: offset
// syncs need ordering.msg.enable=true. An offset sync says that one source message is one
// target message, and a checkpoint moves a group's target offset past the copies before it,
// which holds only while each source queue goes, in order, to one target queue; the engine
// keeps a record on the target queue the task picks only with ordering on, and otherwise
// spreads a source queue over the target's queues, so a translated offset could pass copies
// the group never read.
func sourceSelection(v plugins.Values) (*selection, error) {
	sel, err := newSelection(v)
	var errs cfgerr.List
	if err != nil && !errors.As(err, &errs) {
		return nil, err
	}
	if !v.Bool(plugins.KeyOrdering) && v.Bool(KeyEmitSyncs) {
		errs = append(errs, &cfgerr.Error{Key: plugins.KeyOrdering, Value: "false", Err: plugins.ErrInvalidValue,
			Reason: "must be true while " + KeyEmitSyncs + "=true: offset syncs (and the group offsets checkpoints translate " +
				"from them) hold only while each source queue is copied, in order, to one target queue, and without ordering " +
				"the worker spreads a source queue over the target's queues; set " + KeyEmitSyncs + "=false to replicate without ordering"})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return sel, nil
}

// Start implements plugins.Connector: it lists the queues to replicate and starts the
// topic watcher.
func (c *SourceConnector) Start(ctx context.Context, cctx plugins.ConnectorContext, cfg map[string]string) error {
	v := cctx.Config()
	c.cfg = maps.Clone(cfg)
	sel, err := sourceSelection(v)
	if err != nil {
		return err
	}
	c.cctx, c.sel = cctx, sel
	if c.client, err = newClient(sourceCluster(v), "connector", cctx.Logger()); err != nil {
		return err
	}
	if tc := targetCluster(v); len(tc.namesrvs) > 0 {
		target, err := newClient(tc, "connector", cctx.Logger())
		if err != nil {
			return err
		}
		c.target = target
	}
	qs, err := c.discover(ctx)
	if err != nil {
		return plugins.Retriable(err)
	}
	c.queues = qs
	wctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.group, wctx = errgroup.WithContext(wctx)
	interval := v.Duration(KeyRefresh)
	c.group.Go(func() error { c.watch(wctx, interval); return nil })
	return nil
}

// discover returns the queues of the topics to replicate, sorted by topic, broker name and
// queue id (see compareQueues): every readable queue, so that a topic being drained (write
// permission wiped, or fewer write queues than read queues) is copied to its end. A listed
// topic that does not exist is an error wrapping ErrTopicDeleted.
func (c *SourceConnector) discover(ctx context.Context) ([]rmqclient.Queue, error) {
	existing, err := c.client.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("source cluster %s: %w", c.sel.srcAlias, err)
	}
	for _, t := range c.sel.listed {
		if !slices.Contains(existing, t) {
			return nil, fmt.Errorf("%w: topic %s does not exist on source cluster %s (%s)", ErrTopicDeleted, t, c.sel.srcAlias, KeyTopics)
		}
	}
	var out []rmqclient.Queue
	for _, t := range c.sel.choose(existing) {
		qs, err := c.client.ReadableQueues(ctx, t)
		if errors.Is(err, rmqclient.ErrNoRoute) {
			continue // deleted between the two calls, or not readable: not replicated
		}
		if err != nil {
			return nil, fmt.Errorf("source cluster %s: %w", c.sel.srcAlias, err)
		}
		if err := c.ensureTarget(ctx, t, len(qs)); err != nil {
			return nil, err
		}
		out = append(out, qs...)
	}
	slices.SortFunc(out, compareQueues)
	return out, nil
}

// compareQueues orders queues by topic, broker name and queue id: the order in which a topic's
// source queues are numbered for their target queues (see TaskConfigs).
func compareQueues(a, b rmqclient.Queue) int {
	return cmp.Or(strings.Compare(a.Topic, b.Topic), strings.Compare(a.BrokerName, b.BrokerName), cmp.Compare(a.QueueID, b.QueueID))
}

// targetAdmin is what the connector asks of the target cluster: its client, unless a test
// puts a fake in its place.
type targetAdmin interface {
	Brokers(ctx context.Context) ([]rmqclient.Broker, error)
	TopicQueues(ctx context.Context, topic string) ([]rmqclient.Queue, error)
	CreateTopic(ctx context.Context, spec rmqclient.TopicSpec) error
	Close() error
}

// ensureTarget creates the target topic of a source topic (with queues queues) when the
// target cluster is known (target.namesrv) and the topic does not exist there, with as many
// queues in all, spread over the target's brokers: CreateTopic makes the same number on every
// broker master, so each gets queues/brokers, rounded up. Every source queue thus has a target queue
// of its own (the k-th source queue goes to the k-th target queue by queue id, then broker
// name: see TaskConfigs), and at most one queue per broker is left without a source queue. An
// existing target topic is left as it is, with a warning when it has fewer queues than its
// source. Without target.namesrv the worker creates the topic with its default queue count
// when the first message goes there.
func (c *SourceConnector) ensureTarget(ctx context.Context, topic string, queues int) error {
	if c.target == nil || c.sel.destTopic != "" {
		return nil
	}
	name := c.sel.rename(topic)
	tq, err := c.target.TopicQueues(ctx, name)
	if err == nil {
		if len(tq) < queues {
			c.cctx.Logger().Warn("target topic has fewer queues than its source: some source queues share a target queue",
				"topic", name, "queues", len(tq), "source_queues", queues)
		}
		return nil
	}
	if !errors.Is(err, rmqclient.ErrNoRoute) {
		return fmt.Errorf("target cluster %s: %w", c.sel.dstAlias, err)
	}
	brokers, err := c.target.Brokers(ctx)
	if err != nil {
		return fmt.Errorf("target cluster %s: %w", c.sel.dstAlias, err)
	}
	n := max(len(brokers), 1)
	perBroker := max(1, (queues+n-1)/n)
	if err := c.target.CreateTopic(ctx, rmqclient.TopicSpec{Name: name, Queues: perBroker}); err != nil {
		return fmt.Errorf("target cluster %s: %w", c.sel.dstAlias, err)
	}
	return nil
}

// watch asks the source cluster for its topics every interval and asks for new task
// configs when the queues to replicate change. A listed topic that disappears fails the
// connector with a status naming it.
func (c *SourceConnector) watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		qs, err := c.discover(qctx)
		cancel()
		if errors.Is(err, ErrTopicDeleted) {
			c.cctx.RaiseError(err)
			return
		}
		if err != nil {
			if ctx.Err() == nil {
				c.cctx.Logger().Warn("listing source topics failed; will retry", "cluster", c.sel.srcAlias, "err", err)
			}
			continue
		}
		c.mu.Lock()
		changed := !slices.Equal(qs, c.queues)
		c.queues = qs
		c.mu.Unlock()
		if changed {
			c.cctx.Logger().Info("source queues changed; reconfiguring tasks", "cluster", c.sel.srcAlias, "queues", len(qs))
			c.cctx.RequestTaskReconfiguration()
		}
	}
}

// taskQueue is a source queue in a task config.
type taskQueue struct {
	Topic  string `json:"t"`
	Broker string `json:"b"`
	Queue  int    `json:"q"`
	Index  int    `json:"i"` // the target queue's index (plugins.ExtTargetQueue): see TaskConfigs
}

// TaskConfigs implements plugins.Connector: in the order of compareQueues, queue i goes to
// task i mod n, so each topic's queues are spread over the tasks, and the k-th queue of a
// topic gets target queue index k. A source queue's index, and so its target queue, is thus
// a function of its broker name and queue id among its topic's queues, whatever order they
// were listed in: the same after a restart, on any worker. Tasks without a queue are not
// made.
func (c *SourceConnector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	c.mu.Lock()
	qs := slices.SortedFunc(slices.Values(c.queues), compareQueues)
	c.mu.Unlock()
	qs = slices.Compact(qs)
	n := min(maxTasks, max(len(qs), 1))
	parts := make([][]taskQueue, n)
	index := map[string]int{}
	for i, q := range qs {
		parts[i%n] = append(parts[i%n], taskQueue{q.Topic, q.BrokerName, q.QueueID, index[q.Topic]})
		index[q.Topic]++
	}
	out := make([]map[string]string, 0, n)
	for _, p := range parts {
		b, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		cfg := maps.Clone(c.cfg)
		cfg[keyQueues] = string(b)
		out = append(out, cfg)
	}
	return out, nil
}

// Stop implements plugins.Connector.
func (c *SourceConnector) Stop(context.Context) error {
	if c.cancel != nil {
		c.cancel()
		_ = c.group.Wait()
	}
	if c.target != nil {
		_ = c.target.Close()
	}
	if c.client != nil {
		return c.client.Close()
	}
	return nil
}

// NewSourceTask implements plugins.SourceConnector.
func (*SourceConnector) NewSourceTask() plugins.SourceTask { return &sourceTask{} }
