package worker

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// gatedConnector is a source connector whose Validate, Start and Stop can be held at a gate
// (per config value "gate.id" and the stage named in "gate.on": validate, start or stop)
// and that counts its started instances that were not stopped.
type gatedConnector struct{ memSourceConnector }

type connectorGate struct {
	entered chan string   // the stage, each time one waits at the gate
	open    chan struct{} // closed to let them all through
	active  atomic.Int32  // started and not stopped
	waiting [3]atomic.Int32
	once    sync.Once
}

// release opens the gate (for good).
func (g *connectorGate) release() { g.once.Do(func() { close(g.open) }) }

var stages = map[string]int{"validate": 0, "start": 1, "stop": 2}

var (
	gatesMu sync.Mutex
	gates   = map[string]*connectorGate{}
)

func newGate(t *testing.T) (id string, g *connectorGate) {
	g = &connectorGate{entered: make(chan string, 16), open: make(chan struct{})}
	gatesMu.Lock()
	gates[t.Name()] = g
	gatesMu.Unlock()
	t.Cleanup(func() {
		g.release() // a failed test must not leave the herder blocked
		gatesMu.Lock()
		delete(gates, t.Name())
		gatesMu.Unlock()
	})
	return t.Name(), g
}

func gateOf(cfg map[string]string) *connectorGate {
	gatesMu.Lock()
	defer gatesMu.Unlock()
	return gates[cfg["gate.id"]]
}

func (g *connectorGate) pass(cfg map[string]string, stage string) {
	if cfg["gate.on"] != stage {
		return
	}
	g.waiting[stages[stage]].Add(1)
	defer g.waiting[stages[stage]].Add(-1)
	select {
	case g.entered <- stage:
	default:
	}
	<-g.open
}

// TaskConfigs: no tasks, so that nothing needs a broker.
func (c *gatedConnector) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{}, nil
}

func (c *gatedConnector) Validate(cfg map[string]string) error {
	if g := gateOf(cfg); g != nil {
		g.pass(cfg, "validate")
	}
	return c.memConnector.Validate(cfg)
}

func (c *gatedConnector) Start(ctx context.Context, cctx plugins.ConnectorContext, cfg map[string]string) error {
	if g := gateOf(cfg); g != nil {
		g.pass(cfg, "start")
		g.active.Add(1)
	}
	return c.memConnector.Start(ctx, cctx, cfg)
}

func (c *gatedConnector) Stop(context.Context) error {
	if g := gateOf(c.cfg); g != nil {
		g.pass(c.cfg, "stop")
		g.active.Add(-1)
	}
	return nil
}

// gatedHerder is a running Standalone without a broker that knows the gated connector;
// stop stops it and returns Run's result (it may be called more than once).
func gatedHerder(t *testing.T) (h *Standalone, stop func() error) {
	t.Helper()
	reg := fileRegistry(t)
	require.NoError(t, reg.Register(plugins.KindSource, "gated-source", nil, func() plugins.Connector { return &gatedConnector{} }))
	h, err := NewStandalone(StandaloneConfig{WorkerID: "w", StoreDir: t.TempDir(), KeyConverter: "string", ValueConverter: "string"},
		nil, reg, quiet())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var runErr error
	done := make(chan struct{})
	go func() { defer close(done); runErr = h.Run(ctx) }()
	stop = func() error { cancel(); <-done; return runErr }
	t.Cleanup(func() { _ = stop() })
	<-h.Started()
	return h, stop
}

func gatedConfig(id, on, version string) map[string]string {
	return map[string]string{"connector.class": "gated-source", "test.id": "x", "max.tasks": "1", "gate.id": id, "gate.on": on,
		"version": version}
}

// within fails the test when f does not return in a long while (a hang, not a timing).
func within[T any](t *testing.T, what string, f func() T) T {
	t.Helper()
	got := make(chan T, 1)
	go func() { got <- f() }()
	select {
	case v := <-got:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: still blocked after 20s", what)
		panic("unreachable")
	}
}

// TestPluginCodeRunsOutsideTheHerderLock: while a connector's Validate or Start is held up,
// the herder keeps answering for other connectors (they used to run under Standalone.mu,
// so one slow connector stopped every REST call, metrics and shutdown).
func TestPluginCodeRunsOutsideTheHerderLock(t *testing.T) {
	for _, stage := range []string{"validate", "start"} {
		t.Run(stage, func(t *testing.T) {
			h, _ := gatedHerder(t)
			id, g := newGate(t)
			ctx := context.Background()
			created := make(chan error, 1)
			go func() {
				_, err := h.CreateConnector(ctx, "slow", gatedConfig(id, stage, "1"), "")
				created <- err
			}()
			require.Equal(t, stage, <-g.entered)
			within(t, "listing connectors", func() error { _, err := h.Connectors(ctx); return err })
			within(t, "creating another connector", func() error {
				_, err := h.CreateConnector(ctx, "other", gatedConfig(id, "none", "1"), "")
				return err
			})
			g.release()
			require.NoError(t, <-created)
			st, err := h.ConnectorStatus(ctx, "slow")
			require.NoError(t, err)
			require.Equal(t, restapi.StateRunning, st.Connector.State)
		})
	}
}

// replacing creates connector c and starts replacing its config; the replaced runtime's
// Stop is held at the gate when replacing returns, with the replacement's result to come
// on the channel.
func replacing(t *testing.T, h *Standalone) (*connectorGate, chan error) {
	t.Helper()
	id, g := newGate(t)
	ctx := context.Background()
	_, err := h.CreateConnector(ctx, "c", gatedConfig(id, "stop", "0"), "")
	require.NoError(t, err)
	put := make(chan error, 1)
	go func() { _, _, err := h.PutConnectorConfig(ctx, "c", gatedConfig(id, "none", "A")); put <- err }()
	require.Equal(t, "stop", <-g.entered)
	return g, put
}

// untilEither waits until one of the conditions holds.
func untilEither(t *testing.T, conds ...func() bool) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, c := range conds {
			if c() {
				return true
			}
		}
		return false
	}, 20*time.Second, time.Millisecond)
}

// TestConcurrentPutsLeaveOneRuntime: two PUTs of one connector's config at once leave
// exactly one running instance. The herder used to drop its lock while the replaced
// runtime stopped; both PUTs then started a runtime and one of them ran on, unreachable.
func TestConcurrentPutsLeaveOneRuntime(t *testing.T) {
	h, _ := gatedHerder(t)
	ctx := context.Background()
	g, putA := replacing(t, h)
	putB := make(chan error, 1)
	go func() {
		_, _, err := h.PutConnectorConfig(ctx, "c", gatedConfig(t.Name(), "validate", "B"))
		putB <- err
	}()
	// B waits for A (the connector's operation lock) or, without that lock, has got into
	// the window where A has dropped the herder lock.
	untilEither(t,
		func() bool { return h.names.contenders("c") == 2 },
		func() bool { return g.waiting[stages["validate"]].Load() > 0 })
	g.release()
	require.NoError(t, <-putA)
	require.NoError(t, <-putB)
	info, err := h.ConnectorInfo(ctx, "c")
	require.NoError(t, err)
	require.Equal(t, "B", info.Config["version"], "the second PUT's config is in force")
	require.NoError(t, h.DeleteConnector(ctx, "c"))
	require.Zero(t, g.active.Load(), "a connector instance still runs after its connector was deleted")
}

// TestDeleteDuringAReplaceLeavesNothingRunning: a DELETE that comes while a PUT replaces
// the connector removes it for good. It used to come through the PUT's window: the PUT
// then started the connector again, running but missing from the stored connectors.
func TestDeleteDuringAReplaceLeavesNothingRunning(t *testing.T) {
	h, _ := gatedHerder(t)
	ctx := context.Background()
	g, put := replacing(t, h)
	deleted := make(chan error, 1)
	go func() { deleted <- h.DeleteConnector(ctx, "c") }()
	untilEither(t,
		func() bool { return h.names.contenders("c") == 2 },
		func() bool { names, _ := h.Connectors(ctx); return len(names) == 0 })
	g.release()
	require.NoError(t, <-put)
	require.NoError(t, <-deleted)
	names, err := h.Connectors(ctx)
	require.NoError(t, err)
	require.Empty(t, names)
	_, err = h.ConnectorStatus(ctx, "c")
	require.ErrorIs(t, err, restapi.ErrNotFound)
	require.Zero(t, g.active.Load(), "the deleted connector runs")
}

// TestShutdownDuringAReplaceLeavesNothingRunning: a worker asked to stop while a PUT
// replaces a connector does not start the replacement behind shutdown's back (it used to:
// its Stop was never called).
func TestShutdownDuringAReplaceLeavesNothingRunning(t *testing.T) {
	h, stop := gatedHerder(t)
	g, put := replacing(t, h)
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	untilEither(t, func() bool { return errors.Is(h.guard(), restapi.ErrStopped) })
	g.release()
	require.NoError(t, <-stopped)
	err := <-put
	if err != nil {
		require.ErrorIs(t, err, restapi.ErrStopped)
	}
	require.Zero(t, g.active.Load(), "a connector started during shutdown still runs after it")
}

// TestReconcileValidatesOutsideTheHerderLock: in a cluster, a connector's Validate held up
// while reconcile builds its runtime does not hold the engine's lock, which the status
// topic's fold takes for every record (a slow Validate used to stall the fold, and with it
// claims and the lease).
func TestReconcileValidatesOutsideTheHerderLock(t *testing.T) {
	d := newTestDistributed(t, time.Second)
	d.engine.registry = fileRegistry(t)
	require.NoError(t, d.engine.registry.Register(plugins.KindSource, "gated-source", nil, func() plugins.Connector { return &gatedConnector{} }))
	d.configLog = &storeLog{}
	id, g := newGate(t)
	cfg := gatedConfig(id, "validate", "1")
	cfg["key.converter"], cfg["value.converter"] = "string", "string"
	d.config.Connectors["c"] = &clusterConnector{Config: cfg, Target: restapi.TargetStopped, Epoch: 1, Inc: 1}
	reconciled := make(chan struct{})
	go func() { defer close(reconciled); d.reconcile() }()
	require.Equal(t, "validate", <-g.entered)
	within(t, "the status fold's look-up of a local runtime", func() *connRuntime { return d.engine.lookup("c") })
	g.release()
	<-reconciled
	require.NotNil(t, d.engine.lookup("c"), "reconcile built the runtime")
}

// specGatedConnector's Spec waits at its gate while one is set: a fresh instance's Spec is
// what masking asks for a connector's secret keys.
type specGatedConnector struct{ memSourceConnector }

var specGate atomic.Pointer[chan struct{}]

func (c *specGatedConnector) Spec() *plugins.ConfigSpec {
	if g := specGate.Swap(nil); g != nil { // the first Spec after the gate is set waits
		*g <- struct{}{} // entered
		*g <- struct{}{} // released
	}
	return memSpec
}

// TestMaskingRunsPluginCodeOutsideTheRuntimeLock: showing a connector's config builds a
// plugin instance to learn its secret keys; a slow Spec there must not hold the connector's
// status (they used to share connRuntime.mu).
func TestMaskingRunsPluginCodeOutsideTheRuntimeLock(t *testing.T) {
	reg := fileRegistry(t)
	require.NoError(t, reg.Register(plugins.KindSource, "spec-gated", nil, func() plugins.Connector { return &specGatedConnector{} }))
	e := newEngine(StandaloneConfig{WorkerID: "w", Secrets: secretsForTest{}}, nil, reg, quiet())
	// The stand-in engine.display builds for a config this worker does not run (no parsed config).
	rt := &connRuntime{e: e, name: "c", cfg: map[string]string{"connector.class": "spec-gated"},
		st: connectorSettings{class: "spec-gated", kind: plugins.KindSource}}
	gate := make(chan struct{})
	specGate.Store(&gate)
	defer specGate.Store(nil)
	shown := make(chan restapi.ConnectorInfo, 1)
	go func() { shown <- rt.info() }()
	<-gate // Spec entered
	within(t, "the status of a connector whose config is being masked", func() restapi.ConnectorStatus { return rt.status() })
	<-gate // Spec released
	require.Equal(t, "c", (<-shown).Name)
}

// gatedPositions is a PositionStore whose first Put (or, with onDelete, first Delete) waits
// until release is closed.
type gatedPositions struct {
	PositionStore
	onDelete bool
	entered  chan struct{}
	open     chan struct{}
	once     sync.Once
}

func newGatedPositions(t *testing.T, inner PositionStore, onDelete bool) *gatedPositions {
	p := &gatedPositions{PositionStore: inner, onDelete: onDelete, entered: make(chan struct{}), open: make(chan struct{})}
	t.Cleanup(p.release)
	return p
}

func (p *gatedPositions) release() {
	select {
	case <-p.open:
	default:
		close(p.open)
	}
}

func (p *gatedPositions) wait(delete bool) {
	if delete != p.onDelete {
		return
	}
	p.once.Do(func() {
		close(p.entered)
		<-p.open
	})
}

func (p *gatedPositions) Put(name string, ps []plugins.PartitionPosition) error {
	p.wait(false)
	return p.PositionStore.Put(name, ps)
}

func (p *gatedPositions) Delete(name string) error {
	p.wait(true)
	return p.PositionStore.Delete(name)
}

// TestOffsetChangesHoldTheConnectorLock: an offsets change of a STOPPED connector keeps the
// connector's name lock from its state check to its write. A delete or resume that came in
// between used to go through: a delete then left the deleted connector's positions written
// back (a connector created again under the name started from them), a resume started the
// tasks on the old offsets, their commits overwriting the change the call reported done.
func TestOffsetChangesHoldTheConnectorLock(t *testing.T) {
	alter := func(h *Standalone) error {
		return h.AlterOffsets(context.Background(), "c", []restapi.ConnectorOffset{{
			Partition: map[string]any{"task": "0"}, Offset: map[string]any{"seq": int64(7)}}})
	}
	reset := func(h *Standalone) error { return h.ResetOffsets(context.Background(), "c") }
	del := func(h *Standalone) error { return h.DeleteConnector(context.Background(), "c") }
	resume := func(h *Standalone) error { return h.ResumeConnector(context.Background(), "c") }
	positions := func(t *testing.T, h *Standalone) []plugins.PartitionPosition {
		ps, err := h.positions.All("c")
		require.NoError(t, err)
		return ps
	}
	for _, tc := range []struct {
		name          string
		change, other func(*Standalone) error
		onDelete      bool // the change's write is a Delete of the positions
		after         func(t *testing.T, h *Standalone)
	}{
		{"alter then delete", alter, del, false, func(t *testing.T, h *Standalone) {
			require.Empty(t, positions(t, h), "the deleted connector's positions were written back")
		}},
		{"alter then resume", alter, resume, false, func(t *testing.T, h *Standalone) {
			require.Equal(t, int64(7), positions(t, h)[0].Offset["seq"])
		}},
		{"reset then resume", reset, resume, true, func(t *testing.T, h *Standalone) {
			require.Empty(t, positions(t, h))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := gatedHerder(t)
			ctx := context.Background()
			_, err := h.CreateConnector(ctx, "c", gatedConfig(t.Name(), "none", "1"), restapi.TargetStopped)
			require.NoError(t, err)
			require.NoError(t, h.positions.Put("c", []plugins.PartitionPosition{{
				Partition: map[string]any{"task": "0"}, Offset: map[string]any{"seq": int64(3)}}}))
			gate := newGatedPositions(t, h.positions, tc.onDelete)
			h.positions = gate

			changed := make(chan error, 1)
			go func() { changed <- tc.change(h) }()
			<-gate.entered // checked STOPPED, about to write
			other := make(chan error, 1)
			go func() { other <- tc.other(h) }()
			untilEither(t,
				func() bool { return h.names.contenders("c") == 2 },
				func() bool { return len(other) > 0 })
			require.Zero(t, len(other), "%s: the second call went through between the offsets change's state check and its write", tc.name)
			gate.release()
			require.NoError(t, <-changed)
			require.NoError(t, <-other)
			tc.after(t, h)
		})
	}
}
