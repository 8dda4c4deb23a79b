package conformance_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/schema"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// memory is an external system for the self-test: named append-only logs.
type memory struct {
	mu   sync.Mutex
	logs map[string][]string
}

func (m *memory) append(name string, items ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.logs[name] = append(m.logs[name], items...)
}

func (m *memory) read(name string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.logs[name]...)
}

var memSpec = plugins.MustConfigSpec(plugins.Field{Name: "log", Type: plugins.TypeString, Required: true})

type memConnector struct {
	mem *memory
	cfg map[string]string
}

func (c *memConnector) Spec() *plugins.ConfigSpec { return memSpec }
func (c *memConnector) Validate(cfg map[string]string) error {
	_, err := memSpec.Parse(cfg)
	return err
}
func (c *memConnector) Start(_ context.Context, _ plugins.ConnectorContext, cfg map[string]string) error {
	c.cfg = maps.Clone(cfg)
	return nil
}
func (c *memConnector) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{maps.Clone(c.cfg)}, nil
}
func (c *memConnector) Stop(context.Context) error        { return nil }
func (c *memConnector) NewSourceTask() plugins.SourceTask { return &memSource{mem: c.mem} }
func (c *memConnector) NewSinkTask() plugins.SinkTask     { return &memSink{mem: c.mem} }

// memSource emits the items of a log, position = index of the next item.
type memSource struct {
	mem  *memory
	log  string
	next int
}

func (s *memSource) Start(ctx context.Context, tctx plugins.SourceTaskContext, cfg map[string]string) error {
	s.log = cfg["log"]
	off, err := tctx.Positions().Position(ctx, map[string]any{"log": s.log})
	if err != nil {
		return err
	}
	if off != nil {
		s.next = int(off["next"].(float64))
	}
	return nil
}

func (s *memSource) Poll(ctx context.Context) ([]*schema.Record, error) {
	items := s.mem.read(s.log)
	if s.next >= len(items) {
		select {
		case <-ctx.Done():
		case <-time.After(time.Millisecond):
		}
		return nil, nil
	}
	var out []*schema.Record
	for ; s.next < len(items) && len(out) < 10; s.next++ {
		r := schema.NewRecord("t", nil, nil, schema.StringSchema, items[s.next])
		r.SourcePartition = map[string]any{"log": s.log}
		r.SourceOffset = map[string]any{"next": s.next + 1}
		out = append(out, r)
	}
	return out, nil
}

func (s *memSource) Commit(context.Context) error { return nil }
func (s *memSource) Stop(context.Context) error   { return nil }

type memSink struct {
	mu      sync.Mutex
	mem     *memory
	log     string
	pending []string
}

func (s *memSink) Start(_ context.Context, _ plugins.SinkTaskContext, cfg map[string]string) error {
	s.log = cfg["log"]
	return nil
}

func (s *memSink) Put(_ context.Context, records []*schema.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range records {
		s.pending = append(s.pending, r.Value.(string))
	}
	return nil
}

func (s *memSink) Flush(context.Context, map[plugins.Queue]int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mem.append(s.log, s.pending...)
	s.pending = nil
	return nil
}

func (s *memSink) Stop(context.Context) error { return nil }

func TestSuiteOnMemoryConnectors(t *testing.T) {
	mem := &memory{logs: map[string][]string{}}
	item := func(i int) string { return "item-" + strconv.Itoa(i) }
	n := 0
	setup := func(*testing.T) map[string]string {
		n++
		return map[string]string{"log": fmt.Sprint("log-", n)}
	}
	conformance.TestSource(t, conformance.SourceHarness{
		NewConnector: func() plugins.SourceConnector { return &memConnector{mem: mem} },
		Setup:        setup,
		Append: func(_ *testing.T, cfg map[string]string, first, n int) {
			for i := first; i < first+n; i++ {
				mem.append(cfg["log"], item(i))
			}
		},
		Check: func(t *testing.T, i int, r *schema.Record) { require.Equal(t, item(i), r.Value) },
	})
	conformance.TestSink(t, conformance.SinkHarness{
		NewConnector: func() plugins.SinkConnector { return &memConnector{mem: mem} },
		Setup:        setup,
		Record:       func(i int) *schema.Record { return schema.NewRecord("", nil, nil, schema.StringSchema, item(i)) },
		Verify: func(t *testing.T, cfg map[string]string, n int) {
			want := []string{}
			for i := range n {
				want = append(want, item(i))
			}
			require.Equal(t, want, append([]string{}, mem.read(cfg["log"])...))
		},
	})
}

func TestPositions(t *testing.T) {
	ctx := context.Background()
	p := conformance.NewPositions()
	off, err := p.Position(ctx, map[string]any{"task": 1})
	require.NoError(t, err)
	require.Nil(t, off)

	r := schema.NewRecord("t", nil, nil, nil, "v")
	r.SourcePartition = map[string]any{"task": int64(1)}
	r.SourceOffset = map[string]any{"seq": int64(5)}
	p.Commit(r)
	r.SourceOffset["seq"] = int64(99) // the store keeps a copy

	off, err = p.Position(ctx, map[string]any{"task": 1})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"seq": int64(5)}, off, "partitions match by JSON encoding")
	off["seq"] = int64(0)
	again, err := p.Position(ctx, map[string]any{"task": 1})
	require.NoError(t, err)
	require.Equal(t, int64(5), again["seq"], "callers get a copy")

	pps, err := p.Positions(ctx, []map[string]any{{"task": 1}, {"task": 2}})
	require.NoError(t, err)
	require.Len(t, pps, 1)
	require.Equal(t, 1, p.Len())

	p.Err = errors.New("store down")
	_, err = p.Position(ctx, map[string]any{"task": 1})
	require.ErrorIs(t, err, p.Err)
	_, err = p.Positions(ctx, []map[string]any{{"task": 1}})
	require.ErrorIs(t, err, p.Err)
}

func TestSinkContext(t *testing.T) {
	q1 := plugins.Queue{Topic: "a", QueueID: 1}
	q2 := plugins.Queue{Topic: "a", QueueID: 2}
	c := conformance.NewSinkContext(q1, q2)
	require.Equal(t, []plugins.Queue{q1, q2}, c.Assignment())
	c.Pause(q1, q2)
	c.Resume(q2)
	require.True(t, c.Paused(q1))
	require.False(t, c.Paused(q2))
	c.ResetOffsets(map[plugins.Queue]int64{q1: 7})
	require.Equal(t, map[plugins.Queue]int64{q1: 7}, c.Resets())
	require.NotNil(t, c.Logger())

	r := schema.NewRecord("t", nil, nil, nil, "v")
	cause := errors.New("bad")
	require.NoError(t, c.ErrantRecordReporter().Report(context.Background(), r, cause))
	c.Reporter.Fail = true
	require.ErrorIs(t, c.ErrantRecordReporter().Report(context.Background(), r, cause), cause)
	recs, errs := c.Reporter.Reported()
	require.Len(t, recs, 2)
	require.Len(t, errs, 2)
}

func TestConnectorContext(t *testing.T) {
	c := conformance.NewConnectorContext()
	c.RequestTaskReconfiguration()
	c.RequestTaskReconfiguration()
	require.Equal(t, 2, c.Reconfigurations())
	c.RaiseError(errors.New("boom"))
	require.Len(t, c.Raised(), 1)
	require.NotNil(t, c.Logger())
	require.NotNil(t, conformance.NewSourceContext(nil).Positions())
}
