package admin

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/admin/admintest"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

const fakeWorker = "w-test"

// newFakeHerder is the shared fake herder, named fakeWorker.
func newFakeHerder() *admintest.Herder { return admintest.NewHerder(fakeWorker) }

// The shared fake has every optional ability the routes use.
var (
	_ DLQHerder          = (*admintest.Herder)(nil)
	_ OffsetsHerder      = (*admintest.Herder)(nil)
	_ PluginConfigHerder = (*admintest.Herder)(nil)
	_ TopicsHerder       = (*admintest.Herder)(nil)
	_ ConfigPatcher      = (*admintest.Herder)(nil)
)

// connectorNames lists f's connectors.
func connectorNames(t *testing.T, f *admintest.Herder) []string {
	t.Helper()
	names, err := f.Connectors(context.Background())
	require.NoError(t, err)
	return names
}

// configOf is a connector's stored config.
func configOf(t *testing.T, f *admintest.Herder, name string) map[string]string {
	t.Helper()
	info, err := f.ConnectorInfo(context.Background(), name)
	require.NoError(t, err)
	return info.Config
}

// targetOf is a connector's target state.
func targetOf(t *testing.T, f *admintest.Herder, name string) restapi.TargetState {
	t.Helper()
	target, ok := f.Target(name)
	require.True(t, ok, "connector %s", name)
	return target
}

// failTask0 marks task 0 of connector name FAILED with a short trace.
func failTask0(f *admintest.Herder, name string) {
	f.FailTask(restapi.TaskID{Connector: name, Task: 0}, "boom\n\tat task.go:1")
}

// newTestServer serves h's routes; the fake is returned for state checks.
func newTestServer(t *testing.T, setup ...func(*Server)) (http.Handler, *admintest.Herder) {
	t.Helper()
	f := newFakeHerder()
	s := NewServer("127.0.0.1:0", Info{WorkerID: fakeWorker}, fakeHealth{}, f, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, fn := range setup {
		fn(s)
	}
	return s.Handler(), f
}

// newRmqTestServer is newTestServer with the RocketMQ Connect GET routes that change state on.
func newRmqTestServer(t *testing.T) (http.Handler, *admintest.Herder) {
	t.Helper()
	return newTestServer(t, func(s *Server) { s.EnableMutatingGETs(true) })
}

// call sends one request and returns the status and the raw body.
func call(t *testing.T, h http.Handler, method, path, body string) (int, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := newRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// callJSON is call with the body decoded into a generic value.
func callJSON(t *testing.T, h http.Handler, method, path, body string) (int, any) {
	t.Helper()
	code, raw := call(t, h, method, path, body)
	var v any
	require.NoError(t, json.Unmarshal([]byte(raw), &v), "%s %s -> %d %q", method, path, code, raw)
	return code, v
}

// newRequest is httptest.NewRequest addressed to localhost, a name the server answers to
// (httptest's default Host, example.com, is refused as a possible DNS-rebinding name).
func newRequest(method, target string, body io.Reader) *http.Request {
	r := httptest.NewRequest(method, target, body)
	r.Host = "localhost"
	return r
}
