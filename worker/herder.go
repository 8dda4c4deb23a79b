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

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/external/dirlock"
	"github.com/rmqconnect/rmqconnect/worker/internal/filestore"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// Standalone runs every connector in this process. Connector configs and target states
// are kept in <StoreDir>/connectors.json and positions in <StoreDir>/positions.json, so a
// restart resumes every connector where it was; paused and stopped ones stay so. One worker
// at a time has StoreDir: NewStandalone locks it (dirlock.LockDir) and a second worker on
// it fails to start; Run releases it as it returns (Close, when Run is never called).
//
// A management call answers what is stored: its change is written to connectors.json
// before it takes effect, and a change that cannot be written is undone and changes
// nothing else (the runtime keeps running, positions stay).
//
// Shutdown order (Run returning): every task stops (sources commit positions, sinks
// flush), then connectors stop, then the DLQ producer closes, then StoreDir is released.
type Standalone struct {
	// The engine runs the connectors; its offsets, DLQ, validation and metrics methods are
	// the herder's.
	*engine

	// names serialises the management operations on one connector (create, put, patch,
	// delete, target changes, offset changes, Run's start of a stored one). They take it
	// before mu and keep it while plugin code runs (Validate, Start, TaskConfigs, Stop),
	// which mu never covers.
	names nameLocks

	mu      sync.Mutex // guards stored
	stored  map[string]storedConnector
	started chan struct{} // closed once Run has started the stored connectors

	// usedTopics is the record of the connectors' active topics (topics.go).
	usedTopics *topicStore

	// storeLock is held on StoreDir from NewStandalone until Run returns or Close.
	storeLock *dirlock.Lock
}

type storedConnector struct {
	Config map[string]string   `json:"config"`
	Target restapi.TargetState `json:"target"`
}

// NewStandalone locks the store directory and loads the stored connectors; Run starts them.
func NewStandalone(cfg StandaloneConfig, client *rmqclient.Client, reg *plugins.Registry, log *slog.Logger) (*Standalone, error) {
	e := newEngine(cfg, client, reg, log)
	lock, err := lockStoreDir(e.cfg.StoreDir)
	if err != nil {
		return nil, err
	}
	h, err := openStandalone(e, lock)
	if err != nil {
		_ = lock.Close()
		return nil, err
	}
	return h, nil
}

// lockStoreDir creates dir if need be and locks it for this worker: two workers on one
// store directory would both run every stored connector and overwrite each other's files.
func lockStoreDir(dir string) (*dirlock.Lock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("storePathRootDir: %w", err)
	}
	lock, err := dirlock.LockDir(dir)
	if err != nil {
		return nil, fmt.Errorf("storePathRootDir: %w", err)
	}
	return lock, nil
}

// openStandalone loads the stores of StoreDir, which lock holds.
func openStandalone(e *engine, lock *dirlock.Lock) (*Standalone, error) {
	pos, err := OpenFilePositionStore(filepath.Join(e.cfg.StoreDir, "positions.json"))
	if err != nil {
		return nil, err
	}
	topics := &topicStore{}
	e.positions = pos
	e.place = localPlacement{positions: pos, topics: topics, dir: e.cfg.StoreDir}
	h := &Standalone{engine: e, started: make(chan struct{}), usedTopics: topics, storeLock: lock}
	err = filestore.ReadLogged(h.configPath(), &h.stored, e.log)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("connector store: %w", err)
	}
	if h.stored == nil {
		h.stored = map[string]storedConnector{}
	}
	return h, nil
}

func (h *Standalone) configPath() string { return filepath.Join(h.cfg.StoreDir, "connectors.json") }

// Started is closed once Run accepts management calls.
func (h *Standalone) Started() <-chan struct{} { return h.started }

// WorkerID names this worker.
func (h *Standalone) WorkerID() string { return h.cfg.WorkerID }

// Close releases the store directory. Run does so as it returns; Close is for a herder
// whose Run was never called, and must not be called while Run runs. It may be called
// more than once.
func (h *Standalone) Close() error { return h.storeLock.Close() }

// Run starts the stored connectors and runs until ctx ends, then stops everything and
// releases the store directory.
func (h *Standalone) Run(ctx context.Context) error {
	defer h.Close() // last: the tasks' final position commits are written before
	h.start(ctx)
	h.mu.Lock()
	names := slices.Sorted(maps.Keys(h.stored))
	h.mu.Unlock()
	for _, name := range names {
		if err := h.startStored(name); err != nil {
			h.log.Error("stored connector cannot start", "connector", name, "err", err)
		}
	}
	close(h.started)
	<-ctx.Done()
	h.stop(false)
	return nil
}

// startStored starts stored connector name, unless a management call has started,
// replaced or deleted it since Run began.
func (h *Standalone) startStored(name string) error {
	unlock := h.names.lock(name)
	defer unlock()
	h.mu.Lock()
	sc, stored := h.stored[name]
	h.mu.Unlock()
	if !stored || h.lookup(name) != nil {
		return nil
	}
	rt, err := h.newRuntime(name, sc.Config, resolveConfig(h.cfg.Secrets, sc.Config), true)
	if err != nil {
		return err
	}
	return h.install(rt, sc.Target)
}

func (h *Standalone) persistLocked() error {
	return filestore.Write(h.configPath(), h.stored)
}

// Connectors lists connector names.
func (h *Standalone) Connectors(context.Context) ([]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Sorted(maps.Keys(h.stored)), nil
}

// ConnectorInfo returns a connector's config and tasks.
func (h *Standalone) ConnectorInfo(_ context.Context, name string) (restapi.ConnectorInfo, error) {
	rt, err := h.runtime(name)
	if err != nil {
		return restapi.ConnectorInfo{}, err
	}
	return rt.info(), nil
}

// ConnectorStatus returns the states of a connector and its tasks.
func (h *Standalone) ConnectorStatus(_ context.Context, name string) (restapi.ConnectorStatus, error) {
	rt, err := h.runtime(name)
	if err != nil {
		return restapi.ConnectorStatus{}, err
	}
	return rt.status(), nil
}

// CreateConnector stores and starts a new connector.
func (h *Standalone) CreateConnector(_ context.Context, name string, cfg map[string]string, initial restapi.TargetState) (restapi.ConnectorInfo, error) {
	res := resolveConfig(h.cfg.Secrets, cfg) // before any lock: it reads files
	unlock := h.names.lock(name)
	defer unlock()
	h.mu.Lock()
	err := h.checkRunning()
	if _, ok := h.stored[name]; ok && err == nil {
		err = fmt.Errorf("connector %s: %w", name, restapi.ErrAlreadyExists)
	}
	h.mu.Unlock()
	if err != nil {
		return restapi.ConnectorInfo{}, err
	}
	if initial == "" {
		initial = restapi.TargetStarted
	}
	return h.put(name, cfg, res, initial)
}

// put validates cfg, stores it as connector name's config with target, stops the runtime
// the connector had and starts one with cfg. The caller holds the name lock, so nothing
// else changes this connector meanwhile; h.mu is held only around the bookkeeping, never
// while plugin code runs (Validate, the old runtime's Stop, the new one's Start and
// TaskConfigs). Nothing is changed when cfg is invalid or cannot be stored.
func (h *Standalone) put(name string, cfg map[string]string, res resolvedConfig, target restapi.TargetState) (restapi.ConnectorInfo, error) {
	rt, err := h.newRuntime(name, cfg, res, true)
	if err != nil {
		return restapi.ConnectorInfo{}, err
	}
	h.mu.Lock()
	if err := h.checkRunning(); err != nil {
		h.mu.Unlock()
		return restapi.ConnectorInfo{}, err
	}
	old := h.lookup(name)
	prev, hadStored := h.stored[name]
	h.stored[name] = storedConnector{Config: maps.Clone(cfg), Target: target}
	if err := h.persistLocked(); err != nil {
		if hadStored {
			h.stored[name] = prev
		} else {
			delete(h.stored, name)
		}
		h.mu.Unlock()
		return restapi.ConnectorInfo{}, fmt.Errorf("store connector %s: %w", name, err)
	}
	h.mu.Unlock()
	if old != nil {
		old.shutdown()
	}
	if err := h.install(rt, target); err != nil {
		return restapi.ConnectorInfo{}, err // stopping: the stored config is started by the next Run
	}
	return rt.info(), nil
}

// PutConnectorConfig creates or replaces a connector's config. A replaced connector is
// stopped and started again with the new config; its target state is kept.
func (h *Standalone) PutConnectorConfig(_ context.Context, name string, cfg map[string]string) (restapi.ConnectorInfo, bool, error) {
	res := resolveConfig(h.cfg.Secrets, cfg) // before any lock: it reads files
	unlock := h.names.lock(name)
	defer unlock()
	return h.putConfig(name, cfg, res)
}

// putConfig is PutConnectorConfig with the name lock held.
func (h *Standalone) putConfig(name string, cfg map[string]string, res resolvedConfig) (restapi.ConnectorInfo, bool, error) {
	h.mu.Lock()
	err := h.checkRunning()
	sc, existed := h.stored[name]
	h.mu.Unlock()
	if err != nil {
		return restapi.ConnectorInfo{}, false, err
	}
	target := restapi.TargetStarted
	if existed {
		target = sc.Target
	}
	info, err := h.put(name, cfg, res, target)
	return info, !existed, err
}

// DeleteConnector removes a connector's config from the store, then stops it and removes
// its positions and topics. A deletion that cannot be stored changes nothing: the
// connector keeps running with its positions, and the call can be retried.
func (h *Standalone) DeleteConnector(_ context.Context, name string) error {
	unlock := h.names.lock(name)
	defer unlock()
	h.mu.Lock()
	if err := h.checkRunning(); err != nil {
		h.mu.Unlock()
		return err
	}
	prev, stored := h.stored[name]
	if h.lookup(name) == nil && !stored {
		h.mu.Unlock()
		return fmt.Errorf("connector %s: %w", name, restapi.ErrNotFound)
	}
	if stored {
		delete(h.stored, name)
		if err := h.persistLocked(); err != nil {
			h.stored[name] = prev
			h.mu.Unlock()
			return fmt.Errorf("store deletion of connector %s: %w", name, err)
		}
	}
	rt := h.remove(name)
	h.mu.Unlock()
	// The connector is deleted from here on, whatever fails below.
	if rt != nil {
		rt.shutdown()
	}
	h.metrics.forget(h.cfg.WorkerID, name)
	var left []error
	if err := h.positions.Delete(name); err != nil {
		left = append(left, fmt.Errorf("positions: %w", err))
	}
	if err := h.usedTopics.forget(h.cfg.StoreDir, name); err != nil {
		left = append(left, fmt.Errorf("active topics: %w", err))
	}
	if len(left) > 0 {
		return fmt.Errorf("connector %s deleted, but not all of its state: %w", name, errors.Join(left...))
	}
	return nil
}

// TaskConfigs returns the task configs of a connector.
func (h *Standalone) TaskConfigs(_ context.Context, name string) ([]restapi.TaskInfo, error) {
	rt, err := h.runtime(name)
	if err != nil {
		return nil, err
	}
	return rt.taskInfos(), nil
}

// TaskStatus returns one task's state.
func (h *Standalone) TaskStatus(_ context.Context, id restapi.TaskID) (restapi.TaskState, error) {
	rt, err := h.runtime(id.Connector)
	if err != nil {
		return restapi.TaskState{}, err
	}
	for _, ts := range rt.status().Tasks {
		if ts.ID == id.Task {
			return ts, nil
		}
	}
	return restapi.TaskState{}, fmt.Errorf("task %s-%d: %w", id.Connector, id.Task, restapi.ErrNotFound)
}

// RestartConnector restarts the connector and, per req, its tasks, and returns its status as
// the restart began (connRuntime.restart).
func (h *Standalone) RestartConnector(_ context.Context, name string, req restapi.RestartRequest) (restapi.ConnectorStatus, error) {
	if err := h.guard(); err != nil {
		return restapi.ConnectorStatus{}, err
	}
	rt, err := h.runtime(name)
	if err != nil {
		return restapi.ConnectorStatus{}, err
	}
	return rt.restart(req), nil
}

// RestartTask restarts one task.
func (h *Standalone) RestartTask(_ context.Context, id restapi.TaskID) error {
	if err := h.guard(); err != nil {
		return err
	}
	rt, err := h.runtime(id.Connector)
	if err != nil {
		return err
	}
	return rt.restartTask(id.Task)
}

func (h *Standalone) guard() error { return h.checkRunning() }

func (h *Standalone) setTarget(name string, target restapi.TargetState) error {
	unlock := h.names.lock(name)
	defer unlock()
	h.mu.Lock()
	if err := h.checkRunning(); err != nil {
		h.mu.Unlock()
		return err
	}
	sc, ok := h.stored[name]
	rt := h.lookup(name)
	if !ok || rt == nil {
		h.mu.Unlock()
		return fmt.Errorf("connector %s: %w", name, restapi.ErrNotFound)
	}
	prev := sc
	sc.Target = target
	h.stored[name] = sc
	if err := h.persistLocked(); err != nil {
		h.stored[name] = prev // else the next write of the store would store this target
		h.mu.Unlock()
		return fmt.Errorf("store target state: %w", err)
	}
	h.mu.Unlock()
	rt.apply(target)
	return nil
}

// PauseConnector stops the connector's tasks (committing their progress) and keeps them PAUSED.
func (h *Standalone) PauseConnector(_ context.Context, name string) error {
	return h.setTarget(name, restapi.TargetPaused)
}

// ResumeConnector starts a paused or stopped connector again.
func (h *Standalone) ResumeConnector(_ context.Context, name string) error {
	return h.setTarget(name, restapi.TargetStarted)
}

// StopConnector stops the connector and its tasks, keeping its config (STOPPED).
func (h *Standalone) StopConnector(_ context.Context, name string) error {
	return h.setTarget(name, restapi.TargetStopped)
}

// PatchConnectorConfig merges set into the stored config (the raw one, placeholders and
// secrets intact) and removes the keys in remove, then applies it as PutConnectorConfig.
func (h *Standalone) PatchConnectorConfig(_ context.Context, name string, set map[string]string, remove []string) (restapi.ConnectorInfo, error) {
	unlock := h.names.lock(name) // two patches must not both start from the same config
	defer unlock()
	h.mu.Lock()
	sc, ok := h.stored[name]
	h.mu.Unlock()
	if !ok {
		return restapi.ConnectorInfo{}, fmt.Errorf("connector %s: %w", name, restapi.ErrNotFound)
	}
	cfg := maps.Clone(sc.Config)
	for _, k := range remove {
		delete(cfg, k)
	}
	maps.Copy(cfg, set)
	info, _, err := h.putConfig(name, cfg, resolveConfig(h.cfg.Secrets, cfg))
	return info, err
}

// AlterOffsets sets a STOPPED connector's offsets (engine.AlterOffsets) holding its name
// lock from the state check to the last write: a resume cannot start tasks on the old
// offsets in between, nor a delete remove the connector and its positions before they are
// written (a connector created again under the name would start from them).
func (h *Standalone) AlterOffsets(ctx context.Context, name string, offsets []restapi.ConnectorOffset) error {
	unlock := h.names.lock(name)
	defer unlock()
	return h.engine.AlterOffsets(ctx, name, offsets)
}

// ResetOffsets resets a STOPPED connector's offsets (engine.ResetOffsets) holding its name
// lock, as AlterOffsets does.
func (h *Standalone) ResetOffsets(ctx context.Context, name string) error {
	unlock := h.names.lock(name)
	defer unlock()
	return h.engine.ResetOffsets(ctx, name)
}
