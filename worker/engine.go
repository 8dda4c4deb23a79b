package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
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

// engine runs connectors and tasks on this worker: their runtimes, positions, error
// handling and DLQ, and metrics. It decides nothing about where a unit runs: the herder that
// owns it (Standalone or Distributed) builds the runtimes through it and moves each to what
// it should run, and the engine asks the herder's placement where task configs, claims,
// status and positions go.
type engine struct {
	cfg      StandaloneConfig
	log      *slog.Logger
	client   *rmqclient.Client
	registry *plugins.Registry
	// positions is the offsets API's view of the source positions (a task run gets its own
	// store from the placement).
	positions PositionStore
	defaults  connectorDefaults
	place     placement
	// replays records DLQ replays; nil keeps them in <StoreDir>/dlq-replays.json.
	replays replayStore
	// dlq reads the DLQ topics; nil reads them from the broker (brokerDLQ).
	dlq     dlqIO
	metrics *workerMetrics

	mu       sync.Mutex
	conns    map[string]*connRuntime
	retiring map[*connRuntime]struct{} // retired (retire) and still shutting down
	open     bool                      // started and not stopping: connectors may be installed
	stopping bool
	// life ends (endLife) when the engine's herder's Run context ends or the engine stops:
	// the context of every connector and task the engine starts derives from it. It is a
	// context.WithCancel of Background, so that the contexts derived from it are linked to it
	// directly rather than each by a goroutine watching a foreign Done channel.
	life    context.Context
	endLife context.CancelFunc
	// crew holds the goroutines the engine starts (task supervisors, reconfigurations);
	// stop waits for every one of them.
	crew crew

	producerMu sync.Mutex
	producer   *rmqclient.Producer
	reader     *rmqclient.Reader
	replayMu   sync.Mutex
}

// newEngine fills cfg's defaults and builds an engine with no connectors; positions and
// place come from its herder.
func newEngine(cfg StandaloneConfig, client *rmqclient.Client, reg *plugins.Registry, log *slog.Logger) *engine {
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
	life, endLife := context.WithCancel(context.Background())
	return &engine{cfg: cfg, log: log, client: client, registry: reg,
		defaults: connectorDefaults{keyConverter: cfg.KeyConverter, valueConverter: cfg.ValueConverter, files: cfg.Files},
		conns:    map[string]*connRuntime{}, life: life, endLife: endLife, metrics: newWorkerMetrics()}
}

// start opens the engine for connectors until ctx (its herder's Run context) ends.
func (e *engine) start(ctx context.Context) {
	e.mu.Lock()
	e.open = true
	e.mu.Unlock()
	context.AfterFunc(ctx, e.endLife)
}

// lifetime is a context that ends when the engine stops. It carries no values of the
// herder's Run context, only its end.
func (e *engine) lifetime() context.Context { return e.life }

// stop stops every connector and task, then the DLQ producer and reader; release also
// gives up the tasks' claims (a cluster member leaving). Tasks stop in parallel: sources
// commit their positions, sinks flush.
func (e *engine) stop(release bool) {
	e.mu.Lock()
	e.stopping = true
	all := slices.Collect(maps.Values(e.conns))
	e.mu.Unlock()
	e.endLife()
	var g errgroup.Group
	for _, rt := range all {
		g.Go(func() error {
			if release {
				rt.shutdownReleasing()
			} else {
				rt.shutdown()
			}
			return nil
		})
	}
	_ = g.Wait()
	// Every task was cancelled and waited for above up to its graceful stop timeout; one
	// still in plugin code is waited for here until it returns.
	e.crew.close()
	e.producerMu.Lock()
	if e.producer != nil {
		_ = e.producer.Close()
	}
	if e.reader != nil {
		_ = e.reader.Close()
	}
	e.producerMu.Unlock()
}

// checkRunning is nil while connectors may be installed.
func (e *engine) checkRunning() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.checkRunningLocked()
}

func (e *engine) checkRunningLocked() error {
	if !e.open || e.stopping {
		return restapi.ErrStopped
	}
	return nil
}

// runtime returns connector name's runtime on this worker.
func (e *engine) runtime(name string) (*connRuntime, error) {
	if rt := e.lookup(name); rt != nil {
		return rt, nil
	}
	return nil, fmt.Errorf("connector %s: %w", name, restapi.ErrNotFound)
}

// lookup returns connector name's runtime, nil when there is none.
func (e *engine) lookup(name string) *connRuntime {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.conns[name]
}

// newRuntime validates cfg (res is cfg resolved) and builds the connector's runtime, not
// installed. It runs plugin code (the connector's Spec and Validate): no herder lock may be
// held. own says the connector runs on this worker whatever the placement (standalone).
func (e *engine) newRuntime(name string, cfg map[string]string, res resolvedConfig, own bool) (*connRuntime, error) {
	pc, conn, err := validateResolved(e.registry, name, maps.Clone(cfg), res, e.defaults, e.cfg.Secrets)
	if err != nil {
		return nil, err
	}
	if own { // standalone: create, update, and each stored connector at start
		logUnusedKeys(e.log, name, pc.unused())
	}
	rt := newConnRuntime(e, name, pc, conn)
	rt.ownConn = own
	return rt, nil
}

// validate checks a connector config as newRuntime does, building nothing.
func (e *engine) validate(name string, cfg map[string]string) (connectorSettings, error) {
	pc, _, err := validateConnectorConfig(e.registry, name, cfg, e.defaults, e.cfg.Secrets)
	if err == nil { // distributed: create, update and patch, on the worker the call reached
		logUnusedKeys(e.log, name, pc.unused())
	}
	return pc.st, err
}

// install makes rt its connector's runtime and moves it to target (a connector whose
// Start fails is kept, FAILED with its trace), unless the engine is stopping: then rt is
// not started and ErrStopped is returned. The caller holds the connector's name lock.
func (e *engine) install(rt *connRuntime, target restapi.TargetState) error {
	e.mu.Lock()
	if err := e.checkRunningLocked(); err != nil {
		e.mu.Unlock()
		return err
	}
	e.conns[rt.name] = rt
	e.mu.Unlock()
	// A stop from here on finds rt in conns: whichever of its shutdown and this apply
	// comes second sees the other's effect (apply does nothing on a closed runtime).
	rt.apply(target)
	return nil
}

// adopt adds rt unless the connector has a runtime already, and returns the one in force.
func (e *engine) adopt(rt *connRuntime) *connRuntime {
	e.mu.Lock()
	defer e.mu.Unlock()
	if cur := e.conns[rt.name]; cur != nil {
		return cur
	}
	e.conns[rt.name] = rt
	return rt
}

// remove takes connector name's runtime out of the engine and returns it (nil when none);
// the caller shuts it down.
func (e *engine) remove(name string) *connRuntime {
	e.mu.Lock()
	defer e.mu.Unlock()
	rt := e.conns[name]
	delete(e.conns, name)
	return rt
}

// retire takes out the runtimes keep rejects and returns them; the caller shuts them down,
// then calls retired for each. Until then runsTask still sees their tasks.
func (e *engine) retire(keep func(*connRuntime) bool) []*connRuntime {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*connRuntime
	for name, rt := range e.conns {
		if !keep(rt) {
			out = append(out, rt)
			delete(e.conns, name)
			if e.retiring == nil {
				e.retiring = map[*connRuntime]struct{}{}
			}
			e.retiring[rt] = struct{}{}
		}
	}
	return out
}

// retired forgets a runtime retire returned, once it is shut down.
func (e *engine) retired(rt *connRuntime) {
	e.mu.Lock()
	delete(e.retiring, rt)
	e.mu.Unlock()
}

// runsTask reports whether task id of incarnation inc of connector name still runs here: in
// the connector's runtime, or in one retired and still stopping (its tasks get the graceful
// stop timeout, and release their claims themselves once stopped).
func (e *engine) runsTask(name string, inc int64, id int) bool {
	e.mu.Lock()
	rts := make([]*connRuntime, 0, 1+len(e.retiring))
	if rt := e.conns[name]; rt != nil {
		rts = append(rts, rt)
	}
	for rt := range e.retiring {
		if rt.name == name {
			rts = append(rts, rt)
		}
	}
	e.mu.Unlock()
	for _, rt := range rts {
		if rt.inc != inc {
			continue
		}
		rt.mu.Lock()
		t, ok := rt.tasks[id]
		running := ok && !t.isDone()
		rt.mu.Unlock()
		if running {
			return true
		}
	}
	return false
}

// display masks a connector config (or one of its task configs) for showing, with the
// secret keys of connCfg's plugin: those of the parsed config of the runtime here when it
// runs connCfg, else of the class's Spec. It validates nothing (shownSettings): a read runs
// no plugin Validate and resolves no placeholder.
func (e *engine) display(name string, connCfg, cfg map[string]string) (map[string]string, restapi.ConnectorType) {
	rt := e.lookup(name)
	if rt == nil || !maps.Equal(rt.cfg, connCfg) {
		rt = &connRuntime{e: e, name: name, st: shownSettings(e.registry, connCfg)}
	}
	return rt.masked(cfg), rt.connType()
}

// dlqSend writes a DLQ message through a producer shared by all tasks of this worker.
func (e *engine) dlqSend(ctx context.Context, m *rmqclient.Message) error {
	p, err := e.sharedProducer()
	if err != nil {
		return err
	}
	if err := ensureTopic(ctx, e.client, m.Topic, true); err != nil {
		return err
	}
	_, err = p.Send(ctx, m)
	return err
}

func (e *engine) sharedProducer() (*rmqclient.Producer, error) {
	e.producerMu.Lock()
	defer e.producerMu.Unlock()
	if e.producer == nil {
		p, err := e.client.NewProducer("dlq", rmqclient.ProducerOptions{Group: "rmqconnect-dlq-" + e.cfg.WorkerID})
		if err != nil {
			return nil, err
		}
		e.producer = p
	}
	return e.producer, nil
}

func ensureTopic(ctx context.Context, c *rmqclient.Client, topic string, create bool) error {
	return ensureTopicQueues(ctx, c, topic, create, 1)
}

// ensureTopicQueues checks that topic has writable queues, creating it with queues queues
// when it is missing and create is set. A topic that exists without writable queues (made
// read-only, or drained, by an operator) is an error naming it, not created again: creating
// it would make it writable again with queues queues, undoing the operator's change and
// leaving the records in its other queues unread.
func ensureTopicQueues(ctx context.Context, c *rmqclient.Client, topic string, create bool, queues int) error {
	_, err := c.TopicQueues(ctx, topic)
	if !errors.Is(err, rmqclient.ErrNoRoute) || !create {
		return err
	}
	// TopicQueues says ErrNoRoute also for a topic routed without writable queues: one with
	// readable queues exists, and for one without (no permission at all) the name server's
	// topic list tells.
	exists := false
	if _, rerr := c.ReadableQueues(ctx, topic); rerr == nil {
		exists = true
	} else if !errors.Is(rerr, rmqclient.ErrNoRoute) {
		return fmt.Errorf("topic %s has no writable queue, and whether it exists is unknown: %w", topic, rerr)
	} else {
		all, lerr := c.ListTopics(ctx)
		if lerr != nil {
			return fmt.Errorf("topic %s has no writable queue, and whether it exists is unknown: %w", topic, lerr)
		}
		exists = slices.Contains(all, topic)
	}
	if exists {
		return fmt.Errorf("topic %s exists but has no writable queue (read-only or drained); it is not re-created: "+
			"make it writable again (mqadmin updateTopic -p 6) or name another topic: %w", topic, err)
	}
	return c.CreateTopic(ctx, rmqclient.TopicSpec{Name: topic, Queues: queues})
}

// Plugins lists the installed connector plugins, then the transforms, predicates and
// converters a connector config can name.
func (e *engine) Plugins(context.Context) ([]restapi.PluginInfo, error) {
	var out []restapi.PluginInfo
	for _, p := range e.registry.List() {
		v := p.Version
		if v == "" {
			v = builtinVersion
		}
		out = append(out, restapi.PluginInfo{Class: p.Name, Type: string(p.Kind), Version: v, Aliases: p.Aliases, Location: p.Location})
	}
	return append(out, nonConnectorPlugins()...), nil
}

// Positions returns the stored source positions of a connector (for tests and the offsets API).
func (e *engine) Positions(name string) ([]plugins.PartitionPosition, error) {
	return e.positions.All(name)
}
