package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

type fakeHealth struct{ err error }

func (f fakeHealth) Health(context.Context) error { return f.err }

func get(t *testing.T, h http.Handler, method, path string) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, newRequest(method, path, nil))
	var body map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	return rec.Code, body
}

func TestHealth(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	up := NewServer("127.0.0.1:0", Info{WorkerID: "w1", Version: "v1"}, fakeHealth{}, nil, log)
	code, body := get(t, up.Handler(), http.MethodGet, "/health")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "healthy", body["status"])
	require.NotEmpty(t, body["message"])
	require.Equal(t, "w1", body["worker_id"])

	starting := NewServer("127.0.0.1:0", Info{WorkerID: "w1"}, fakeHealth{fmt.Errorf("%w: joining", ErrStarting)}, nil, log)
	code, body = get(t, starting.Handler(), http.MethodGet, "/health")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "starting", body["status"])
	require.Contains(t, body["message"], "joining")

	down := NewServer("127.0.0.1:0", Info{WorkerID: "w1"}, fakeHealth{errors.New("rocketmq unreachable")}, nil, log)
	code, body = get(t, down.Handler(), http.MethodGet, "/health")
	require.Equal(t, http.StatusInternalServerError, code)
	require.Equal(t, "unhealthy", body["status"])
	require.Contains(t, body["message"], "rocketmq unreachable")
}

// GET / answers Kafka Connect's kafka_cluster_id next to cluster_id, both the cluster's id.
func TestRootNamesTheCluster(t *testing.T) {
	info := Info{Version: "v1", Commit: "abc", WorkerID: "w1", ClusterID: "DefaultCluster", Mode: "standalone"}
	s := NewServer("127.0.0.1:0", info, fakeHealth{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	code, body := get(t, s.Handler(), http.MethodGet, "/")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, map[string]any{"version": "v1", "commit": "abc", "worker_id": "w1", "cluster_id": "DefaultCluster",
		"kafka_cluster_id": "DefaultCluster", "mode": "standalone"}, body)
}

func TestErrorsAreJSON(t *testing.T) {
	s := NewServer("127.0.0.1:0", Info{}, fakeHealth{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	code, body := get(t, s.Handler(), http.MethodGet, "/nope")
	require.Equal(t, http.StatusNotFound, code)
	require.EqualValues(t, 404, body["error_code"])
	code, body = get(t, s.Handler(), http.MethodPost, "/health")
	require.Equal(t, http.StatusMethodNotAllowed, code)
	require.EqualValues(t, 405, body["error_code"])
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRunServesAndStops(t *testing.T) {
	defer goleak.VerifyNone(t)
	s := NewServer("127.0.0.1:0", Info{WorkerID: "w"}, fakeHealth{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	actx, acancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer acancel()
	addr, err := s.Addr(actx)
	require.NoError(t, err)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + addr.String() + "/health")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	cancel()
	require.NoError(t, <-done)
}

// pauseBlocker is a herder whose PauseConnector waits until its context ends, noting when
// it has returned.
type pauseBlocker struct {
	Herder
	entered  chan struct{}
	returned atomic.Bool
}

func (h *pauseBlocker) PauseConnector(ctx context.Context, _ string) error {
	defer h.returned.Store(true)
	close(h.entered)
	<-ctx.Done()
	return ctx.Err()
}

// TestRunStopsCleanlyUnderASlowRequest: a stop while a request runs past the drain's grace
// ends that request's context, waits for its handler and returns nil, so the worker exits 0
// and its herder is stopped after the handler's call has returned. Run used to return
// Shutdown's deadline error with the handler still running.
func TestRunStopsCleanlyUnderASlowRequest(t *testing.T) {
	defer goleak.VerifyNone(t)
	h := &pauseBlocker{Herder: newFakeHerder(), entered: make(chan struct{})}
	s := NewServer("127.0.0.1:0", Info{WorkerID: "w"}, fakeHealth{}, h, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.drainGrace, s.cutGrace = 50*time.Millisecond, time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	actx, acancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer acancel()
	addr, err := s.Addr(actx)
	require.NoError(t, err)

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		req, err := http.NewRequest(http.MethodPut, "http://"+addr.String()+"/connectors/c/pause", nil)
		if err != nil {
			return
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	<-h.entered
	cancel()
	require.NoError(t, <-done)
	require.True(t, h.returned.Load(), "Run returned while a handler's herder call was still running")
	<-answered
}
