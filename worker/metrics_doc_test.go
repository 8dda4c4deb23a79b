package worker

import (
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// docFamily is one row of docs/metrics.md.
type docFamily struct {
	typ    string
	labels []string
}

// metricsReference reads the family tables of docs/metrics.md.
func metricsReference(t *testing.T) map[string]docFamily {
	t.Helper()
	b, err := os.ReadFile("../docs/metrics.md")
	require.NoError(t, err)
	ticked := regexp.MustCompile("`([^`]+)`")
	out := map[string]docFamily{}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| `rmqconnect_") {
			continue
		}
		cells := strings.Split(line, "|")
		require.GreaterOrEqual(t, len(cells), 6, "row %q", line)
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		var labels []string
		for _, m := range ticked.FindAllStringSubmatch(cells[3], -1) {
			labels = append(labels, m[1])
		}
		sort.Strings(labels)
		require.NotContains(t, out, name, "docs/metrics.md lists %s twice", name)
		out[name] = docFamily{typ: strings.TrimSpace(cells[2]), labels: labels}
	}
	return out
}

// TestMetricsReferenceIsComplete keeps docs/metrics.md true: it lists every family the
// worker's collector describes, no other, each with the type it is gathered with and its
// labels. The collector runs on an engine with a source and a sink connector whose tasks have
// done everything a family counts, so that every family is gathered.
func TestMetricsReferenceIsComplete(t *testing.T) {
	d := newTestDistributed(t, time.Second)
	for _, kind := range []plugins.Kind{plugins.KindSource, plugins.KindSink} {
		name := "c-" + string(kind)
		rt := newConnRuntime(d.engine, name, &parsedConfig{raw: map[string]string{}, st: connectorSettings{kind: kind}}, nil)
		rt.inc = 1
		d.engine.adopt(rt)
		rt.mu.Lock()
		rt.ownConn = true
		rt.taskCfgs = []map[string]string{{}}
		task := &taskRuntime{id: 0, state: restapi.StateInfo{State: restapi.StateRunning, WorkerID: "w1"}}
		lag := func() int64 { return 3 }
		queueLags := func() []queueLag { return []queueLag{{queue: "t@b#0", records: 3, seconds: 1.5}} }
		task.counters.lag.Store(&lag)
		task.counters.queueLag.Store(&queueLags)
		rt.tasks[0] = task
		rt.mu.Unlock()
		rt.setConnState(restapi.StateRunning, "")
		ended := d.engine.metrics.supervising("w1", name, "0")
		defer ended()
		for _, h := range d.engine.metrics.taskHistograms() {
			h.WithLabelValues("w1", name, "0").Observe(1)
		}
	}
	d.engine.metrics.startups.WithLabelValues("w1", "task", "attempt").Inc()
	d.engine.metrics.rebalanced("w1", time.Second)

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(d.Collector())
	fams, err := reg.Gather()
	require.NoError(t, err)
	gathered := map[string]docFamily{}
	for _, f := range fams {
		var labels []string
		for _, l := range f.GetMetric()[0].GetLabel() {
			labels = append(labels, l.GetName())
		}
		sort.Strings(labels)
		gathered[f.GetName()] = docFamily{typ: strings.ToLower(f.GetType().String()), labels: labels}
	}

	// Every described family was gathered above: the check below covers all of them.
	descs := make(chan *prometheus.Desc, 100)
	d.Collector().Describe(descs)
	close(descs)
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	var described []string
	for desc := range descs {
		m := fqName.FindStringSubmatch(desc.String())
		require.NotNil(t, m, desc.String())
		described = append(described, m[1])
		require.Contains(t, gathered, m[1], "family %s is described but the test's engine did not emit it", m[1])
	}
	require.Len(t, gathered, len(described))

	doc := metricsReference(t)
	for name, g := range gathered {
		require.Contains(t, doc, name, "docs/metrics.md does not list %s", name)
		require.Equal(t, g, doc[name], "docs/metrics.md: type or labels of %s", name)
	}
	for name := range doc {
		require.True(t, slices.Contains(described, name), "docs/metrics.md lists %s, which the worker does not emit", name)
	}
}
