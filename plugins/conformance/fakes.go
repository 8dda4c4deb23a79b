package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
)

// Positions is an in-memory plugins.PositionReader: a position store that a test fills by committing records.
// Partitions are compared by their JSON encoding, so {"task": 1} and {"task": int64(1)} are the same
// partition, as they are after a real store's round trip. Safe for concurrent use.
type Positions struct {
	mu  sync.Mutex
	m   map[string]plugins.PartitionPosition
	Err error // returned by every read when set, to simulate an unavailable store
}

// NewPositions returns an empty store.
func NewPositions() *Positions { return &Positions{m: map[string]plugins.PartitionPosition{}} }

var _ plugins.PositionReader = (*Positions)(nil)

func partitionKey(p map[string]any) string {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Sprintf("%v", p)
	}
	return string(b)
}

// Commit stores r's offset (Record.Offset) as the position of its SourcePartition, as the engine does once r
// is acked.
func (p *Positions) Commit(r *schema.Record) {
	p.Set(r.SourcePartition, r.Offset())
}

// Set stores offset as the position of partition.
func (p *Positions) Set(partition, offset map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m[partitionKey(partition)] = plugins.PartitionPosition{
		Partition: copyMap(partition),
		Offset:    copyMap(offset),
	}
}

func copyMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	c, _ := schema.CopyValue(m).(map[string]any)
	return c
}

// Len returns how many partitions have a position.
func (p *Positions) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.m)
}

// Position returns a copy of the stored offset of partition, or nil.
func (p *Positions) Position(_ context.Context, partition map[string]any) (map[string]any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.Err != nil {
		return nil, p.Err
	}
	pp, ok := p.m[partitionKey(partition)]
	if !ok {
		return nil, nil
	}
	return copyMap(pp.Offset), nil
}

// Positions returns the stored offsets of those partitions that have one.
func (p *Positions) Positions(ctx context.Context, partitions []map[string]any) ([]plugins.PartitionPosition, error) {
	var out []plugins.PartitionPosition
	for _, part := range partitions {
		off, err := p.Position(ctx, part)
		if err != nil {
			return nil, err
		}
		if off != nil {
			out = append(out, plugins.PartitionPosition{Partition: copyMap(part), Offset: off})
		}
	}
	return out, nil
}

// SourceContext is a plugins.SourceTaskContext over a Positions store.
type SourceContext struct {
	Store *Positions
	Log   *slog.Logger
	// Values is what Config returns: the task config parsed against the connector's Spec.
	Values plugins.Values
	// Recorder is what Metrics returns.
	Recorder *Metrics
}

// NewSourceContext returns a context reading store (a fresh empty one when nil) and logging nowhere.
func NewSourceContext(store *Positions) *SourceContext {
	if store == nil {
		store = NewPositions()
	}
	return &SourceContext{Store: store, Log: slog.New(slog.DiscardHandler), Recorder: NewMetrics()}
}

var (
	_ plugins.SourceTaskContext = (*SourceContext)(nil)
	_ plugins.MetricsProvider   = (*SourceContext)(nil)
	_ plugins.MetricsProvider   = (*SinkContext)(nil)
	_ plugins.MetricsProvider   = (*ConnectorContext)(nil)
)

// Positions returns the store.
func (c *SourceContext) Positions() plugins.PositionReader { return c.Store }

// Logger returns Log.
func (c *SourceContext) Logger() *slog.Logger { return c.Log }

// Config returns Values.
func (c *SourceContext) Config() plugins.Values { return c.Values }

// Metrics returns Recorder (plugins.MetricsProvider), or a recorder of nothing when it is nil.
func (c *SourceContext) Metrics() plugins.Metrics { return c.Recorder.orNop() }

// ErrantReporter is a plugins.ErrantRecordReporter that keeps what it is given. With Fail set it behaves as
// errors.tolerance=none and returns an error wrapping the reported one.
type ErrantReporter struct {
	mu      sync.Mutex
	Fail    bool
	records []*schema.Record
	errs    []error
}

// Report records r and err.
func (e *ErrantReporter) Report(_ context.Context, r *schema.Record, err error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.records = append(e.records, r)
	e.errs = append(e.errs, err)
	if e.Fail {
		return fmt.Errorf("errant record not tolerated: %w", err)
	}
	return nil
}

// Reported returns the reported records and errors, in order.
func (e *ErrantReporter) Reported() ([]*schema.Record, []error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.records), slices.Clone(e.errs)
}

// SinkContext is a plugins.SinkTaskContext that records what the task asks of the engine.
type SinkContext struct {
	mu       sync.Mutex
	queues   []plugins.Queue
	resets   map[plugins.Queue]int64
	paused   map[plugins.Queue]bool
	Reporter *ErrantReporter
	Log      *slog.Logger
	// Values is what Config returns: the task config parsed against the connector's Spec.
	Values plugins.Values
	// Recorder is what Metrics returns.
	Recorder *Metrics
}

// NewSinkContext returns a context with the given assignment, a tolerant reporter and a discarding logger.
func NewSinkContext(queues ...plugins.Queue) *SinkContext {
	return &SinkContext{queues: slices.Clone(queues), resets: map[plugins.Queue]int64{},
		paused: map[plugins.Queue]bool{}, Reporter: &ErrantReporter{}, Log: slog.New(slog.DiscardHandler),
		Recorder: NewMetrics()}
}

var _ plugins.SinkTaskContext = (*SinkContext)(nil)

// Assignment returns the queues given to NewSinkContext.
func (c *SinkContext) Assignment() []plugins.Queue {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.queues)
}

// ResetOffsets records the requested offsets.
func (c *SinkContext) ResetOffsets(offsets map[plugins.Queue]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	maps.Copy(c.resets, offsets)
}

// Resets returns every offset reset requested so far.
func (c *SinkContext) Resets() map[plugins.Queue]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.resets)
}

// Pause marks queues paused.
func (c *SinkContext) Pause(queues ...plugins.Queue) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, q := range queues {
		c.paused[q] = true
	}
}

// Resume marks queues not paused.
func (c *SinkContext) Resume(queues ...plugins.Queue) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, q := range queues {
		delete(c.paused, q)
	}
}

// Paused reports whether q is paused.
func (c *SinkContext) Paused(q plugins.Queue) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paused[q]
}

// ErrantRecordReporter returns Reporter.
func (c *SinkContext) ErrantRecordReporter() plugins.ErrantRecordReporter { return c.Reporter }

// Logger returns Log.
func (c *SinkContext) Logger() *slog.Logger { return c.Log }

// Config returns Values.
func (c *SinkContext) Config() plugins.Values { return c.Values }

// Metrics returns Recorder (plugins.MetricsProvider), or a recorder of nothing when it is nil.
func (c *SinkContext) Metrics() plugins.Metrics { return c.Recorder.orNop() }

// ConnectorContext is a plugins.ConnectorContext that counts reconfiguration requests and keeps raised errors.
type ConnectorContext struct {
	mu       sync.Mutex
	requests int
	errs     []error
	Log      *slog.Logger
	// Values is what Config returns: the connector config parsed against its Spec.
	Values plugins.Values
	// Recorder is what Metrics returns.
	Recorder *Metrics
}

// NewConnectorContext returns a context logging nowhere.
func NewConnectorContext() *ConnectorContext {
	return &ConnectorContext{Log: slog.New(slog.DiscardHandler), Recorder: NewMetrics()}
}

var _ plugins.ConnectorContext = (*ConnectorContext)(nil)

// RequestTaskReconfiguration counts the request.
func (c *ConnectorContext) RequestTaskReconfiguration() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests++
}

// Reconfigurations returns how many reconfigurations were requested.
func (c *ConnectorContext) Reconfigurations() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests
}

// RaiseError keeps err.
func (c *ConnectorContext) RaiseError(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, err)
}

// Raised returns the errors raised so far.
func (c *ConnectorContext) Raised() []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.errs)
}

// Logger returns Log.
func (c *ConnectorContext) Logger() *slog.Logger { return c.Log }

// Config returns Values.
func (c *ConnectorContext) Config() plugins.Values { return c.Values }

// Metrics is a recording plugins.Metrics: it checks declarations as the engine does (plugins.CheckMetric, and
// one kind, help, labels and buckets per name) and keeps counter values and histogram observations per label
// values, so a test can read what a connector or task recorded. Names are kept as declared (no namespace).
// Safe for concurrent use.
type Metrics struct {
	mu       sync.Mutex
	families map[string]*fakeFamily
}

type fakeFamily struct {
	histogram bool
	help      string
	buckets   []float64
	labels    []plugins.MetricLabel
	counts    map[string]float64   // counters, by joined label values
	observed  map[string][]float64 // histograms, by joined label values
	misuses   int                  // records with the wrong number of values
}

// NewMetrics returns an empty recorder.
func NewMetrics() *Metrics { return &Metrics{families: map[string]*fakeFamily{}} }

var _ plugins.Metrics = (*Metrics)(nil)

func (m *Metrics) declare(name, help string, histogram bool, buckets []float64, labels []plugins.MetricLabel) (*fakeFamily, error) {
	if err := plugins.CheckMetric(name, help, buckets, labels); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if f, ok := m.families[name]; ok {
		if f.histogram != histogram || f.help != help || !slices.Equal(f.buckets, buckets) ||
			!slices.EqualFunc(f.labels, labels, func(a, b plugins.MetricLabel) bool { return a.Name == b.Name }) {
			return nil, fmt.Errorf("metric %q: %w: declared before with another kind, help, label names or buckets", name, plugins.ErrBadMetric)
		}
		return f, nil
	}
	f := &fakeFamily{histogram: histogram, help: help, buckets: slices.Clone(buckets), labels: slices.Clone(labels),
		counts: map[string]float64{}, observed: map[string][]float64{}}
	m.families[name] = f
	return f, nil
}

// Counter implements plugins.Metrics.
func (m *Metrics) Counter(name, help string, labels ...plugins.MetricLabel) (plugins.Counter, error) {
	f, err := m.declare(name, help, false, nil, labels)
	if err != nil {
		return nil, err
	}
	return fakeCounter{m, f, slices.Clone(labels)}, nil
}

// Histogram implements plugins.Metrics; nil buckets are plugins.LatencyBuckets.
func (m *Metrics) Histogram(name, help string, buckets []float64, labels ...plugins.MetricLabel) (plugins.Histogram, error) {
	if buckets == nil {
		buckets = plugins.LatencyBuckets
	}
	f, err := m.declare(name, help, true, buckets, labels)
	if err != nil {
		return nil, err
	}
	return fakeHistogram{m, f, slices.Clone(labels)}, nil
}

// key bounds values by labels as the engine does and joins them; ok is false for a wrong number of values.
func key(labels []plugins.MetricLabel, values []string) (string, bool) {
	if len(values) != len(labels) {
		return "", false
	}
	b := make([]string, len(values))
	for i, v := range values {
		b[i] = labels[i].Bound(v)
	}
	k, _ := json.Marshal(b)
	return string(k), true
}

type fakeCounter struct {
	m      *Metrics
	f      *fakeFamily
	labels []plugins.MetricLabel // as this recorder was declared
}

func (c fakeCounter) Inc(values ...string) { c.Add(1, values...) }

func (c fakeCounter) Add(v float64, values ...string) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	k, ok := key(c.labels, values)
	switch {
	case !ok:
		c.f.misuses++
	case v >= 0:
		c.f.counts[k] += v
	}
}

type fakeHistogram struct {
	m      *Metrics
	f      *fakeFamily
	labels []plugins.MetricLabel // as this recorder was declared
}

func (h fakeHistogram) Observe(v float64, values ...string) {
	h.m.mu.Lock()
	defer h.m.mu.Unlock()
	k, ok := key(h.labels, values)
	if !ok {
		h.f.misuses++
		return
	}
	h.f.observed[k] = append(h.f.observed[k], v)
}

// Declared reports whether a family name was declared.
func (m *Metrics) Declared(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.families[name]
	return ok
}

// Count returns the value of counter name for the label values (bounded as the engine bounds them); 0 when
// nothing was recorded.
func (m *Metrics) Count(name string, values ...string) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.families[name]
	if !ok || f.histogram {
		return 0
	}
	k, _ := key(f.labels, values)
	return f.counts[k]
}

// Observations returns what histogram name observed for the label values, in order.
func (m *Metrics) Observations(name string, values ...string) []float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.families[name]
	if !ok || !f.histogram {
		return nil
	}
	k, _ := key(f.labels, values)
	return slices.Clone(f.observed[k])
}

// Misuses returns how many records of family name had the wrong number of label values (the engine records
// nothing for them and logs a warning).
func (m *Metrics) Misuses(name string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f, ok := m.families[name]; ok {
		return f.misuses
	}
	return 0
}

// Metrics returns Recorder (plugins.MetricsProvider), or a recorder of nothing when it is nil.
func (c *ConnectorContext) Metrics() plugins.Metrics { return c.Recorder.orNop() }

func (m *Metrics) orNop() plugins.Metrics {
	if m == nil {
		return plugins.MetricsOf(nil)
	}
	return m
}
