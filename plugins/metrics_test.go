package plugins_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
)

func TestCheckMetric(t *testing.T) {
	class := plugins.MetricLabel{Name: "class", Values: []string{"2xx", "5xx"}}
	many := make([]string, plugins.MaxMetricSeries)
	for i := range many {
		many[i] = strings.Repeat("v", i+1)
	}
	for _, c := range []struct {
		name, help string
		buckets    []float64
		labels     []plugins.MetricLabel
		bad        string // "" when valid
	}{
		{name: "requests_total", help: "h", labels: []plugins.MetricLabel{class}},
		{name: "latency_seconds", help: "h", buckets: []float64{0.1, 1}},
		{name: "Requests", help: "h", bad: "name must match"},
		{name: "__x", help: "h", bad: "name must match"},
		{name: "1x", help: "h", bad: "name must match"},
		{name: "x", help: "", bad: "help is empty"},
		{name: "x", help: "h", buckets: []float64{1, 1}, bad: "buckets must increase"},
		{name: "x", help: "h", labels: []plugins.MetricLabel{{Name: "task", Values: []string{"a"}}}, bad: "reserved"},
		{name: "x", help: "h", labels: []plugins.MetricLabel{{Name: "le", Values: []string{"a"}}}, bad: "reserved"},
		{name: "x", help: "h", labels: []plugins.MetricLabel{class, class}, bad: "declared twice"},
		{name: "x", help: "h", labels: []plugins.MetricLabel{{Name: "key"}}, bad: "declares no values"},
		{name: "x", help: "h", labels: []plugins.MetricLabel{{Name: "k", Values: []string{"a", "a"}}}, bad: "distinct"},
		{name: "x", help: "h", labels: []plugins.MetricLabel{{Name: "k", Values: []string{""}}}, bad: "non-empty"},
		{name: "x", help: "h", labels: []plugins.MetricLabel{{Name: "k", Values: many}}, bad: "combinations"},
		{name: "x", help: "h", labels: []plugins.MetricLabel{{Name: "a", Values: []string{"1"}}, {Name: "b", Values: []string{"1"}},
			{Name: "c", Values: []string{"1"}}, {Name: "d", Values: []string{"1"}}, {Name: "e", Values: []string{"1"}}}, bad: "labels, at most"},
	} {
		err := plugins.CheckMetric(c.name, c.help, c.buckets, c.labels)
		if c.bad == "" {
			require.NoError(t, err, c.name)
			continue
		}
		require.ErrorIs(t, err, plugins.ErrBadMetric, c.bad)
		require.ErrorContains(t, err, c.bad)
		require.ErrorContains(t, err, c.name)
	}
}

func TestMetricNamespaceAndBound(t *testing.T) {
	require.Equal(t, "rmqconnect_plugin_http_sink_", plugins.MetricNamespace("http-sink"))
	require.Equal(t, "rmqconnect_plugin_org_apache_filesink_", plugins.MetricNamespace("org.apache.FileSink"))
	l := plugins.MetricLabel{Name: "class", Values: []string{"2xx"}}
	require.Equal(t, "2xx", l.Bound("2xx"))
	require.Equal(t, plugins.OtherLabelValue, l.Bound("/orders/42"))
}

// TestMetricsOfWithoutProvider: a context without the ability still checks declarations and records nothing.
func TestMetricsOfWithoutProvider(t *testing.T) {
	m := plugins.MetricsOf(struct{}{})
	c, err := m.Counter("ok_total", "h")
	require.NoError(t, err)
	c.Inc()
	c.Add(-1)
	_, err = m.Histogram("Bad", "h", nil)
	require.True(t, errors.Is(err, plugins.ErrBadMetric))
}
