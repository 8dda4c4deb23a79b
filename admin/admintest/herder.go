package admintest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// Herder is an in-memory restapi.Management: connectors live in a map, their states follow the
// target state the routes set, and a config must name a connector plugin the fake knows. It is
// also an admin.HealthChecker. Every method is safe for concurrent use.
type Herder struct {
	mu       sync.Mutex
	id       string
	conns    map[string]*conn
	plugins  []restapi.PluginInfo
	down     string
	fail     error
	restarts []restapi.RestartRequest
	taskRest []restapi.TaskID
	altered  [][]restapi.ConnectorOffset
	replays  []Replay
}

type conn struct {
	cfg    map[string]string
	typ    restapi.ConnectorType
	target restapi.TargetState
	state  restapi.StateInfo
	tasks  []restapi.TaskState

	offsets []restapi.ConnectorOffset
	dlq     []restapi.DLQRecord
	topics  []string
}

var _ restapi.Management = (*Herder)(nil)

// NewHerder returns a herder named id with no connectors and these plugins: the file-source
// connector (with its RocketMQ Connect class name as an alias), the file-sink connector and the
// insert-field transform, all at version "v1".
func NewHerder(id string) *Herder {
	return &Herder{
		id:    id,
		conns: map[string]*conn{},
		plugins: []restapi.PluginInfo{
			{Class: "file-source", Type: "source", Version: "v1", Aliases: []string{"org.apache.rocketmq.connect.file.FileSourceConnector"}},
			{Class: "file-sink", Type: "sink", Version: "v1"},
			{Class: "insert-field", Type: "transformation", Version: "v1"},
		},
	}
}

// SetPlugins replaces the plugins the herder lists and accepts as connector.class.
func (h *Herder) SetPlugins(ps []restapi.PluginInfo) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.plugins = append([]restapi.PluginInfo(nil), ps...)
}

// Fail makes every Management call return err (nil restores normal answers), as a herder that
// is stopping (restapi.ErrStopped) or rebalancing would.
func (h *Herder) Fail(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fail = err
}

// SetStatus overrides a connector's stored status (connector and task states, workers,
// traces); the connector must exist.
func (h *Herder) SetStatus(st restapi.ConnectorStatus) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.conns[st.Name]
	c.state = st.Connector
	c.tasks = append([]restapi.TaskState(nil), st.Tasks...)
}

// FailTask marks one task of an existing connector FAILED with trace.
func (h *Herder) FailTask(id restapi.TaskID, trace string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.conns[id.Connector]
	for i := range c.tasks {
		if c.tasks[i].ID == id.Task {
			c.tasks[i].State, c.tasks[i].Trace = restapi.StateFailed, trace
		}
	}
}

// Target returns a connector's target state; false when there is no such connector.
func (h *Herder) Target(name string) (restapi.TargetState, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.conns[name]
	if !ok {
		return "", false
	}
	return c.target, true
}

// Restarts returns the requests of every RestartConnector call that named a connector, in order.
func (h *Herder) Restarts() []restapi.RestartRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]restapi.RestartRequest(nil), h.restarts...)
}

// TaskRestarts returns the tasks every successful RestartTask call restarted, in order.
func (h *Herder) TaskRestarts() []restapi.TaskID {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]restapi.TaskID(nil), h.taskRest...)
}

// SetDown makes Health fail with reason; "" makes it healthy again.
func (h *Herder) SetDown(reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.down = reason
}

// Health is nil unless SetDown gave a reason.
func (h *Herder) Health(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down != "" {
		return errors.New(h.down)
	}
	return nil
}

// WorkerID names the worker.
func (h *Herder) WorkerID() string { return h.id }

// Connectors lists the connector names, sorted.
func (h *Herder) Connectors(context.Context) ([]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil {
		return nil, h.fail
	}
	names := make([]string, 0, len(h.conns))
	for n := range h.conns {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

func (h *Herder) lookup(name string) (*conn, error) {
	if h.fail != nil {
		return nil, h.fail
	}
	c, ok := h.conns[name]
	if !ok {
		return nil, fmt.Errorf("connector %s: %w", name, restapi.ErrNotFound)
	}
	return c, nil
}

// ConnectorInfo returns a connector's config, task ids and type.
func (h *Herder) ConnectorInfo(_ context.Context, name string) (restapi.ConnectorInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.lookup(name)
	if err != nil {
		return restapi.ConnectorInfo{}, err
	}
	return h.info(name, c), nil
}

func (h *Herder) info(name string, c *conn) restapi.ConnectorInfo {
	info := restapi.ConnectorInfo{Name: name, Config: copyMap(c.cfg), Tasks: []restapi.TaskID{}, Type: c.typ}
	for _, t := range c.tasks {
		info.Tasks = append(info.Tasks, restapi.TaskID{Connector: name, Task: t.ID})
	}
	return info
}

// ConnectorStatus returns a connector's and its tasks' states; a stopped connector has no
// running tasks, so its task list is empty.
func (h *Herder) ConnectorStatus(_ context.Context, name string) (restapi.ConnectorStatus, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.lookup(name)
	if err != nil {
		return restapi.ConnectorStatus{}, err
	}
	return c.status(name), nil
}

func (c *conn) status(name string) restapi.ConnectorStatus {
	st := restapi.ConnectorStatus{Name: name, Connector: c.state, Tasks: []restapi.TaskState{}, Type: c.typ}
	if c.target != restapi.TargetStopped {
		st.Tasks = append(st.Tasks, c.tasks...)
	}
	return st
}

// CreateConnector stores a new connector in state initial (running when empty). Its type comes
// from the plugin connector.class names (class or alias); its task count from max.tasks or
// tasks.max (default 1).
func (h *Herder) CreateConnector(_ context.Context, name string, cfg map[string]string, initial restapi.TargetState) (restapi.ConnectorInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil {
		return restapi.ConnectorInfo{}, h.fail
	}
	if _, ok := h.conns[name]; ok {
		return restapi.ConnectorInfo{}, fmt.Errorf("connector %s: %w", name, restapi.ErrAlreadyExists)
	}
	if initial == "" {
		initial = restapi.TargetStarted
	}
	c, err := h.parse(name, cfg, initial)
	if err != nil {
		return restapi.ConnectorInfo{}, err
	}
	h.conns[name] = c
	return h.info(name, c), nil
}

// PutConnectorConfig creates or replaces a connector's config; a replaced connector keeps its
// target state and its tasks restart in it.
func (h *Herder) PutConnectorConfig(_ context.Context, name string, cfg map[string]string) (restapi.ConnectorInfo, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil {
		return restapi.ConnectorInfo{}, false, h.fail
	}
	target := restapi.TargetStarted
	old, exists := h.conns[name]
	if exists {
		target = old.target
	}
	c, err := h.parse(name, cfg, target)
	if err != nil {
		return restapi.ConnectorInfo{}, false, err
	}
	if exists {
		c.offsets, c.dlq = old.offsets, old.dlq
		for _, t := range old.topics {
			if !slices.Contains(c.topics, t) {
				c.topics = append(c.topics, t)
			}
		}
	}
	h.conns[name] = c
	return h.info(name, c), !exists, nil
}

// parse checks cfg as a worker would (connector.class names a connector plugin; max.tasks or
// tasks.max, when set, is a positive integer) and builds the connector in target.
func (h *Herder) parse(name string, cfg map[string]string, target restapi.TargetState) (*conn, error) {
	var problems cfgerr.List
	class, ok := cfg["connector.class"]
	var typ restapi.ConnectorType
	if p, found := h.connectorPlugin(class); ok && found {
		typ = restapi.ConnectorType(p.Type)
	}
	switch {
	case !ok:
		problems = append(problems, &cfgerr.Error{Key: "connector.class", Reason: "is required", ValueFirst: true})
	case typ == "":
		problems = append(problems, &cfgerr.Error{Key: "connector.class", Value: class, Reason: "unknown connector class", ValueFirst: true})
	}
	n := 1
	for _, k := range []string{"max.tasks", "tasks.max"} {
		if v, ok := cfg[k]; ok {
			var err error
			if n, err = strconv.Atoi(v); err != nil || n < 1 {
				problems = append(problems, &cfgerr.Error{Key: k, Value: v, Reason: "must be a positive integer", ValueFirst: true})
			}
		}
	}
	if problems != nil {
		return nil, fmt.Errorf("connector %s: invalid config: %w", name, problems)
	}
	state := stateOf(target)
	c := &conn{cfg: copyMap(cfg), typ: typ, target: target, state: restapi.StateInfo{State: state, WorkerID: h.id}}
	c.cfg["name"] = name
	for _, k := range []string{"connect.topicname", "connect.topicnames"} {
		for _, t := range strings.Split(cfg[k], ",") {
			if t = strings.TrimSpace(t); t != "" && !slices.Contains(c.topics, t) {
				c.topics = append(c.topics, t)
			}
		}
	}
	for i := range n {
		c.tasks = append(c.tasks, restapi.TaskState{ID: i, StateInfo: restapi.StateInfo{State: state, WorkerID: h.id}})
	}
	return c, nil
}

// DeleteConnector removes a connector.
func (h *Herder) DeleteConnector(_ context.Context, name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, err := h.lookup(name); err != nil {
		return err
	}
	delete(h.conns, name)
	return nil
}

// TaskConfigs returns each task's config: the connector's plus task.id.
func (h *Herder) TaskConfigs(_ context.Context, name string) ([]restapi.TaskInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.lookup(name)
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

func (h *Herder) task(id restapi.TaskID) (*restapi.TaskState, error) {
	c, err := h.lookup(id.Connector)
	if err != nil {
		return nil, err
	}
	if c.target != restapi.TargetStopped {
		for i := range c.tasks {
			if c.tasks[i].ID == id.Task {
				return &c.tasks[i], nil
			}
		}
	}
	return nil, fmt.Errorf("connector %s: task %s-%d: %w", id.Connector, id.Connector, id.Task, restapi.ErrNotFound)
}

// TaskStatus returns one task's state.
func (h *Herder) TaskStatus(_ context.Context, id restapi.TaskID) (restapi.TaskState, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, err := h.task(id)
	if err != nil {
		return restapi.TaskState{}, err
	}
	return *t, nil
}

// RestartConnector records req and returns the status as the restart began: the connector
// (unless only failed parts restart and it has not failed) and, per req, the tasks (all, or the
// FAILED ones) RESTARTING. The stored states are left as they were, so a FAILED task stays
// FAILED until RestartTask or SetStatus changes it.
func (h *Herder) RestartConnector(_ context.Context, name string, req restapi.RestartRequest) (restapi.ConnectorStatus, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.lookup(name)
	if err != nil {
		return restapi.ConnectorStatus{}, err
	}
	h.restarts = append(h.restarts, req)
	st := c.status(name)
	if !req.OnlyFailed || st.Connector.State == restapi.StateFailed {
		st.Connector = restapi.StateInfo{State: restapi.StateRestarting, WorkerID: h.id}
	}
	for i, t := range st.Tasks {
		if req.IncludeTasks && (!req.OnlyFailed || t.State == restapi.StateFailed) {
			st.Tasks[i].StateInfo = restapi.StateInfo{State: restapi.StateRestarting, WorkerID: h.id}
		}
	}
	return st, nil
}

// RestartTask records the restart and sets the task RUNNING on this worker.
func (h *Herder) RestartTask(_ context.Context, id restapi.TaskID) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, err := h.task(id)
	if err != nil {
		return err
	}
	h.taskRest = append(h.taskRest, id)
	t.StateInfo = restapi.StateInfo{State: restapi.StateRunning, WorkerID: h.id}
	return nil
}

// PauseConnector sets the target state PAUSED, and the connector's and its tasks' states with it.
func (h *Herder) PauseConnector(_ context.Context, name string) error {
	return h.setTarget(name, restapi.TargetPaused)
}

// ResumeConnector sets the target state STARTED: see PauseConnector.
func (h *Herder) ResumeConnector(_ context.Context, name string) error {
	return h.setTarget(name, restapi.TargetStarted)
}

// StopConnector sets the target state STOPPED: see PauseConnector.
func (h *Herder) StopConnector(_ context.Context, name string) error {
	return h.setTarget(name, restapi.TargetStopped)
}

func (h *Herder) setTarget(name string, target restapi.TargetState) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.lookup(name)
	if err != nil {
		return err
	}
	c.target = target
	state := stateOf(target)
	c.state = restapi.StateInfo{State: state, WorkerID: h.id}
	for i := range c.tasks {
		c.tasks[i].StateInfo = restapi.StateInfo{State: state, WorkerID: h.id}
	}
	return nil
}

// Plugins lists every plugin, transforms included.
func (h *Herder) Plugins(context.Context) ([]restapi.PluginInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil {
		return nil, h.fail
	}
	return append([]restapi.PluginInfo(nil), h.plugins...), nil
}

func stateOf(t restapi.TargetState) restapi.State {
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
