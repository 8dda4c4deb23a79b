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
	// DepartGrace is how long a member missing from the broker's list stays a member when
	// the broker's view was disrupted meanwhile (default 10s): after a broker restart the
	// members register again over a few seconds, and none of their units need move.
	DepartGrace time.Duration
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
	cfg DistributedConfig
	log *slog.Logger
	// proc is this process's incarnation: it qualifies the member id (memberID) and every
	// claim, so that a former process of the same workerId (suspended, then resumed after a
	// new one took over) is told apart from this one and fenced.
	proc     string
	client   *rmqclient.Client
	local    *Standalone
	strategy scheduler.Strategy

	producer                          *rmqclient.Producer
	configLog, statusLog, positionLog *storeLog
	membership                        *rmqclient.Consumer
	// view asks the broker for the members, past the name servers once it knows the broker.
	view memberLister

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
	disrupted   time.Time // when the broker last failed a membership look or missed this worker
	selfMissing int       // consecutive renewals whose member list lacked this worker
	rebalancing bool
	confirming  bool            // a departure is being confirmed with the broker
	stopping    bool            // Run is shutting down: no more restart goroutines
	reconciled  int64           // config records below this offset have been reconciled
	reconMoved  chan struct{}   // closed and replaced when reconciled grows
	dirty       bool            // the fold changed since the cache was written
	lingering   map[taskKey]int // abandoned task runs that have not returned (see linger)
	foreignSeen [3]bool         // a record of another cluster was seen (per store topic)
	lastSnap    [3]time.Time    // the newest snapshot record seen per store topic (config, status, position)

	kick    chan struct{}
	started chan struct{}

	// The status records to write: the latest per task (or connector: task -1) and the
	// order in which their tasks first became pending. The writer retries each until it is
	// stored, so the latest state of every task reaches the status topic.
	reportMu      sync.Mutex
	pending       map[taskKey]statusRecord
	pendingOrder  []taskKey
	reportWake    chan struct{}
	reportsClosed bool
	flushBy       time.Time // set at shutdown: what is still pending after it is not written
	// appendStatus stores a status record (the status log's append; tests replace it).
	appendStatus  func(ctx context.Context, key string, body []byte) (int64, error)
	statusBackoff time.Duration // the first retry delay of a failed status write
	wg            sync.WaitGroup
	leaving       chan struct{} // closed as Run returns: lingering tasks are waited on no longer
}

// memberLister is where the members are looked up (a rmqclient.MemberView).
type memberLister interface {
	Members(ctx context.Context) ([]string, error)
}

// taskKey names a task of a connector (any incarnation).
type taskKey struct {
	connector string
	task      int
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
	if cfg.DepartGrace <= 0 {
		cfg.DepartGrace = 10 * time.Second
	}
	if cfg.SnapshotInterval <= 0 {
		cfg.SnapshotInterval = 6 * time.Hour
	}
	d := &Distributed{cfg: cfg, log: log, client: client, strategy: strategy, proc: newIncarnation(),
		config: newConfigState(), status: newStatusState(), posState: newPositionState(),
		statusMoved: make(chan struct{}), reconMoved: make(chan struct{}), kick: make(chan struct{}, 1), started: make(chan struct{}),
		pending: map[taskKey]statusRecord{}, reportWake: make(chan struct{}, 1), statusBackoff: 200 * time.Millisecond,
		lingering: map[taskKey]int{}, leaving: make(chan struct{})}
	if client != nil {
		d.view = client.NewMemberView(cfg.ClusterID, cfg.ClusterTopic)
	}
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
	Topics       [3]string `json:"topics"`
	ConfigNext   int64     `json:"config_next"`
	StatusNext   int64     `json:"status_next"`
	PositionNext int64     `json:"position_next"`
	// Last is the last record applied of each topic, read again at load: a topic that was
	// deleted and recreated since holds other records there, and the cache is not used.
	Last      [3]appliedMark `json:"last"`
	Config    *configState   `json:"config"`
	Status    *statusState   `json:"status"`
	Positions *positionState `json:"positions"`
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
	if d.appendStatus == nil {
		d.appendStatus = d.statusLog.append
	}
	// Each store queue's first and next offsets as the worker starts.
	var minOff, maxOff [3]int64
	for i, l := range []*storeLog{d.configLog, d.statusLog, d.positionLog} {
		if minOff[i], maxOff[i], err = d.client.QueueOffsets(ctx, l.queue); err != nil {
			return fmt.Errorf("%s: %w", l.topic, err)
		}
	}
	from := d.loadCache(minOff, maxOff, func(i int, off int64) ([]byte, error) {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return []*storeLog{d.configLog, d.statusLog, d.positionLog}[i].recordAt(rctx, off)
	})
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
			d.reportMu.Unlock()
			d.wakeWriter()
			<-writerDone
		})
	}
	defer flushReports()

	m, err := d.join(ctx)
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
	if d.membership != nil { // nil when a rejoin failed
		if err := d.membership.Close(); err != nil {
			d.log.Warn("leaving the cluster", "err", err)
		}
	}
	close(d.leaving)
	d.wg.Wait()
	d.saveCache()
	return nil
}

// loadCache restores the fold from the cache when it fits the topics as they are now (the
// last record it covers of each is still there: recordAt reads topic i at an offset) and
// returns the offsets to read on from (the topics' first offsets otherwise).
func (d *Distributed) loadCache(minOff, maxOff [3]int64, recordAt func(i int, off int64) ([]byte, error)) [3]int64 {
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
	for i, l := range []*storeLog{d.configLog, d.statusLog, d.positionLog} {
		if next[i] == 0 || c.Last[i].Offset < minOff[i] && c.Last[i].Digest != "" {
			continue // nothing read yet, or the record is gone by retention (the log rebases then)
		}
		body, err := recordAt(i, c.Last[i].Offset)
		if err != nil || body == nil || c.Last[i].Digest == "" || markOf(c.Last[i].Offset, body) != c.Last[i] {
			d.log.Warn("cluster cache does not match the store topic (recreated?); replaying the store topics", "topic", l.topic,
				"offset", c.Last[i].Offset, "err", err)
			return from
		}
	}
	for i, l := range []*storeLog{d.configLog, d.statusLog, d.positionLog} {
		l.last = c.Last[i]
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
	var next [3]int64
	var last [3]appliedMark
	for i, l := range []*storeLog{d.configLog, d.statusLog, d.positionLog} {
		next[i], last[i] = l.mark()
	}
	d.mu.Lock()
	c := clusterCache{Topics: [3]string{d.cfg.ConfigTopic, d.cfg.StatusTopic, d.cfg.PositionTopic},
		ConfigNext: next[0], StatusNext: next[1], PositionNext: next[2], Last: last, Config: d.config, Status: d.status, Positions: d.posState}
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
	if err := d.foreign(0, r.Cluster); err != nil {
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
	if err := d.foreign(1, r.Cluster); err != nil {
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
	if err == nil && r.Task >= 0 && !d.mine(r) {
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
	if err := d.foreign(2, r.Cluster); err != nil {
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

// errForeignRecord: a store topic record was written by another cluster.
var errForeignRecord = errors.New("record of another cluster")

// storeTopicKeys are the worker config keys naming the store topics (config, status, position).
var storeTopicKeys = [3]string{"configStoreTopic", "connectStatusTopic", "positionStoreTopic"}

// foreign returns an error when a record of store topic i was written by another cluster
// (records from before clusters were recorded have none and count as this cluster's);
// the first such record of each topic is logged with the key to set.
func (d *Distributed) foreign(i int, cluster string) error {
	if cluster == "" || cluster == d.cfg.ClusterID {
		return nil
	}
	d.mu.Lock()
	first := !d.foreignSeen[i]
	d.foreignSeen[i] = true
	d.mu.Unlock()
	if first {
		d.log.Warn("store topic shared with another cluster; its records are ignored, but each cluster should have its own topics",
			"topic", []string{d.cfg.ConfigTopic, d.cfg.StatusTopic, d.cfg.PositionTopic}[i], "cluster", cluster,
			"set", storeTopicKeys[i])
	}
	return fmt.Errorf("%w %s (set %s to a topic of its own)", errForeignRecord, cluster, storeTopicKeys[i])
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
	members := workerIDs(d.members)
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
		// A claim of this worker's id from another incarnation is not free: that process may
		// still run the task (suspended past its expiry and resumed) until it has left.
		free := (!held || released(cur.State) || d.mine(cur) || cur.Worker == d.cfg.WorkerID && cur.Proc == "") &&
			d.lingering[taskKey{rt.name, id}] == 0
		departed := held && !free && !d.mine(cur) && !holderLive(cur, d.members)
		gen := d.status.MaxGen[rt.name] + 1
		wake := d.statusMoved
		d.mu.Unlock()
		if departed {
			// The holder is missing from this worker's member list; ask the broker itself
			// before taking the task from it (a joining worker's first list can be short).
			mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			live, err := d.view.Members(mctx)
			cancel()
			free = err == nil && len(live) > 0 && !holderLive(cur, live)
		}
		if free && ctx.Err() != nil {
			return 0, ctx.Err() // stopped meanwhile: no claim for a task this worker will not run
		}
		if free {
			rec := statusRecord{Cluster: d.cfg.ClusterID, Connector: rt.name, Task: id, Inc: rt.inc, State: StateRunning, Worker: d.cfg.WorkerID, Proc: d.proc,
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
	return ok && d.mine(r) && r.Gen == gen && r.Inc == rt.inc
}

// linger implements clusterHooks.
func (d *Distributed) linger(name string, id int, done <-chan struct{}, release *statusRecord) {
	key := taskKey{name, id}
	d.mu.Lock()
	d.lingering[key]++
	d.wg.Add(1)
	d.mu.Unlock()
	d.log.Warn("an abandoned task keeps its claim until it returns", "connector", name, "task", id)
	go func() {
		defer d.wg.Done()
		select {
		case <-done:
		case <-d.leaving:
			return // this worker has left the cluster: its claims lapse with its membership
		}
		if release != nil {
			d.log.Info("an abandoned task returned; releasing it", "connector", name, "task", id, "gen", release.Gen)
			d.report(*release)
		}
		d.mu.Lock()
		if d.lingering[key]--; d.lingering[key] <= 0 {
			delete(d.lingering, key)
		}
		close(d.statusMoved) // a claim waiting for it may go on
		d.statusMoved = make(chan struct{})
		d.mu.Unlock()
	}()
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
	r.Worker, r.Cluster = d.cfg.WorkerID, d.cfg.ClusterID
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
	// Written even when there is nothing to delete: its floor makes a task still stopping
	// somewhere unable to commit positions the reset was meant to remove.
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
	r.Cluster = p.d.cfg.ClusterID
	if r.Gen == adminGen {
		p.d.mu.Lock()
		r.Floor = p.d.status.MaxGen[r.Connector]
		p.d.mu.Unlock()
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
			if json.Unmarshal(b, &r) != nil || r.Type != recSnapshot || r.Snapshot == nil || d.foreign(0, r.Cluster) != nil {
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
			if json.Unmarshal(b, &r) != nil || r.Snapshot == nil || d.foreign(1, r.Cluster) != nil {
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
			if json.Unmarshal(b, &r) != nil || r.Snapshot == nil || d.foreign(2, r.Cluster) != nil {
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
	first := len(d.members) > 0 && d.members[0] == memberID(d.cfg.WorkerID, d.proc)
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
		return json.Marshal(configRecord{Cluster: d.cfg.ClusterID, Type: recSnapshot, Worker: d.cfg.WorkerID, Snapshot: d.config, snapshotHeader: h})
	case 1:
		return json.Marshal(statusRecord{Cluster: d.cfg.ClusterID, Task: -1, Worker: d.cfg.WorkerID, Snapshot: d.status, snapshotHeader: h})
	default:
		return json.Marshal(positionRecord{Cluster: d.cfg.ClusterID, Snapshot: d.posState, snapshotHeader: h})
	}
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
