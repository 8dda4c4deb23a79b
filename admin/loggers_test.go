package admin

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/admin/admintest"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

func TestLevelRegistryHierarchy(t *testing.T) {
	r := NewLevelRegistry()
	require.Equal(t, slog.LevelInfo, r.Root().Level())
	r.Root().Set(slog.LevelWarn) // as cmd does from logLevel
	w := r.Level("worker")
	require.Equal(t, slog.LevelWarn, w.Level(), "a new logger starts at root's level")
	require.Same(t, w, r.Level("worker"), "one variable per name")

	require.Equal(t, []string{"connector"}, r.Set("connector", slog.LevelDebug))
	require.Equal(t, slog.LevelDebug, r.Level("connector.file-src").Level(), "inherits its parent's level")
	require.Equal(t, slog.LevelDebug, r.Level("connector.file-src.task.0").Level(), "and a grandparent's")
	r.Level("connectors") // not a child of "connector"

	require.Equal(t, []string{"connector", "connector.file-src", "connector.file-src.task.0"}, r.Set("connector", slog.LevelError))
	require.Equal(t, slog.LevelError, r.Level("connector.file-src.task.0").Level())
	require.Equal(t, slog.LevelWarn, r.Level("connectors").Level())
	require.Equal(t, slog.LevelWarn, w.Level())

	require.Equal(t, []string{"connector.file-src", "connector.file-src.task.0"}, r.Set("connector.file-src", slog.LevelInfo))
	require.Equal(t, slog.LevelError, r.Level("connector").Level(), "a parent is not affected")

	all := r.Set(RootLogger, slog.LevelDebug)
	require.Equal(t, []string{"connector", "connector.file-src", "connector.file-src.task.0", "connectors", "root", "worker"}, all)
	for _, n := range all {
		require.Equal(t, slog.LevelDebug, r.Level(n).Level(), n)
	}
}

func TestLevelHandlerAndNamed(t *testing.T) {
	r := NewLevelRegistry()
	var buf bytes.Buffer
	base := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.Level(-100)})
	root := slog.New(LevelHandler(r.Root(), base)).With("worker_id", "w1")
	conn := r.Named(root, "connector.x")

	root.Debug("root debug")
	conn.Debug("conn debug")
	require.Empty(t, buf.String())

	r.Set("connector.x", slog.LevelDebug)
	root.Debug("root debug")
	conn.Debug("conn debug")
	require.NotContains(t, buf.String(), "root debug")
	require.Contains(t, buf.String(), "conn debug", "a component below root's level still logs")
	require.Contains(t, buf.String(), "worker_id=w1", "Named keeps the parent's attributes")

	buf.Reset()
	r.Set(RootLogger, slog.LevelError)
	root.Warn("root warn")
	conn.Warn("conn warn")
	conn.WithGroup("g").Error("conn error", "k", "v")
	require.NotContains(t, buf.String(), "warn")
	require.Contains(t, buf.String(), "g.k=v")

	plain := r.Named(slog.New(base), "plain")
	r.Set("plain", slog.LevelInfo)
	plain.Debug("dropped")
	plain.Info("kept")
	require.NotContains(t, buf.String(), "dropped")
	require.Contains(t, buf.String(), "kept")
}

func TestLevelRegistryConcurrent(t *testing.T) {
	r := NewLevelRegistry()
	h := LevelHandler(r.Level("worker"), slog.NewTextHandler(io.Discard, nil))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				r.Set("worker", slog.Level(4*(j%3)))
				r.Level("connector.c" + string(rune('a'+i)))
				_ = r.Levels()
				_ = h.Enabled(context.Background(), slog.LevelInfo)
			}
		}()
	}
	wg.Wait()
}

func newLoggersServer(t *testing.T) (http.Handler, *LevelRegistry) {
	t.Helper()
	reg := NewLevelRegistry()
	reg.now = func() time.Time { return time.UnixMilli(1_700_000_000_123) }
	reg.Level("worker")
	reg.Level("rocketmq-client")
	s := NewServer("127.0.0.1:0", Info{}, fakeHealth{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.EnableLoggers(reg)
	return s.Handler(), reg
}

func TestLoggerRoutes(t *testing.T) {
	h, reg := newLoggersServer(t)

	code, body := callJSON(t, h, http.MethodGet, "/admin/loggers", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, map[string]any{
		"root":            map[string]any{"level": "INFO", "last_modified": nil},
		"worker":          map[string]any{"level": "INFO", "last_modified": nil},
		"rocketmq-client": map[string]any{"level": "INFO", "last_modified": nil},
	}, body)

	code, body = callJSON(t, h, http.MethodGet, "/admin/loggers/worker", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, map[string]any{"level": "INFO", "last_modified": nil}, body)

	code, body = callJSON(t, h, http.MethodGet, "/admin/loggers/ghost", "")
	require.Equal(t, http.StatusNotFound, code)
	require.Equal(t, map[string]any{"error_code": float64(404), "message": "logger ghost: not found"}, body)

	code, body = callJSON(t, h, http.MethodPut, "/admin/loggers/worker", `{"level":"debug"}`)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, []any{"worker"}, body)
	require.Equal(t, slog.LevelDebug, reg.Level("worker").Level())
	code, body = callJSON(t, h, http.MethodGet, "/admin/loggers/worker", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, map[string]any{"level": "DEBUG", "last_modified": float64(1_700_000_000_123)}, body)

	// A new logger is created with its children-to-be; root sets everything.
	code, body = callJSON(t, h, http.MethodPut, "/admin/loggers/connector.src", `{"level":"ERROR"}`)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, []any{"connector.src"}, body)
	require.Equal(t, slog.LevelError, reg.Level("connector.src.task.0").Level())
	code, body = callJSON(t, h, http.MethodPut, "/admin/loggers/root", `{"level":"WARN"}`)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, []any{"connector.src", "connector.src.task.0", "rocketmq-client", "root", "worker"}, body)
	code, body = callJSON(t, h, http.MethodGet, "/admin/loggers/connector.src.task.0", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "WARN", body.(map[string]any)["level"])
}

func TestPutLoggerRejects(t *testing.T) {
	h, reg := newLoggersServer(t)
	tests := []struct {
		body string
		msg  string
	}{
		{``, "request body is empty"},
		{`[]`, "must be a JSON object"},
		{`{"level":`, "not valid JSON"},
		{`{}`, "level: is required"},
		{`{"level":null}`, "level: is required"},
		{`{"level":3}`, "level: is required"},
		{`{"level":"TRACE"}`, `level="TRACE": must be DEBUG, INFO, WARN or ERROR`},
		{`{"level":"loud"}`, `level="loud"`},
	}
	for _, tt := range tests {
		code, body := callJSON(t, h, http.MethodPut, "/admin/loggers/worker", tt.body)
		require.Equal(t, http.StatusBadRequest, code, tt.body)
		require.EqualValues(t, 400, body.(map[string]any)["error_code"])
		require.Contains(t, body.(map[string]any)["message"], tt.msg, tt.body)
	}
	require.Equal(t, slog.LevelInfo, reg.Level("worker").Level(), "nothing changed")
	code, _ := call(t, h, http.MethodDelete, "/admin/loggers/worker", "")
	require.Equal(t, http.StatusMethodNotAllowed, code)
}

// clusterLevels is a herder with the cluster log level ability: it records the changes it is
// asked to publish.
type clusterLevels struct {
	*admintest.Herder
	set []string
	err error
}

func (c *clusterLevels) SetClusterLogLevel(_ context.Context, logger, level string) error {
	c.set = append(c.set, logger+"="+level)
	return c.err
}

// TestLoggerClusterScope: scope=cluster (KIP-976) goes to the herder's cluster ability and
// answers 204; a worker without it (standalone) applies it itself; an unknown scope is worker.
func TestLoggerClusterScope(t *testing.T) {
	h, reg := newLoggersServer(t)
	code, _ := call(t, h, http.MethodPut, "/admin/loggers/worker?scope=cluster", `{"level":"debug"}`)
	require.Equal(t, http.StatusNoContent, code)
	require.Equal(t, slog.LevelDebug, reg.Level("worker").Level(), "a standalone worker is its own cluster")
	code, body := callJSON(t, h, http.MethodPut, "/admin/loggers/worker?scope=galaxy", `{"level":"warn"}`)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, []any{"worker"}, body)

	herder := &clusterLevels{Herder: newFakeHerder()}
	reg = NewLevelRegistry()
	s := NewServer("127.0.0.1:0", Info{}, fakeHealth{}, herder, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.EnableLoggers(reg)
	code, _ = call(t, s.Handler(), http.MethodPut, "/admin/loggers/connector.src?scope=CLUSTER", `{"level":"Error"}`)
	require.Equal(t, http.StatusNoContent, code)
	require.Equal(t, []string{"connector.src=ERROR"}, herder.set)
	require.Equal(t, slog.LevelInfo, reg.Level("connector.src").Level(), "the cluster applies it, through the herder")
	herder.err = fmt.Errorf("publish: %w", restapi.ErrRebalancing)
	code, _ = call(t, s.Handler(), http.MethodPut, "/admin/loggers/worker?scope=cluster", `{"level":"INFO"}`)
	require.Equal(t, http.StatusConflict, code)
	code, _ = call(t, s.Handler(), http.MethodPut, "/admin/loggers/worker?scope=cluster", `{"level":"TRACE"}`)
	require.Equal(t, http.StatusBadRequest, code)
	require.Len(t, herder.set, 2, "an invalid level is not published")

	ApplyClusterLevel(reg, slog.New(slog.NewTextHandler(io.Discard, nil)), "connector.src", "ERROR")
	require.Equal(t, slog.LevelError, reg.Level("connector.src").Level())
}
