package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/rmqconnect/rmqconnect/conf/rmqname"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/transforms"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// Limits of one produce batch: RocketMQ stores a batch as one message on one queue. The
// bytes are the encoded batch's before the next message is added (bodies, properties and
// framing); one message's properties add at most 32 KiB more, well under the broker's
// 4 MiB maxMessageSize.
const (
	maxBatchMessages = 128
	maxBatchBytes    = 1 << 20
)

// sourceRunner runs one source task: poll → transforms → converters → send → positions.
//
// Sends are synchronous and in poll order, one chunk at a time: the positions of a poll
// batch become committable only once every message of the batch is acked, and a crash
// replays at most the batches in flight plus what was acked since the last commit. The
// poll goroutine converts and encodes the next batch while the sender sends.
type sourceRunner struct {
	id   restapi.TaskID
	cfg  map[string]string
	vals plugins.Values // cfg parsed against the connector's Spec
	task plugins.SourceTask
	// newTask makes the task object a Start retried after a RetriableError runs on (the SPI
	// starts and stops an object once); nil (tests): the retry starts task again.
	newTask   func() plugins.SourceTask
	chain     *transforms.Chain
	conv      converters
	producer  batchSender
	client    *rmqclient.Client
	positions PositionStore
	// fence, when set, is asked before every send attempt and every second while the task
	// works: an error (this worker may no longer own the task) cancels the work in flight
	// and fails the task instead of sending.
	fence    func() error
	errs     *errorReporter
	policy   errorPolicy
	log      *slog.Logger
	counters *taskCounters

	defaultTopic   string
	autoCreate     bool
	ordered        bool
	commitInterval time.Duration
	commitTimeout  time.Duration       // bounds the task's Commit in a periodic commit; 0: none
	startTimeout   time.Duration       // bounds the task's Start; 0: none
	started        func()              // called once the task's Start returned without error; nil: nothing
	files          *plugins.FileAccess // the worker's file confinement, for the task context

	hist   *workerMetrics
	labels []string // worker, connector, task
	// pluginMetrics is the task's plugins.Metrics; the task runtime closes it.
	pluginMetrics *pluginScope
	onTopic       func(topic string)

	knownTopics map[string]bool // touched by the sender goroutine only
	validTopics map[string]bool // touched by the poll loop only
	stamps      stampCache      // touched by the poll loop only
	perRecord   bool            // the task is a plugins.RecordCommitter
	pendingMu   sync.Mutex
	pending     map[string]plugins.PartitionPosition
	// refused is the position store's refusal of a commit (positionsRefused): this run no
	// longer owns the positions it commits, so it commits nothing more and fails.
	refused error
}

// batchSender sends an encoded batch (a *rmqclient.Producer).
type batchSender interface {
	SendBatch(ctx context.Context, b *rmqclient.Batch) (rmqclient.SendResult, error)
}

type sourceTaskContext struct {
	reader plugins.PositionReader
	log    *slog.Logger
	files  *plugins.FileAccess
	vals   plugins.Values
	pm     *pluginScope
	client *rmqclient.Client
}

// Metrics implements plugins.MetricsProvider.
func (c sourceTaskContext) Metrics() plugins.Metrics { return c.pm.metrics() }

func (c sourceTaskContext) Positions() plugins.PositionReader { return c.reader }
func (c sourceTaskContext) Logger() *slog.Logger              { return c.log }
func (c sourceTaskContext) Config() plugins.Values            { return c.vals }

// RocketMQ hands in-process tasks the worker's client, for topics of their own (mysql-cdc's
// schema history); nil when the runner has none.
func (c sourceTaskContext) RocketMQ() *rmqclient.Client { return c.client }

// run starts the task and loops until ctx ends (graceful stop: positions committed, task
// stopped, nil returned) or the task fails (error returned, task stopped).
func (s *sourceRunner) run(ctx context.Context, stopTimeout time.Duration) (err error) {
	if s.knownTopics == nil {
		s.knownTopics = map[string]bool{}
	}
	s.validTopics = map[string]bool{}
	s.pending = map[string]plugins.PartitionPosition{}
	_, s.perRecord = s.task.(plugins.RecordCommitter)
	tctx := sourceTaskContext{reader: positionReader{store: s.positions, connector: s.id.Connector}, log: s.log, files: s.files,
		vals: s.vals, pm: s.pluginMetrics, client: s.client}
	// Poll and the sends run on work, which also ends when the fence trips.
	work, stopWork := workContext(ctx, s.fence)
	defer stopWork()
	defer func() {
		if err == nil && ctx.Err() == nil && work.Err() != nil {
			err = context.Cause(work) // fenced
		}
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		if cerr := s.commit(sctx); cerr != nil && err == nil {
			err = cerr
		}
		if serr := safeCall(func() error { return s.task.Stop(sctx) }); serr != nil {
			s.log.Warn("source task stop failed", "err", serr)
		}
	}()
	// The Stop after the last failed Start is the deferred one above.
	if err := startTask(work, taskStart{policy: s.policy, counters: s.counters, log: s.log,
		startTimeout: s.startTimeout, stopTimeout: stopTimeout,
		start: func(ctx context.Context) error { return s.task.Start(ctx, tctx, s.cfg) },
		stop:  func(ctx context.Context) error { return s.task.Stop(ctx) },
		renew: func() {
			if s.newTask != nil {
				s.task = s.newTask()
			}
		}}); err != nil {
		return notStarted(fmt.Errorf("start task: %w", err))
	}
	if s.started != nil {
		s.started()
	}
	ctx = work
	// Polling and converting the next batch overlaps with sending the previous one: one
	// sender goroutine sends batches in poll order and marks their positions committable,
	// so at most three poll batches are in flight (being sent, queued, being converted).
	batches := make(chan convertedBatch, 1)
	sendErr := make(chan error, 1)
	// loop is the poll loop's context: a failed send ends it at once, so the task is not
	// polled again (nor a Poll in flight waited for) for records that would never be sent.
	loop, stopLoop := context.WithCancel(ctx)
	defer stopLoop()
	var sender errgroup.Group
	sender.Go(func() error {
		for b := range batches {
			if err := s.deliver(ctx, b); err != nil {
				sendErr <- err
				stopLoop()
				for range batches { // drain so the poll loop never blocks on a dead sender
				}
				return nil
			}
		}
		return nil
	})
	defer func() { close(batches); _ = sender.Wait() }()
	failed := func() error { // the send failure that ended the loop, if one did
		select {
		case err := <-sendErr:
			if ctx.Err() == nil {
				return err
			}
		default:
		}
		return nil
	}
	lastCommit := time.Now()
	for loop.Err() == nil {
		var recs []*schema.Record
		pollStart := time.Now()
		perr := s.policy.retry(loop, func() error {
			return safeCall(func() error {
				var err error
				recs, err = s.task.Poll(loop)
				return err
			})
		}, s.counters.countRetries(plugins.IsRetriable))
		if len(recs) > 0 {
			s.hist.pollTime.WithLabelValues(s.labels...).Observe(since(pollStart))
			s.hist.pollBatchSize.WithLabelValues(s.labels...).Observe(float64(len(recs)))
		}
		if loop.Err() != nil {
			break
		}
		if perr != nil {
			return fmt.Errorf("poll: %w", perr)
		}
		s.counters.recordsPolled.Add(int64(len(recs)))
		b, err := s.convertBatch(loop, recs)
		if err != nil {
			if loop.Err() != nil {
				break
			}
			return err
		}
		select {
		case batches <- b:
		case <-loop.Done():
		}
		if time.Since(lastCommit) >= s.commitInterval {
			cctx, cancel := withTimeout(ctx, s.commitTimeout)
			err := s.commit(cctx)
			cancel()
			if err != nil && s.refused != nil {
				return err
			}
			if err != nil {
				s.log.Warn("position commit failed; will retry", "err", err)
			} else {
				lastCommit = time.Now()
			}
		}
	}
	return failed()
}

// convertedBatch is one poll batch after transforms and converters, cut into batches
// encoded for sending (in the poll goroutine, while the previous poll batch is sent).
type convertedBatch struct {
	recs   []*schema.Record
	chunks []*rmqclient.Batch
	// where[i] is the chunk and index within it of recs[i]'s message, or {-1, -1} when the
	// record was dropped by a transform or skipped under errors.tolerance. Kept only for
	// tasks that want CommitRecord.
	where []recPlace
}

type recPlace struct{ chunk, index int32 }

// convertBatch converts one poll batch; failed records are reported per errors.tolerance.
// A chunk holds at most maxBatchMessages messages and about maxBatchBytes encoded, of one
// topic and, when ordered, one sharding key: a chunk lands on one queue.
func (s *sourceRunner) convertBatch(ctx context.Context, recs []*schema.Record) (convertedBatch, error) {
	defer s.stamps.release()
	b := convertedBatch{recs: recs}
	if s.perRecord {
		b.where = make([]recPlace, len(recs))
	}
	var open rmqclient.BatchBuilder
	var first *rmqclient.Message // of the open chunk
	for i, orig := range recs {
		if b.where != nil {
			b.where[i] = recPlace{-1, -1}
		}
		if orig == nil {
			continue
		}
		m, stage, class, err := s.convert(ctx, orig)
		var pe *panicError
		var oe *outageError
		if errors.As(err, &pe) || errors.As(err, &oe) {
			return b, err
		}
		if err == nil && m != nil {
			if open.Len() > 0 && (open.Len() >= maxBatchMessages || m.Topic != first.Topic ||
				s.ordered && (m.ShardingKey != first.ShardingKey || m.QueueHint != first.QueueHint) ||
				open.Size()+len(m.Body) > maxBatchBytes) {
				b.chunks = append(b.chunks, open.Finish())
			}
			if err = open.Add(m); err != nil {
				stage, class = StageProduce, "worker"
			} else if open.Len() == 1 {
				first = m
			}
		}
		if err != nil {
			fr := failedRecord{stage: stage, class: class, topic: s.topicOf(orig), queueID: -1, body: rawBody(orig), preview: preview(orig.Value)}
			fr.props, fr.keys = failedProps(orig)
			if rerr := s.errs.report(ctx, fr, err); rerr != nil {
				return b, rerr
			}
			continue
		}
		if m != nil && b.where != nil {
			b.where[i] = recPlace{int32(len(b.chunks)), int32(open.Len() - 1)}
		}
	}
	if c := open.Finish(); c != nil {
		b.chunks = append(b.chunks, c)
	}
	return b, nil
}

// deliver sends a converted batch's chunks in order, then marks its positions committable.
func (s *sourceRunner) deliver(ctx context.Context, b convertedBatch) error {
	var results []rmqclient.SendResult
	if b.where != nil {
		results = make([]rmqclient.SendResult, len(b.chunks))
	}
	for i, c := range b.chunks {
		res, err := s.send(ctx, c)
		if err != nil {
			return err
		}
		if results != nil {
			results[i] = res
		}
	}
	if b.where != nil {
		s.commitRecords(ctx, b, results)
	}
	// Every record of the batch is acked, failed-and-tolerated, or dropped by a transform:
	// the batch's positions are now committable, in poll order. Only the last record of each
	// run of one partition can be its position, so only those offsets are read (a record's
	// LazyOffset builds its map on demand).
	s.pendingMu.Lock()
	defer s.pendingMu.Unlock()
	var lastPart map[string]any
	var lastKey string
	var last *schema.Record // the last record of the current run
	store := func() error {
		if last == nil {
			return nil
		}
		// LazyOffset is the task's code, run here on the sender goroutine: a panic in it fails
		// the task, as one in Poll does, rather than the worker.
		var off map[string]any
		if err := safeCall(func() error { off = last.Offset(); return nil }); err != nil {
			return fmt.Errorf("record position: source offset: %w", err)
		}
		if off != nil {
			// Checked here, where the task that made it fails: a position store refuses the
			// whole commit for one offset it cannot write, and every commit after it.
			if _, err := json.Marshal(off); err != nil {
				return fmt.Errorf("record position: source offset is not JSON data: %w", err)
			}
		}
		s.pending[lastKey] = plugins.PartitionPosition{Partition: last.SourcePartition, Offset: off}
		return nil
	}
	for _, r := range b.recs {
		if r == nil || r.SourcePartition == nil {
			continue
		}
		if lastPart == nil || !samePartition(lastPart, r.SourcePartition) {
			if err := store(); err != nil {
				return err
			}
			k, err := partitionKey(r.SourcePartition)
			if err != nil {
				return fmt.Errorf("record position: %w", err)
			}
			lastPart, lastKey = r.SourcePartition, k
		}
		last = r
	}
	return store()
}

// commitRecords tells a RecordCommitter task about every record of a delivered batch, in
// poll order: where its message was stored, or nil metadata when it was dropped or skipped.
func (s *sourceRunner) commitRecords(ctx context.Context, b convertedBatch, results []rmqclient.SendResult) {
	rc := s.task.(plugins.RecordCommitter)
	rsc, batched := s.task.(plugins.RecordsCommitter)
	var recs []*schema.Record
	var mds []*plugins.RecordMetadata
	if batched {
		recs, mds = make([]*schema.Record, 0, len(b.recs)), make([]*plugins.RecordMetadata, 0, len(b.recs))
	}
	ids := make([][]string, len(results))
	now := time.Now()
	for i, r := range b.recs {
		if r == nil {
			continue
		}
		var md *plugins.RecordMetadata
		if w := b.where[i]; w.chunk >= 0 {
			res := results[w.chunk]
			if ids[w.chunk] == nil {
				ids[w.chunk] = res.MsgIDs()
			}
			md = &plugins.RecordMetadata{Topic: res.Queue.Topic, BrokerName: res.Queue.BrokerName, QueueID: res.Queue.QueueID,
				QueueOffset: res.Offset + int64(w.index), Timestamp: now}
			if int(w.index) < len(ids[w.chunk]) {
				md.MsgID = ids[w.chunk][w.index]
			}
		}
		if batched {
			recs, mds = append(recs, r), append(mds, md)
			continue
		}
		if err := safeCall(func() error { return rc.CommitRecord(ctx, r, md) }); err != nil {
			s.log.Warn("CommitRecord failed", "err", err)
		}
	}
	if batched && len(recs) > 0 {
		if err := safeCall(func() error { return rsc.CommitRecords(ctx, recs, mds) }); err != nil {
			s.log.Warn("CommitRecords failed", "err", err)
		}
	}
}

// samePartition compares partition maps of scalar values without encoding them; anything
// else counts as different (and is encoded). Sources often hand one map to every record of
// a partition, so the same map is recognised first without looking inside.
func samePartition(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	if reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer() {
		return true
	}
	for k, av := range a {
		bv, ok := b[k]
		if !ok {
			return false
		}
		switch av.(type) {
		case string, bool, int, int32, int64, float64:
		default:
			return false
		}
		if av != bv {
			return false
		}
	}
	return true
}

// convert applies transforms and converters. A nil message with nil error means the
// record was dropped by a transform. A panic in a transform or converter is returned as
// a *panicError, which fails the task.
func (s *sourceRunner) convert(ctx context.Context, orig *schema.Record) (m *rmqclient.Message, stage, class string, err error) {
	if failure, ok := orig.Extensions[plugins.ExtErrorMessage]; ok {
		return nil, StagePoll, "source", errors.New(failure)
	}
	running := StageTransform
	defer func() {
		if p := recover(); p != nil {
			m, stage, class, err = nil, running, running, newPanicError(running, p)
		}
	}()
	r, err := s.chain.Apply(orig)
	if err != nil {
		return nil, StageTransform, "transforms", err
	}
	if r == nil {
		return nil, "", "", nil
	}
	topic := s.topicOf(r)
	if topic == "" {
		return nil, StageProduce, "worker", errors.New("record has no topic and connect.topicname is not set")
	}
	if !s.validTopics[topic] {
		if !rmqname.Topic(topic) {
			return nil, StageProduce, "worker", fmt.Errorf("topic %q is not a valid RocketMQ topic name", topic)
		}
		s.validTopics[topic] = true
	}
	running = stageConverters
	m, stage, err = s.conv.toMessage(r, topic, &s.stamps)
	if err != nil {
		var fatal error
		err, fatal = waitOutOutage(ctx, s.policy, s.counters, err, func() error {
			var err error
			m, stage, err = s.conv.toMessage(r, topic, &s.stamps)
			return err
		})
		if fatal != nil {
			return nil, stage, stage, &outageError{fmt.Errorf("stage %s: %w", stage, fatal)}
		}
	}
	if err != nil {
		return nil, stage, stage, err
	}
	if s.ordered && m.ShardingKey == "" {
		if q, ok := r.Extensions[plugins.ExtTargetQueue]; ok {
			n, err := strconv.Atoi(q)
			if err != nil || n < 0 {
				return nil, StageProduce, "worker", fmt.Errorf("extension %s=%q is not a queue index", plugins.ExtTargetQueue, q)
			}
			m.QueueHint = n + 1
			return m, "", "", nil
		}
		// Without a key, records of one source partition stay in order on one queue.
		pk, err := partitionKey(orig.SourcePartition)
		if err != nil {
			return nil, StageProduce, "worker", err
		}
		m.ShardingKey = pk
	}
	return m, "", "", nil
}

func (s *sourceRunner) topicOf(r *schema.Record) string {
	if r.Topic != "" {
		return r.Topic
	}
	return s.defaultTopic
}

// send delivers one chunk (one topic) with retries per errors.retry.*; a chunk that still
// fails fails the task (nothing of its poll batch is committed). The fence is asked before
// every attempt, so retries stop once this worker's lease has run out, whatever the retry
// timeout; ctx (the task's work context) also ends then, interrupting a send in flight.
func (s *sourceRunner) send(ctx context.Context, chunk *rmqclient.Batch) (rmqclient.SendResult, error) {
	var res rmqclient.SendResult
	if err := s.checkFence(); err != nil {
		return res, err
	}
	topic := chunk.Topic()
	if err := s.ensureTopic(ctx, topic); err != nil {
		return res, err
	}
	err := sendPolicy(s.policy).retry(ctx, func() error {
		if err := s.checkFence(); err != nil {
			return err
		}
		var err error
		res, err = s.producer.SendBatch(ctx, chunk)
		return err
	}, s.counters.countRetries(rmqclient.IsRetriable))
	if ferr := s.checkFence(); ferr != nil {
		return res, ferr // the lease ran out during the last attempt: that is the reason to report
	}
	if err != nil {
		return res, fmt.Errorf("stage %s: send %d messages to %s: %w", StageProduce, chunk.Len(), topic, err)
	}
	s.counters.recordsWritten.Add(int64(chunk.Len()))
	return res, nil
}

// sendRetryTimeout is how long a source retries a send that fails for a retriable reason when
// errors.retry.timeout is not set: as Kafka's producer (delivery.timeout.ms, 2 minutes), a
// broker restart is outlasted with the task RUNNING rather than failed into the restart
// backoff. sendRetryDelayMax bounds the wait between those attempts, so sending resumes
// within seconds of the broker's return.
const (
	sendRetryTimeout  = 2 * time.Minute
	sendRetryDelayMax = 2 * time.Second
)

// sendPolicy is the retry policy of a source's sends: the connector's, or, when it sets no
// retry timeout, sendRetryTimeout with attempts at most sendRetryDelayMax apart.
func sendPolicy(p errorPolicy) errorPolicy {
	if p.retryTimeout == 0 {
		p.retryTimeout = sendRetryTimeout
		// At least the first delay: errors.retry.delay.max.ms=0 (retries of the connector's own
		// failures do not wait) must not send to a broker that is down back to back.
		p.retryDelayMax = max(min(p.retryDelayMax, sendRetryDelayMax), retryFirstDelay)
	}
	return p
}

// ensureTopic creates a missing target topic when autoCreateTopicEnable is set.
func (s *sourceRunner) ensureTopic(ctx context.Context, topic string) error {
	if s.knownTopics[topic] {
		return nil
	}
	err := ensureTopicQueues(ctx, s.client, topic, s.autoCreate, 4)
	if errors.Is(err, rmqclient.ErrNoRoute) && !s.autoCreate {
		return fmt.Errorf("topic %s does not exist and autoCreateTopicEnable is false", topic)
	}
	if err != nil {
		return fmt.Errorf("topic %s: %w", topic, err)
	}
	s.knownTopics[topic] = true
	if s.onTopic != nil {
		s.onTopic(topic)
	}
	return nil
}

// commit stores pending positions and tells the task. When the store refuses them for good
// (positionsRefused: the task's claim was replaced, or is below positions of a newer
// generation or an offsets change's floor), the task is not told (nothing it sent
// since is stored) and the run commits nothing more: the error, kept in s.refused, is the
// run's.
func (s *sourceRunner) commit(ctx context.Context) error {
	if s.refused != nil {
		return s.refused
	}
	s.pendingMu.Lock()
	if len(s.pending) == 0 {
		s.pendingMu.Unlock()
		return nil
	}
	batch := make([]plugins.PartitionPosition, 0, len(s.pending))
	for _, p := range s.pending {
		batch = append(batch, p)
	}
	clear(s.pending)
	s.pendingMu.Unlock()
	commitStart := time.Now()
	defer func() { s.hist.commitTime.WithLabelValues(s.labels...).Observe(since(commitStart)) }()
	if err := s.positions.Put(s.id.Connector, batch); err != nil {
		s.counters.commitFailures.Add(1)
		if positionsRefused(err) {
			s.refused = fmt.Errorf("commit positions: %w", err)
			return s.refused
		}
		// Put the positions back unless newer ones arrived meanwhile.
		s.pendingMu.Lock()
		for _, p := range batch {
			if k, kerr := partitionKey(p.Partition); kerr == nil {
				if _, newer := s.pending[k]; !newer {
					s.pending[k] = p
				}
			}
		}
		s.pendingMu.Unlock()
		return fmt.Errorf("commit positions: %w", err)
	}
	s.counters.commits.Add(1)
	if err := safeCall(func() error { return s.task.Commit(ctx) }); err != nil {
		s.log.Warn("source task Commit failed", "err", err)
	}
	return nil
}

// rawBody is the best rendering of a record that failed before conversion, for the DLQ.
func rawBody(r *schema.Record) []byte {
	if raw, ok := r.Extensions[plugins.ExtErrorRaw]; ok {
		return []byte(raw)
	}
	switch v := r.Value.(type) {
	case []byte:
		return v
	case string:
		return []byte(v)
	case nil:
		return nil
	default:
		return []byte(fmt.Sprint(v))
	}
}

// failedProps returns the properties and keys a failed source record's DLQ message keeps of
// it: its headers that convert to text, under the names a message of the record would carry
// them (a reserved name, TAGS included, escaped; a KEYS header as the keys), so that the DLQ shows what the
// source gave (the replicator's undecodable messages keep their properties and keys this
// way). Headers that cannot be text are left out: the record failed before its headers
// could be checked.
func failedProps(r *schema.Record) (map[string]string, []string) {
	var props map[string]string
	var keys []string
	for _, h := range r.Headers {
		v, ok, err := headerText(h)
		if err != nil || !ok {
			continue
		}
		switch h.Key {
		case headerKeys:
			keys = strings.Fields(v)
		default:
			if props == nil {
				props = make(map[string]string, len(r.Headers))
			}
			props[headerProperty(h.Key)] = v
		}
	}
	return props, keys
}

func (s *sourceRunner) checkFence() error {
	if s.fence == nil {
		return nil
	}
	return s.fence()
}
