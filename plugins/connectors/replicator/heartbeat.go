package replicator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

var heartbeatSpec = plugins.MustConfigSpec(slices.Concat(clusterFields(), targetFields(false), []plugins.Field{
	{Name: KeyHeartbeats, Type: plugins.TypeString, Default: DefaultHeartbeats,
		Validators: topicName(),
		Doc:        "Topic on the source cluster the heartbeats are written to; replicate it with the other topics to measure lag."},
	{Name: KeyHeartbeatIntv, Type: plugins.TypeDuration, Default: "1s",
		Validators: []plugins.Validator{plugins.DurationBetween(10*time.Millisecond, time.Hour)}, Doc: "Time between heartbeats."},
})...)

// Heartbeat is the body of a heartbeat message (JSON).
type Heartbeat struct {
	Cluster   string `json:"cluster"`   // the alias of the cluster it was written on
	Timestamp int64  `json:"timestamp"` // ms
}

// HeartbeatConnector is rocketmq-replicator-heartbeat: its task writes a heartbeat to the
// source cluster every interval. A rocketmq-replicator that replicates the heartbeats topic
// then reports the lag of an idle cluster too (replication_lag_seconds of that topic), and
// a consumer of the replicated topic on the target sees how old the newest heartbeat is.
type HeartbeatConnector struct{ cfg map[string]string }

// NewHeartbeatConnector returns an unstarted rocketmq-replicator-heartbeat connector.
func NewHeartbeatConnector() *HeartbeatConnector { return &HeartbeatConnector{} }

var _ plugins.SourceConnector = (*HeartbeatConnector)(nil)

// Spec implements plugins.Connector.
func (*HeartbeatConnector) Spec() *plugins.ConfigSpec { return heartbeatSpec }

// Validate implements plugins.Connector.
func (*HeartbeatConnector) Validate(map[string]string) error { return nil }

// Start implements plugins.Connector.
func (c *HeartbeatConnector) Start(_ context.Context, _ plugins.ConnectorContext, cfg map[string]string) error {
	c.cfg = maps.Clone(cfg)
	return nil
}

// TaskConfigs implements plugins.Connector: one task.
func (c *HeartbeatConnector) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{maps.Clone(c.cfg)}, nil
}

// Stop implements plugins.Connector.
func (*HeartbeatConnector) Stop(context.Context) error { return nil }

// NewSourceTask implements plugins.SourceConnector.
func (*HeartbeatConnector) NewSourceTask() plugins.SourceTask { return &heartbeatTask{} }

type heartbeatTask struct {
	log      *slog.Logger
	alias    string
	topic    string
	interval time.Duration
	client   *rmqclient.Client
	producer *rmqclient.Producer
	last     time.Time
	failing  bool
}

// Start implements plugins.SourceTask: it creates the heartbeats topic on the source
// cluster when missing.
func (t *heartbeatTask) Start(ctx context.Context, tctx plugins.SourceTaskContext, _ map[string]string) error {
	v := tctx.Config()
	t.log, t.topic, t.interval = tctx.Logger(), v.String(KeyHeartbeats), v.Duration(KeyHeartbeatIntv)
	sc := sourceCluster(v)
	t.alias = sc.alias
	role := fmt.Sprintf("hb-%d", time.Now().UnixNano()%1e9)
	var err error
	if t.client, err = newClient(sc, role, t.log); err != nil {
		return err
	}
	if _, err := t.client.TopicQueues(ctx, t.topic); errors.Is(err, rmqclient.ErrNoRoute) {
		err = t.client.CreateTopic(ctx, rmqclient.TopicSpec{Name: t.topic, Queues: 1})
		if err != nil {
			return plugins.Retriable(err)
		}
	} else if err != nil {
		return plugins.Retriable(err)
	}
	if t.producer, err = t.client.NewProducer(role, rmqclient.ProducerOptions{Group: "rmqconnect-replicator-heartbeat"}); err != nil {
		return plugins.Retriable(err)
	}
	return nil
}

// Poll implements plugins.SourceTask: it writes a heartbeat when one is due and returns no
// records (heartbeats go to the source cluster, not to the worker's).
func (t *heartbeatTask) Poll(ctx context.Context) ([]*schema.Record, error) {
	if wait := t.interval - time.Since(t.last); wait > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(min(wait, maxPollBlock)):
		}
		return nil, nil
	}
	t.last = time.Now()
	b, _ := json.Marshal(Heartbeat{Cluster: t.alias, Timestamp: t.last.UnixMilli()}) // plain fields: never fails
	_, err := t.producer.Send(ctx, &rmqclient.Message{Topic: t.topic, Body: b, Tag: "heartbeat"})
	switch {
	case err != nil && !t.failing:
		t.failing = true
		t.log.Warn("writing a heartbeat failed; will retry", "cluster", t.alias, "err", err)
	case err == nil && t.failing:
		t.failing = false
		t.log.Info("writing heartbeats again", "cluster", t.alias)
	}
	return nil, nil
}

// Commit implements plugins.SourceTask.
func (*heartbeatTask) Commit(context.Context) error { return nil }

// Stop implements plugins.SourceTask.
func (t *heartbeatTask) Stop(context.Context) error {
	var errs []error
	if t.producer != nil {
		errs = append(errs, t.producer.Close())
	}
	if t.client != nil {
		errs = append(errs, t.client.Close())
	}
	return errors.Join(errs...)
}
