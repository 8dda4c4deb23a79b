package worker

import (
	"log/slog"
	"math"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
)

// series gathers reg and returns the samples of family name as "label=value,..." (labels sorted by name) → value (counter value or
// histogram count).
func series(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	fams, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			out[strings.Join(ls, ",")] = value(m)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	if h := m.GetHistogram(); h != nil {
		return float64(h.GetSampleCount())
	}
	return m.GetCounter().GetValue()
}

// TestPluginMetricsScopes: tasks share a family; each series carries worker, connector and task; values
// outside a label's set become "other"; closing a scope removes its series and ignores later records; a
// conflicting declaration is an error.
func TestPluginMetricsScopes(t *testing.T) {
	pm := newPluginMetrics()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(pm))
	log := slog.New(slog.DiscardHandler)
	class := plugins.MetricLabel{Name: "class", Values: []string{"2xx", "5xx"}}

	t0 := pm.scope("http-sink", "w1", "hooks", "0", log)
	t1 := pm.scope("http-sink", "w1", "hooks", "1", log)
	c0, err := t0.Counter("requests_total", "Requests.", class)
	require.NoError(t, err)
	c1, err := t1.Counter("requests_total", "Requests.", class)
	require.NoError(t, err)
	h0, err := t0.Histogram("request_duration_seconds", "Latency.", nil, class)
	require.NoError(t, err)
	c0.Inc("2xx")
	c0.Add(2, "5xx")
	c0.Add(-5, "5xx") // ignored: counters do not go down
	c1.Inc("/orders/42")
	c1.Inc() // wrong number of values: nothing recorded
	h0.Observe(0.01, "2xx")

	const name = "rmqconnect_plugin_http_sink_requests_total"
	require.Equal(t, map[string]float64{
		"class=2xx,connector=hooks,task=0,worker=w1":   1,
		"class=5xx,connector=hooks,task=0,worker=w1":   2,
		"class=other,connector=hooks,task=1,worker=w1": 1,
	}, series(t, reg, name))
	require.Equal(t, map[string]float64{"class=2xx,connector=hooks,task=0,worker=w1": 1},
		series(t, reg, "rmqconnect_plugin_http_sink_request_duration_seconds"))

	_, err = t1.Counter("requests_total", "Requests.", plugins.MetricLabel{Name: "code", Values: []string{"200"}})
	require.ErrorIs(t, err, plugins.ErrBadMetric, "another label name")
	_, err = t1.Histogram("requests_total", "Requests.", nil, class)
	require.ErrorIs(t, err, plugins.ErrBadMetric)
	_, err = t1.Counter("Bad", "b")
	require.ErrorIs(t, err, plugins.ErrBadMetric)

	t0.close()
	t0.close()
	c0.Inc("2xx")
	require.Equal(t, map[string]float64{"class=other,connector=hooks,task=1,worker=w1": 1}, series(t, reg, name))
	require.Empty(t, series(t, reg, "rmqconnect_plugin_http_sink_request_duration_seconds"))

	pm.forget("w1", "hooks")
	require.Empty(t, series(t, reg, name))
}

// TestPluginScopeNil: a context of a runner built without a scope hands out a recorder of nothing.
func TestPluginScopeNil(t *testing.T) {
	var s *pluginScope
	c, err := s.metrics().Counter("x_total", "x")
	require.NoError(t, err)
	c.Inc()
	s.close()
}

// TestPluginMetricsValuesPerDeclaration: tasks (or connectors) of one class may declare a
// family's label with different value sets, such as the topics each reads; each recorder
// bounds values by its own declaration.
func TestPluginMetricsValuesPerDeclaration(t *testing.T) {
	pm := newPluginMetrics()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(pm))
	log := slog.New(slog.DiscardHandler)
	a := pm.scope("rocketmq-replicator", "w1", "repl", "0", log)
	b := pm.scope("rocketmq-replicator", "w1", "repl-lag", "0", log)
	ca, err := a.Counter("replicated_total", "Replicated.", plugins.MetricLabel{Name: "topic", Values: []string{"orders"}})
	require.NoError(t, err)
	cb, err := b.Counter("replicated_total", "Replicated.", plugins.MetricLabel{Name: "topic", Values: []string{"payments"}})
	require.NoError(t, err)
	ca.Inc("orders")
	ca.Inc("payments")
	cb.Inc("payments")
	require.Equal(t, map[string]float64{
		"connector=repl,task=0,topic=orders,worker=w1":       1,
		"connector=repl,task=0,topic=other,worker=w1":        1,
		"connector=repl-lag,task=0,topic=payments,worker=w1": 1,
	}, series(t, reg, "rmqconnect_plugin_rocketmq_replicator_replicated_total"))
}

// TestPluginFamilyGoesWithItsLastScope: once every connector and task that declared a family
// has stopped, a plugin's next version (after /plugin/reload, its connectors restarted) may
// declare the family with another help, labels or buckets; the old declaration refused it
// until the worker restarted, failing every Start. While a scope of the old declaration runs,
// a conflicting one is still refused.
func TestPluginFamilyGoesWithItsLastScope(t *testing.T) {
	pm := newPluginMetrics()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(pm))
	log := slog.New(slog.DiscardHandler)
	v1 := plugins.MetricLabel{Name: "class", Values: []string{"2xx", "5xx"}}
	v2 := plugins.MetricLabel{Name: "status", Values: []string{"200", "500"}}

	t0 := pm.scope("http-sink", "w1", "hooks", "0", log)
	t1 := pm.scope("http-sink", "w1", "hooks", "1", log)
	for _, s := range []*pluginScope{t0, t1} {
		c, err := s.Counter("requests_total", "Requests.", v1)
		require.NoError(t, err)
		c.Inc("2xx")
	}
	t0.close()
	next := pm.scope("http-sink", "w1", "hooks", "0", log)
	_, err := next.Counter("requests_total", "HTTP requests by status.", v2)
	require.ErrorIs(t, err, plugins.ErrBadMetric, "task 1 still runs the old declaration")

	t1.close()
	c, err := next.Counter("requests_total", "HTTP requests by status.", v2)
	require.NoError(t, err)
	c.Inc("500")
	require.Equal(t, map[string]float64{"connector=hooks,status=500,task=0,worker=w1": 1},
		series(t, reg, "rmqconnect_plugin_http_sink_requests_total"))

	// A scope closed before it declares keeps nothing in the way of the next one.
	late := pm.scope("http-sink", "w1", "hooks", "2", log)
	late.close()
	_, err = late.Histogram("latency_seconds", "Latency.", nil)
	require.NoError(t, err)
	_, err = next.Counter("latency_seconds", "Latency.")
	require.NoError(t, err)
}

// TestPluginMetricsIgnoreNonFinite: an infinite or NaN Add, or a NaN observation, would stay in
// the series for good (a counter at +Inf or NaN, a histogram sum of NaN) and break every rate
// and average over it; they are ignored as a negative Add is.
func TestPluginMetricsIgnoreNonFinite(t *testing.T) {
	pm := newPluginMetrics()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(pm))
	s := pm.scope("http-sink", "w1", "hooks", "0", slog.New(slog.DiscardHandler))
	c, err := s.Counter("bytes_total", "Bytes.")
	require.NoError(t, err)
	h, err := s.Histogram("size_bytes", "Sizes.", nil)
	require.NoError(t, err)
	c.Add(3)
	c.Add(math.Inf(1))
	c.Add(math.NaN())
	h.Observe(2)
	h.Observe(math.NaN())
	h.Observe(math.Inf(1))
	h.Observe(math.Inf(-1))
	fams, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range fams {
		m := f.GetMetric()[0]
		switch f.GetName() {
		case "rmqconnect_plugin_http_sink_bytes_total":
			require.Equal(t, 3.0, m.GetCounter().GetValue())
		case "rmqconnect_plugin_http_sink_size_bytes":
			require.Equal(t, uint64(1), m.GetHistogram().GetSampleCount())
			require.Equal(t, 2.0, m.GetHistogram().GetSampleSum())
		}
	}
}
