package plugins

import (
	"errors"
	"fmt"
	"slices"
)

// MetricsProvider is an optional ability of the contexts the engine hands to connectors and
// tasks (ConnectorContext, SourceTaskContext, SinkTaskContext): a place to record the
// plugin's own metrics. Read it with MetricsOf, which also covers contexts without it.
type MetricsProvider interface {
	// Metrics returns the recorder of this connector or task; never nil. Its series
	// carry the worker, connector and task labels (task is empty for a connector) and
	// are removed when the connector or task stops.
	Metrics() Metrics
}

// MetricsOf returns ctx's Metrics when ctx is a MetricsProvider, else a Metrics that
// checks declarations like the engine does and records nothing.
func MetricsOf(ctx any) Metrics {
	if p, ok := ctx.(MetricsProvider); ok {
		if m := p.Metrics(); m != nil {
			return m
		}
	}
	return nopMetrics{}
}

// Metrics declares a plugin's metric families. The engine exposes a family declared as
// name by the connector class C as rmqconnect_plugin_<C>_<name> (C with every character
// other than a letter, digit or underscore turned into '_'), labelled worker, connector,
// task and then the declared labels in order. Every task of a connector (and every
// connector of the class) shares one family: declaring the same name again with the same
// kind, help, label names and buckets returns a recorder for the same family; anything else
// is an error. Label values may differ between declarations (each task may declare the
// topics it reads, say): a recorder bounds values by its own declaration. Declare families in Start and return the error from it. Safe for concurrent
// use.
type Metrics interface {
	// Counter declares a counter. By Prometheus convention its name ends in _total.
	Counter(name, help string, labels ...MetricLabel) (Counter, error)
	// Histogram declares a histogram with the given upper bucket bounds (increasing);
	// nil buckets give LatencyBuckets. Record durations in seconds.
	Histogram(name, help string, buckets []float64, labels ...MetricLabel) (Histogram, error)
}

// Counter adds to a counter. values are the values of the declared labels, one per label
// in declaration order; a value outside a label's declared set is recorded as
// OtherLabelValue. A call with the wrong number of values records nothing (the engine logs
// it once per family). Once the connector or task has stopped, calls record nothing.
type Counter interface {
	// Inc adds 1.
	Inc(values ...string)
	// Add adds v; a negative, infinite or NaN v is ignored (a counter never goes down, and
	// would keep +Inf or NaN for good).
	Add(v float64, values ...string)
}

// Histogram observes values, labelled as Counter is.
type Histogram interface {
	// Observe records v; a NaN or infinite v is ignored (the series' sum would keep it for good).
	Observe(v float64, values ...string)
}

// MetricLabel is a label a plugin adds to a family, with every value it may take: the
// engine keeps label sets bounded so a metric never grows a series per record, key or
// offset. Values not listed are recorded as OtherLabelValue.
type MetricLabel struct {
	Name   string
	Values []string
}

// OtherLabelValue stands for every value of a label that is not in its declared set.
const OtherLabelValue = "other"

// Bounds of a declaration, so that one family of one task stays small.
const (
	// MaxMetricLabels is the most labels a plugin may declare on a family.
	MaxMetricLabels = 4
	// MaxMetricSeries is the most label value combinations (OtherLabelValue included)
	// a family may have per task.
	MaxMetricSeries = 512
)

// LatencyBuckets are the default histogram buckets, in seconds: 0.5 ms to about 33 s.
var LatencyBuckets = []float64{0.0005, 0.002, 0.008, 0.032, 0.128, 0.512, 2.048, 8.192, 32.768}

// ErrBadMetric is wrapped by every error of a metric declaration.
var ErrBadMetric = errors.New("invalid metric declaration")

// engineLabels are the labels the engine adds to every plugin family.
var engineLabels = []string{"worker", "connector", "task"}

// CheckMetric validates a declaration as every Metrics implementation must: name and label
// names are lower snake case ([a-z_][a-z0-9_]*, not starting with "__"), label names are
// distinct and none of worker, connector, task or le, each label declares 1 to
// MaxMetricSeries distinct non-empty values, there are at most MaxMetricLabels labels and
// MaxMetricSeries combinations, help is not empty and buckets (when given) increase.
func CheckMetric(name, help string, buckets []float64, labels []MetricLabel) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("metric %q: %w: %s", name, ErrBadMetric, fmt.Sprintf(format, args...))
	}
	if !snake(name) {
		return bad("the name must match [a-z_][a-z0-9_]* and not start with __")
	}
	if help == "" {
		return bad("help is empty")
	}
	for i := 1; i < len(buckets); i++ {
		if !(buckets[i] > buckets[i-1]) {
			return bad("buckets must increase")
		}
	}
	if len(labels) > MaxMetricLabels {
		return bad("%d labels, at most %d", len(labels), MaxMetricLabels)
	}
	series := 1
	seen := map[string]bool{}
	for _, l := range labels {
		switch {
		case !snake(l.Name):
			return bad("label %q must match [a-z_][a-z0-9_]* and not start with __", l.Name)
		case slices.Contains(engineLabels, l.Name) || l.Name == "le":
			return bad("label %q is reserved", l.Name)
		case seen[l.Name]:
			return bad("label %q declared twice", l.Name)
		case len(l.Values) == 0:
			return bad("label %q declares no values", l.Name)
		}
		seen[l.Name] = true
		vals := map[string]bool{}
		for _, v := range l.Values {
			if v == "" || vals[v] {
				return bad("label %q: values must be distinct and non-empty", l.Name)
			}
			vals[v] = true
		}
		series *= len(vals) + 1
		if series > MaxMetricSeries {
			return bad("more than %d label value combinations", MaxMetricSeries)
		}
	}
	return nil
}

func snake(s string) bool {
	if s == "" || (len(s) > 1 && s[0] == '_' && s[1] == '_') {
		return false
	}
	for i, c := range s {
		if c == '_' || (c >= 'a' && c <= 'z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}

// Bound returns v when it is one of l's declared values, else OtherLabelValue.
func (l MetricLabel) Bound(v string) string {
	if slices.Contains(l.Values, v) {
		return v
	}
	return OtherLabelValue
}

// MetricNamespace is the prefix of the families a connector class declares:
// "rmqconnect_plugin_<class>_", class with every character other than an ASCII letter,
// digit or underscore turned into '_' and letters lowered.
func MetricNamespace(class string) string {
	b := []byte(class)
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z':
			b[i] = c + ('a' - 'A')
		case c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'):
		default:
			b[i] = '_'
		}
	}
	return "rmqconnect_plugin_" + string(b) + "_"
}

type nopMetrics struct{}

func (nopMetrics) Counter(name, help string, labels ...MetricLabel) (Counter, error) {
	if err := CheckMetric(name, help, nil, labels); err != nil {
		return nil, err
	}
	return nopRecorder{}, nil
}

func (nopMetrics) Histogram(name, help string, buckets []float64, labels ...MetricLabel) (Histogram, error) {
	if err := CheckMetric(name, help, buckets, labels); err != nil {
		return nil, err
	}
	return nopRecorder{}, nil
}

type nopRecorder struct{}

func (nopRecorder) Inc(...string)              {}
func (nopRecorder) Add(float64, ...string)     {}
func (nopRecorder) Observe(float64, ...string) {}
