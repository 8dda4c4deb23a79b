package httpconn_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	httpconn "github.com/rmqconnect/rmqconnect/plugins/connectors/http"
)

// TestSinkMetrics: every attempt is counted by class and code (no response: "error"), and timed by class;
// a code outside the declared set is counted as "other".
func TestSinkMetrics(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		switch calls.Add(1) {
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
		case 3:
			w.WriteHeader(599) // retriable, and not a declared code
		case 4:
			conn, _, err := w.(http.Hijacker).Hijack()
			require.NoError(t, err)
			conn.Close()
		case 5:
			w.WriteHeader(http.StatusCreated)
		default:
			w.WriteHeader(http.StatusUnprocessableEntity)
		}
	}))
	defer srv.Close()
	task, sctx := startSink(t, fastRetry(map[string]string{"url": srv.URL}))
	require.NoError(t, task.Put(context.Background(), recs(1, constKey)))
	require.NoError(t, task.Flush(context.Background(), nil))
	require.NoError(t, task.Put(context.Background(), recs(1, constKey)))
	require.NoError(t, task.Flush(context.Background(), nil)) // the 422 goes to the error policy

	m := sctx.Recorder
	for _, c := range []struct {
		class, code string
		want        float64
	}{
		{"5xx", "503", 1}, {"4xx", "429", 1}, {"5xx", "other", 1}, {"error", "error", 1}, {"2xx", "201", 1},
		{"4xx", "422", 1}, {"2xx", "200", 0},
	} {
		require.Equal(t, c.want, m.Count(httpconn.MetricRequests, c.class, c.code), "%s %s", c.class, c.code)
	}
	require.Len(t, m.Observations(httpconn.MetricRequestDuration, "5xx"), 2)
	require.Len(t, m.Observations(httpconn.MetricRequestDuration, "4xx"), 2)
	require.Len(t, m.Observations(httpconn.MetricRequestDuration, "2xx"), 1)
	require.Len(t, m.Observations(httpconn.MetricRequestDuration, "error"), 1)
	require.Zero(t, m.Misuses(httpconn.MetricRequests))
	require.Zero(t, m.Misuses(httpconn.MetricRequestDuration))
}

// TestSinkMetricsSharedByTasks: two tasks of a connector declare the same families on one recorder (as they
// do on a worker) and their counts add up.
func TestSinkMetricsSharedByTasks(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.ReadAll(r.Body) }))
	defer srv.Close()
	cfg := map[string]string{"url": srv.URL}
	shared := conformance.NewMetrics()
	for range 2 {
		c := httpconn.NewSinkConnector()
		sctx := conformance.SinkContextFor(t, c.Spec(), cfg, conformance.Queue)
		sctx.Recorder = shared
		task := httpconn.NewSinkTask()
		require.NoError(t, task.Start(context.Background(), sctx, cfg))
		t.Cleanup(func() { require.NoError(t, task.Stop(context.Background())) })
		require.NoError(t, task.Put(context.Background(), recs(3, constKey)))
		require.NoError(t, task.Flush(context.Background(), nil))
	}
	require.Equal(t, 6.0, shared.Count(httpconn.MetricRequests, "2xx", "200"))
}

// TestPollMetrics: poll requests are counted and timed like the sink's.
func TestPollMetrics(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, `[{"id":1}]`)
	}))
	defer srv.Close()
	cfg := pollCfg(srv.URL)
	c := httpconn.NewSourceConnector()
	sctx := conformance.SourceContextFor(t, c.Spec(), nil, cfg)
	task := httpconn.NewSourceTask()
	require.NoError(t, task.Start(context.Background(), sctx, cfg))
	t.Cleanup(func() { require.NoError(t, task.Stop(context.Background())) })
	for n := 0; n < 1; {
		recs, err := task.Poll(context.Background())
		require.NoError(t, err)
		n += len(recs)
	}
	require.Equal(t, 1.0, sctx.Recorder.Count(httpconn.MetricRequests, "5xx", "500"))
	require.Equal(t, 1.0, sctx.Recorder.Count(httpconn.MetricRequests, "2xx", "200"))
	require.Len(t, sctx.Recorder.Observations(httpconn.MetricRequestDuration, "2xx"), 1)
	require.False(t, sctx.Recorder.Declared(httpconn.MetricReceived), "poll mode serves nothing")
}

// TestListenMetrics: the receiving endpoint counts what it answered.
func TestListenMetrics(t *testing.T) {
	addr := freeAddr(t)
	cfg := listenCfg(addr, "listen.max.body.bytes", "100")
	c := httpconn.NewSourceConnector()
	sctx := conformance.SourceContextFor(t, c.Spec(), nil, cfg)
	task := httpconn.NewSourceTask()
	require.NoError(t, task.Start(context.Background(), sctx, cfg))
	t.Cleanup(func() { require.NoError(t, task.Stop(context.Background())) })
	url := "http://" + addr + "/hook"
	require.Equal(t, http.StatusRequestEntityTooLarge, post(t, url, bytes.Repeat([]byte("x"), 101)).status)
	require.Equal(t, http.StatusBadRequest, post(t, url, []byte(`{"a":`)).status)
	require.Equal(t, http.StatusBadRequest, post(t, url, []byte(`{"a":`)).status)
	require.Equal(t, http.StatusNotFound, post(t, "http://"+addr+"/nope", []byte(`{}`)).status)
	m := sctx.Recorder
	require.Equal(t, 1.0, m.Count(httpconn.MetricReceived, "4xx", "413"))
	require.Equal(t, 2.0, m.Count(httpconn.MetricReceived, "4xx", "400"))
	require.Equal(t, 1.0, m.Count(httpconn.MetricReceived, "4xx", "404"))
	require.False(t, m.Declared(httpconn.MetricRequests), "listen mode sends nothing")
}
