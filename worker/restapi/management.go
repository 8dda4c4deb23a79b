package restapi

import "context"

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
	// Location is the binary of an out-of-process plugin (empty for a built-in one).
	Location string `json:"location,omitempty"`
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

// Management is what the admin REST server needs from a worker: the standalone or the
// distributed herder. Every method is safe for concurrent use. Errors wrap the
// sentinels of errors.go.
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
