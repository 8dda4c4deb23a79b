package worker

import "github.com/rmqconnect/rmqconnect/worker/restapi"

// The management API's types and sentinels live in package restapi, which admin and its
// client import without linking the engine; these names keep the worker's own code short.
// Each is the restapi value itself (aliases and shared variables), so errors.Is and type
// switches match across both spellings.

// Sentinel errors of the management API; admin maps each to an HTTP status.
var (
	ErrNotFound      = restapi.ErrNotFound
	ErrAlreadyExists = restapi.ErrAlreadyExists
	ErrInvalidConfig = restapi.ErrInvalidConfig
	ErrRebalancing   = restapi.ErrRebalancing
	ErrBadState      = restapi.ErrBadState
	ErrConflict      = restapi.ErrConflict
	ErrStopped       = restapi.ErrStopped
	ErrUnavailable   = restapi.ErrUnavailable
)

type (
	ConfigError      = restapi.ConfigError
	ConfigProblem    = restapi.ConfigProblem
	State            = restapi.State
	TargetState      = restapi.TargetState
	ConnectorType    = restapi.ConnectorType
	TaskID           = restapi.TaskID
	ConnectorInfo    = restapi.ConnectorInfo
	TaskInfo         = restapi.TaskInfo
	StateInfo        = restapi.StateInfo
	TaskState        = restapi.TaskState
	ConnectorStatus  = restapi.ConnectorStatus
	PluginInfo       = restapi.PluginInfo
	RestartRequest   = restapi.RestartRequest
	Management       = restapi.Management
	ConfigDefinition = restapi.ConfigDefinition
	ConfigValueInfo  = restapi.ConfigValueInfo
	ConfigInfo       = restapi.ConfigInfo
	ConfigInfos      = restapi.ConfigInfos
	ConnectorOffset  = restapi.ConnectorOffset
	ConnectorOffsets = restapi.ConnectorOffsets
	DLQRecord        = restapi.DLQRecord
	ReplayInfo       = restapi.ReplayInfo
	DLQPage          = restapi.DLQPage
	DLQReplayResult  = restapi.DLQReplayResult
	DLQRefusal       = restapi.DLQRefusal
)

// Lifecycle states, target states, connector and plugin types.
const (
	StateUnassigned      = restapi.StateUnassigned
	StateRunning         = restapi.StateRunning
	StatePaused          = restapi.StatePaused
	StateStopped         = restapi.StateStopped
	StateFailed          = restapi.StateFailed
	StateRestarting      = restapi.StateRestarting
	TargetStarted        = restapi.TargetStarted
	TargetPaused         = restapi.TargetPaused
	TargetStopped        = restapi.TargetStopped
	TypeSource           = restapi.TypeSource
	TypeSink             = restapi.TypeSink
	TypeUnknown          = restapi.TypeUnknown
	PluginTransformation = restapi.PluginTransformation
	PluginPredicate      = restapi.PluginPredicate
	PluginConverter      = restapi.PluginConverter
)
