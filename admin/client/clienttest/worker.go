package clienttest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// Worker is an in-memory connector store. Every method is safe for concurrent use.
type Worker struct {
	mu      sync.Mutex
	id      string
	conns   map[string]*conn
	plugins []restapi.PluginInfo
	down    string
}

type conn struct {
	cfg   map[string]string
	typ   restapi.ConnectorType
	state restapi.StateInfo
	tasks []restapi.TaskState
}

// NewWorker returns a worker named id with the file-source and file-sink connectors and one
// transform as its plugins, and no connectors.
func NewWorker(id string) *Worker {
	return &Worker{
		id:    id,
		conns: map[string]*conn{},
		plugins: []restapi.PluginInfo{
			{Class: "file-source", Type: "source", Version: "1.0", Aliases: []string{"org.apache.rocketmq.connect.file.FileSourceConnector"}},
			{Class: "file-sink", Type: "sink", Version: "1.0"},
			{Class: "insert-field", Type: "transformation", Version: "1.0"},
		},
	}
}

// SetStatus overrides a connector's status as stored (task states, workers, traces); the
// connector must exist.
func (w *Worker) SetStatus(st restapi.ConnectorStatus) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.conns[st.Name]
	c.state = st.Connector
	c.tasks = append([]restapi.TaskState(nil), st.Tasks...)
}

// SetDown makes /health answer 503 with reason; "" makes it healthy again.
func (w *Worker) SetDown(reason string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.down = reason
}

// Health is nil unless SetDown gave a reason.
func (w *Worker) Health(context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.down != "" {
		return errors.New(w.down)
	}
	return nil
}

// WorkerID names the worker.
func (w *Worker) WorkerID() string { return w.id }

// Connectors lists the connector names, sorted.
func (w *Worker) Connectors(context.Context) ([]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	names := make([]string, 0, len(w.conns))
	for n := range w.conns {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

func (w *Worker) lookup(name string) (*conn, error) {
	c, ok := w.conns[name]
	if !ok {
		return nil, fmt.Errorf("connector %s: %w", name, restapi.ErrNotFound)
	}
	return c, nil
}

// ConnectorInfo returns a connector's config, task ids and type.
func (w *Worker) ConnectorInfo(_ context.Context, name string) (restapi.ConnectorInfo, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, err := w.lookup(name)
	if err != nil {
		return restapi.ConnectorInfo{}, err
	}
	info := restapi.ConnectorInfo{Name: name, Config: copyMap(c.cfg), Tasks: []restapi.TaskID{}, Type: c.typ}
	for _, t := range c.tasks {
		info.Tasks = append(info.Tasks, restapi.TaskID{Connector: name, Task: t.ID})
	}
	return info, nil
}

// ConnectorStatus returns a connector's and its tasks' states.
func (w *Worker) ConnectorStatus(_ context.Context, name string) (restapi.ConnectorStatus, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, err := w.lookup(name)
	if err != nil {
		return restapi.ConnectorStatus{}, err
	}
	return restapi.ConnectorStatus{Name: name, Connector: c.state, Tasks: append([]restapi.TaskState{}, c.tasks...), Type: c.typ}, nil
}

// CreateConnector stores a new connector in state initial (running when empty). Its type
// comes from connector.class (a class containing "source" or "sink"); its task count from
// max.tasks or tasks.max (default 1).
func (w *Worker) CreateConnector(ctx context.Context, name string, cfg map[string]string, initial restapi.TargetState) (restapi.ConnectorInfo, error) {
	w.mu.Lock()
	if _, ok := w.conns[name]; ok {
		w.mu.Unlock()
		return restapi.ConnectorInfo{}, fmt.Errorf("connector %s: %w", name, restapi.ErrAlreadyExists)
	}
	err := w.store(name, cfg, initial)
	w.mu.Unlock()
	if err != nil {
		return restapi.ConnectorInfo{}, err
	}
	return w.ConnectorInfo(ctx, name)
}

// PutConnectorConfig creates or replaces a connector's config; a replaced connector restarts
// running.
func (w *Worker) PutConnectorConfig(ctx context.Context, name string, cfg map[string]string) (restapi.ConnectorInfo, bool, error) {
	w.mu.Lock()
	_, exists := w.conns[name]
	err := w.store(name, cfg, restapi.TargetStarted)
	w.mu.Unlock()
	if err != nil {
		return restapi.ConnectorInfo{}, false, err
	}
	info, err := w.ConnectorInfo(ctx, name)
	return info, !exists, err
}

func (w *Worker) store(name string, cfg map[string]string, target restapi.TargetState) error {
	class := cfg["connector.class"]
	var typ restapi.ConnectorType
	switch {
	case class == "":
		return &restapi.ConfigError{Connector: name, Problems: []restapi.ConfigProblem{{Key: "connector.class", Reason: "is required"}}}
	case strings.Contains(strings.ToLower(class), "source"):
		typ = restapi.TypeSource
	case strings.Contains(strings.ToLower(class), "sink"):
		typ = restapi.TypeSink
	default:
		return &restapi.ConfigError{Connector: name, Problems: []restapi.ConfigProblem{{Key: "connector.class", Value: class, Reason: "no such connector plugin"}}}
	}
	n := 1
	for _, k := range []string{"max.tasks", "tasks.max"} {
		if v, ok := cfg[k]; ok {
			var err error
			if n, err = strconv.Atoi(v); err != nil || n < 1 {
				return &restapi.ConfigError{Connector: name, Problems: []restapi.ConfigProblem{{Key: k, Value: v, Reason: "not a positive integer"}}}
			}
		}
	}
	state := targetToState(target)
	c := &conn{cfg: copyMap(cfg), typ: typ, state: restapi.StateInfo{State: state, WorkerID: w.id}}
	c.cfg["name"] = name
	if target != restapi.TargetStopped {
		for i := range n {
			c.tasks = append(c.tasks, restapi.TaskState{ID: i, StateInfo: restapi.StateInfo{State: state, WorkerID: w.id}})
		}
	}
	w.conns[name] = c
	return nil
}

// DeleteConnector removes a connector.
func (w *Worker) DeleteConnector(_ context.Context, name string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.lookup(name); err != nil {
		return err
	}
	delete(w.conns, name)
	return nil
}

// TaskConfigs returns each task's config: the connector's plus task.id.
func (w *Worker) TaskConfigs(_ context.Context, name string) ([]restapi.TaskInfo, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, err := w.lookup(name)
	if err != nil {
		return nil, err
	}
	out := []restapi.TaskInfo{}
	for _, t := range c.tasks {
		cfg := copyMap(c.cfg)
		cfg["task.id"] = strconv.Itoa(t.ID)
		out = append(out, restapi.TaskInfo{ID: restapi.TaskID{Connector: name, Task: t.ID}, Config: cfg})
	}
	return out, nil
}

func (w *Worker) task(id restapi.TaskID) (*restapi.TaskState, error) {
	c, err := w.lookup(id.Connector)
	if err != nil {
		return nil, err
	}
	for i := range c.tasks {
		if c.tasks[i].ID == id.Task {
			return &c.tasks[i], nil
		}
	}
	return nil, fmt.Errorf("connector %s task %d: %w", id.Connector, id.Task, restapi.ErrNotFound)
}

// TaskStatus returns one task's state.
func (w *Worker) TaskStatus(_ context.Context, id restapi.TaskID) (restapi.TaskState, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, err := w.task(id)
	if err != nil {
		return restapi.TaskState{}, err
	}
	return *t, nil
}

// RestartConnector marks what restarts RESTARTING (the connector, and per req the tasks, all
// or the FAILED ones) and returns that status; the fake's restarts never finish.
func (w *Worker) RestartConnector(ctx context.Context, name string, req restapi.RestartRequest) (restapi.ConnectorStatus, error) {
	w.mu.Lock()
	c, err := w.lookup(name)
	if err == nil {
		if !req.OnlyFailed || c.state.State == restapi.StateFailed {
			c.state = restapi.StateInfo{State: restapi.StateRestarting, WorkerID: w.id}
		}
		for i, t := range c.tasks {
			if req.IncludeTasks && (!req.OnlyFailed || t.State == restapi.StateFailed) {
				c.tasks[i].StateInfo = restapi.StateInfo{State: restapi.StateRestarting, WorkerID: w.id}
			}
		}
	}
	w.mu.Unlock()
	if err != nil {
		return restapi.ConnectorStatus{}, err
	}
	return w.ConnectorStatus(ctx, name)
}

// RestartTask sets one task RUNNING.
func (w *Worker) RestartTask(_ context.Context, id restapi.TaskID) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, err := w.task(id)
	if err != nil {
		return err
	}
	t.StateInfo = restapi.StateInfo{State: restapi.StateRunning, WorkerID: w.id}
	return nil
}

// PauseConnector, ResumeConnector and StopConnector set the connector's and its tasks' state.
func (w *Worker) PauseConnector(_ context.Context, name string) error {
	return w.setTarget(name, restapi.TargetPaused)
}

// ResumeConnector: see PauseConnector.
func (w *Worker) ResumeConnector(_ context.Context, name string) error {
	return w.setTarget(name, restapi.TargetStarted)
}

// StopConnector: see PauseConnector.
func (w *Worker) StopConnector(_ context.Context, name string) error {
	return w.setTarget(name, restapi.TargetStopped)
}

func (w *Worker) setTarget(name string, target restapi.TargetState) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, err := w.lookup(name)
	if err != nil {
		return err
	}
	state := targetToState(target)
	c.state.State = state
	for i := range c.tasks {
		c.tasks[i].State = state
		c.tasks[i].Trace = ""
	}
	return nil
}

// Plugins lists every plugin, transforms included.
func (w *Worker) Plugins(context.Context) ([]restapi.PluginInfo, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]restapi.PluginInfo(nil), w.plugins...), nil
}

func targetToState(t restapi.TargetState) restapi.State {
	switch t {
	case restapi.TargetPaused:
		return restapi.StatePaused
	case restapi.TargetStopped:
		return restapi.StateStopped
	}
	return restapi.StateRunning
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
