package worker

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// Test connectors: memSource emits "count" string records from shared state keyed by
// "test.id"; memSink collects records and can be told to fail.

type memState struct {
	mu        sync.Mutex
	records   []*schema.Record
	flushed   int
	putErrs   int // number of Put calls that fail (non-retriable) before succeeding
	retriable int // number of Put calls that fail with a RetriableError
	starts    int
	// startRetriable is how many task Starts (source or sink) fail with a RetriableError
	// before one succeeds; taskStops counts the tasks' Stop calls.
	startRetriable, taskStops int
	// reused counts Starts on a task object already stopped (the SPI starts and stops one once).
	reused    int
	committed []committedRecord // CommitRecord calls of source tasks, in order
	// connStarts and connStops count the connector's Start and Stop calls (of every value).
	connStarts, connStops int
	// connCount and taskCount are the "count" the connector's and each source task's last
	// Start got.
	connCount string
	taskCount map[string]string
}

type committedRecord struct {
	value string
	md    *plugins.RecordMetadata
}

var (
	statesMu sync.Mutex
	states   = map[string]*memState{}
)

func stateFor(id string) *memState {
	statesMu.Lock()
	defer statesMu.Unlock()
	s, ok := states[id]
	if !ok {
		s = &memState{}
		states[id] = s
	}
	return s
}

func (s *memState) snapshot() []*schema.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*schema.Record(nil), s.records...)
}

// unique returns the distinct values seen (sinks are at-least-once: a rebalance between
// two tasks of a group can deliver a message to both).
func (s *memState) unique() map[string]bool {
	out := map[string]bool{}
	for _, r := range s.snapshot() {
		out[fmt.Sprint(r.Value)] = true
	}
	return out
}

type memConnector struct {
	sink bool
	cfg  map[string]string
	id   string // test.id, set by Start (also a failed one)
}

var memSpec = plugins.MustConfigSpec()

func (c *memConnector) Spec() *plugins.ConfigSpec { return memSpec }
func (c *memConnector) Validate(cfg map[string]string) error {
	if cfg["test.id"] == "" {
		return &cfgerr.Error{Key: "test.id", Reason: "is required", Err: cfgerr.ErrInvalid}
	}
	return nil
}
func (c *memConnector) Start(_ context.Context, _ plugins.ConnectorContext, cfg map[string]string) error {
	c.id = cfg["test.id"]
	st := stateFor(c.id)
	st.mu.Lock()
	st.connStarts++
	starts := st.connStarts
	st.connCount = cfg["count"]
	st.mu.Unlock()
	if cfg["test.fail.start"] == "true" {
		return errors.New("connector refuses to start")
	}
	if n, _ := strconv.Atoi(cfg["test.fail.start.retriable"]); starts <= n {
		return plugins.Retriable(fmt.Errorf("start %d of %d: the external system is not ready", starts, n))
	}
	c.cfg = cfg
	return nil
}
func (c *memConnector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	out := make([]map[string]string, 0, maxTasks)
	for i := 0; i < maxTasks; i++ {
		m := map[string]string{"test.id": c.cfg["test.id"], "count": c.cfg["count"], "task": strconv.Itoa(i),
			"value.bytes": c.cfg["value.bytes"], "bad.offset.at": c.cfg["bad.offset.at"]}
		out = append(out, m)
	}
	return out, nil
}
func (c *memConnector) Stop(context.Context) error {
	if c.id != "" {
		st := stateFor(c.id)
		st.mu.Lock()
		st.connStops++
		st.mu.Unlock()
	}
	return nil
}
func (c *memConnector) NewSourceTask() plugins.SourceTask {
	return &memSourceTask{}
}
func (c *memConnector) NewSinkTask() plugins.SinkTask { return &memSinkTask{} }

type memSourceConnector struct{ memConnector }
type memSinkConnector struct{ memConnector }

func (memSourceConnector) NewSinkTask() {}
func (memSinkConnector) NewSourceTask() {}

type memSourceTask struct {
	next, count int
	task        string
	st          *memState
	pad         string // value.bytes: values are padded to this many bytes with incompressible text
	badOffsetAt int    // bad.offset.at (when > 0): the record of this sequence number has an offset JSON cannot write
	stopped     bool   // the SPI starts and stops a task object once
}

func (t *memSourceTask) Start(ctx context.Context, tctx plugins.SourceTaskContext, cfg map[string]string) error {
	if t.stopped {
		st := stateFor(cfg["test.id"])
		st.mu.Lock()
		st.reused++
		st.mu.Unlock()
		return errors.New("mem-source: Start on a task object already stopped")
	}
	t.count, _ = strconv.Atoi(cfg["count"])
	t.badOffsetAt, _ = strconv.Atoi(cfg["bad.offset.at"])
	t.task = cfg["task"]
	if n, _ := strconv.Atoi(cfg["value.bytes"]); n > 0 {
		raw := make([]byte, n)
		_, _ = rand.NewChaCha8([32]byte{1}).Read(raw)
		t.pad = base64.StdEncoding.EncodeToString(raw)[:n]
	}
	off, err := tctx.Positions().Position(ctx, map[string]any{"task": t.task})
	if err != nil {
		return err
	}
	if off != nil {
		t.next = int(off["seq"].(int64)) + 1
	}
	t.st = stateFor(cfg["test.id"])
	t.st.mu.Lock()
	t.st.starts++
	if t.st.startRetriable > 0 {
		t.st.startRetriable--
		t.st.mu.Unlock()
		return plugins.Retriable(errors.New("source not reachable yet"))
	}
	if t.st.taskCount == nil {
		t.st.taskCount = map[string]string{}
	}
	t.st.taskCount[t.task] = cfg["count"]
	t.st.mu.Unlock()
	return nil
}

func (t *memSourceTask) CommitRecord(_ context.Context, r *schema.Record, md *plugins.RecordMetadata) error {
	t.st.mu.Lock()
	defer t.st.mu.Unlock()
	t.st.committed = append(t.st.committed, committedRecord{value: fmt.Sprint(r.Value), md: md})
	return nil
}

func (t *memSourceTask) Poll(ctx context.Context) ([]*schema.Record, error) {
	if t.next >= t.count {
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
		return nil, nil
	}
	var out []*schema.Record
	for i := 0; i < 50 && t.next < t.count; i++ {
		v := fmt.Sprintf("value-%s-%d", t.task, t.next)
		if t.pad != "" {
			v += "-" + t.pad[len(v)+1:]
		}
		r := schema.NewRecord("", schema.StringSchema, fmt.Sprintf("key-%d", t.next%7), schema.StringSchema, v)
		r.SourcePartition = map[string]any{"task": t.task}
		r.SourceOffset = map[string]any{"seq": int64(t.next)}
		if t.badOffsetAt > 0 && t.next == t.badOffsetAt {
			r.SourceOffset["weight"] = math.NaN()
		}
		r.Headers.Add("h", schema.StringSchema, "v")
		out = append(out, r)
		t.next++
	}
	return out, nil
}
func (t *memSourceTask) Commit(context.Context) error { return nil }

func (t *memSourceTask) Stop(context.Context) error {
	t.stopped = true
	if t.st != nil {
		t.st.mu.Lock()
		t.st.taskStops++
		t.st.mu.Unlock()
	}
	return nil
}

type memSinkTask struct {
	st      *memState
	stopped bool // the SPI starts and stops a task object once
}

func (t *memSinkTask) Start(_ context.Context, _ plugins.SinkTaskContext, cfg map[string]string) error {
	if t.stopped {
		st := stateFor(cfg["test.id"])
		st.mu.Lock()
		st.reused++
		st.mu.Unlock()
		return errors.New("mem-sink: Start on a task object already stopped")
	}
	t.st = stateFor(cfg["test.id"])
	t.st.mu.Lock()
	defer t.st.mu.Unlock()
	t.st.starts++
	if t.st.startRetriable > 0 {
		t.st.startRetriable--
		return plugins.Retriable(errors.New("sink not reachable yet"))
	}
	return nil
}

func (t *memSinkTask) Put(_ context.Context, recs []*schema.Record) error {
	t.st.mu.Lock()
	defer t.st.mu.Unlock()
	if t.st.retriable > 0 {
		t.st.retriable--
		return plugins.Retriable(errors.New("sink busy"))
	}
	if t.st.putErrs > 0 {
		t.st.putErrs--
		return errors.New("sink broken")
	}
	t.st.records = append(t.st.records, recs...)
	return nil
}

func (t *memSinkTask) Flush(context.Context, map[plugins.Queue]int64) error {
	t.st.mu.Lock()
	t.st.flushed = len(t.st.records)
	t.st.mu.Unlock()
	return nil
}
func (t *memSinkTask) Stop(context.Context) error {
	t.stopped = true
	if t.st != nil {
		t.st.mu.Lock()
		t.st.taskStops++
		t.st.mu.Unlock()
	}
	return nil
}

func testRegistry() *plugins.Registry {
	r := plugins.NewRegistry()
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(r.Register(plugins.KindSource, "mem-source", []string{"org.example.MemSource"}, func() plugins.Connector { return &memSourceConnector{} }))
	must(r.Register(plugins.KindSink, "mem-sink", nil, func() plugins.Connector { return &memSinkConnector{memConnector{sink: true}} }))
	return r
}

type syncMutex = sync.Mutex

func (c *collectorMsgs) add(ms []*rmqclient.ReceivedMessage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, ms...)
}

func (c *collectorMsgs) all() []*rmqclient.ReceivedMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*rmqclient.ReceivedMessage(nil), c.msgs...)
}

// stuckSourceTask ignores cancellation in Poll: only a forced stop gets past it.
type stuckSourceTask struct{ release chan struct{} }

func (t *stuckSourceTask) Start(context.Context, plugins.SourceTaskContext, map[string]string) error {
	return nil
}
func (t *stuckSourceTask) Poll(context.Context) ([]*schema.Record, error) {
	<-t.release
	return nil, nil
}
func (t *stuckSourceTask) Commit(context.Context) error { return nil }
func (t *stuckSourceTask) Stop(context.Context) error   { return nil }

type stuckConnector struct {
	memConnector
	release chan struct{}
}

func (c *stuckConnector) NewSourceTask() plugins.SourceTask {
	return &stuckSourceTask{release: c.release}
}
func (stuckConnector) NewSinkTask() {}
