package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/worker"
)

// fakeHerder is a state-based Herder: connectors live in a map, status follows the target
// state, and a config must name a known connector.class.
type fakeHerder struct {
	mu       sync.Mutex
	conns    map[string]*fakeConn
	plugins  []worker.PluginInfo
	fail     error // when set, every call returns it
	restarts []worker.RestartRequest
	taskRest []worker.TaskID
}

type fakeConn struct {
	cfg    map[string]string
	target worker.TargetState
	tasks  int
	typ    worker.ConnectorType
	failed bool // task 0 is FAILED
}

const fakeWorker = "w-test"

func newFakeHerder() *fakeHerder {
	return &fakeHerder{
		conns: map[string]*fakeConn{},
		plugins: []worker.PluginInfo{
			{Class: "file-source", Type: "source", Version: "v1", Aliases: []string{"org.apache.rocketmq.connect.file.FileSourceConnector"}},
			{Class: "file-sink", Type: "sink", Version: "v1"},
			{Class: "insert-field", Type: "transformation", Version: "v1"},
		},
	}
}

func (f *fakeHerder) lookup(name string) (*fakeConn, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	c, ok := f.conns[name]
	if !ok {
		return nil, fmt.Errorf("connector %s: %w", name, worker.ErrNotFound)
	}
	return c, nil
}

// check validates a config as a worker would: connector.class must name a connector plugin
// and max.tasks, when set, a positive integer.
func (f *fakeHerder) check(name string, cfg map[string]string) (*fakeConn, error) {
	c := &fakeConn{cfg: cfg, target: worker.TargetStarted, tasks: 1}
	var problems []worker.ConfigProblem
	class, ok := cfg["connector.class"]
	if !ok {
		problems = append(problems, worker.ConfigProblem{Key: "connector.class", Reason: "is required"})
	}
	for _, p := range f.plugins {
		if ok && p.Class == class && isConnectorType(p.Type) {
			c.typ = worker.ConnectorType(p.Type)
		}
	}
	if ok && c.typ == "" {
		problems = append(problems, worker.ConfigProblem{Key: "connector.class", Value: class, Reason: "unknown connector class"})
	}
	if v, ok := cfg["max.tasks"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			problems = append(problems, worker.ConfigProblem{Key: "max.tasks", Value: v, Reason: "must be a positive integer"})
		}
		c.tasks = n
	}
	if problems != nil {
		return nil, &worker.ConfigError{Connector: name, Problems: problems}
	}
	return c, nil
}

func (f *fakeHerder) info(name string, c *fakeConn) worker.ConnectorInfo {
	info := worker.ConnectorInfo{Name: name, Config: c.cfg, Type: c.typ}
	for i := 0; i < c.tasks; i++ {
		info.Tasks = append(info.Tasks, worker.TaskID{Connector: name, Task: i})
	}
	return info
}

func (f *fakeHerder) status(name string, c *fakeConn) worker.ConnectorStatus {
	state := map[worker.TargetState]worker.State{
		worker.TargetStarted: worker.StateRunning, worker.TargetPaused: worker.StatePaused, worker.TargetStopped: worker.StateStopped,
	}[c.target]
	st := worker.ConnectorStatus{Name: name, Type: c.typ, Connector: worker.StateInfo{State: state, WorkerID: fakeWorker}}
	if c.target == worker.TargetStopped {
		return st
	}
	for i := 0; i < c.tasks; i++ {
		ts := worker.TaskState{ID: i, StateInfo: worker.StateInfo{State: state, WorkerID: fakeWorker}}
		if i == 0 && c.failed {
			ts.State, ts.Trace = worker.StateFailed, "boom\n\tat task.go:1"
		}
		st.Tasks = append(st.Tasks, ts)
	}
	return st
}

func (f *fakeHerder) Connectors(context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	var names []string
	for n := range f.conns {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

func (f *fakeHerder) ConnectorInfo(_ context.Context, name string) (worker.ConnectorInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(name)
	if err != nil {
		return worker.ConnectorInfo{}, err
	}
	return f.info(name, c), nil
}

func (f *fakeHerder) ConnectorStatus(_ context.Context, name string) (worker.ConnectorStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(name)
	if err != nil {
		return worker.ConnectorStatus{}, err
	}
	return f.status(name, c), nil
}

func (f *fakeHerder) CreateConnector(_ context.Context, name string, cfg map[string]string, initial worker.TargetState) (worker.ConnectorInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return worker.ConnectorInfo{}, f.fail
	}
	if _, ok := f.conns[name]; ok {
		return worker.ConnectorInfo{}, fmt.Errorf("connector %s: %w", name, worker.ErrAlreadyExists)
	}
	c, err := f.check(name, cfg)
	if err != nil {
		return worker.ConnectorInfo{}, err
	}
	if initial != "" {
		c.target = initial
	}
	f.conns[name] = c
	return f.info(name, c), nil
}

func (f *fakeHerder) PutConnectorConfig(_ context.Context, name string, cfg map[string]string) (worker.ConnectorInfo, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return worker.ConnectorInfo{}, false, f.fail
	}
	c, err := f.check(name, cfg)
	if err != nil {
		return worker.ConnectorInfo{}, false, err
	}
	old, exists := f.conns[name]
	if exists {
		c.target = old.target
	}
	f.conns[name] = c
	return f.info(name, c), !exists, nil
}

func (f *fakeHerder) DeleteConnector(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.lookup(name); err != nil {
		return err
	}
	delete(f.conns, name)
	return nil
}

func (f *fakeHerder) TaskConfigs(_ context.Context, name string) ([]worker.TaskInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	var out []worker.TaskInfo
	for i := 0; i < c.tasks; i++ {
		out = append(out, worker.TaskInfo{ID: worker.TaskID{Connector: name, Task: i}, Config: map[string]string{"task.index": strconv.Itoa(i)}})
	}
	return out, nil
}

func (f *fakeHerder) TaskStatus(_ context.Context, id worker.TaskID) (worker.TaskState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(id.Connector)
	if err != nil {
		return worker.TaskState{}, err
	}
	st := f.status(id.Connector, c)
	if id.Task >= len(st.Tasks) {
		return worker.TaskState{}, fmt.Errorf("task %s-%d: %w", id.Connector, id.Task, worker.ErrNotFound)
	}
	return st.Tasks[id.Task], nil
}

func (f *fakeHerder) RestartConnector(_ context.Context, name string, req worker.RestartRequest) (worker.ConnectorStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(name)
	if err != nil {
		return worker.ConnectorStatus{}, err
	}
	f.restarts = append(f.restarts, req)
	st := f.status(name, c)
	if !req.OnlyFailed {
		st.Connector.State = worker.StateRestarting
	}
	for i := range st.Tasks {
		if req.IncludeTasks && (!req.OnlyFailed || st.Tasks[i].State == worker.StateFailed) {
			st.Tasks[i].State, st.Tasks[i].Trace = worker.StateRestarting, ""
		}
	}
	return st, nil
}

func (f *fakeHerder) RestartTask(_ context.Context, id worker.TaskID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(id.Connector)
	if err != nil {
		return err
	}
	if id.Task >= c.tasks {
		return fmt.Errorf("task %s-%d: %w", id.Connector, id.Task, worker.ErrNotFound)
	}
	f.taskRest = append(f.taskRest, id)
	return nil
}

func (f *fakeHerder) setTarget(name string, t worker.TargetState) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(name)
	if err != nil {
		return err
	}
	c.target = t
	return nil
}

func (f *fakeHerder) PauseConnector(_ context.Context, name string) error {
	return f.setTarget(name, worker.TargetPaused)
}

func (f *fakeHerder) ResumeConnector(_ context.Context, name string) error {
	return f.setTarget(name, worker.TargetStarted)
}

func (f *fakeHerder) StopConnector(_ context.Context, name string) error {
	return f.setTarget(name, worker.TargetStopped)
}

func (f *fakeHerder) Plugins(context.Context) ([]worker.PluginInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	return append([]worker.PluginInfo(nil), f.plugins...), nil
}

func (f *fakeHerder) WorkerID() string { return fakeWorker }

// newTestServer serves h's routes; the fake is returned for state checks.
func newTestServer(t *testing.T, setup ...func(*Server)) (http.Handler, *fakeHerder) {
	t.Helper()
	f := newFakeHerder()
	s := NewServer("127.0.0.1:0", Info{WorkerID: fakeWorker}, fakeHealth{}, f, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, fn := range setup {
		fn(s)
	}
	return s.Handler(), f
}

// newRmqTestServer is newTestServer with the RocketMQ Connect GET routes that change state on.
func newRmqTestServer(t *testing.T) (http.Handler, *fakeHerder) {
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
