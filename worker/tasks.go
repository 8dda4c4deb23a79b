package worker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

type taskRuntime struct {
	id       int
	cfg      map[string]string
	state    restapi.StateInfo
	cancel   context.CancelFunc
	done     chan struct{}
	kick     chan struct{} // restart now instead of waiting for the backoff
	counters taskCounters
	run      *member           // the supervisor goroutine in the engine's crew
	gen      int64             // distributed: the claim generation (0 until claimed)
	ver      int64             // distributed: the version of the task configs it runs (connRuntime.tasksVersion)
	reported restapi.StateInfo // distributed: the state last written to the status topic
}

// startTasks starts a supervisor for every task config not already running.
func (rt *connRuntime) startTasks() {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed {
		return // retired (deleted, replaced, worker stopping): nothing starts again
	}
	for i, cfg := range rt.taskCfgs {
		if !rt.ownTasks[i] {
			continue
		}
		if t, ok := rt.tasks[i]; ok && t.done != nil {
			select {
			case <-t.done:
			default:
				continue // running
			}
		}
		ctx, cancel := context.WithCancel(rt.e.lifetime())
		t := &taskRuntime{id: i, cfg: maps.Clone(cfg), ver: rt.tasksVersion, cancel: cancel, done: make(chan struct{}), kick: make(chan struct{}, 1),
			state: restapi.StateInfo{State: restapi.StateUnassigned, WorkerID: rt.e.cfg.WorkerID}}
		rt.tasks[i] = t
		if t.run = rt.e.crew.Go(func() { defer close(t.done); rt.supervise(ctx, t) }); t.run == nil {
			cancel() // the engine is stopping
			close(t.done)
		}
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
		t.state = restapi.StateInfo{State: restapi.StatePaused, WorkerID: rt.e.cfg.WorkerID}
	}
	rt.mu.Unlock()
}

// awaitStopped waits for cancelled tasks. Graceful stop gets StopTimeout inside the task
// runner; past that (plus 1s) a task that still has not returned is abandoned: forced
// stop, logged, never waited on. It returns the abandoned tasks.
func (rt *connRuntime) awaitStopped(tasks []*taskRuntime) (abandoned []*taskRuntime) {
	deadline := time.NewTimer(rt.e.cfg.StopTimeout + time.Second)
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
				"timeout", rt.e.cfg.StopTimeout)
			rt.mu.Lock()
			run := t.run
			rt.mu.Unlock()
			run.detach() // the forced stop: the engine's stop does not wait for it
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

// supervise runs a task, restarting it with exponential backoff when it fails. The state
// is FAILED (with the last trace) while it waits.
func (rt *connRuntime) supervise(ctx context.Context, t *taskRuntime) {
	defer rt.e.metrics.supervising(rt.e.cfg.WorkerID, rt.name, strconv.Itoa(t.id))()
	backoff := rt.e.cfg.RestartBackoffMin
	if !rt.claimTask(ctx, t) {
		return
	}
	for {
		rt.setTaskState(t, restapi.StateRunning, "")
		started := time.Now()
		rt.e.metrics.startups.WithLabelValues(rt.e.cfg.WorkerID, "task", "attempt").Inc()
		err := rt.runTask(ctx, t)
		rt.countTaskStartup(ctx, err)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = fmt.Errorf("task returned without being stopped")
		}
		if time.Since(started) > time.Minute {
			backoff = rt.e.cfg.RestartBackoffMin
		}
		rt.log.Error("task failed; restarting after backoff", "task", t.id, "backoff", backoff, "err", err)
		rt.setTaskState(t, restapi.StateFailed, err.Error())
		select {
		case <-ctx.Done():
			return
		case <-t.kick:
			backoff = rt.e.cfg.RestartBackoffMin
		case <-time.After(backoff):
			backoff = min(backoff*2, rt.e.cfg.RestartBackoffMax)
		}
		rt.setTaskState(t, restapi.StateRestarting, "")
		// A restart runs under the same claim, except after a run whose claim was older
		// than positions stored for its partitions: a run under it would be refused again.
		if errors.Is(err, errClaimBehind) && !rt.claimTask(ctx, t) {
			return
		}
	}
}

// claimTask claims task t for its next run (its generation becomes t.gen) and reports
// whether the run may go on: false when ctx ended meanwhile or another worker's claim
// replaced this one.
func (rt *connRuntime) claimTask(ctx context.Context, t *taskRuntime) bool {
	gen, err := rt.e.place.claim(ctx, rt, t.id)
	if errors.Is(err, errTasksChanged) {
		rt.log.Debug("task configs changed before the task was claimed; not starting it", "task", t.id)
	}
	if err != nil {
		return false // stopped while waiting for the task's previous owner, or its configs changed
	}
	if gen == 0 {
		return true
	}
	rt.mu.Lock()
	t.gen = gen
	t.reported = restapi.StateInfo{State: restapi.StateRunning, WorkerID: rt.e.cfg.WorkerID} // the claim said so
	rt.mu.Unlock()
	// A newer claim applied while t.gen was not yet gen could not fence this task: look again.
	if !rt.e.place.holds(rt, t.id, gen) {
		rt.log.Warn("task claimed by another worker before it started here", "task", t.id, "claim", gen)
		return false
	}
	return true
}

// countTaskStartup counts a failed start attempt of a task: its run ended before the task was
// started (its transforms, config, producer or its Start failed), and not because it was
// stopped. A success is counted when the task's Start returns (started).
func (rt *connRuntime) countTaskStartup(ctx context.Context, err error) {
	if errors.As(err, new(notStartedError)) && ctx.Err() == nil {
		rt.e.metrics.startups.WithLabelValues(rt.e.cfg.WorkerID, "task", "failure").Inc()
	}
}

// notStartedError is a run's error that ended it before the task was started. It reads as
// the error it wraps: traces do not change.
type notStartedError struct{ error }

func (e notStartedError) Unwrap() error { return e.error }

func notStarted(err error) error {
	if err == nil {
		return nil
	}
	return notStartedError{err}
}

// started is what a runner calls once its task's Start returned without error.
func (rt *connRuntime) started() {
	rt.e.metrics.startups.WithLabelValues(rt.e.cfg.WorkerID, "task", "success").Inc()
}

func (rt *connRuntime) setTaskState(t *taskRuntime, s restapi.State, trace string) {
	trace = rt.scrub.text(trace)
	rt.mu.Lock()
	t.state = restapi.StateInfo{State: s, WorkerID: rt.e.cfg.WorkerID, Trace: trace}
	rec := rt.taskRecordLocked(t)
	rt.mu.Unlock()
	if rec != nil {
		rt.e.place.report(*rec)
	}
}

// taskRecordLocked returns the status record to write for t's state, or nil when there is
// nothing new to say (standalone mode, not claimed yet, or unchanged).
func (rt *connRuntime) taskRecordLocked(t *taskRuntime) *statusRecord {
	if t.gen == 0 || t.reported == t.state {
		return nil
	}
	t.reported = t.state
	return &statusRecord{Connector: rt.name, Task: t.id, Inc: rt.inc, State: t.state.State, Trace: t.state.Trace,
		Worker: rt.e.cfg.WorkerID, Gen: t.gen, Ver: t.ver}
}

// parsedTask is a task config resolved and parsed against the connector's Spec.
type parsedTask struct {
	raw  map[string]string // the task config it was parsed from
	cfg  map[string]string // resolved
	vals plugins.Values
}

// parseTask returns t's config resolved and parsed, from the last start of a task with the
// same config when there was one. A config that fails is not kept: the next start tries again.
func (rt *connRuntime) parseTask(t *taskRuntime, spec *plugins.ConfigSpec) (*parsedTask, error) {
	rt.mu.Lock()
	p := rt.taskParsed[t.id]
	rt.mu.Unlock()
	if p != nil && maps.Equal(p.raw, t.cfg) {
		return p, nil
	}
	cfg, err := rt.resolve(t.cfg) // reads files: under no lock
	if err != nil {
		return nil, fmt.Errorf("resolve task config: %w", err)
	}
	vals, err := spec.Parse(cfg)
	if err != nil {
		return nil, fmt.Errorf("task config does not parse against the connector's spec: %w", err)
	}
	p = &parsedTask{raw: t.cfg, cfg: cfg, vals: vals}
	rt.mu.Lock()
	rt.taskParsed[t.id] = p
	rt.mu.Unlock()
	return p, nil
}

// runTask runs one incarnation of a task until ctx ends or it fails. It reads the epoch's
// parsed config (parsedConfig) and the task's (parseTask); only the transform chain and the
// task itself are new for each incarnation.
func (rt *connRuntime) runTask(ctx context.Context, t *taskRuntime) error {
	chain, err := rt.pc.newChain()
	if err != nil {
		return notStarted(err)
	}
	log := rt.log.With("task", t.id)
	errs := &errorReporter{policy: rt.st.policy, connector: rt.name, task: t.id, log: log, dlq: rt.e.dlqSend, metrics: &t.counters,
		scrub: rt.scrub.text}
	rt.mu.Lock()
	gen := t.gen
	rt.mu.Unlock()
	conn, err := rt.e.place.taskConnector(rt)
	if err != nil {
		return notStarted(err)
	}
	positions, fence := rt.e.place.taskStores(rt, gen)
	positions = forTask(positions, t.id)
	kc, vc := rt.pc.keyConv, rt.pc.valueConv
	pt, err := rt.parseTask(t, conn.Spec())
	if err != nil {
		return notStarted(err)
	}
	taskCfg, vals := maps.Clone(pt.cfg), pt.vals
	id := restapi.TaskID{Connector: rt.name, Task: t.id}
	pm := rt.e.metrics.plugin.scope(rt.pluginClass(), rt.e.cfg.WorkerID, rt.name, strconv.Itoa(t.id), log)
	defer pm.close()
	switch c := conn.(type) {
	case plugins.SourceConnector:
		if rt.st.kind != plugins.KindSource {
			break
		}
		p, err := rt.e.client.NewProducer(fmt.Sprintf("%s-%d", rt.name, t.id), rmqclient.ProducerOptions{
			Group: "connect-source-" + rt.name, HashByKey: rt.st.ordered})
		if err != nil {
			return notStarted(err)
		}
		defer p.Close()
		sr := &sourceRunner{id: id, cfg: taskCfg, vals: vals, task: c.NewSourceTask(), newTask: c.NewSourceTask, chain: chain, conv: converters{kc, vc},
			producer: p, client: rt.e.client, positions: positions, fence: fence, errs: errs, policy: rt.st.policy, log: log,
			counters: &t.counters, defaultTopic: rt.st.topic, autoCreate: rt.e.cfg.AutoCreate, ordered: rt.st.ordered,
			commitInterval: rt.e.cfg.CommitInterval, commitTimeout: rt.e.cfg.CommitTimeout, startTimeout: rt.e.cfg.StartTimeout,
			files: rt.e.cfg.Files, hist: rt.e.metrics, onTopic: rt.useTopic, labels: []string{rt.e.cfg.WorkerID, rt.name, strconv.Itoa(t.id)},
			pluginMetrics: pm, started: rt.started}
		return sr.run(ctx, rt.e.cfg.StopTimeout)
	}
	switch c := conn.(type) {
	case plugins.SinkConnector:
		from := rmqclient.FromLast
		if rt.st.fromFirst {
			from = rmqclient.FromFirst
		}
		sk := &sinkRunner{fence: fence, id: id, cfg: taskCfg, vals: vals, task: c.NewSinkTask(), newTask: c.NewSinkTask, chain: chain, conv: converters{kc, vc},
			client: rt.e.client, errs: errs, policy: rt.st.policy, log: log, counters: &t.counters,
			group: rt.st.group, topics: rt.st.topics, autoCreate: rt.e.cfg.AutoCreate, ordered: rt.st.ordered, from: from, batchSize: rt.st.batchSize,
			goroutines: 4, taskCount: rt.taskCount,
			hist: rt.e.metrics, labels: []string{rt.e.cfg.WorkerID, rt.name, strconv.Itoa(t.id)}, onTopic: rt.useTopic,
			startTimeout: rt.e.cfg.StartTimeout, files: rt.e.cfg.Files, pluginMetrics: pm, started: rt.started}
		return sk.run(ctx, rt.e.cfg.StopTimeout)
	default:
		return notStarted(fmt.Errorf("connector %s is neither a source nor a sink", rt.st.class))
	}
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
		return fmt.Errorf("task %s-%d: %w", rt.name, id, restapi.ErrNotFound)
	}
	if target != restapi.TargetStarted {
		return fmt.Errorf("connector %s is %s: %w", rt.name, target, restapi.ErrBadState)
	}
	rt.forgetTaskConfigs(t)
	rt.setTaskState(t, restapi.StateRestarting, "")
	t.cancel()
	<-t.done
	rt.startTasks()
	return nil
}
