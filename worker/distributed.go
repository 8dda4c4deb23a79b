package worker

import (
	"context"
	"encoding/json"
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
	"github.com/rmqconnect/rmqconnect/scheduler"
	"github.com/rmqconnect/rmqconnect/worker/internal/filestore"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// DistributedConfig configures a distributed herder.
type DistributedConfig struct {
	StandaloneConfig
	// ClusterID names the cluster: the consumer group its workers join.
	ClusterID string
	// The store topics; every worker of a cluster must use the same ones.
	ConfigTopic, PositionTopic, StatusTopic, ClusterTopic string
	// Strategy is the scheduler strategy (consistent-hash or round-robin).
	Strategy string
	// MemberCheck is how often the membership is confirmed with the broker besides its
	// change notifications (default 2s).
	MemberCheck time.Duration
	// SnapshotInterval is how often the store topics get a snapshot record (default 6h), so
	// that a reader whose start was deleted by the broker's retention (fileReservedTime,
	// 72h by default) can rebuild the state; it must stay well below the retention.
	SnapshotInterval time.Duration
	// Lease is how long tasks keep running after this worker last confirmed its membership
	// and read the status topic (default 15s): a worker cut off (or suspended) longer stops
	// acting for its tasks until it has caught up again.
	Lease time.Duration
}

// Distributed is a worker in a cluster of peers. Every worker reads the config, status and
// position topics whole (caching their fold in <StoreDir>/cluster-cache.json for a fast
// restart), learns the live members from the broker's consumer-group notifications, and
// computes the same assignment of connectors and tasks with a deterministic strategy;
// there is no leader. Writes made through any worker's REST API are stored in the config
// topic and applied on that worker before the call returns.
//
// Handover is stop-before-start: a task's status records carry generations, and a worker
// starts a task only once its claim (a higher generation) is in force, which it writes
// only when the previous holder has released the task or left the cluster.
type Distributed struct {
	cfg      DistributedConfig
	log      *slog.Logger
	client   *rmqclient.Client
	local    *Standalone
	strategy scheduler.Strategy

	producer                          *rmqclient.Producer
	configLog, statusLog, positionLog *storeLog
	membership                        *rmqclient.Consumer

	mu          sync.Mutex
	config      *configState
	status      *statusState
	posState    *positionState
	members     []string
	assignment  scheduler.Assignment
	owners      map[scheduler.Unit]string
	configLive  int64         // config records from this offset on are acted upon (restarts)
	statusMoved chan struct{} // closed and replaced when the status fold or members change
	lastRenew   time.Time
	rebalancing bool
	confirming  bool          // a departure is being confirmed with the broker
	stopping    bool          // Run is shutting down: no more restart goroutines
	reconciled  int64         // config records below this offset have been reconciled
	reconMoved  chan struct{} // closed and replaced when reconciled grows
	dirty       bool          // the fold changed since the cache was written
	lastSnap    [3]time.Time  // the newest snapshot record seen per store topic (config, status, position)

	kick    chan struct{}
	started chan struct{}
	reports chan statusRecord

	reportMu      sync.Mutex // guards sends on reports against its close
	reportsClosed bool
	flushBy       time.Time // set at shutdown: queued reports are dropped after it
	wg            sync.WaitGroup
}

// NewDistributed builds a distributed herder; Run joins the cluster.
func NewDistributed(cfg DistributedConfig, client *rmqclient.Client, reg *plugins.Registry, log *slog.Logger) (*Distributed, error) {
	strategy, err := scheduler.New(cfg.Strategy)
	if err != nil {
		return nil, err
	}
	if cfg.MemberCheck <= 0 {
		cfg.MemberCheck = 2 * time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 15 * time.Second
	}
	if cfg.SnapshotInterval <= 0 {
		cfg.SnapshotInterval = 6 * time.Hour
	}
	d := &Distributed{cfg: cfg, log: log, client: client, strategy: strategy,
		config: newConfigState(), status: newStatusState(), posState: newPositionState(),
		statusMoved: make(chan struct{}), reconMoved: make(chan struct{}), kick: make(chan struct{}, 1), started: make(chan struct{}),
		reports: make(chan statusRecord, 4096)}
	local, err := newLocalEngine(cfg.StandaloneConfig, client, reg, log, d)
	if err != nil {
		return nil, err
	}
	d.local = local
	return d, nil
}

// newLocalEngine is a Standalone that runs what the cluster assigns to this worker.
func newLocalEngine(cfg StandaloneConfig, client *rmqclient.Client, reg *plugins.Registry, log *slog.Logger, d *Distributed) (*Standalone, error) {
	h, err := NewStandalone(cfg, client, reg, log)
	if err != nil {
		return nil, err
	}
	h.stored = map[string]storedConnector{} // connectors.json is standalone's; the config topic rules here
	h.cluster = d
	h.replays = clusterReplays{d}
	h.positions = clusterPositions{d: d, gen: adminGen}
	return h, nil
}

// Started is closed once the worker has caught up with the store topics and joined the cluster.
func (d *Distributed) Started() <-chan struct{} { return d.started }

// WorkerID names this worker.
func (d *Distributed) WorkerID() string { return d.cfg.WorkerID }

// Collector exposes the worker's metrics.
func (d *Distributed) Collector() *Collector { return d.local.Collector() }

func (d *Distributed) cachePath() string { return filepath.Join(d.cfg.StoreDir, "cluster-cache.json") }

// clusterCache is the fold of the store topics at known offsets, kept for a fast restart.
type clusterCache struct {
	Topics       [3]string      `json:"topics"`
	ConfigNext   int64          `json:"config_next"`
	StatusNext   int64          `json:"status_next"`
	PositionNext int64          `json:"position_next"`
	Config       *configState   `json:"config"`
	Status       *statusState   `json:"status"`
	Positions    *positionState `json:"positions"`
}

// Run joins the cluster and runs until ctx ends; then it stops its tasks (releasing them),
// leaves the cluster and stores its cache.
func (d *Distributed) Run(ctx context.Context) error {
	p, err := d.client.NewProducer("store", rmqclient.ProducerOptions{Group: "rmqconnect-store-" + d.cfg.WorkerID})
	if err != nil {
		return err
	}
	d.producer = p
	defer p.Close()
	for _, s := range []struct {
		topic string
		dst   **storeLog
	}{{d.cfg.ConfigTopic, &d.configLog}, {d.cfg.StatusTopic, &d.statusLog}, {d.cfg.PositionTopic, &d.positionLog}} {
		l, err := openStoreLog(ctx, d.client, p, s.topic, d.log)
		if err != nil {
			return err
		}
		*s.dst = l
		defer l.close()
	}
	// Each store queue's first and next offsets as the worker starts.
	var minOff, maxOff [3]int64
	for i, l := range []*storeLog{d.configLog, d.statusLog, d.positionLog} {
		if minOff[i], maxOff[i], err = d.client.QueueOffsets(ctx, l.queue); err != nil {
			return fmt.Errorf("%s: %w", l.topic, err)
		}
	}
	from := d.loadCache(maxOff)
	d.configLive = maxOff[0]

	logCtx, stopLogs := context.WithCancel(context.Background())
	var logs sync.WaitGroup
	defer func() { stopLogs(); logs.Wait() }()
	snaps := d.snapshotters()
	for i, l := range []*storeLog{d.configLog, d.statusLog, d.positionLog} {
		apply := []func(int64, []byte) error{d.applyConfig, d.applyStatus, d.applyPosition}[i]
		logs.Add(1)
		go func() { defer logs.Done(); l.run(logCtx, from[i], minOff[i], snaps[i], apply) }()
	}
	start := time.Now()
	for _, l := range []*storeLog{d.configLog, d.statusLog, d.positionLog} {
		if err := l.sync(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	d.log.Info("caught up with the store topics", "took", time.Since(start).Round(time.Millisecond),
		"config", d.configLog.position(), "status", d.statusLog.position(), "positions", d.positionLog.position())

	writerDone := make(chan struct{})
	go func() { defer close(writerDone); d.statusWriter() }()
	var closeReports sync.Once
	flushReports := func() {
		closeReports.Do(func() {
			d.reportMu.Lock()
			d.reportsClosed = true
			d.flushBy = time.Now().Add(flushTimeout)
			close(d.reports)
			d.reportMu.Unlock()
			<-writerDone
		})
	}
	defer flushReports()

	m, err := d.client.Join(ctx, d.cfg.ClusterID, d.cfg.ClusterTopic, d.cfg.WorkerID, d.setMembers)
	if err != nil {
		return fmt.Errorf("join cluster %s: %w", d.cfg.ClusterID, err)
	}
	d.membership = m
	d.local.mu.Lock()
	d.local.ctx = ctx
	d.local.mu.Unlock()
	d.renew(ctx)

	loopCtx, stopLoops := context.WithCancel(context.Background())
	var loops sync.WaitGroup
	loops.Add(4)
	go func() { defer loops.Done(); d.snapshotLoop(loopCtx) }()
	go func() { defer loops.Done(); d.reconcileLoop(loopCtx) }()
	go func() { defer loops.Done(); d.memberLoop(loopCtx) }()
	go func() { defer loops.Done(); d.cacheLoop(loopCtx) }()
	close(d.started)
	d.log.Info("joined the cluster", "cluster", d.cfg.ClusterID, "worker", d.cfg.WorkerID)

	<-ctx.Done()
	d.mu.Lock()
	d.stopping = true
	d.mu.Unlock()
	stopLoops()
	loops.Wait()
	// Stop (and release) everything before leaving, so the others can start it at once.
	d.local.mu.Lock()
	d.local.stopping = true
	all := slices.Collect(maps.Values(d.local.conns))
	d.local.mu.Unlock()
	var wg sync.WaitGroup
	for _, rt := range all {
		wg.Add(1)
		go func() { defer wg.Done(); rt.shutdownReleasing() }()
	}
	wg.Wait()
	d.local.shutdownAll()
	// The releases are in the status topic before this worker leaves: once it is gone the
	// others may claim what it held, so they must find it released.
	flushReports()
	if err := m.Close(); err != nil {
		d.log.Warn("leaving the cluster", "err", err)
	}
	d.wg.Wait()
	d.saveCache()
	return nil
}

// loadCache restores the fold from the cache when it fits the topics as they are now and
// returns the offsets to read on from (the topics' first offsets otherwise).
func (d *Distributed) loadCache(maxOff [3]int64) [3]int64 {
	var from [3]int64
	var c clusterCache
	err := filestore.Read(d.cachePath(), &c)
	if errors.Is(err, os.ErrNotExist) {
		return from
	}
	if err != nil {
		d.log.Warn("cluster cache unreadable; replaying the store topics", "err", err)
		return from
	}
	if c.Topics != [3]string{d.cfg.ConfigTopic, d.cfg.StatusTopic, d.cfg.PositionTopic} || c.Config == nil || c.Status == nil || c.Positions == nil {
		return from
	}
	next := [3]int64{c.ConfigNext, c.StatusNext, c.PositionNext}
	for i, l := range []*storeLog{d.configLog, d.statusLog, d.positionLog} {
		if next[i] > maxOff[i] {
			d.log.Warn("cluster cache is ahead of the store topics (recreated?); replaying them", "topic", l.topic,
				"cached", next[i], "max_offset", maxOff[i])
			return from
		}
	}
	c.Positions.normalize()
	if c.Config.Connectors == nil {
		c.Config.Connectors = map[string]*clusterConnector{}
	}
	d.mu.Lock()
	d.config, d.status, d.posState = c.Config, c.Status, c.Positions
	d.mu.Unlock()
	d.log.Info("cluster cache loaded", "config", next[0], "status", next[1], "positions", next[2])
	return next
}

// saveCache writes the fold with the offsets it covers.
func (d *Distributed) saveCache() {
	// Offsets first: the fold may only be ahead of them, never behind (replaying a record
	// twice is harmless for every fold; missing one is not).
	next := [3]int64{d.configLog.position(), d.statusLog.position(), d.positionLog.position()}
	d.mu.Lock()
	c := clusterCache{Topics: [3]string{d.cfg.ConfigTopic, d.cfg.StatusTopic, d.cfg.PositionTopic},
		ConfigNext: next[0], StatusNext: next[1], PositionNext: next[2], Config: d.config, Status: d.status, Positions: d.posState}
	b, err := json.Marshal(c)
	d.dirty = false
	d.mu.Unlock()
	if err == nil {
		var raw json.RawMessage = b
		err = filestore.Write(d.cachePath(), raw)
	}
	if err != nil {
		d.log.Warn("cluster cache not written", "err", err)
	}
}

func (d *Distributed) cacheLoop(ctx context.Context) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.mu.Lock()
			dirty := d.dirty
			d.mu.Unlock()
			if dirty {
				d.saveCache()
			}
		}
	}
}

// applyConfig folds one config record (called by the config log in offset order).
func (d *Distributed) applyConfig(off int64, body []byte) error {
	var r configRecord
	if err := json.Unmarshal(body, &r); err != nil {
		d.log.Warn("config topic record ignored: not JSON", "offset", off, "err", err)
		return err
	}
	d.mu.Lock()
	if r.Type == recSnapshot && r.At.After(d.lastSnap[0]) {
		d.lastSnap[0] = r.At
	}
	err := d.config.apply(off, r)
	live := off >= d.configLive
	d.dirty = true
	d.mu.Unlock()
	if err != nil {
		return err
	}
	d.trigger()
	if live && (r.Type == recRestart || r.Type == recRestartTask) {
		d.mu.Lock()
		stopping := d.stopping
		if !stopping {
			d.wg.Add(1)
		}
		d.mu.Unlock()
		if !stopping {
			go func() { defer d.wg.Done(); d.carryOutRestart(r) }()
		}
	}
	return nil
}

// applyStatus folds one status record and fences local tasks another worker has claimed.
func (d *Distributed) applyStatus(off int64, body []byte) error {
	var r statusRecord
	if err := json.Unmarshal(body, &r); err != nil {
		d.log.Warn("status topic record ignored: not JSON", "offset", off, "err", err)
		return err
	}
	d.mu.Lock()
	if r.Snapshot != nil && r.At.After(d.lastSnap[1]) {
		d.lastSnap[1] = r.At
	}
	err := d.status.apply(r)
	d.dirty = true
	close(d.statusMoved)
	d.statusMoved = make(chan struct{})
	d.mu.Unlock()
	if err == nil && r.Task >= 0 && r.Worker != d.cfg.WorkerID {
		if rt := d.localRuntime(r.Connector); rt != nil && rt.inc == r.Inc && rt.fenceTask(r.Task, r.Gen) {
			d.trigger() // if the task is still assigned here, it must be claimed again
		}
	}
	return err
}

func (d *Distributed) applyPosition(off int64, body []byte) error {
	var r positionRecord
	if err := json.Unmarshal(body, &r); err != nil {
		d.log.Warn("position topic record ignored: not JSON", "offset", off, "err", err)
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if r.Snapshot != nil && r.At.After(d.lastSnap[2]) {
		d.lastSnap[2] = r.At
	}
	d.dirty = true
	return d.posState.apply(r)
}

func (d *Distributed) localRuntime(name string) *connRuntime {
	d.local.mu.Lock()
	defer d.local.mu.Unlock()
	return d.local.conns[name]
}

func (d *Distributed) trigger() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// setMembers takes a member list observed from the broker (its change notifications, or
// the periodic check). A worker that appears is a member at once. A worker that is missing
// is dropped only when a second look at the broker, memberConfirm later, still misses it:
// the broker's list can briefly lack a live member while clients register, and dropping
// one would let others claim tasks it still runs.
func (d *Distributed) setMembers(observed []string) {
	d.mu.Lock()
	next := slices.Clone(observed)
	var missing []string
	for _, m := range d.members {
		if !slices.Contains(observed, m) {
			missing = append(missing, m)
			next = append(next, m)
		}
	}
	slices.Sort(next)
	confirm := len(missing) > 0 && !d.confirming
	if confirm {
		d.confirming = true
	}
	d.mu.Unlock()
	d.applyMembers(next, "observed")
	if confirm {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.confirmDepartures(missing)
		}()
	}
}

// memberConfirm is how long a departure waits for its confirmation.
const memberConfirm = 300 * time.Millisecond

// confirmDepartures asks the broker again and drops the members missing from both looks.
func (d *Distributed) confirmDepartures(missing []string) {
	defer func() {
		d.mu.Lock()
		d.confirming = false
		d.mu.Unlock()
	}()
	time.Sleep(memberConfirm)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	live, err := d.client.Members(ctx, d.cfg.ClusterID, d.cfg.ClusterTopic)
	if err != nil || len(live) == 0 {
		if err != nil {
			d.log.Warn("membership check failed", "err", err)
		}
		return // the periodic check tries again
	}
	d.mu.Lock()
	next := slices.Clone(live)
	for _, m := range d.members {
		if !slices.Contains(next, m) && !slices.Contains(missing, m) {
			next = append(next, m) // missing from this look only: wait for another
		}
	}
	d.mu.Unlock()
	slices.Sort(next)
	d.applyMembers(next, "confirmed")
}

func (d *Distributed) applyMembers(members []string, how string) {
	d.mu.Lock()
	changed := !slices.Equal(members, d.members)
	if changed {
		d.members = slices.Clone(members)
		close(d.statusMoved)
		d.statusMoved = make(chan struct{})
	}
	d.mu.Unlock()
	if changed {
		d.log.Info("cluster members changed", "members", members, "how", how)
		d.trigger()
	}
}

// memberLoop confirms the membership with the broker and renews the lease.
func (d *Distributed) memberLoop(ctx context.Context) {
	t := time.NewTicker(d.cfg.MemberCheck)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.renew(ctx)
			if n%5 == 0 {
				d.trigger() // a periodic reconcile retries what failed (a task config publish, a start)
			}
		}
	}
}

// renew asks the broker for the members and catches up with the status topic (which
// fences tasks claimed elsewhere meanwhile); only then is the lease extended.
func (d *Distributed) renew(ctx context.Context) {
	began := time.Now()
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	members, err := d.client.Members(rctx, d.cfg.ClusterID, d.cfg.ClusterTopic)
	if err != nil {
		d.log.Warn("membership check failed", "err", err)
		return
	}
	if len(members) > 0 {
		d.setMembers(members)
	}
	if err := d.statusLog.sync(rctx); err != nil {
		d.log.Warn("status topic check failed", "err", err)
		return
	}
	d.mu.Lock()
	d.lastRenew = began
	d.mu.Unlock()
	d.repairClaims()
}

// repairClaims releases claims the status topic shows this worker holding for tasks it does
// not run (a release that was never written, or a claim from before a restart), so that
// their owners do not wait for them forever.
func (d *Distributed) repairClaims() {
	d.mu.Lock()
	var held []statusRecord
	for _, ts := range d.status.Tasks {
		for _, r := range ts {
			if r.Worker == d.cfg.WorkerID && !released(r.State) {
				held = append(held, r)
			}
		}
	}
	d.mu.Unlock()
	for _, r := range held {
		rt := d.localRuntime(r.Connector)
		if rt != nil && rt.inc == r.Inc {
			rt.mu.Lock()
			t, ok := rt.tasks[r.Task]
			running := ok && !t.isDone()
			rt.mu.Unlock()
			if running {
				continue
			}
		}
		r.State, r.Trace = StateUnassigned, ""
		d.log.Info("releasing a task this worker does not run", "connector", r.Connector, "task", r.Task, "gen", r.Gen)
		d.report(r)
	}
}

// fence is asked by tasks before they send or hand records on.
func (d *Distributed) fence() error {
	d.mu.Lock()
	last := d.lastRenew
	d.mu.Unlock()
	if age := time.Since(last); age > d.cfg.Lease {
		return fmt.Errorf("worker %s has not confirmed its cluster membership for %s (suspended or cut off from the broker); "+
			"its tasks stop until it has", d.cfg.WorkerID, age.Round(time.Second))
	}
	return nil
}

func (d *Distributed) reconcileLoop(ctx context.Context) {
	d.trigger()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.kick:
			d.reconcile()
		}
	}
}

// reconcile computes the assignment from the members and the config fold and moves every
// local connector runtime to it.
func (d *Distributed) reconcile() {
	began := time.Now()
	through := d.configLog.position() // the fold below includes every record before it
	d.mu.Lock()
	members := slices.Clone(d.members)
	conns := make(map[string]clusterConnector, len(d.config.Connectors))
	var units []scheduler.Unit
	for name, c := range d.config.Connectors {
		conns[name] = *c
		units = append(units, scheduler.Unit{Connector: name, Task: scheduler.ConnectorTask})
		for i := range c.Tasks {
			units = append(units, scheduler.Unit{Connector: name, Task: i})
		}
	}
	d.mu.Unlock()
	var assignment scheduler.Assignment
	if len(members) > 0 {
		a, err := d.strategy.Assign(members, units)
		if err != nil {
			d.log.Error("assignment failed", "err", err)
			return
		}
		assignment = a
	}
	owners := assignment.Owners()
	d.mu.Lock()
	changed := !assignmentEqual(d.assignment, assignment)
	d.assignment, d.owners = assignment, owners
	if changed {
		d.rebalancing = true
	}
	d.mu.Unlock()

	me := d.cfg.WorkerID
	local := d.local
	local.mu.Lock()
	var retire []*connRuntime
	for name, rt := range local.conns {
		if c, ok := conns[name]; !ok || c.Epoch != rt.epoch {
			retire = append(retire, rt)
			delete(local.conns, name)
			delete(local.stored, name)
		}
	}
	local.mu.Unlock()
	var wg sync.WaitGroup
	for _, rt := range retire {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rt.shutdownReleasing()
			if _, still := conns[rt.name]; !still {
				local.metrics.forget(me, rt.name)
			}
		}()
	}
	wg.Wait()

	for name, c := range conns {
		want := desiredConn{target: c.Target, ownConn: owners[scheduler.Unit{Connector: name, Task: scheduler.ConnectorTask}] == me,
			tasks: c.Tasks, tasksVersion: c.TasksVersion, ownTasks: map[int]bool{}}
		for i := range c.Tasks {
			if owners[scheduler.Unit{Connector: name, Task: i}] == me {
				want.ownTasks[i] = true
			}
		}
		local.mu.Lock()
		rt := local.conns[name]
		local.mu.Unlock()
		var res *resolvedConfig
		if rt == nil {
			r := resolveConfig(local.cfg.Secrets, c.Config) // reads files: not under the lock
			res = &r
		}
		local.mu.Lock()
		if rt = local.conns[name]; rt == nil && res == nil {
			local.mu.Unlock() // removed meanwhile: the next reconcile starts it again
			continue
		}
		if rt == nil {
			st, conn, err := validateResolved(local.registry, name, c.Config, *res, local.defaults, local.cfg.Secrets)
			if err != nil {
				local.mu.Unlock()
				d.log.Error("connector of the config topic cannot run on this worker", "connector", name, "err", err)
				continue
			}
			rt = newConnRuntime(local, name, maps.Clone(c.Config), st, conn)
			rt.pending = res
			rt.epoch, rt.inc = c.Epoch, c.Inc
			local.conns[name] = rt
			local.stored[name] = storedConnector{Config: c.Config, Target: c.Target}
		}
		local.mu.Unlock()
		wg.Add(1)
		go func() { defer wg.Done(); rt.syncDistributed(want) }()
	}
	wg.Wait()
	if changed {
		d.local.metrics.rebalanced(me, time.Since(began))
		d.log.Info("assignment applied", "units", assignment.Len(), "mine", len(assignment[me]),
			"members", members, "took", time.Since(began).Round(time.Millisecond))
	}
	d.mu.Lock()
	d.rebalancing = false
	if through > d.reconciled {
		d.reconciled = through
		close(d.reconMoved)
		d.reconMoved = make(chan struct{})
	}
	d.mu.Unlock()
}

// awaitReconciled waits until the config record at off has been acted on here.
func (d *Distributed) awaitReconciled(ctx context.Context, off int64) {
	for {
		d.mu.Lock()
		done, moved := d.reconciled > off, d.reconMoved
		d.mu.Unlock()
		if done {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-moved:
		}
	}
}

func assignmentEqual(a, b scheduler.Assignment) bool {
	if len(a) != len(b) {
		return false
	}
	for w, us := range a {
		if !slices.Equal(us, b[w]) {
			return false
		}
	}
	return true
}

// carryOutRestart applies a live restart record to what runs here.
func (d *Distributed) carryOutRestart(r configRecord) {
	rt := d.localRuntime(r.Name)
	if rt == nil || rt.inc != r.Inc {
		return
	}
	if r.Type == recRestartTask {
		rt.restartTaskDistributed(r.Task)
		return
	}
	rt.restartDistributed(RestartRequest{IncludeTasks: r.IncludeTasks, OnlyFailed: r.OnlyFailed})
}

// flushTimeout bounds how long a stopping worker spends writing its last status records.
const flushTimeout = 10 * time.Second

// statusWriter writes reported states in order.
func (d *Distributed) statusWriter() {
	for r := range d.reports {
		body, err := json.Marshal(r)
		if err != nil {
			continue
		}
		for attempt := 0; ; attempt++ {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			d.reportMu.Lock()
			flushBy := d.flushBy
			d.reportMu.Unlock()
			if !flushBy.IsZero() {
				// Shutting down: what is left must not hold the exit up when the broker is gone.
				cancel()
				ctx, cancel = context.WithDeadline(context.Background(), flushBy)
			}
			_, err = d.statusLog.append(ctx, r.Connector, body)
			cancel()
			if err == nil || attempt == 2 {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			d.log.Warn("status not written", "connector", r.Connector, "task", r.Task, "state", r.State, "err", err)
		}
	}
}

// report implements clusterHooks.
func (d *Distributed) report(r statusRecord) {
	d.reportMu.Lock()
	defer d.reportMu.Unlock()
	if d.reportsClosed {
		return // an abandoned task reporting after the worker stopped
	}
	select {
	case d.reports <- r:
	default:
		d.log.Warn("status queue full; a state change is not written", "connector", r.Connector, "task", r.Task)
	}
}

// publishTasks implements clusterHooks.
func (d *Distributed) publishTasks(name string, epoch int64, cfgs []map[string]string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if cfgs == nil {
		cfgs = []map[string]string{}
	}
	err := d.writeConfig(ctx, configRecord{Type: recTasks, Name: name, Epoch: epoch, Tasks: cfgs})
	if errors.Is(err, errStale) {
		return nil // the config changed meanwhile: the new epoch's owner publishes
	}
	return err
}

// claim implements clusterHooks: it waits until the task is free (never claimed, released,
// or held by a worker that left), then writes a claim with a generation above every
// earlier one of the connector and returns once that claim is in force.
func (d *Distributed) claim(ctx context.Context, rt *connRuntime, id int) (int64, error) {
	for {
		d.mu.Lock()
		// Any incarnation's record counts: a task of a deleted connector's incarnation may
		// still run on a live worker until that worker has retired it.
		cur, held := d.status.Tasks[rt.name][id]
		free := !held || released(cur.State) || cur.Worker == d.cfg.WorkerID
		departed := held && !free && !slices.Contains(d.members, cur.Worker)
		gen := d.status.MaxGen[rt.name] + 1
		wake := d.statusMoved
		d.mu.Unlock()
		if departed {
			// The holder is missing from this worker's member list; ask the broker itself
			// before taking the task from it (a joining worker's first list can be short).
			mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			live, err := d.client.Members(mctx, d.cfg.ClusterID, d.cfg.ClusterTopic)
			cancel()
			free = err == nil && len(live) > 0 && !slices.Contains(live, cur.Worker)
		}
		if free && ctx.Err() != nil {
			return 0, ctx.Err() // stopped meanwhile: no claim for a task this worker will not run
		}
		if free {
			rec := statusRecord{Connector: rt.name, Task: id, Inc: rt.inc, State: StateRunning, Worker: d.cfg.WorkerID,
				Gen: gen, Claim: true}
			if held {
				rec.Prev = cur.Gen
			}
			body, _ := json.Marshal(rec)
			off, err := d.statusLog.append(ctx, rt.name, body)
			if err == nil {
				err = d.statusLog.waitApplied(ctx, off)
			}
			if err == nil {
				prev := "none"
				if held {
					prev = fmt.Sprintf("%s %s gen %d", cur.Worker, cur.State, cur.Gen)
				}
				d.log.Info("task claimed", "connector", rt.name, "task", id, "gen", gen, "previous", prev, "members", d.membersNow())
				// Resume from the last positions the previous holder committed: never start
				// without having read them.
				for {
					perr := d.positionLog.sync(ctx)
					if perr == nil {
						return gen, nil
					}
					if ctx.Err() != nil {
						return 0, ctx.Err()
					}
					d.log.Warn("position topic not caught up; the task waits for it", "connector", rt.name, "task", id, "err", perr)
					select {
					case <-ctx.Done():
						return 0, ctx.Err()
					case <-time.After(time.Second):
					}
				}
			}
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			if !errors.Is(err, errStale) {
				d.log.Warn("claiming a task failed; retrying", "connector", rt.name, "task", id, "err", err)
				select {
				case <-ctx.Done():
					return 0, ctx.Err()
				case <-time.After(time.Second):
				}
			}
			continue
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-wake:
		case <-time.After(time.Second):
		}
	}
}

// holds implements clusterHooks.
func (d *Distributed) holds(rt *connRuntime, id int, gen int64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.status.Tasks[rt.name][id]
	return ok && r.Worker == d.cfg.WorkerID && r.Gen == gen && r.Inc == rt.inc
}

// positions implements clusterHooks.
func (d *Distributed) positions(_ string, inc, gen int64) PositionStore {
	return clusterPositions{d: d, inc: inc, gen: gen}
}

// writeConfig appends a config record and waits until this worker has applied it; the
// error is the fold's verdict (ErrAlreadyExists, ErrNotFound, errStale, ...).
func (d *Distributed) writeConfig(ctx context.Context, r configRecord) error {
	_, err := d.writeConfigAt(ctx, r)
	return err
}

func (d *Distributed) writeConfigAt(ctx context.Context, r configRecord) (int64, error) {
	r.Worker = d.cfg.WorkerID
	body, err := json.Marshal(r)
	if err != nil {
		return 0, err
	}
	off, err := d.configLog.append(ctx, r.Name, body)
	if err != nil {
		return 0, err
	}
	return off, d.configLog.waitApplied(ctx, off)
}

// clusterPositions is the PositionStore of the position topic, for one task incarnation
// (inc, gen) or, with inc 0, for the offsets API (the connector's current incarnation).
type clusterPositions struct {
	d   *Distributed
	inc int64
	gen int64
}

func (p clusterPositions) incOf(name string) int64 {
	if p.inc != 0 {
		return p.inc
	}
	return p.d.incOf(name)
}

// incOf returns the incarnation of connector name in force, 0 when there is none.
func (d *Distributed) incOf(name string) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c := d.config.Connectors[name]; c != nil {
		return c.Inc
	}
	return 0
}

func (p clusterPositions) Get(name string, partition map[string]any) (map[string]any, error) {
	k, err := partitionKey(partition)
	if err != nil {
		return nil, err
	}
	inc := p.incOf(name)
	p.d.mu.Lock()
	defer p.d.mu.Unlock()
	cp := p.d.posState.Connectors[name]
	if cp == nil || cp.Inc != inc {
		return nil, nil
	}
	return cloneAny(cp.Parts[k].Offset), nil
}

func (p clusterPositions) All(name string) ([]plugins.PartitionPosition, error) {
	inc := p.incOf(name)
	p.d.mu.Lock()
	defer p.d.mu.Unlock()
	return p.d.posState.all(name, inc), nil
}

// Put stores positions in the position topic and returns once this worker has applied them.
func (p clusterPositions) Put(name string, ps []plugins.PartitionPosition) error {
	return p.write(positionRecord{Connector: name, Inc: p.incOf(name), Gen: p.gen, Positions: entries(ps)})
}

// Delete removes the connector's positions (the offsets API's reset): each partition's
// position is set to null with the offsets API's generation, so that the tasks' later
// commits apply again.
func (p clusterPositions) Delete(name string) error {
	inc := p.incOf(name)
	p.d.mu.Lock()
	all := p.d.posState.all(name, inc)
	p.d.mu.Unlock()
	if len(all) == 0 {
		return nil
	}
	r := positionRecord{Connector: name, Inc: inc, Gen: adminGen}
	for _, pp := range all {
		r.Positions = append(r.Positions, positionEntry{Partition: pp.Partition})
	}
	return p.write(r)
}

// clear drops every position of a deleted connector's incarnation for good.
func (p clusterPositions) clear(name string) error {
	return p.write(positionRecord{Connector: name, Inc: p.incOf(name), Clear: true})
}

func (p clusterPositions) write(r positionRecord) error {
	if r.Inc == 0 {
		return fmt.Errorf("connector %s: %w", r.Connector, ErrNotFound)
	}
	body, err := json.Marshal(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	off, err := p.d.positionLog.append(ctx, r.Connector, body)
	if err != nil {
		return err
	}
	return p.d.positionLog.waitApplied(ctx, off)
}

func entries(ps []plugins.PartitionPosition) []positionEntry {
	out := make([]positionEntry, len(ps))
	for i, p := range ps {
		out[i] = positionEntry{Partition: p.Partition, Offset: p.Offset}
	}
	return out
}

func cloneAny(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	return maps.Clone(m)
}

// snapshotters let each store log adopt a snapshot record of its topic as its base.
func (d *Distributed) snapshotters() [3]*snapshotter {
	return [3]*snapshotter{
		{through: func(b []byte) (int64, bool) {
			var r configRecord
			if json.Unmarshal(b, &r) != nil || r.Type != recSnapshot || r.Snapshot == nil {
				return 0, false
			}
			return r.Through, true
		}, adopt: func(b []byte) error {
			var r configRecord
			if err := json.Unmarshal(b, &r); err != nil {
				return err
			}
			if r.Snapshot.Connectors == nil {
				r.Snapshot.Connectors = map[string]*clusterConnector{}
			}
			d.mu.Lock()
			d.config, d.dirty = r.Snapshot, true
			d.mu.Unlock()
			return nil
		}},
		{through: func(b []byte) (int64, bool) {
			var r statusRecord
			if json.Unmarshal(b, &r) != nil || r.Snapshot == nil {
				return 0, false
			}
			return r.Through, true
		}, adopt: func(b []byte) error {
			var r statusRecord
			if err := json.Unmarshal(b, &r); err != nil {
				return err
			}
			st := newStatusState()
			maps.Copy(st.Connectors, r.Snapshot.Connectors)
			maps.Copy(st.Tasks, r.Snapshot.Tasks)
			maps.Copy(st.MaxGen, r.Snapshot.MaxGen)
			d.mu.Lock()
			d.status, d.dirty = st, true
			d.mu.Unlock()
			return nil
		}},
		{through: func(b []byte) (int64, bool) {
			var r positionRecord
			if json.Unmarshal(b, &r) != nil || r.Snapshot == nil {
				return 0, false
			}
			return r.Through, true
		}, adopt: func(b []byte) error {
			var r positionRecord
			if err := json.Unmarshal(b, &r); err != nil {
				return err
			}
			ps := newPositionState()
			maps.Copy(ps.Cleared, r.Snapshot.Cleared)
			maps.Copy(ps.Connectors, r.Snapshot.Connectors)
			ps.normalize()
			d.mu.Lock()
			d.posState, d.dirty = ps, true
			d.mu.Unlock()
			return nil
		}},
	}
}

// maxSnapshotBytes keeps a snapshot record below the broker's 4 MiB message limit.
const maxSnapshotBytes = 3 << 20

// snapshotLoop has the first member (by id) append a snapshot of each store topic's fold
// whenever the topic's newest snapshot is older than SnapshotInterval.
func (d *Distributed) snapshotLoop(ctx context.Context) {
	check := min(time.Minute, d.cfg.SnapshotInterval/4)
	t := time.NewTicker(check)
	defer t.Stop()
	for {
		d.snapshotDue(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (d *Distributed) snapshotDue(ctx context.Context) {
	d.mu.Lock()
	first := len(d.members) > 0 && d.members[0] == d.cfg.WorkerID
	last := d.lastSnap
	d.mu.Unlock()
	if !first {
		return
	}
	for i, l := range []*storeLog{d.configLog, d.statusLog, d.positionLog} {
		if time.Since(last[i]) < d.cfg.SnapshotInterval {
			continue
		}
		if err := d.writeSnapshot(ctx, i, l); err != nil && ctx.Err() == nil {
			d.log.Warn("store topic snapshot not written", "topic", l.topic, "err", err)
		}
	}
}

// writeSnapshot appends the fold of store topic i as of the log's current offset.
func (d *Distributed) writeSnapshot(ctx context.Context, i int, l *storeLog) error {
	var body []byte
	var err error
	l.atomically(func(next int64) {
		body, err = d.snapshotBody(i, snapshotHeader{Through: next, At: time.Now().UTC()})
	})
	if err != nil {
		return err
	}
	if len(body) > maxSnapshotBytes {
		return fmt.Errorf("snapshot of %d bytes exceeds %d; a reader that loses the topic's start cannot rebuild it", len(body), maxSnapshotBytes)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	off, err := l.append(wctx, "", body)
	if err != nil {
		return err
	}
	d.log.Info("store topic snapshot written", "topic", l.topic, "offset", off, "bytes", len(body))
	return l.waitApplied(wctx, off)
}

// snapshotBody is the snapshot record of store topic i (config, status, position).
func (d *Distributed) snapshotBody(i int, h snapshotHeader) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch i {
	case 0:
		return json.Marshal(configRecord{Type: recSnapshot, Worker: d.cfg.WorkerID, Snapshot: d.config, snapshotHeader: h})
	case 1:
		return json.Marshal(statusRecord{Task: -1, Worker: d.cfg.WorkerID, Snapshot: d.status, snapshotHeader: h})
	default:
		return json.Marshal(positionRecord{Snapshot: d.posState, snapshotHeader: h})
	}
}

func (d *Distributed) membersNow() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.members)
}

// clusterReplays keeps DLQ replay records in the config topic.
type clusterReplays struct{ d *Distributed }

func (r clusterReplays) replayed(name string) map[string]ReplayInfo {
	r.d.mu.Lock()
	defer r.d.mu.Unlock()
	out := map[string]ReplayInfo{}
	if c := r.d.config.Connectors[name]; c != nil {
		for id, info := range c.Replays {
			if info.MsgID != "" {
				out[id] = info
			}
		}
	}
	return out
}

func (r clusterReplays) begin(ctx context.Context, name, id string, force bool) error {
	return r.d.writeConfig(ctx, configRecord{Type: recReplay, Name: name, Inc: r.d.incOf(name), ReplayID: id, Force: force,
		Replay: &ReplayInfo{At: time.Now().UTC()}})
}

func (r clusterReplays) finish(ctx context.Context, name, id string, info ReplayInfo) error {
	return r.d.writeConfig(ctx, configRecord{Type: recReplay, Name: name, Inc: r.d.incOf(name), ReplayID: id, Replay: &info})
}

func (r clusterReplays) abandon(name, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.d.writeConfig(ctx, configRecord{Type: recReplay, Name: name, Inc: r.d.incOf(name), ReplayID: id, Abandon: true,
		Replay: &ReplayInfo{}}); err != nil {
		r.d.log.Warn("a failed DLQ replay stays taken; replay it with force", "connector", name, "record", id, "err", err)
	}
}
