package generator

import (
	"context"
	"fmt"
	"maps"
	"sync/atomic"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
)

// Counters are what null-sink tasks have received. Safe for concurrent use.
type Counters struct {
	// Records counts records passed to Put.
	Records atomic.Int64
	// Bytes counts value bytes: the length of string and []byte values (other values count 0).
	Bytes atomic.Int64
	// Batches counts non-empty Put calls.
	Batches atomic.Int64
	// Flushes counts Flush calls.
	Flushes atomic.Int64
}

// SinkConnector is null-sink. Its tasks count records in the connector's Counters and discard them.
type SinkConnector struct {
	counters *Counters
	cfg      map[string]string
}

// NewSinkConnector returns a null-sink connector counting into c (fresh Counters when c is nil).
func NewSinkConnector(c *Counters) *SinkConnector {
	if c == nil {
		c = &Counters{}
	}
	return &SinkConnector{counters: c}
}

var _ plugins.SinkConnector = (*SinkConnector)(nil)

// Counters returns the counters the connector's tasks update.
func (c *SinkConnector) Counters() *Counters { return c.counters }

// Spec declares no keys.
func (c *SinkConnector) Spec() *plugins.ConfigSpec { return nil }

// Validate accepts any config.
func (c *SinkConnector) Validate(map[string]string) error { return nil }

// Start keeps cfg for TaskConfigs.
func (c *SinkConnector) Start(_ context.Context, _ plugins.ConnectorContext, cfg map[string]string) error {
	c.cfg = maps.Clone(cfg)
	return nil
}

// TaskConfigs returns maxTasks copies of the config.
func (c *SinkConnector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	return plugins.IdenticalTaskConfigs(c.cfg, maxTasks), nil
}

// Stop does nothing.
func (c *SinkConnector) Stop(context.Context) error { return nil }

// NewSinkTask returns an unstarted task counting into the connector's Counters.
func (c *SinkConnector) NewSinkTask() plugins.SinkTask { return &SinkTask{counters: c.counters} }

// SinkTask counts and discards records. Its methods are safe to call concurrently.
type SinkTask struct {
	counters *Counters
	started  atomic.Bool
	stopped  atomic.Bool
}

// NewSinkTask returns an unstarted task counting into c (fresh Counters when c is nil).
func NewSinkTask(c *Counters) *SinkTask {
	if c == nil {
		c = &Counters{}
	}
	return &SinkTask{counters: c}
}

var _ plugins.SinkTask = (*SinkTask)(nil)

// Counters returns the counters the task updates.
func (t *SinkTask) Counters() *Counters { return t.counters }

// Start does nothing but mark the task started.
func (t *SinkTask) Start(context.Context, plugins.SinkTaskContext, map[string]string) error {
	t.started.Store(true)
	return nil
}

// Put counts the records and their value bytes.
func (t *SinkTask) Put(_ context.Context, records []*schema.Record) error {
	if err := t.usable("put"); err != nil {
		return err
	}
	if len(records) == 0 {
		return nil
	}
	var n int64
	for _, r := range records {
		switch v := r.Value.(type) {
		case []byte:
			n += int64(len(v))
		case string:
			n += int64(len(v))
		}
	}
	t.counters.Records.Add(int64(len(records)))
	t.counters.Bytes.Add(n)
	t.counters.Batches.Add(1)
	return nil
}

func (t *SinkTask) usable(op string) error {
	if t.stopped.Load() {
		return fmt.Errorf("null-sink: %s: %w", op, ErrStopped)
	}
	if !t.started.Load() {
		return fmt.Errorf("null-sink: %s: %w", op, ErrNotStarted)
	}
	return nil
}

// Flush counts the call; there is nothing to make durable.
func (t *SinkTask) Flush(context.Context, map[plugins.Queue]int64) error {
	if err := t.usable("flush"); err != nil {
		return err
	}
	t.counters.Flushes.Add(1)
	return nil
}

// Stop marks the task stopped. Idempotent and safe without Start.
func (t *SinkTask) Stop(context.Context) error {
	t.stopped.Store(true)
	return nil
}
