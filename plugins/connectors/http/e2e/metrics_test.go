package e2e

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/admin"
	httpconn "github.com/rmqconnect/rmqconnect/plugins/connectors/http"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// scrape GETs url and returns the samples of family name (the lines "name{labels} value"), keyed by their
// label text.
func scrape(t *testing.T, url, name string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), name+"{")
		if !ok {
			continue
		}
		labels, val, ok := strings.Cut(line, "} ")
		require.True(t, ok, line)
		v, err := strconv.ParseFloat(val, 64)
		require.NoError(t, err, line)
		out[labels] = v
	}
	require.NoError(t, sc.Err())
	return out
}

// sumWhere adds the samples whose labels contain every one of want.
func sumWhere(samples map[string]float64, want ...string) float64 {
	var sum float64
next:
	for labels, v := range samples {
		for _, w := range want {
			if !strings.Contains(labels, w) {
				continue next
			}
		}
		sum += v
	}
	return sum
}

// TestSinkMetricsAtWorkerEndpoint: an http-sink on a real worker shows its requests by class and code and
// its latency histogram at the worker's /metrics (registered as cmd/rmqconnect registers them), labelled
// with worker, connector and task; restarting a task removes that task's series, deleting the connector all
// of them.
func TestSinkMetricsAtWorkerEndpoint(t *testing.T) {
	rmqtest.Require(t)
	const n = 40
	var calls, answered200 atomic.Int64
	var mu sync.Mutex
	ids := map[string]bool{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		mu.Lock()
		ids[string(body)] = true
		mu.Unlock()
		answered200.Add(1)
	}))
	defer hs.Close()
	h := startWorker(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(h.Collector(), h.PluginCollector())
	srv := admin.NewServer("127.0.0.1:0", admin.Info{}, nil, h, slog.New(slog.DiscardHandler))
	srv.EnableMetrics(reg)
	api := httptest.NewServer(srv.Handler())
	defer api.Close()

	topic := rmqtest.Topic(t, 2)
	fillJSON(t, topic, n)
	_, err := h.CreateConnector(context.Background(), "metrics-out", map[string]string{
		"connector.class": httpconn.SinkName, "connect.topicnames": topic, "task.group.id": rmqtest.Group(t),
		"value.converter": "json", "value.converter.schemas.enable": "false", "url": hs.URL, "tasks.max": "2",
		"retry.backoff.initial": "5ms", "retry.backoff.max": "50ms",
	}, "")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(ids) == n
	}, 2*time.Minute, 100*time.Millisecond, "records accepted by the server")

	const requests = "rmqconnect_plugin_http_sink_requests_total"
	const latency = "rmqconnect_plugin_http_sink_request_duration_seconds_count"
	conn := `connector="metrics-out"`
	// Every answer the server gave is counted once (a rebalance may redeliver a record: count answers, not ids).
	var samples map[string]float64
	require.Eventually(t, func() bool {
		samples = scrape(t, api.URL+"/metrics", requests)
		return sumWhere(samples, conn, `class="2xx"`, `code="200"`) == float64(answered200.Load())
	}, time.Minute, 100*time.Millisecond, "2xx requests counted")
	require.Equal(t, 1.0, sumWhere(samples, conn, `class="5xx"`, `code="503"`), "%v", samples)
	require.Equal(t, float64(calls.Load()), sumWhere(samples, conn, `worker="`+h.WorkerID()+`"`), "%v", samples)
	for labels := range samples {
		require.Regexp(t, `task="[01]"`, labels, "every series names its task")
	}
	require.Equal(t, float64(answered200.Load()), sumWhere(scrape(t, api.URL+"/metrics", latency), conn, `class="2xx"`))

	// A restarted task starts over: the stopped incarnation's series are removed, the other task's stay.
	task1 := sumWhere(samples, conn, `task="1"`)
	require.NoError(t, h.RestartTask(context.Background(), restapi.TaskID{Connector: "metrics-out", Task: 0}))
	after := scrape(t, api.URL+"/metrics", requests)
	require.Zero(t, sumWhere(after, conn, `task="0"`), "%v", after)
	require.Equal(t, task1, sumWhere(after, conn, `task="1"`), "%v", after)

	require.NoError(t, h.DeleteConnector(context.Background(), "metrics-out"))
	require.Zero(t, sumWhere(scrape(t, api.URL+"/metrics", requests), conn), "a deleted connector's series are gone")
}
