package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/worker/internal/filestore"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// StandaloneConfig configures a standalone herder.
type StandaloneConfig struct {
	WorkerID       string
	StoreDir       string
	KeyConverter   string
	ValueConverter string
	CommitInterval time.Duration
	StopTimeout    time.Duration
	AutoCreate     bool
	// RestartBackoffMin/Max bound the automatic restart delay of a failed task (default 1s, 5m).
	RestartBackoffMin, RestartBackoffMax time.Duration
	// Secrets resolves config placeholders (${env:X}, ${file:path:key}) when a connector or
	// task starts, puts them back into task configs, and masks secrets for display. Stored
	// and shown configs keep the placeholders. Nil leaves configs as they are.
	Secrets Secrets
	// StartTimeout bounds a connector's and a task's Start (maxStartTimeoutMills); default 3m.
	StartTimeout time.Duration
	// ConnectorStopTimeout bounds a connector's Stop (maxStopTimeoutMills); default 1m.
	ConnectorStopTimeout time.Duration
	// CommitTimeout bounds the source task's Commit in a periodic position commit
	// (offsetCommitTimeoutMsConfig); default 5s.
	CommitTimeout time.Duration
	// Files confines the files connectors open (fileConnectorAllowedDirs); nil: none.
	Files *plugins.FileAccess
}

// Secrets is how the worker handles config placeholders and secret values (conf/providers
// implements it; the worker does not import conf).
type Secrets interface {
	// Resolve returns cfg with its placeholders resolved and every value a placeholder
	// resolved to (the worker hides those in the text it lets out: traces, logs, DLQ).
	Resolve(cfg map[string]string) (resolved map[string]string, values []string, err error)
	Restore(raw, resolvedTask map[string]string) map[string]string
	Mask(cfg map[string]string, isSecret func(key string) bool) map[string]string
}

// noSecrets is the identity.
type noSecrets struct{}

func (noSecrets) Resolve(cfg map[string]string) (map[string]string, []string, error) {
	return cfg, nil, nil
}
func (noSecrets) Restore(_, t map[string]string) map[string]string { return t }
func (noSecrets) Mask(cfg map[string]string, _ func(string) bool) map[string]string {
	return cfg
}

// Standalone runs every connector in this process. Connector configs and target states
// are kept in <StoreDir>/connectors.json and positions in <StoreDir>/positions.json, so a
// restart resumes every connector where it was; paused and stopped ones stay so.
//
// Shutdown order (Run returning): every task stops (sources commit positions, sinks
// flush), then connectors stop, then the DLQ producer closes.
type Standalone struct {
	cfg       StandaloneConfig
	log       *slog.Logger
	client    *rmqclient.Client
	registry  *plugins.Registry
	positions PositionStore
	defaults  connectorDefaults

	// names serialises the management operations on one connector (create, put, patch,
	// delete, target changes, Run's start of a stored one). They take it before mu and keep
	// it while plugin code runs (Validate, Start, TaskConfigs, Stop), which mu never covers.
	names nameLocks

	mu       sync.Mutex
	conns    map[string]*connRuntime
	stored   map[string]storedConnector
	ctx      context.Context // set by Run; nil before
	started  chan struct{}   // closed once Run has started the stored connectors
	stopping bool
	wg       sync.WaitGroup

	metrics *workerMetrics

	producerMu sync.Mutex
	producer   *rmqclient.Producer
	reader     *rmqclient.Reader
	replayMu   sync.Mutex

	// cluster is set when this Standalone is the local engine of a Distributed herder:
	// connectors then come from the config topic, not connectors.json; so are DLQ replays.
	cluster clusterHooks
	replays replayStore
	// usedTopics is the standalone record of the connectors' active topics (topics.go).
	usedTopics topicStore
}

type storedConnector struct {
	Config map[string]string `json:"config"`
	Target TargetState       `json:"target"`
}

// NewStandalone loads stored connectors; Run starts them.
func NewStandalone(cfg StandaloneConfig, client *rmqclient.Client, reg *plugins.Registry, log *slog.Logger) (*Standalone, error) {
	if cfg.CommitInterval <= 0 {
		cfg.CommitInterval = 30 * time.Second
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = 30 * time.Second
	}
	if cfg.RestartBackoffMin <= 0 {
		cfg.RestartBackoffMin = time.Second
	}
	if cfg.RestartBackoffMax <= 0 {
		cfg.RestartBackoffMax = 5 * time.Minute
	}
	if cfg.Secrets == nil {
		cfg.Secrets = noSecrets{}
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 3 * time.Minute
	}
	if cfg.ConnectorStopTimeout <= 0 {
		cfg.ConnectorStopTimeout = time.Minute
	}
	if cfg.CommitTimeout <= 0 {
		cfg.CommitTimeout = 5 * time.Second
	}
	if err := os.MkdirAll(cfg.StoreDir, 0o755); err != nil {
		return nil, fmt.Errorf("storePathRootDir: %w", err)
	}
	pos, err := OpenFilePositionStore(filepath.Join(cfg.StoreDir, "positions.json"))
	if err != nil {
		return nil, err
	}
	h := &Standalone{cfg: cfg, log: log, client: client, registry: reg, positions: pos,
		defaults: connectorDefaults{keyConverter: cfg.KeyConverter, valueConverter: cfg.ValueConverter, files: cfg.Files},
		conns:    map[string]*connRuntime{}, stored: map[string]storedConnector{}, started: make(chan struct{}),
		metrics: newWorkerMetrics()}
	if err := filestore.Read(h.configPath(), &h.stored); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("connector store: %w", err)
	}
	return h, nil
}

func (h *Standalone) configPath() string { return filepath.Join(h.cfg.StoreDir, "connectors.json") }

// Started is closed once Run accepts management calls.
func (h *Standalone) Started() <-chan struct{} { return h.started }

// WorkerID names this worker.
func (h *Standalone) WorkerID() string { return h.cfg.WorkerID }

// Run starts the stored connectors and runs until ctx ends, then stops everything.
func (h *Standalone) Run(ctx context.Context) error {
	h.mu.Lock()
	h.ctx = ctx
	names := slices.Sorted(maps.Keys(h.stored))
	h.mu.Unlock()
	for _, name := range names {
		if err := h.startStored(name); err != nil {
			h.log.Error("stored connector cannot start", "connector", name, "err", err)
		}
	}
	close(h.started)
	<-ctx.Done()
	h.shutdownAll()
	return nil
}

// startStored starts stored connector name, unless a management call has started,
// replaced or deleted it since Run began.
func (h *Standalone) startStored(name string) error {
	unlock := h.names.lock(name)
	defer unlock()
	h.mu.Lock()
	sc, stored := h.stored[name]
	_, running := h.conns[name]
	h.mu.Unlock()
	if !stored || running {
		return nil
	}
	rt, err := h.newRuntime(name, sc.Config, resolveConfig(h.cfg.Secrets, sc.Config))
	if err != nil {
		return err
	}
	return h.install(rt, sc.Target)
}

// shutdownAll stops every connector and task, then the DLQ producer and reader.
func (h *Standalone) shutdownAll() {
	h.mu.Lock()
	h.stopping = true
	all := make([]*connRuntime, 0, len(h.conns))
	for _, c := range h.conns {
		all = append(all, c)
	}
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range all {
		wg.Add(1)
		go func() { defer wg.Done(); c.shutdown() }()
	}
	wg.Wait()
	waitTimeout(&h.wg, 2*time.Second) // tasks were already stopped or abandoned above
	h.producerMu.Lock()
	if h.producer != nil {
		_ = h.producer.Close()
	}
	if h.reader != nil {
		_ = h.reader.Close()
	}
	h.producerMu.Unlock()
}

// dlqSend writes a DLQ message through a producer shared by all tasks of this worker.
func (h *Standalone) dlqSend(ctx context.Context, m *rmqclient.Message) error {
	p, err := h.sharedProducer()
	if err != nil {
		return err
	}
	if err := ensureTopic(ctx, h.client, m.Topic, true); err != nil {
		return err
	}
	_, err = p.Send(ctx, m)
	return err
}

func (h *Standalone) sharedProducer() (*rmqclient.Producer, error) {
	h.producerMu.Lock()
	defer h.producerMu.Unlock()
	if h.producer == nil {
		p, err := h.client.NewProducer("dlq", rmqclient.ProducerOptions{Group: "rmqconnect-dlq-" + h.cfg.WorkerID})
		if err != nil {
			return nil, err
		}
		h.producer = p
	}
	return h.producer, nil
}

func ensureTopic(ctx context.Context, c *rmqclient.Client, topic string, create bool) error {
	return ensureTopicQueues(ctx, c, topic, create, 1)
}

// ensureTopicQueues checks that topic is routed, creating it with queues queues when it is
// missing and create is set.
func ensureTopicQueues(ctx context.Context, c *rmqclient.Client, topic string, create bool, queues int) error {
	_, err := c.TopicQueues(ctx, topic)
	if errors.Is(err, rmqclient.ErrNoRoute) && create {
		return c.CreateTopic(ctx, rmqclient.TopicSpec{Name: topic, Queues: queues})
	}
	return err
}

func (h *Standalone) persistLocked() error {
	if h.cluster != nil {
		return nil
	}
	return filestore.Write(h.configPath(), h.stored)
}

// newRuntime validates cfg (res is cfg resolved) and builds the connector's runtime, not
// started. It runs plugin code (the connector's Spec and Validate): no herder lock may be
// held.
func (h *Standalone) newRuntime(name string, cfg map[string]string, res resolvedConfig) (*connRuntime, error) {
	st, conn, err := validateResolved(h.registry, name, cfg, res, h.defaults, h.cfg.Secrets)
	if err != nil {
		return nil, err
	}
	rt := newConnRuntime(h, name, maps.Clone(cfg), st, conn)
	rt.pending = &res
	return rt, nil
}

// install makes rt its connector's runtime and moves it to target (a connector whose
// Start fails is kept, FAILED with its trace), unless the worker is stopping: then rt is
// not started and ErrStopped is returned. The caller holds the connector's name lock.
func (h *Standalone) install(rt *connRuntime, target TargetState) error {
	h.mu.Lock()
	if err := h.checkRunning(); err != nil {
		h.mu.Unlock()
		return err
	}
	h.conns[rt.name] = rt
	h.mu.Unlock()
	// A shutdownAll from here on finds rt in conns: whichever of its shutdown and this
	// apply comes second sees the other's effect (apply does nothing on a closed runtime).
	rt.apply(target)
	return nil
}

func (h *Standalone) checkRunning() error {
	if h.ctx == nil || h.stopping {
		return ErrStopped
	}
	return nil
}

// Connectors lists connector names.
func (h *Standalone) Connectors(context.Context) ([]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Sorted(maps.Keys(h.stored)), nil
}

func (h *Standalone) runtime(name string) (*connRuntime, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	rt, ok := h.conns[name]
	if !ok {
		return nil, fmt.Errorf("connector %s: %w", name, ErrNotFound)
	}
	return rt, nil
}

// ConnectorInfo returns a connector's config and tasks.
func (h *Standalone) ConnectorInfo(_ context.Context, name string) (ConnectorInfo, error) {
	rt, err := h.runtime(name)
	if err != nil {
		return ConnectorInfo{}, err
	}
	return rt.info(), nil
}

// ConnectorStatus returns the states of a connector and its tasks.
func (h *Standalone) ConnectorStatus(_ context.Context, name string) (ConnectorStatus, error) {
	rt, err := h.runtime(name)
	if err != nil {
		return ConnectorStatus{}, err
	}
	return rt.status(), nil
}

// CreateConnector stores and starts a new connector.
func (h *Standalone) CreateConnector(_ context.Context, name string, cfg map[string]string, initial TargetState) (ConnectorInfo, error) {
	res := resolveConfig(h.cfg.Secrets, cfg) // before any lock: it reads files
	unlock := h.names.lock(name)
	defer unlock()
	h.mu.Lock()
	err := h.checkRunning()
	if _, ok := h.stored[name]; ok && err == nil {
		err = fmt.Errorf("connector %s: %w", name, ErrAlreadyExists)
	}
	h.mu.Unlock()
	if err != nil {
		return ConnectorInfo{}, err
	}
	if initial == "" {
		initial = TargetStarted
	}
	return h.put(name, cfg, res, initial)
}

// put validates cfg, stores it as connector name's config with target, stops the runtime
// the connector had and starts one with cfg. The caller holds the name lock, so nothing
// else changes this connector meanwhile; h.mu is held only around the bookkeeping, never
// while plugin code runs (Validate, the old runtime's Stop, the new one's Start and
// TaskConfigs). Nothing is changed when cfg is invalid or cannot be stored.
func (h *Standalone) put(name string, cfg map[string]string, res resolvedConfig, target TargetState) (ConnectorInfo, error) {
	rt, err := h.newRuntime(name, cfg, res)
	if err != nil {
		return ConnectorInfo{}, err
	}
	h.mu.Lock()
	if err := h.checkRunning(); err != nil {
		h.mu.Unlock()
		return ConnectorInfo{}, err
	}
	old := h.conns[name]
	prev, hadStored := h.stored[name]
	h.stored[name] = storedConnector{Config: maps.Clone(cfg), Target: target}
	if err := h.persistLocked(); err != nil {
		if hadStored {
			h.stored[name] = prev
		} else {
			delete(h.stored, name)
		}
		h.mu.Unlock()
		return ConnectorInfo{}, fmt.Errorf("store connector %s: %w", name, err)
	}
	h.mu.Unlock()
	if old != nil {
		old.shutdown()
	}
	if err := h.install(rt, target); err != nil {
		return ConnectorInfo{}, err // stopping: the stored config is started by the next Run
	}
	return rt.info(), nil
}

// PutConnectorConfig creates or replaces a connector's config. A replaced connector is
// stopped and started again with the new config; its target state is kept.
func (h *Standalone) PutConnectorConfig(_ context.Context, name string, cfg map[string]string) (ConnectorInfo, bool, error) {
	res := resolveConfig(h.cfg.Secrets, cfg) // before any lock: it reads files
	unlock := h.names.lock(name)
	defer unlock()
	return h.putConfig(name, cfg, res)
}

// putConfig is PutConnectorConfig with the name lock held.
func (h *Standalone) putConfig(name string, cfg map[string]string, res resolvedConfig) (ConnectorInfo, bool, error) {
	h.mu.Lock()
	err := h.checkRunning()
	sc, existed := h.stored[name]
	h.mu.Unlock()
	if err != nil {
		return ConnectorInfo{}, false, err
	}
	target := TargetStarted
	if existed {
		target = sc.Target
	}
	info, err := h.put(name, cfg, res, target)
	return info, !existed, err
}

// DeleteConnector stops a connector and removes its config and positions.
func (h *Standalone) DeleteConnector(_ context.Context, name string) error {
	unlock := h.names.lock(name)
	defer unlock()
	h.mu.Lock()
	if err := h.checkRunning(); err != nil {
		h.mu.Unlock()
		return err
	}
	rt, ok := h.conns[name]
	_, stored := h.stored[name]
	if !ok && !stored {
		h.mu.Unlock()
		return fmt.Errorf("connector %s: %w", name, ErrNotFound)
	}
	delete(h.stored, name)
	delete(h.conns, name)
	err := h.persistLocked()
	h.mu.Unlock()
	if rt != nil {
		rt.shutdown()
	}
	h.metrics.forget(h.cfg.WorkerID, name)
	if perr := h.positions.Delete(name); perr != nil && err == nil {
		err = perr
	}
	if h.cluster == nil {
		if terr := h.usedTopics.forget(h.cfg.StoreDir, name); terr != nil && err == nil {
			err = terr
		}
	}
	return err
}

// TaskConfigs returns the task configs of a connector.
func (h *Standalone) TaskConfigs(_ context.Context, name string) ([]TaskInfo, error) {
	rt, err := h.runtime(name)
	if err != nil {
		return nil, err
	}
	return rt.taskInfos(), nil
}

// TaskStatus returns one task's state.
func (h *Standalone) TaskStatus(_ context.Context, id TaskID) (TaskState, error) {
	rt, err := h.runtime(id.Connector)
	if err != nil {
		return TaskState{}, err
	}
	for _, ts := range rt.status().Tasks {
		if ts.ID == id.Task {
			return ts, nil
		}
	}
	return TaskState{}, fmt.Errorf("task %s-%d: %w", id.Connector, id.Task, ErrNotFound)
}

// RestartConnector restarts the connector and, per req, its tasks.
func (h *Standalone) RestartConnector(_ context.Context, name string, req RestartRequest) (ConnectorStatus, error) {
	if err := h.guard(); err != nil {
		return ConnectorStatus{}, err
	}
	rt, err := h.runtime(name)
	if err != nil {
		return ConnectorStatus{}, err
	}
	rt.restart(req)
	return rt.status(), nil
}

// RestartTask restarts one task.
func (h *Standalone) RestartTask(_ context.Context, id TaskID) error {
	if err := h.guard(); err != nil {
		return err
	}
	rt, err := h.runtime(id.Connector)
	if err != nil {
		return err
	}
	return rt.restartTask(id.Task)
}

func (h *Standalone) guard() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.checkRunning()
}

func (h *Standalone) setTarget(name string, target TargetState) error {
	unlock := h.names.lock(name)
	defer unlock()
	h.mu.Lock()
	if err := h.checkRunning(); err != nil {
		h.mu.Unlock()
		return err
	}
	sc, ok := h.stored[name]
	rt := h.conns[name]
	if !ok || rt == nil {
		h.mu.Unlock()
		return fmt.Errorf("connector %s: %w", name, ErrNotFound)
	}
	sc.Target = target
	h.stored[name] = sc
	err := h.persistLocked()
	h.mu.Unlock()
	if err != nil {
		return fmt.Errorf("store target state: %w", err)
	}
	rt.apply(target)
	return nil
}

// PauseConnector stops the connector's tasks (committing their progress) and keeps them PAUSED.
func (h *Standalone) PauseConnector(_ context.Context, name string) error {
	return h.setTarget(name, TargetPaused)
}

// ResumeConnector starts a paused or stopped connector again.
func (h *Standalone) ResumeConnector(_ context.Context, name string) error {
	return h.setTarget(name, TargetStarted)
}

// StopConnector stops the connector and its tasks, keeping its config (STOPPED).
func (h *Standalone) StopConnector(_ context.Context, name string) error {
	return h.setTarget(name, TargetStopped)
}

// Plugins lists the installed connector plugins, then the transforms, predicates and
// converters a connector config can name.
func (h *Standalone) Plugins(context.Context) ([]PluginInfo, error) {
	var out []PluginInfo
	for _, p := range h.registry.List() {
		v := p.Version
		if v == "" {
			v = builtinVersion
		}
		out = append(out, PluginInfo{Class: p.Name, Type: string(p.Kind), Version: v, Aliases: p.Aliases, Location: p.Location})
	}
	return append(out, nonConnectorPlugins()...), nil
}

// Positions returns the stored source positions of a connector (for tests and the offsets API).
func (h *Standalone) Positions(name string) ([]plugins.PartitionPosition, error) {
	return h.positions.All(name)
}

// waitTimeout waits for wg, giving up after d (goroutines of abandoned tasks).
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// PatchConnectorConfig merges set into the stored config (the raw one, placeholders and
// secrets intact) and removes the keys in remove, then applies it as PutConnectorConfig.
func (h *Standalone) PatchConnectorConfig(_ context.Context, name string, set map[string]string, remove []string) (ConnectorInfo, error) {
	unlock := h.names.lock(name) // two patches must not both start from the same config
	defer unlock()
	h.mu.Lock()
	sc, ok := h.stored[name]
	h.mu.Unlock()
	if !ok {
		return ConnectorInfo{}, fmt.Errorf("connector %s: %w", name, ErrNotFound)
	}
	cfg := maps.Clone(sc.Config)
	for _, k := range remove {
		delete(cfg, k)
	}
	maps.Copy(cfg, set)
	info, _, err := h.putConfig(name, cfg, resolveConfig(h.cfg.Secrets, cfg))
	return info, err
}

// nameLocks is a mutex per connector name, created on first use and dropped when no one
// holds or waits for it.
type nameLocks struct {
	mu    sync.Mutex
	locks map[string]*nameLock
}

type nameLock struct {
	mu   sync.Mutex
	refs int // holders and waiters
}

// lock takes name's lock and returns its unlock.
func (n *nameLocks) lock(name string) (unlock func()) {
	n.mu.Lock()
	if n.locks == nil {
		n.locks = map[string]*nameLock{}
	}
	l := n.locks[name]
	if l == nil {
		l = &nameLock{}
		n.locks[name] = l
	}
	l.refs++
	n.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		n.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(n.locks, name)
		}
		n.mu.Unlock()
	}
}

// contenders returns how many callers hold or wait for name's lock.
func (n *nameLocks) contenders(name string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if l := n.locks[name]; l != nil {
		return l.refs
	}
	return 0
}
