package plugins

import (
	"context"
	"log/slog"
	"maps"
)

// Kind says which way a connector moves data.
type Kind string

// The connector kinds.
const (
	// KindSource connectors read an external system and produce records to RocketMQ.
	KindSource Kind = "source"
	// KindSink connectors consume records from RocketMQ and write an external system.
	KindSink Kind = "sink"
)

// Valid reports whether k is one of the declared kinds.
func (k Kind) Valid() bool { return k == KindSource || k == KindSink }

// KeyOrdering is the engine's key for ordered delivery: a source sends each key's (without a
// key, each source partition's) records to one queue, a sink consumes each queue in order. It
// is false unless the config sets it; a connector whose data needs order by default declares
// the key in its Spec as a BOOLEAN with Default true, and the engine then uses that default
// when the config does not set the key.
const KeyOrdering = "ordering.msg.enable"

// Connector is the connector-level half of a plugin: it validates a
// configuration and splits the work into task configurations. It never moves
// data itself. A Connector value is used by one goroutine of the engine at a
// time; the engine never calls two of its methods concurrently.
//
// Lifecycle, driven by the worker that owns the connector:
//
//	Spec, Validate (any time, also on a fresh value never started)
//	Start → TaskConfigs (once, then again after RequestTaskReconfiguration) → Stop
//
// After Stop the value is discarded; a restart builds a new one from the
// registry's factory.
type Connector interface {
	// Spec describes the configuration keys the connector reads. The engine
	// calls it to render docs, to fill defaults and to validate a config
	// before Validate. It must be cheap, pure and return the same spec every
	// time; it may return nil when the connector declares no keys.
	Spec() *ConfigSpec

	// Validate checks a full connector configuration (the flat string map a
	// user submitted, runtime keys included) beyond what Spec can express,
	// such as cross-field rules. The engine calls it only once cfg parsed
	// cleanly against Spec (required keys present, every value typed and
	// passing its validators; a SpecValidator is called either way), so
	// Validate never repeats those checks; a connector without cross-field
	// rules returns nil. It is called by the
	// admin API (PUT .../config/validate) and before every Start, on a value
	// that may never be started. It must not connect to external systems
	// unless that is the only way to validate. A non-nil error rejects the
	// config; return a *cfgerr.Error or a cfgerr.List to name the keys. Nobody
	// retries it.
	Validate(cfg map[string]string) error

	// Start prepares the connector with a validated configuration. ctx bounds
	// the start only (the engine cancels it after its start timeout); keep
	// cctx to signal the engine later. After a failed Start the engine calls
	// Stop (so the connector can release what it took) and discards the value.
	// A RetriableError makes the engine Start a new value after a backoff,
	// within errors.retry.timeout (and at most the worker's start timeout in
	// all); any other error, or the last retriable one, marks the connector
	// FAILED.
	Start(ctx context.Context, cctx ConnectorContext, cfg map[string]string) error

	// TaskConfigs returns at most maxTasks task configurations (maxTasks ≥ 1,
	// from max.tasks / tasks.max). The engine publishes them and starts one
	// task per entry, anywhere in the cluster; each map is passed unchanged to
	// that task's Start. Called after Start and again after the connector
	// calls RequestTaskReconfiguration. An error fails the connector.
	TaskConfigs(maxTasks int) ([]map[string]string, error)

	// Stop releases what Start acquired. The engine calls it once, after all
	// tasks of this connector on this worker are stopped, and also when Start
	// failed. ctx carries the graceful-stop deadline. It must be safe to call
	// on a connector that was never started.
	Stop(ctx context.Context) error
}

// SpecValidator is an optional Connector ability: its Spec only describes its keys (the
// worker's copy of an out-of-process plugin's spec, whose validators run in the plugin), and
// its Validate parses cfg against the full spec itself before any other check, so it may be
// given a config that did not parse. The engine then calls Validate even when cfg failed
// Spec (a value of the wrong type), and reports each key either names once, so that the
// answer names every key a built-in connector's would.
type SpecValidator interface {
	// ValidatesSpec marks the ability; the engine never calls it.
	ValidatesSpec()
}

// SourceConnector is a Connector whose tasks are SourceTasks.
type SourceConnector interface {
	Connector
	// NewSourceTask returns a fresh, unstarted task. The engine calls it once
	// per task it runs; tasks share nothing through the connector value.
	NewSourceTask() SourceTask
}

// SinkConnector is a Connector whose tasks are SinkTasks.
type SinkConnector interface {
	Connector
	// NewSinkTask returns a fresh, unstarted task. The engine calls it once
	// per task it runs.
	NewSinkTask() SinkTask
}

// ConnectorContext is the engine's side of a running connector. Its methods
// are safe to call from any goroutine, including ones the connector owns,
// until Stop returns. The engine's context is also a MetricsProvider: record
// the connector's own metrics through MetricsOf(cctx).
type ConnectorContext interface {
	// RequestTaskReconfiguration asks the engine to call TaskConfigs again
	// (for example after the connector noticed new tables or files). It does
	// not block; repeated requests are coalesced.
	RequestTaskReconfiguration()

	// RaiseError reports an unrecoverable failure noticed outside a method
	// call (in a monitoring goroutine, say). The engine marks the connector
	// FAILED, stops it and applies its restart policy.
	RaiseError(err error)

	// Logger returns a logger scoped to this connector; never nil.
	Logger() *slog.Logger

	// Config returns the connector's configuration (the cfg given to Start)
	// parsed against Spec by the engine, defaults filled in. Read typed values
	// here rather than parsing cfg again.
	Config() Values
}

// IdenticalTaskConfigs returns max(maxTasks, 1) copies of cfg, for a connector whose tasks all run the
// same configuration and share the work another way (a sink's tasks share its queues). Each copy is
// its own map, so the engine may add keys to one without touching the others.
func IdenticalTaskConfigs(cfg map[string]string, maxTasks int) []map[string]string {
	out := make([]map[string]string, max(maxTasks, 1))
	for i := range out {
		out[i] = maps.Clone(cfg)
		if out[i] == nil {
			out[i] = map[string]string{}
		}
	}
	return out
}
