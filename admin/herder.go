package admin

import (
	"context"

	"github.com/rmqconnect/rmqconnect/worker"
)

// Herder is what the connector routes need from the worker that manages connectors: the
// standalone worker now, the distributed herder later.
//
// It is declared here, not embedded from worker.Management, so that the REST layer states its
// own needs: a herder may grow methods the REST layer does not call without widening this
// contract, and tests fake exactly this set. The assertion below keeps the two in step: every
// worker.Management is a Herder, so the lead can pass one without an adapter.
//
// Every method is called with the request's context, must be safe for concurrent use and
// returns errors that wrap worker's sentinels (ErrNotFound, ErrAlreadyExists, *ConfigError, ...);
// httpStatus turns them into HTTP statuses.
type Herder interface {
	// Connectors lists connector names, sorted.
	Connectors(ctx context.Context) ([]string, error)
	// ConnectorInfo returns a connector's config, task ids and type.
	ConnectorInfo(ctx context.Context, name string) (worker.ConnectorInfo, error)
	// ConnectorStatus returns a connector's and its tasks' states.
	ConnectorStatus(ctx context.Context, name string) (worker.ConnectorStatus, error)
	// CreateConnector stores a new connector and starts it in initial (started when empty);
	// worker.ErrAlreadyExists if the name is taken.
	CreateConnector(ctx context.Context, name string, config map[string]string, initial worker.TargetState) (worker.ConnectorInfo, error)
	// PutConnectorConfig creates or replaces a connector's config; created is true for a new one.
	PutConnectorConfig(ctx context.Context, name string, config map[string]string) (info worker.ConnectorInfo, created bool, err error)
	// DeleteConnector stops a connector and removes it.
	DeleteConnector(ctx context.Context, name string) error
	// TaskConfigs returns the task configs the connector produced.
	TaskConfigs(ctx context.Context, name string) ([]worker.TaskInfo, error)
	// TaskStatus returns one task's state.
	TaskStatus(ctx context.Context, id worker.TaskID) (worker.TaskState, error)
	// RestartConnector restarts the connector and, per req, its tasks, and returns the status
	// right after the restart was set in motion.
	RestartConnector(ctx context.Context, name string, req worker.RestartRequest) (worker.ConnectorStatus, error)
	// RestartTask restarts one task.
	RestartTask(ctx context.Context, id worker.TaskID) error
	// PauseConnector, ResumeConnector and StopConnector set the target state.
	PauseConnector(ctx context.Context, name string) error
	ResumeConnector(ctx context.Context, name string) error
	StopConnector(ctx context.Context, name string) error
	// Plugins lists the plugins the worker can run: sources and sinks (types "source" and
	// "sink"), then transforms, predicates and converters (worker.PluginTransformation, ...).
	// The routes filter the list; the herder always returns all of it.
	Plugins(ctx context.Context) ([]worker.PluginInfo, error)
	// WorkerID names the worker.
	WorkerID() string
}

// Every worker.Management can serve the REST API.
var _ Herder = worker.Management(nil)
