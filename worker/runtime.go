package worker

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"sort"
	"sync"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// connRuntime is one connector on this worker: its plugin instance, target state, status
// and task supervisors. Its methods are safe for concurrent use.
type connRuntime struct {
	e    *engine
	name string
	// pc is the connector config of this runtime's epoch, parsed (nil only for the stand-in
	// engine.display builds); cfg and st are its raw config and settings.
	pc  *parsedConfig
	cfg map[string]string
	st  connectorSettings
	log *slog.Logger // scrubbed: every record goes through scrub

	// scrub hides the connector's secret values in traces, logs, DLQ context and errors;
	// it learns them from the parsed config and every task config the runtime resolves.
	scrub       *scrubber
	specOnce    sync.Once
	specSecrets map[string]bool
	// taskParsed holds each task's config resolved and parsed, for the task config it was
	// parsed from (guarded by mu): a task's starts and automatic restarts reuse it; an
	// explicit restart drops it (reresolve, forgetTaskConfigs).
	taskParsed map[int]*parsedTask
	// startCfg and startVals are what the connector's next Start gets when an explicit
	// restart resolved its placeholders again to new values (reresolve); nil: the epoch's
	// (pc.resolved, st.values). Guarded by mu.
	startCfg  map[string]string
	startVals plugins.Values

	opMu sync.Mutex // serialises apply/restart/shutdown

	mu          sync.Mutex
	conn        plugins.Connector
	connCtx     context.Context
	connCancel  context.CancelFunc
	connRunning bool
	connMetrics *pluginScope // the running connector's plugins.Metrics
	target      restapi.TargetState
	state       restapi.StateInfo
	taskCfgs    []map[string]string
	tasks       map[int]*taskRuntime
	closed      bool
	topics      map[string]bool // topics this runtime has recorded as used (topics.go)

	// What runs of it here: the connector plugin where ownConn, the tasks in ownTasks.
	// Standalone: everything. Distributed: the assignment says (syncDistributed), task
	// configs come from the config topic (tasksVersion).
	epoch, inc   int64
	ownConn      bool
	ownTasks     map[int]bool
	tasksVersion int64
	reported     restapi.StateInfo // the connector state last reported to the placement
}

func newConnRuntime(e *engine, name string, pc *parsedConfig, conn plugins.Connector) *connRuntime {
	scrub := &scrubber{}
	scrub.add(pc.hidden...)
	return &connRuntime{e: e, name: name, pc: pc, cfg: pc.raw, st: pc.st, conn: conn, scrub: scrub, taskParsed: map[int]*parsedTask{},
		log:   scrubbedLogger(e.log.With("connector", name), scrub),
		state: restapi.StateInfo{State: restapi.StateUnassigned, WorkerID: e.cfg.WorkerID}, tasks: map[int]*taskRuntime{}}
}

// adoptTasks makes cfgs the connector's task configs, every one of them run here.
func (rt *connRuntime) adoptTasks(cfgs []map[string]string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.taskCfgs = cfgs
	rt.ownTasks = make(map[int]bool, len(cfgs))
	for i := range cfgs {
		rt.ownTasks[i] = true
	}
}

func (rt *connRuntime) connType() restapi.ConnectorType {
	switch rt.st.kind {
	case plugins.KindSource:
		return restapi.TypeSource
	case plugins.KindSink:
		return restapi.TypeSink
	}
	return restapi.TypeUnknown
}

// apply moves the connector to target.
func (rt *connRuntime) apply(target restapi.TargetState) {
	rt.opMu.Lock()
	defer rt.opMu.Unlock()
	rt.mu.Lock()
	if rt.closed {
		rt.mu.Unlock()
		return
	}
	rt.target = target
	rt.mu.Unlock()
	switch target {
	case restapi.TargetStarted:
		if rt.startConnector() {
			rt.startTasks()
		}
	case restapi.TargetPaused:
		rt.stopTasks()
		rt.setConnState(restapi.StatePaused, "")
	case restapi.TargetStopped:
		rt.stopTasks()
		rt.stopConnector()
		rt.mu.Lock()
		rt.taskCfgs = nil
		rt.mu.Unlock()
		rt.setConnState(restapi.StateStopped, "")
	}
}

func (rt *connRuntime) setConnState(s restapi.State, trace string) {
	trace = rt.scrub.text(trace)
	rt.mu.Lock()
	rt.state = restapi.StateInfo{State: s, WorkerID: rt.e.cfg.WorkerID, Trace: trace}
	var rec *statusRecord
	if rt.ownConn && rt.reported != rt.state {
		rt.reported = rt.state
		rec = &statusRecord{Connector: rt.name, Task: -1, Inc: rt.inc, State: s, Trace: trace, Worker: rt.e.cfg.WorkerID}
	}
	rt.mu.Unlock()
	if rec != nil {
		rt.e.place.report(*rec)
	}
}

// startConnector starts the plugin connector if needed and computes task configs. It
// returns false (connector FAILED) when Start or TaskConfigs fails.
func (rt *connRuntime) startConnector() bool {
	rt.mu.Lock()
	running := rt.connRunning
	rt.mu.Unlock()
	if !running {
		rt.mu.Lock()
		conn := rt.conn
		rt.mu.Unlock()
		resolved, vals := rt.startConfig()
		// A Start failing with a RetriableError is followed by Stop, and by Start on a new value
		// after a backoff while errors.retry.timeout allows (the SPI's promise); any failed Start
		// is followed by Stop, so a connector can release what it took before failing.
		// The retries hold this connector's operations (opMu), so they end within the worker's
		// start timeout even when errors.retry.timeout is longer or unlimited.
		policy := rt.st.policy
		if policy.retryTimeout < 0 || policy.retryTimeout > rt.e.cfg.StartTimeout {
			policy.retryTimeout = rt.e.cfg.StartTimeout
		}
		var ctx context.Context
		var cancel context.CancelFunc
		var pm *pluginScope
		err := policy.retry(rt.e.lifetime(), func() error {
			// Every start attempt counts: one success or failure each (the retries included).
			rt.e.metrics.startups.WithLabelValues(rt.e.cfg.WorkerID, "connector", "attempt").Inc()
			if conn == nil {
				c, err := rt.e.registry.New(rt.st.class)
				if err != nil {
					rt.e.metrics.startups.WithLabelValues(rt.e.cfg.WorkerID, "connector", "failure").Inc()
					return err
				}
				conn = c
				rt.setConn(c)
			}
			ctx, cancel = context.WithCancel(rt.e.lifetime())
			pm = rt.e.metrics.plugin.scope(rt.pluginClass(), rt.e.cfg.WorkerID, rt.name, "", rt.log)
			err := safeCall(func() error {
				sctx, scancel := context.WithTimeout(ctx, rt.e.cfg.StartTimeout)
				defer scancel()
				return conn.Start(sctx, connectorContext{rt, pm, vals}, maps.Clone(resolved))
			})
			if err != nil {
				rt.e.metrics.startups.WithLabelValues(rt.e.cfg.WorkerID, "connector", "failure").Inc()
				rt.log.Error("connector failed to start", "err", err, "retriable", plugins.IsRetriable(err))
				stopCtx, stopCancel := context.WithTimeout(context.Background(), rt.e.cfg.ConnectorStopTimeout)
				if serr := safeCall(func() error { return conn.Stop(stopCtx) }); serr != nil {
					rt.log.Warn("connector stop after a failed start failed", "err", serr)
				}
				stopCancel()
				cancel()
				pm.close()
				conn = nil
				rt.setConn(nil)
			}
			return err
		}, plugins.IsRetriable)
		if err != nil {
			rt.setConnState(restapi.StateFailed, fmt.Sprintf("start connector: %v", err))
			rt.setConn(nil)
			return false
		}
		rt.e.metrics.startups.WithLabelValues(rt.e.cfg.WorkerID, "connector", "success").Inc()
		rt.mu.Lock()
		rt.connCtx, rt.connCancel, rt.connRunning, rt.connMetrics = ctx, cancel, true, pm
		rt.mu.Unlock()
	}
	var cfgs []map[string]string
	rt.mu.Lock()
	conn := rt.conn
	rt.mu.Unlock()
	err := safeCall(func() error {
		var err error
		cfgs, err = conn.TaskConfigs(rt.st.maxTasks)
		return err
	})
	if err == nil && len(cfgs) > rt.st.maxTasks {
		err = fmt.Errorf("connector returned %d task configs for max.tasks=%d", len(cfgs), rt.st.maxTasks)
	}
	if err != nil {
		rt.log.Error("connector task configs failed", "err", err)
		rt.setConnState(restapi.StateFailed, fmt.Sprintf("task configs: %v", err))
		return false
	}
	// Task configs are kept (and shown) with the connector's placeholders put back.
	for i := range cfgs {
		cfgs[i] = rt.e.cfg.Secrets.Restore(rt.cfg, cfgs[i])
	}
	if err := rt.e.place.publishTasks(rt, cfgs); err != nil {
		rt.log.Error("publishing task configs failed", "err", err)
		rt.setConnState(restapi.StateFailed, fmt.Sprintf("publish task configs: %v", err))
		return false
	}
	rt.setConnState(restapi.StateRunning, "")
	return true
}

func (rt *connRuntime) setConn(c plugins.Connector) {
	rt.mu.Lock()
	rt.conn = c
	rt.mu.Unlock()
}

func (rt *connRuntime) stopConnector() {
	rt.mu.Lock()
	running, cancel, conn, pm := rt.connRunning, rt.connCancel, rt.conn, rt.connMetrics
	rt.connRunning, rt.connMetrics = false, nil
	rt.mu.Unlock()
	if !running {
		return
	}
	defer pm.close()
	ctx, c := context.WithTimeout(context.Background(), rt.e.cfg.ConnectorStopTimeout)
	defer c()
	if err := safeCall(func() error { return conn.Stop(ctx) }); err != nil {
		rt.log.Warn("connector stop failed", "err", err)
	}
	cancel()
	rt.mu.Lock()
	rt.conn = nil
	rt.mu.Unlock()
}

// shutdown stops tasks and the connector for good (delete, replace, worker stop).
func (rt *connRuntime) shutdown() {
	rt.opMu.Lock()
	defer rt.opMu.Unlock()
	rt.mu.Lock()
	rt.closed = true
	rt.mu.Unlock()
	rt.stopTasks()
	rt.stopConnector()
}

// restart restarts the connector and, per req, its tasks. It returns the connector's status
// as the restart began, the parts it restarts RESTARTING (the plan Kafka Connect answers
// with): once they have restarted, a caller could not tell them from the parts left alone.
func (rt *connRuntime) restart(req restapi.RestartRequest) (plan restapi.ConnectorStatus) {
	rt.opMu.Lock()
	defer rt.opMu.Unlock()
	plan = rt.status()
	rt.mu.Lock()
	target, connFailed := rt.target, rt.state.State == restapi.StateFailed
	var restartTasks []*taskRuntime
	if req.IncludeTasks {
		for _, t := range rt.tasks {
			if !req.OnlyFailed || t.state.State == restapi.StateFailed {
				restartTasks = append(restartTasks, t)
			}
		}
	}
	rt.mu.Unlock()
	if target != restapi.TargetStarted {
		return plan
	}
	for i := range plan.Tasks {
		if slices.ContainsFunc(restartTasks, func(t *taskRuntime) bool { return t.id == plan.Tasks[i].ID }) {
			plan.Tasks[i].State = restapi.StateRestarting // the trace says why, as in Kafka Connect's plan
		}
	}
	rt.forgetTaskConfigs(restartTasks...)
	if !req.OnlyFailed || connFailed {
		plan.Connector.State = restapi.StateRestarting
		rt.setConnState(restapi.StateRestarting, "")
		old := rt.snapshotTaskCfgs()
		rt.stopConnector()
		if !rt.reresolve() || !rt.startConnector() {
			return plan
		}
		if !reflect.DeepEqual(old, rt.snapshotTaskCfgs()) {
			rt.stopTasks()
			rt.mu.Lock()
			rt.tasks = map[int]*taskRuntime{}
			rt.mu.Unlock()
			rt.startTasks()
			return plan
		}
	}
	for _, t := range restartTasks {
		rt.setTaskState(t, restapi.StateRestarting, "")
		t.cancel()
		<-t.done
	}
	rt.startTasks()
	return plan
}

func (rt *connRuntime) snapshotTaskCfgs() []map[string]string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]map[string]string(nil), rt.taskCfgs...)
}

// info is the connector's config and tasks as shown. Masking may build a plugin instance
// to learn its secret keys (specSecret): that happens outside rt.mu.
func (rt *connRuntime) info() restapi.ConnectorInfo {
	rt.mu.Lock()
	tasks := len(rt.taskCfgs)
	rt.mu.Unlock()
	info := restapi.ConnectorInfo{Name: rt.name, Config: rt.masked(rt.cfg), Type: rt.connType(), Tasks: []restapi.TaskID{}}
	for i := range tasks {
		info.Tasks = append(info.Tasks, restapi.TaskID{Connector: rt.name, Task: i})
	}
	return info
}

// masked is cfg as shown to users: placeholders as written, secret values hidden. It runs
// plugin code the first time (specSecret): no runtime lock may be held.
func (rt *connRuntime) masked(cfg map[string]string) map[string]string {
	return rt.e.cfg.Secrets.Mask(maps.Clone(cfg), rt.specSecret)
}

func (rt *connRuntime) taskInfos() []restapi.TaskInfo {
	cfgs := rt.snapshotTaskCfgs() // task configs are replaced, never changed in place
	out := []restapi.TaskInfo{}
	for i, c := range cfgs {
		out = append(out, restapi.TaskInfo{ID: restapi.TaskID{Connector: rt.name, Task: i}, Config: rt.masked(c)})
	}
	return out
}

func (rt *connRuntime) status() restapi.ConnectorStatus {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	s := restapi.ConnectorStatus{Name: rt.name, Connector: rt.state, Type: rt.connType(), Tasks: []restapi.TaskState{}}
	if rt.target == restapi.TargetStopped {
		return s
	}
	ids := make([]int, 0, len(rt.tasks))
	for i := range rt.tasks {
		if i < len(rt.taskCfgs) {
			ids = append(ids, i)
		}
	}
	sort.Ints(ids)
	for _, i := range ids {
		st := rt.tasks[i].state
		if rt.target == restapi.TargetPaused && st.State != restapi.StateFailed {
			st.State = restapi.StatePaused
		}
		s.Tasks = append(s.Tasks, restapi.TaskState{ID: i, StateInfo: st})
	}
	return s
}

// connectorContext is what a running connector can ask of the runtime.
type connectorContext struct {
	rt   *connRuntime
	pm   *pluginScope
	vals plugins.Values // the config its Start got, parsed against the Spec
}

// Metrics implements plugins.MetricsProvider.
func (c connectorContext) Metrics() plugins.Metrics { return c.pm.metrics() }

// pluginClass is the registered name of the connector's class (an alias resolved), which
// names its plugin metric families.
func (rt *connRuntime) pluginClass() string {
	if info, err := rt.e.registry.Lookup(rt.st.class); err == nil {
		return info.Name
	}
	return rt.st.class
}

// RequestTaskReconfiguration recomputes task configs and restarts the tasks if they changed.
func (c connectorContext) RequestTaskReconfiguration() {
	c.rt.e.crew.Go(func() {
		rt := c.rt
		rt.opMu.Lock()
		defer rt.opMu.Unlock()
		rt.mu.Lock()
		closed, target := rt.closed, rt.target
		rt.mu.Unlock()
		if closed || target != restapi.TargetStarted {
			return
		}
		// In a cluster the configs are published and come back through the config topic
		// (syncDistributed, which waits for opMu): here they compare equal.
		old := rt.snapshotTaskCfgs()
		if !rt.startConnector() || reflect.DeepEqual(old, rt.snapshotTaskCfgs()) {
			return
		}
		rt.stopTasks()
		rt.mu.Lock()
		rt.tasks = map[int]*taskRuntime{}
		rt.mu.Unlock()
		rt.startTasks()
	})
}

// RaiseError marks the connector FAILED with err's trace.
func (c connectorContext) RaiseError(err error) {
	c.rt.log.Error("connector raised an error", "err", err)
	c.rt.setConnState(restapi.StateFailed, err.Error())
}

func (c connectorContext) Logger() *slog.Logger { return c.rt.log }

// FileAccess is the worker's file confinement (plugins.FileAccessor).
func (c connectorContext) FileAccess() *plugins.FileAccess { return c.rt.e.cfg.Files }

// Config returns the connector config its Start got, parsed against the plugin's Spec.
func (c connectorContext) Config() plugins.Values { return c.vals }
