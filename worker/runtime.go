package worker

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/transforms"
	"github.com/rmqconnect/rmqconnect/schema/converter"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// connRuntime is one connector on this worker: its plugin instance, target state, status
// and task supervisors. Its methods are safe for concurrent use.
type connRuntime struct {
	h    *Standalone
	name string
	cfg  map[string]string
	st   connectorSettings
	log  *slog.Logger // scrubbed: every record goes through scrub

	// scrub hides the connector's secret values in traces, logs, DLQ context and errors;
	// it learns them from every config the runtime resolves.
	scrub       *scrubber
	specOnce    sync.Once
	specSecrets map[string]bool
	// pending is the connector config resolved before the herder took its lock; the next
	// start uses it instead of resolving again.
	pending *resolvedConfig

	opMu sync.Mutex // serialises apply/restart/shutdown

	mu          sync.Mutex
	conn        plugins.Connector
	connCtx     context.Context
	connCancel  context.CancelFunc
	connRunning bool
	target      TargetState
	state       StateInfo
	taskCfgs    []map[string]string
	tasks       map[int]*taskRuntime
	closed      bool
	topics      map[string]bool // topics the connector's tasks have used since creation or reset

	// Distributed mode (cluster != nil): the connector plugin runs only where ownConn,
	// task configs come from the config topic (tasksVersion) and only ownTasks run here.
	cluster      clusterHooks
	epoch, inc   int64
	ownConn      bool
	ownTasks     map[int]bool
	tasksVersion int64
	reported     StateInfo // the connector state last written to the status topic
}

// clusterHooks is what a connector runtime asks of the distributed herder.
type clusterHooks interface {
	// publishTasks stores the task configs the connector computed for its epoch.
	publishTasks(name string, epoch int64, cfgs []map[string]string) error
	// claim blocks until this worker holds the task (its claim generation is in force)
	// or ctx ends.
	claim(ctx context.Context, rt *connRuntime, id int) (gen int64, err error)
	// report writes a status record (asynchronously, in order).
	report(r statusRecord)
	// positions is the position store of one task incarnation.
	positions(name string, inc, gen int64) PositionStore
	// fence returns an error while this worker must not act for its tasks.
	fence() error
	// holds reports whether this worker's claim gen of the task is still in force.
	holds(rt *connRuntime, id int, gen int64) bool
	// linger keeps task id of connector name claimed while an abandoned run of it has not
	// returned (done): this worker claims it for no other run meanwhile, and once done is
	// closed writes release when it is not nil.
	linger(name string, id int, done <-chan struct{}, release *statusRecord)
}

// useTopic records that a task of the connector used topic.
func (rt *connRuntime) useTopic(topic string) {
	rt.mu.Lock()
	if rt.topics == nil {
		rt.topics = map[string]bool{}
	}
	rt.topics[topic] = true
	rt.mu.Unlock()
}

type taskRuntime struct {
	id       int
	cfg      map[string]string
	state    StateInfo
	cancel   context.CancelFunc
	done     chan struct{}
	kick     chan struct{} // restart now instead of waiting for the backoff
	counters taskCounters
	gen      int64     // distributed: the claim generation (0 until claimed)
	reported StateInfo // distributed: the state last written to the status topic
}

func newConnRuntime(h *Standalone, name string, cfg map[string]string, st connectorSettings, conn plugins.Connector) *connRuntime {
	scrub := &scrubber{}
	return &connRuntime{h: h, name: name, cfg: cfg, st: st, conn: conn, scrub: scrub,
		log:   scrubbedLogger(h.log.With("connector", name), scrub),
		state: StateInfo{State: StateUnassigned, WorkerID: h.cfg.WorkerID}, tasks: map[int]*taskRuntime{}, cluster: h.cluster}
}

func (rt *connRuntime) connType() ConnectorType {
	switch rt.st.kind {
	case plugins.KindSource:
		return TypeSource
	case plugins.KindSink:
		return TypeSink
	}
	return TypeUnknown
}

// apply moves the connector to target.
func (rt *connRuntime) apply(target TargetState) {
	rt.opMu.Lock()
	defer rt.opMu.Unlock()
	rt.mu.Lock()
	if rt.closed {
		rt.mu.Unlock()
		return
	}
	rt.target = target
	if target != TargetStarted {
		rt.pending = nil // resolved for a start that is not happening now: resolve afresh later
	}
	rt.mu.Unlock()
	switch target {
	case TargetStarted:
		if rt.startConnector() {
			rt.startTasks()
		}
	case TargetPaused:
		rt.stopTasks()
		rt.setConnState(StatePaused, "")
	case TargetStopped:
		rt.stopTasks()
		rt.stopConnector()
		rt.mu.Lock()
		rt.taskCfgs = nil
		rt.mu.Unlock()
		rt.setConnState(StateStopped, "")
	}
}

func (rt *connRuntime) setConnState(s State, trace string) {
	trace = rt.scrub.text(trace)
	rt.mu.Lock()
	rt.state = StateInfo{State: s, WorkerID: rt.h.cfg.WorkerID, Trace: trace}
	var rec *statusRecord
	if rt.cluster != nil && rt.ownConn && rt.reported != rt.state {
		rt.reported = rt.state
		rec = &statusRecord{Connector: rt.name, Task: -1, Inc: rt.inc, State: s, Trace: trace, Worker: rt.h.cfg.WorkerID}
	}
	rt.mu.Unlock()
	if rec != nil {
		rt.cluster.report(*rec)
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
		if conn == nil {
			c, err := rt.h.registry.New(rt.st.class)
			if err != nil {
				rt.setConnState(StateFailed, err.Error())
				return false
			}
			conn = c
			rt.setConn(c)
		}
		rt.mu.Lock()
		pending := rt.pending
		rt.pending = nil
		rt.mu.Unlock()
		var resolved map[string]string
		var err error
		if pending != nil && pending.err == nil {
			resolved = pending.cfg
			rt.learn(rt.cfg, *pending)
		} else {
			resolved, err = rt.resolve(rt.cfg)
		}
		if err != nil {
			rt.setConnState(StateFailed, fmt.Sprintf("resolve config: %v", err))
			rt.setConn(nil)
			return false
		}
		ctx, cancel := context.WithCancel(rt.h.ctx)
		if err := safeCall(func() error {
			sctx, scancel := context.WithTimeout(ctx, rt.h.cfg.StartTimeout)
			defer scancel()
			return conn.Start(sctx, connectorContext{rt}, resolved)
		}); err != nil {
			rt.h.metrics.startups.WithLabelValues(rt.h.cfg.WorkerID, "connector", "failure").Inc()
			cancel()
			rt.log.Error("connector failed to start", "err", err)
			rt.setConnState(StateFailed, fmt.Sprintf("start connector: %v", err))
			rt.setConn(nil)
			return false
		}
		rt.h.metrics.startups.WithLabelValues(rt.h.cfg.WorkerID, "connector", "success").Inc()
		rt.mu.Lock()
		rt.connCtx, rt.connCancel, rt.connRunning = ctx, cancel, true
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
		rt.setConnState(StateFailed, fmt.Sprintf("task configs: %v", err))
		return false
	}
	// Task configs are kept (and shown) with the connector's placeholders put back.
	for i := range cfgs {
		cfgs[i] = rt.h.cfg.Secrets.Restore(rt.cfg, cfgs[i])
	}
	if rt.cluster != nil {
		// Distributed: the configs reach every worker (this one too) through the config topic.
		if err := rt.cluster.publishTasks(rt.name, rt.epoch, cfgs); err != nil {
			rt.log.Error("publishing task configs failed", "err", err)
			rt.setConnState(StateFailed, fmt.Sprintf("publish task configs: %v", err))
			return false
		}
		rt.setConnState(StateRunning, "")
		return true
	}
	rt.mu.Lock()
	rt.taskCfgs = cfgs
	rt.mu.Unlock()
	rt.setConnState(StateRunning, "")
	return true
}

func (rt *connRuntime) setConn(c plugins.Connector) {
	rt.mu.Lock()
	rt.conn = c
	rt.mu.Unlock()
}

func (rt *connRuntime) stopConnector() {
	rt.mu.Lock()
	running, cancel, conn := rt.connRunning, rt.connCancel, rt.conn
	rt.connRunning = false
	rt.mu.Unlock()
	if !running {
		return
	}
	ctx, c := context.WithTimeout(context.Background(), rt.h.cfg.ConnectorStopTimeout)
	defer c()
	if err := safeCall(func() error { return conn.Stop(ctx) }); err != nil {
		rt.log.Warn("connector stop failed", "err", err)
	}
	cancel()
	rt.mu.Lock()
	rt.conn = nil
	rt.mu.Unlock()
}

// startTasks starts a supervisor for every task config not already running.
func (rt *connRuntime) startTasks() {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed {
		return // retired (deleted, replaced, worker stopping): nothing starts again
	}
	for i, cfg := range rt.taskCfgs {
		if rt.cluster != nil && !rt.ownTasks[i] {
			continue
		}
		if t, ok := rt.tasks[i]; ok && t.done != nil {
			select {
			case <-t.done:
			default:
				continue // running
			}
		}
		ctx, cancel := context.WithCancel(rt.h.ctx)
		t := &taskRuntime{id: i, cfg: maps.Clone(cfg), cancel: cancel, done: make(chan struct{}), kick: make(chan struct{}, 1),
			state: StateInfo{State: StateUnassigned, WorkerID: rt.h.cfg.WorkerID}}
		rt.tasks[i] = t
		rt.h.wg.Add(1)
		go func() {
			defer rt.h.wg.Done()
			defer close(t.done)
			rt.supervise(ctx, t)
		}()
	}
}

// stopTasks stops every task and waits (each gets the graceful stop timeout, then its
// context is already cancelled, which is the forced stop).
func (rt *connRuntime) stopTasks() {
	rt.mu.Lock()
	tasks := make([]*taskRuntime, 0, len(rt.tasks))
	for _, t := range rt.tasks {
		tasks = append(tasks, t)
	}
	rt.mu.Unlock()
	for _, t := range tasks {
		t.cancel()
	}
	rt.awaitStopped(tasks)
	rt.mu.Lock()
	for _, t := range tasks {
		t.state = StateInfo{State: StatePaused, WorkerID: rt.h.cfg.WorkerID}
	}
	rt.mu.Unlock()
}

// awaitStopped waits for cancelled tasks. Graceful stop gets StopTimeout inside the task
// runner; past that (plus 1s) a task that still has not returned is abandoned: forced
// stop, logged, never waited on. It returns the abandoned tasks.
func (rt *connRuntime) awaitStopped(tasks []*taskRuntime) (abandoned []*taskRuntime) {
	deadline := time.NewTimer(rt.h.cfg.StopTimeout + time.Second)
	defer deadline.Stop()
	expired := false // the deadline is shared: once past it, no task is waited on
	for _, t := range tasks {
		if !expired {
			select {
			case <-t.done:
				continue
			case <-deadline.C:
				expired = true
			}
		}
		if !t.isDone() {
			rt.log.Error("task did not stop within the graceful stop timeout; abandoning it", "task", t.id,
				"timeout", rt.h.cfg.StopTimeout)
			abandoned = append(abandoned, t)
		}
	}
	return abandoned
}

// tasksByID returns the runtimes of the given task ids that exist.
func (rt *connRuntime) tasksByID(ids []int) []*taskRuntime {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var tasks []*taskRuntime
	for _, id := range ids {
		if t, ok := rt.tasks[id]; ok {
			tasks = append(tasks, t)
		}
	}
	return tasks
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

// supervise runs a task, restarting it with exponential backoff when it fails. The state
// is FAILED (with the last trace) while it waits.
func (rt *connRuntime) supervise(ctx context.Context, t *taskRuntime) {
	backoff := rt.h.cfg.RestartBackoffMin
	if rt.cluster != nil {
		gen, err := rt.cluster.claim(ctx, rt, t.id)
		if err != nil {
			return // stopped while waiting for the task's previous owner
		}
		rt.mu.Lock()
		t.gen = gen
		t.reported = StateInfo{State: StateRunning, WorkerID: rt.h.cfg.WorkerID} // the claim said so
		rt.mu.Unlock()
		// A newer claim applied while t.gen was still 0 could not fence this task: look again.
		if !rt.cluster.holds(rt, t.id, gen) {
			rt.log.Warn("task claimed by another worker before it started here", "task", t.id, "claim", gen)
			return
		}
	}
	for {
		rt.setTaskState(t, StateRunning, "")
		started := time.Now()
		rt.h.metrics.startups.WithLabelValues(rt.h.cfg.WorkerID, "task", "attempt").Inc()
		err := rt.runTask(ctx, t)
		if ctx.Err() != nil {
			return
		}
		rt.h.metrics.startups.WithLabelValues(rt.h.cfg.WorkerID, "task", "failure").Inc()
		if err == nil {
			err = fmt.Errorf("task returned without being stopped")
		}
		if time.Since(started) > time.Minute {
			backoff = rt.h.cfg.RestartBackoffMin
		}
		rt.log.Error("task failed; restarting after backoff", "task", t.id, "backoff", backoff, "err", err)
		rt.setTaskState(t, StateFailed, err.Error())
		select {
		case <-ctx.Done():
			return
		case <-t.kick:
			backoff = rt.h.cfg.RestartBackoffMin
		case <-time.After(backoff):
			backoff = min(backoff*2, rt.h.cfg.RestartBackoffMax)
		}
		rt.setTaskState(t, StateRestarting, "")
	}
}

func (rt *connRuntime) setTaskState(t *taskRuntime, s State, trace string) {
	trace = rt.scrub.text(trace)
	rt.mu.Lock()
	t.state = StateInfo{State: s, WorkerID: rt.h.cfg.WorkerID, Trace: trace}
	rec := rt.taskRecordLocked(t)
	rt.mu.Unlock()
	if rec != nil {
		rt.cluster.report(*rec)
	}
}

// taskRecordLocked returns the status record to write for t's state, or nil when there is
// nothing new to say (standalone mode, not claimed yet, or unchanged).
func (rt *connRuntime) taskRecordLocked(t *taskRuntime) *statusRecord {
	if rt.cluster == nil || t.gen == 0 || t.reported == t.state {
		return nil
	}
	t.reported = t.state
	return &statusRecord{Connector: rt.name, Task: t.id, Inc: rt.inc, State: t.state.State, Trace: t.state.Trace,
		Worker: rt.h.cfg.WorkerID, Gen: t.gen}
}

// runTask runs one incarnation of a task until ctx ends or it fails.
func (rt *connRuntime) runTask(ctx context.Context, t *taskRuntime) error {
	connCfg, err := rt.resolve(rt.cfg)
	if err != nil {
		return fmt.Errorf("resolve connector config: %w", err)
	}
	taskCfg, err := rt.resolve(t.cfg)
	if err != nil {
		return fmt.Errorf("resolve task config: %w", err)
	}
	full := rt.h.defaults.withDefaults(connCfg)
	kc, err := converter.FromConfig(full, "key.converter", true)
	if err != nil {
		return err
	}
	vc, err := converter.FromConfig(full, "value.converter", false)
	if err != nil {
		return err
	}
	chain, err := transforms.ParseChain(connCfg, nil)
	if err != nil {
		return err
	}
	log := rt.log.With("task", t.id)
	errs := &errorReporter{policy: rt.st.policy, connector: rt.name, task: t.id, log: log, dlq: rt.h.dlqSend, metrics: &t.counters,
		scrub: rt.scrub.text}
	rt.mu.Lock()
	conn, gen := rt.conn, t.gen
	rt.mu.Unlock()
	positions := rt.h.positions
	var fence func() error
	if rt.cluster != nil {
		// The connector may run on another worker: a fresh, unstarted instance makes the task.
		if conn, err = rt.h.registry.New(rt.st.class); err != nil {
			return err
		}
		positions = rt.cluster.positions(rt.name, rt.inc, gen)
		fence = rt.cluster.fence
	}
	if conn == nil {
		return fmt.Errorf("connector is not running")
	}
	vals, err := conn.Spec().Parse(taskCfg)
	if err != nil {
		return fmt.Errorf("task config does not parse against the connector's spec: %w", err)
	}
	id := TaskID{Connector: rt.name, Task: t.id}
	switch c := conn.(type) {
	case plugins.SourceConnector:
		if rt.st.kind != plugins.KindSource {
			break
		}
		p, err := rt.h.client.NewProducer(fmt.Sprintf("%s-%d", rt.name, t.id), rmqclient.ProducerOptions{
			Group: "connect-source-" + rt.name, HashByKey: rt.st.ordered})
		if err != nil {
			return err
		}
		defer p.Close()
		sr := &sourceRunner{id: id, cfg: taskCfg, vals: vals, task: c.NewSourceTask(), chain: chain, conv: converters{kc, vc},
			producer: p, client: rt.h.client, positions: positions, fence: fence, errs: errs, policy: rt.st.policy, log: log,
			counters: &t.counters, defaultTopic: rt.st.topic, autoCreate: rt.h.cfg.AutoCreate, ordered: rt.st.ordered,
			commitInterval: rt.h.cfg.CommitInterval, commitTimeout: rt.h.cfg.CommitTimeout, startTimeout: rt.h.cfg.StartTimeout,
			files: rt.h.cfg.Files, hist: rt.h.metrics, onTopic: rt.useTopic, labels: []string{rt.h.cfg.WorkerID, rt.name, strconv.Itoa(t.id)}}
		return sr.run(ctx, rt.h.cfg.StopTimeout)
	}
	switch c := conn.(type) {
	case plugins.SinkConnector:
		from := rmqclient.FromLast
		if rt.st.fromFirst {
			from = rmqclient.FromFirst
		}
		sk := &sinkRunner{fence: fence, id: id, cfg: taskCfg, vals: vals, task: c.NewSinkTask(), chain: chain, conv: converters{kc, vc},
			client: rt.h.client, errs: errs, policy: rt.st.policy, log: log, counters: &t.counters,
			group: rt.st.group, topics: rt.st.topics, autoCreate: rt.h.cfg.AutoCreate, ordered: rt.st.ordered, from: from, batchSize: rt.st.batchSize,
			hist: rt.h.metrics, labels: []string{rt.h.cfg.WorkerID, rt.name, strconv.Itoa(t.id)}, onTopic: rt.useTopic,
			startTimeout: rt.h.cfg.StartTimeout, files: rt.h.cfg.Files}
		return sk.run(ctx, rt.h.cfg.StopTimeout)
	default:
		return fmt.Errorf("connector %s is neither a source nor a sink", rt.st.class)
	}
}

// restart restarts the connector and, per req, its tasks.
func (rt *connRuntime) restart(req RestartRequest) {
	rt.opMu.Lock()
	defer rt.opMu.Unlock()
	rt.mu.Lock()
	target, connFailed := rt.target, rt.state.State == StateFailed
	var restartTasks []*taskRuntime
	if req.IncludeTasks {
		for _, t := range rt.tasks {
			if !req.OnlyFailed || t.state.State == StateFailed {
				restartTasks = append(restartTasks, t)
			}
		}
	}
	rt.mu.Unlock()
	if target != TargetStarted {
		return
	}
	if !req.OnlyFailed || connFailed {
		rt.setConnState(StateRestarting, "")
		old := rt.snapshotTaskCfgs()
		rt.stopConnector()
		if !rt.startConnector() {
			return
		}
		if !reflect.DeepEqual(old, rt.snapshotTaskCfgs()) {
			rt.stopTasks()
			rt.mu.Lock()
			rt.tasks = map[int]*taskRuntime{}
			rt.mu.Unlock()
			rt.startTasks()
			return
		}
	}
	for _, t := range restartTasks {
		rt.setTaskState(t, StateRestarting, "")
		t.cancel()
		<-t.done
	}
	rt.startTasks()
}

func (rt *connRuntime) snapshotTaskCfgs() []map[string]string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]map[string]string(nil), rt.taskCfgs...)
}

// restartTask restarts one task now.
func (rt *connRuntime) restartTask(id int) error {
	rt.opMu.Lock()
	defer rt.opMu.Unlock()
	rt.mu.Lock()
	t, ok := rt.tasks[id]
	target := rt.target
	rt.mu.Unlock()
	if !ok {
		return fmt.Errorf("task %s-%d: %w", rt.name, id, ErrNotFound)
	}
	if target != TargetStarted {
		return fmt.Errorf("connector %s is %s: %w", rt.name, target, ErrBadState)
	}
	rt.setTaskState(t, StateRestarting, "")
	t.cancel()
	<-t.done
	rt.startTasks()
	return nil
}

func (rt *connRuntime) info() ConnectorInfo {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	info := ConnectorInfo{Name: rt.name, Config: rt.masked(rt.cfg), Type: rt.connType(), Tasks: []TaskID{}}
	for i := range rt.taskCfgs {
		info.Tasks = append(info.Tasks, TaskID{Connector: rt.name, Task: i})
	}
	return info
}

// masked is cfg as shown to users: placeholders as written, secret values hidden.
func (rt *connRuntime) masked(cfg map[string]string) map[string]string {
	return rt.h.cfg.Secrets.Mask(maps.Clone(cfg), rt.specSecret)
}

func (rt *connRuntime) taskInfos() []TaskInfo {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	out := []TaskInfo{}
	for i, c := range rt.taskCfgs {
		out = append(out, TaskInfo{ID: TaskID{Connector: rt.name, Task: i}, Config: rt.masked(c)})
	}
	return out
}

func (rt *connRuntime) status() ConnectorStatus {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	s := ConnectorStatus{Name: rt.name, Connector: rt.state, Type: rt.connType(), Tasks: []TaskState{}}
	if rt.target == TargetStopped {
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
		if rt.target == TargetPaused && st.State != StateFailed {
			st.State = StatePaused
		}
		s.Tasks = append(s.Tasks, TaskState{ID: i, StateInfo: st})
	}
	return s
}

// connectorContext is what a running connector can ask of the runtime.
type connectorContext struct{ rt *connRuntime }

// RequestTaskReconfiguration recomputes task configs and restarts the tasks if they changed.
func (c connectorContext) RequestTaskReconfiguration() {
	c.rt.h.wg.Add(1)
	go func() {
		defer c.rt.h.wg.Done()
		rt := c.rt
		rt.opMu.Lock()
		defer rt.opMu.Unlock()
		rt.mu.Lock()
		closed, target := rt.closed, rt.target
		rt.mu.Unlock()
		if closed || target != TargetStarted {
			return
		}
		if rt.cluster != nil {
			rt.startConnector() // publishes; changed configs come back through the config topic
			return
		}
		old := rt.snapshotTaskCfgs()
		if !rt.startConnector() || reflect.DeepEqual(old, rt.snapshotTaskCfgs()) {
			return
		}
		rt.stopTasks()
		rt.mu.Lock()
		rt.tasks = map[int]*taskRuntime{}
		rt.mu.Unlock()
		rt.startTasks()
	}()
}

// RaiseError marks the connector FAILED with err's trace.
func (c connectorContext) RaiseError(err error) {
	c.rt.log.Error("connector raised an error", "err", err)
	c.rt.setConnState(StateFailed, err.Error())
}

func (c connectorContext) Logger() *slog.Logger { return c.rt.log }

// FileAccess is the worker's file confinement (plugins.FileAccessor).
func (c connectorContext) FileAccess() *plugins.FileAccess { return c.rt.h.cfg.Files }

// Config returns the connector config parsed against the plugin's Spec at validation.
func (c connectorContext) Config() plugins.Values { return c.rt.st.values }
