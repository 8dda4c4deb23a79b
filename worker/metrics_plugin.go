package worker

import (
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rmqconnect/rmqconnect/plugins"
)

// pluginMetrics holds the metric families connectors and tasks declare through
// plugins.Metrics. Families appear while the worker runs, so it is an unchecked collector
// (Describe yields nothing); Collect yields every family. One family is shared by every
// connector and task that declares it; each scope removes its own series when it closes, and
// the family goes with the last scope that declared it, so that a plugin's next version (after
// /plugin/reload and a restart of its connectors) may declare it anew with another help,
// labels or buckets.
type pluginMetrics struct {
	mu       sync.Mutex
	families map[string]*pluginFamily // by full name
}

func newPluginMetrics() *pluginMetrics {
	return &pluginMetrics{families: map[string]*pluginFamily{}}
}

// pluginFamily is one declared family: its declaration and its vector.
type pluginFamily struct {
	name    string
	help    string
	labels  []plugins.MetricLabel
	buckets []float64 // nil for a counter
	counter *prometheus.CounterVec
	hist    *prometheus.HistogramVec
	scopes  map[*pluginScope]bool // the open scopes that declared it; guarded by pluginMetrics.mu
}

// Describe implements prometheus.Collector; it yields nothing (unchecked collector).
func (p *pluginMetrics) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector.
func (p *pluginMetrics) Collect(ch chan<- prometheus.Metric) {
	p.mu.Lock()
	fs := make([]*pluginFamily, 0, len(p.families))
	for _, f := range p.families {
		fs = append(fs, f)
	}
	p.mu.Unlock()
	for _, f := range fs {
		f.vec().Collect(ch)
	}
}

func (f *pluginFamily) vec() prometheus.Collector {
	if f.hist != nil {
		return f.hist
	}
	return f.counter
}

// deleteMatch drops the series whose labels include l.
func (f *pluginFamily) deleteMatch(l prometheus.Labels) {
	if f.hist != nil {
		f.hist.DeletePartialMatch(l)
	} else {
		f.counter.DeletePartialMatch(l)
	}
}

// declare returns the family named name for scope s, creating it; a family an open scope
// declared with a different kind, help, label names or buckets is an error. Label values may
// differ from one declaration to the next: each recorder bounds values by its own declaration.
func (p *pluginMetrics) declare(s *pluginScope, name, help string, histogram bool, buckets []float64, labels []plugins.MetricLabel) (*pluginFamily, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f, ok := p.families[name]; ok {
		if (f.hist != nil) != histogram || f.help != help || !slices.Equal(f.buckets, buckets) ||
			!slices.EqualFunc(f.labels, labels, func(a, b plugins.MetricLabel) bool { return a.Name == b.Name }) {
			return nil, fmt.Errorf("metric %q: %w: declared before with another kind, help, labels or buckets", name, plugins.ErrBadMetric)
		}
		if !s.released {
			f.scopes[s] = true
		}
		return f, nil
	}
	names := slices.Clone(engineLabelNames)
	for _, l := range labels {
		names = append(names, l.Name)
	}
	f := &pluginFamily{name: name, help: help, buckets: slices.Clone(buckets), scopes: map[*pluginScope]bool{}}
	for _, l := range labels {
		f.labels = append(f.labels, plugins.MetricLabel{Name: l.Name, Values: slices.Clone(l.Values)})
	}
	if histogram {
		f.hist = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: f.buckets}, names)
	} else {
		f.counter = prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, names)
	}
	if !s.released {
		// A scope closed already records nothing: it keeps no family.
		f.scopes[s] = true
		p.families[name] = f
	}
	return f, nil
}

// release removes scope s's series (labels l) from every family and the families no open
// scope declared any more.
func (p *pluginMetrics) release(s *pluginScope, l prometheus.Labels) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s.released = true
	for name, f := range p.families {
		if !f.scopes[s] {
			continue
		}
		f.deleteMatch(l)
		delete(f.scopes, s)
		if len(f.scopes) == 0 {
			delete(p.families, name)
		}
	}
}

// forget drops a deleted connector's series.
func (p *pluginMetrics) forget(worker, connector string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.families {
		f.deleteMatch(prometheus.Labels{"worker": worker, "connector": connector})
	}
}

var engineLabelNames = []string{"worker", "connector", "task"}

// pluginScope is the plugins.Metrics of one connector or task incarnation. Its series
// carry the worker, connector and task labels; close removes them and makes every later
// record a no-op, so a stopped task leaves nothing behind.
type pluginScope struct {
	m      *pluginMetrics
	prefix string   // plugins.MetricNamespace of the connector class
	base   []string // worker, connector, task values
	log    *slog.Logger

	mu     sync.RWMutex // read: recording; write: closing
	closed bool
	warned map[*pluginFamily]bool // families misused (wrong value count), logged once
	// released: close has removed the scope from the families; guarded by pluginMetrics.mu.
	released bool
}

// scope returns the recorder of one connector (task "") or task of class on this worker.
func (p *pluginMetrics) scope(class, worker, connector, task string, log *slog.Logger) *pluginScope {
	return &pluginScope{m: p, prefix: plugins.MetricNamespace(class), base: []string{worker, connector, task}, log: log,
		warned: map[*pluginFamily]bool{}}
}

var _ plugins.Metrics = (*pluginScope)(nil)

// Counter implements plugins.Metrics.
func (s *pluginScope) Counter(name, help string, labels ...plugins.MetricLabel) (plugins.Counter, error) {
	f, err := s.declare(name, help, false, nil, labels)
	if err != nil {
		return nil, err
	}
	return counterRecorder{pluginRecorder{s, f, slices.Clone(labels)}}, nil
}

// Histogram implements plugins.Metrics.
func (s *pluginScope) Histogram(name, help string, buckets []float64, labels ...plugins.MetricLabel) (plugins.Histogram, error) {
	if buckets == nil {
		buckets = plugins.LatencyBuckets
	}
	f, err := s.declare(name, help, true, buckets, labels)
	if err != nil {
		return nil, err
	}
	return histogramRecorder{pluginRecorder{s, f, slices.Clone(labels)}}, nil
}

func (s *pluginScope) declare(name, help string, histogram bool, buckets []float64, labels []plugins.MetricLabel) (*pluginFamily, error) {
	if err := plugins.CheckMetric(name, help, buckets, labels); err != nil {
		return nil, err
	}
	return s.m.declare(s, s.prefix+name, help, histogram, buckets, labels)
}

// metrics is what a context's Metrics returns: s, or a recorder of nothing when the
// runner was built without a scope.
func (s *pluginScope) metrics() plugins.Metrics {
	if s == nil {
		return plugins.MetricsOf(nil)
	}
	return s
}

// close removes the scope's series; later records do nothing. Idempotent.
func (s *pluginScope) close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	closed := s.closed
	s.closed = true // no record runs once this holds
	s.mu.Unlock()
	if !closed {
		s.m.release(s, prometheus.Labels{"worker": s.base[0], "connector": s.base[1], "task": s.base[2]})
	}
}

// pluginRecorder records into one family in one scope, bounding label values by the
// labels it was declared with.
type pluginRecorder struct {
	s      *pluginScope
	f      *pluginFamily
	labels []plugins.MetricLabel
}

// counterRecorder is a plugins.Counter.
type counterRecorder struct{ pluginRecorder }

func (r counterRecorder) Inc(values ...string) { r.Add(1, values...) }

func (r counterRecorder) Add(v float64, values ...string) {
	if !(v >= 0) || math.IsInf(v, 1) {
		return // a counter does not go down, and +Inf or NaN would stay in it for good
	}
	r.record(values, func(lv []string) { r.f.counter.WithLabelValues(lv...).Add(v) })
}

// histogramRecorder is a plugins.Histogram.
type histogramRecorder struct{ pluginRecorder }

func (r histogramRecorder) Observe(v float64, values ...string) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return // the series' sum would be NaN or infinite for good
	}
	r.record(values, func(lv []string) { r.f.hist.WithLabelValues(lv...).Observe(v) })
}

// record applies rec to the label values (engine labels, then each value bounded to its
// label's set) unless the scope is closed or the value count is wrong.
func (r pluginRecorder) record(values []string, rec func(lv []string)) {
	s := r.s
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return
	}
	if len(values) != len(r.labels) {
		s.mu.RUnlock()
		s.mu.Lock()
		first := !s.warned[r.f]
		s.warned[r.f] = true
		s.mu.Unlock()
		if first {
			s.log.Warn("plugin metric recorded with the wrong number of label values; nothing recorded",
				"metric", r.f.name, "want", len(r.labels), "got", len(values))
		}
		return
	}
	defer s.mu.RUnlock()
	lv := make([]string, 0, len(s.base)+len(values))
	lv = append(lv, s.base...)
	for i, v := range values {
		lv = append(lv, r.labels[i].Bound(v))
	}
	rec(lv)
}
