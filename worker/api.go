package worker

import (
	"context"
	"errors"
	"fmt"
)

// Sentinel errors of the worker's management API. admin maps each to an HTTP status.
var (
	// ErrNotFound: the connector or task does not exist (404).
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a create named a connector that exists (409).
	ErrAlreadyExists = errors.New("already exists")
	// ErrInvalidConfig: a connector config was rejected; wrapped by *ConfigError (400).
	ErrInvalidConfig = errors.New("invalid connector config")
	// ErrRebalancing: the answer is not reliable while assignments change (409).
	ErrRebalancing = errors.New("rebalance in progress")
	// ErrBadState: the operation does not apply in the current state, e.g. offsets of a running connector (409).
	ErrBadState = errors.New("operation not allowed in the current state")
	// ErrConflict: a write lost a race with a concurrent write to the same connector (409).
	ErrConflict = errors.New("conflicting concurrent update; read the connector again and retry")
	// ErrStopped: the worker is shutting down (503).
	ErrStopped = errors.New("worker is stopping")
)

// ConfigError is one or more rejected connector config keys.
type ConfigError struct {
	Connector string
	Problems  []ConfigProblem
}

// ConfigProblem is one rejected key.
type ConfigProblem struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Reason string `json:"reason"`
}

func (e *ConfigError) Error() string {
	msg := fmt.Sprintf("connector %s: invalid config:", e.Connector)
	for i, p := range e.Problems {
		if i > 0 {
			msg += ";"
		}
		if p.Value != "" {
			msg += fmt.Sprintf(" %s=%q: %s", p.Key, p.Value, p.Reason)
		} else {
			msg += fmt.Sprintf(" %s: %s", p.Key, p.Reason)
		}
	}
	return msg
}

// Unwrap lets errors.Is(err, ErrInvalidConfig) match.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

// State is a connector's or task's lifecycle state, spelled as Kafka Connect does.
type State string

// Lifecycle states.
const (
	StateUnassigned State = "UNASSIGNED"
	StateRunning    State = "RUNNING"
	StatePaused     State = "PAUSED"
	StateStopped    State = "STOPPED"
	StateFailed     State = "FAILED"
	StateRestarting State = "RESTARTING"
)

// TargetState is what the user asked a connector to be.
type TargetState string

// Target states.
const (
	TargetStarted TargetState = "STARTED"
	TargetPaused  TargetState = "PAUSED"
	TargetStopped TargetState = "STOPPED"
)

// ConnectorType is source or sink.
type ConnectorType string

// Connector types, spelled as Kafka Connect's REST API does.
const (
	TypeSource  ConnectorType = "source"
	TypeSink    ConnectorType = "sink"
	TypeUnknown ConnectorType = "unknown"
)

// TaskID names one task of a connector.
type TaskID struct {
	Connector string `json:"connector"`
	Task      int    `json:"task"`
}

// ConnectorInfo is GET /connectors/{name}.
type ConnectorInfo struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
	Tasks  []TaskID          `json:"tasks"`
	Type   ConnectorType     `json:"type"`
}

// TaskInfo is one entry of GET /connectors/{name}/tasks.
type TaskInfo struct {
	ID     TaskID            `json:"id"`
	Config map[string]string `json:"config"`
}

// StateInfo is the state of a connector or task as reported by status routes.
type StateInfo struct {
	State    State  `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
}

// TaskState is one task's status.
type TaskState struct {
	ID int `json:"id"`
	StateInfo
}

// ConnectorStatus is GET /connectors/{name}/status.
type ConnectorStatus struct {
	Name      string        `json:"name"`
	Connector StateInfo     `json:"connector"`
	Tasks     []TaskState   `json:"tasks"`
	Type      ConnectorType `json:"type"`
}

// PluginInfo is one entry of GET /connector-plugins. Type is a ConnectorType ("source",
// "sink") for a connector, else one of the plugin types below.
type PluginInfo struct {
	Class   string   `json:"class"`
	Type    string   `json:"type"`
	Version string   `json:"version"`
	Aliases []string `json:"aliases,omitempty"`
}

// Types of the plugins that are not connectors, spelled as Kafka Connect's REST API does.
const (
	PluginTransformation = "transformation"
	PluginPredicate      = "predicate"
	PluginConverter      = "converter"
)

// RestartRequest is POST /connectors/{name}/restart's query.
type RestartRequest struct {
	IncludeTasks bool
	OnlyFailed   bool
}

// Management is what the admin REST server needs from a worker (standalone now, the
// distributed herder later). Every method is safe for concurrent use. Errors wrap the
// sentinels above.
type Management interface {
	// Connectors lists connector names, sorted.
	Connectors(ctx context.Context) ([]string, error)
	// ConnectorInfo returns a connector's config and tasks.
	ConnectorInfo(ctx context.Context, name string) (ConnectorInfo, error)
	// ConnectorStatus returns a connector's and its tasks' states.
	ConnectorStatus(ctx context.Context, name string) (ConnectorStatus, error)
	// CreateConnector validates and stores a new connector, starting it in initial
	// (TargetStarted when empty). ErrAlreadyExists if the name is taken.
	CreateConnector(ctx context.Context, name string, config map[string]string, initial TargetState) (ConnectorInfo, error)
	// PutConnectorConfig creates or replaces a connector's config; created is true for a new one.
	// A changed config restarts the connector and its tasks with the new config.
	PutConnectorConfig(ctx context.Context, name string, config map[string]string) (info ConnectorInfo, created bool, err error)
	// DeleteConnector stops a connector and removes its config, tasks, status and positions.
	DeleteConnector(ctx context.Context, name string) error
	// TaskConfigs returns the task configs the connector produced.
	TaskConfigs(ctx context.Context, name string) ([]TaskInfo, error)
	// TaskStatus returns one task's state.
	TaskStatus(ctx context.Context, id TaskID) (TaskState, error)
	// RestartConnector restarts the connector and, per req, its tasks. It returns the status
	// right after the restart was set in motion (states RESTARTING where applicable).
	RestartConnector(ctx context.Context, name string, req RestartRequest) (ConnectorStatus, error)
	// RestartTask restarts one task.
	RestartTask(ctx context.Context, id TaskID) error
	// PauseConnector, ResumeConnector and StopConnector set the target state.
	PauseConnector(ctx context.Context, name string) error
	ResumeConnector(ctx context.Context, name string) error
	StopConnector(ctx context.Context, name string) error
	// Plugins lists the plugins this worker can run: connectors first, then transforms,
	// predicates and converters.
	Plugins(ctx context.Context) ([]PluginInfo, error)
	// WorkerID names this worker.
	WorkerID() string
}
