package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/external/dirlock"
	"github.com/rmqconnect/rmqconnect/scheduler"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// DistributedConfig configures a distributed herder.
type DistributedConfig struct {
	StandaloneConfig
	// ClusterID names the cluster: the consumer group its workers join.
	ClusterID string
	// The store topics; every worker of a cluster must use the same ones.
	ConfigTopic, PositionTopic, StatusTopic, ClusterTopic string
	// Strategy is the scheduler strategy (sticky, the default for "", consistent-hash or round-robin).
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
	// OnLogLevel, when set, applies a cluster-scoped log level change (logger, level as
	// written by SetClusterLogLevel) on this worker; see loglevels.go.
	OnLogLevel func(logger, level string)
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
	// The engine runs what the assignment gives this worker; it keeps a runtime for every
	// connector of the config topic. Its offsets, DLQ, validation and metrics methods are
	// the herder's.
	*engine

	cfg DistributedConfig
	log *slog.Logger
	// proc is this process's incarnation: it qualifies the member id (memberID) and every
	// claim, so that a former process of the same workerId (suspended, then resumed after a
	// new one took over) is told apart from this one and fenced.
	proc string
	// reqs counts this process's config writes: with proc, a write's request id
	// (configRecord.Req).
	reqs     atomic.Uint64
	client   *rmqclient.Client
	strategy scheduler.Strategy

	// names serialises this worker's target changes and deletes of one connector with its
	// offset changes (offsetsChange); taken before mu.
	names nameLocks

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
	// tooBigAt is when snapshotLoop last found a store topic's fold too big for a snapshot
	// (its own: no lock), so that it tries again an interval later, not at every check.
	tooBigAt [3]time.Time

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
	// crew holds the goroutines Run's records and loops start: restarts, departure
	// confirmations, abandoned-task watchers.
	crew    crew
	leaving chan struct{} // closed as Run returns: lingering tasks are waited on no longer

	// storeLock is held on StoreDir (the cluster cache's directory) from NewDistributed
	// until Run returns or Close: two workers writing one cache would replace each other's.
	storeLock *dirlock.Lock
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

// NewDistributed builds a distributed herder and locks its store directory (a second
// worker on it fails to start); Run joins the cluster.
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
	lock, err := lockStoreDir(cfg.StoreDir)
	if err != nil {
		return nil, err
	}
	d := &Distributed{storeLock: lock, cfg: cfg, log: log, client: client, strategy: strategy, proc: newIncarnation(),
		config: newConfigState(), status: newStatusState(), posState: newPositionState(),
		statusMoved: make(chan struct{}), reconMoved: make(chan struct{}), kick: make(chan struct{}, 1), started: make(chan struct{}),
		pending: map[taskKey]statusRecord{}, reportWake: make(chan struct{}, 1), statusBackoff: 200 * time.Millisecond,
		lingering: map[taskKey]int{}, leaving: make(chan struct{})}
	if client != nil {
		d.view = client.NewMemberView(cfg.ClusterID, cfg.ClusterTopic)
	}
	d.engine = newEngine(cfg.StandaloneConfig, client, reg, log)
	d.engine.place = clusterPlacement{d}
	d.engine.replays = clusterReplays{d}
	d.engine.positions = clusterPositions{d: d, gen: adminGen}
	return d, nil
}

// Started is closed once the worker has caught up with the store topics and joined the cluster.
func (d *Distributed) Started() <-chan struct{} { return d.started }

// WorkerID names this worker.
func (d *Distributed) WorkerID() string { return d.cfg.WorkerID }

// Close releases the store directory. Run does so as it returns; Close is for a herder
// whose Run was never called, and must not be called while Run runs. It may be called
// more than once.
func (d *Distributed) Close() error { return d.storeLock.Close() }

// Run joins the cluster and runs until ctx ends; then it stops its tasks (releasing them),
// leaves the cluster, stores its cache and releases the store directory.
func (d *Distributed) Run(ctx context.Context) error {
	defer d.Close() // last: the cache is written before
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
		if minOff[i], maxOff[i], err = l.q.offsets(ctx); err != nil {
			return fmt.Errorf("%s: %w", l.topic, err)
		}
	}
	from := d.loadCache(minOff, maxOff, func(i int, off int64) ([]byte, error) {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return []*storeLog{d.configLog, d.statusLog, d.positionLog}[i].recordAt(rctx, off)
	})
	d.configLive = maxOff[0]

	// Run's goroutines are stopped in this order as it returns: the loops (on ctx), the
	// engine (releasing its tasks), the status writer (once the releases are written), the
	// restarts and abandoned-task watchers (d.crew), the store logs last (the releases wait
	// for the status topic, restarts for the config topic).
	logCtx, stopLogs := context.WithCancel(context.WithoutCancel(ctx))
	var logs errgroup.Group
	defer func() { stopLogs(); _ = logs.Wait() }()
	defer d.crew.close() // restarts apply records of the store logs: they stop first
	snaps := d.snapshotters()
	for i, l := range []*storeLog{d.configLog, d.statusLog, d.positionLog} {
		apply := []func(int64, []byte) error{d.applyConfig, d.applyStatus, d.applyPosition}[i]
		logs.Go(func() error { l.run(logCtx, from[i], minOff[i], snaps[i], apply); return nil })
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

	var writer errgroup.Group
	writer.Go(func() error { d.statusWriter(); return nil })
	var closeReports sync.Once
	flushReports := func() {
		closeReports.Do(func() {
			d.reportMu.Lock()
			d.reportsClosed = true
			d.flushBy = time.Now().Add(flushTimeout)
			d.reportMu.Unlock()
			d.wakeWriter()
			_ = writer.Wait()
		})
	}
	defer flushReports()

	m, err := d.join(ctx)
	if err != nil {
		return fmt.Errorf("join cluster %s: %w", d.cfg.ClusterID, err)
	}
	d.membership = m
	d.engine.start(ctx)
	d.renew(ctx)

	loops, loopCtx := errgroup.WithContext(ctx)
	for _, loop := range []func(context.Context){d.snapshotLoop, d.reconcileLoop, d.memberLoop, d.cacheLoop} {
		loops.Go(func() error { loop(loopCtx); return nil })
	}
	close(d.started)
	d.log.Info("joined the cluster", "cluster", d.cfg.ClusterID, "worker", d.cfg.WorkerID)

	<-ctx.Done()
	d.mu.Lock()
	d.stopping = true
	d.mu.Unlock()
	_ = loops.Wait()
	d.stopReleasing()
	// The releases are in the status topic before this worker leaves: once it is gone the
	// others may claim what it held, so they must find it released.
	flushReports()
	if d.membership != nil { // nil when a rejoin failed
		if err := d.membership.Close(); err != nil {
			d.log.Warn("leaving the cluster", "err", err)
		}
	}
	close(d.leaving)
	d.crew.close()
	d.saveCache()
	return nil
}

// stopReleasing stops every connector and task of this worker and releases every claim
// it holds, so that the others can start the tasks at once when it leaves. Besides the
// releases of the tasks it stops, that covers claims this incarnation holds in the status
// topic with no run behind them (a claim whose writer was stopped before it learned that
// the claim is in force): the worker catches up with the status topic and releases them as
// repairClaims would. Releases are reported; the caller writes them before leaving.
func (d *Distributed) stopReleasing() {
	d.engine.stop(true)
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	if err := d.statusLog.sync(ctx); err != nil {
		d.log.Warn("status topic not caught up before leaving; a claim written just before may stay held until this worker has left",
			"err", err)
	}
	d.repairClaims()
}

// errForeignRecord: a store topic record was written by another cluster.
var errForeignRecord = errors.New("record of another cluster")

// storeTopicKeys are the worker config keys naming the store topics (config, status, position).
var storeTopicKeys = [3]string{"configStoreTopic", "connectStatusTopic", "positionStoreTopic"}

// maxSnapshotBytes keeps a snapshot record below the broker's 4 MiB message limit.
const maxSnapshotBytes = 3 << 20
