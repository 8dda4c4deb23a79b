package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/transforms"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// sinkRunner runs one sink task: it pulls the queues the runtime plans for it (see
// sink_pull.go) and feeds converters → transforms → Put; a batch's offsets are stored in
// the broker, as the consumer offsets of the connector's group, only after Flush has made
// it durable and everything before it in its queue is durable too.
//
// Puts and flushes are group commits (see process): processors hand converted records
// over; whichever finds no Put running puts everything handed over so far in one call (up
// to consumer.batch.size records) and repeats while more waits, and whichever finds no
// Flush running flushes everything put so far, repeating while Puts ended meanwhile; the
// Flush completes the pulls it covered. Neither call runs under the runner's lock, so
// records keep being handed over during both, and during a Flush a task that allows it
// (plugins.ConcurrentFlusher) gets the next Put. A processor goes on reading once its
// records are put and a Flush will cover them, while fewer than unflushedCap records wait.
// No offset is committed ahead of the Flush that covers it. A task that is not a
// ConcurrentFlusher is flushed as often as it absorbs it, without a timer; a ConcurrentFlusher
// (whose Flush is a round trip of its own, as for an out-of-process plugin) is flushed once
// consumer.batch.size records are put and not flushed, once the oldest of them waited
// flushAfter, or when the session ends (a re-plan), whichever comes first (see flushDue); its
// Puts gather their records for up to putGather first (see gatherLocked). A plugins.PutFlusher
// gets a Put after which a Flush is due and that Flush in one call (see putLocked).
type sinkRunner struct {
	// fence, when set, is asked before every batch: an error (this worker may no longer
	// own the task) fails the task; the batch is redelivered to the task's owner.
	fence func() error
	id    restapi.TaskID
	cfg   map[string]string
	vals  plugins.Values // cfg parsed against the connector's Spec
	task  plugins.SinkTask
	// newTask makes the task object a Start retried after a RetriableError runs on (the SPI
	// starts and stops an object once); nil (tests): the retry starts task again.
	newTask  func() plugins.SinkTask
	chain    *transforms.Chain
	conv     converters
	client   *rmqclient.Client
	errs     *errorReporter
	policy   errorPolicy
	log      *slog.Logger
	counters *taskCounters

	group      string
	topics     []string
	autoCreate bool
	ordered    bool
	hist       *workerMetrics
	labels     []string // worker, connector, task
	// pluginMetrics is the task's plugins.Metrics; the task runtime closes it.
	pluginMetrics *pluginScope
	onTopic       func(topic string)
	from          rmqclient.StartPosition
	batchSize     int
	// goroutines process a concurrent sink's batches (ordered sinks: one per queue).
	goroutines int
	// processors is how many process the current session's pulls (set before they start).
	processors int
	// putGather bounds how long the records of a ConcurrentFlusher's Put gather before it is
	// made (default sinkPutGather; negative: none); see gatherLocked.
	putGather time.Duration
	// taskCount, when set, returns the connector's current number of tasks: the divisor of
	// the queue plan (nil: 1).
	taskCount func() int

	// work is the context of Put, Flush and DLQ writes: it ends when the task is stopped or
	// fenced, so work in flight is interrupted.
	work context.Context

	// mu guards the group commit's state; it is never held during a call to the task.
	mu sync.Mutex
	// toPut is what processors handed over, in order, for the next Put; unflushed is what
	// was put since the last Flush began (unflushedRecs records), in put order.
	toPut         []*putSub
	unflushed     []*putSub
	unflushedRecs int
	// putSeq counts the Puts done; a record is durable once flushedSeq reaches the Put that
	// carried it.
	putSeq     int64
	flushedSeq int64
	putting    bool // a Put runs (or gathers its records)
	gathering  bool // the Put gathers its records: a hand-over that fills it signals gathered
	gathered   chan struct{}
	flushing   bool // a Flush (or PreCommit) runs
	flushDone  *sync.Cond
	// concurrentFlush: the task allows a Flush while a Put runs (plugins.ConcurrentFlusher).
	concurrentFlush bool
	// putFlushes: a Put that makes a Flush due carries it (plugins.PutFlusher).
	putFlushes bool
	// flushAfter bounds how long a ConcurrentFlusher's put records wait for a Flush (default
	// sinkCommitInterval); flushTimer, armed while some wait, flushes them then (flushStale).
	flushAfter time.Duration
	flushTimer *time.Timer
	timerArmed bool
	timerOff   bool                    // the task is stopping: the timer flushes no more
	forceFlush bool                    // the session ends: flush whatever was put (flushRest)
	offsets    map[plugins.Queue]int64 // per queue, the offset after the last record put
	// assigned is the current plan's queues, under its own lock (a leaf): Assignment and
	// ResetOffsets are called from Put, Flush and PreCommit.
	assignMu sync.Mutex
	assigned map[plugins.Queue]struct{}
	seeks    map[plugins.Queue]int64 // offsets asked for by ResetOffsets, applied by the next session
	progress []*queueProgress        // the current session's queues, for lag
	reseek   chan struct{}           // ResetOffsets while a session runs: end it
	failOnce sync.Once
	failed   chan error
	failErr  error

	// confirmed is, for a task that implements PreCommit, the offset of each queue below
	// which the task said its records are durable (the highest it answered); the commit
	// never passes it. Under its own lock: the commit loop reads it while a Put runs.
	confirmMu sync.Mutex
	confirmed map[plugins.Queue]int64
	// resets counts, per queue, the times what the task was told of it stopped holding (a
	// seek, the queue restarting lower); changed with mu held as well, so that the offsets a
	// Flush or PreCommit is given and these counts are read together. An answer to offsets
	// given before a reset confirms nothing of that queue.
	resets map[plugins.Queue]int

	startTimeout time.Duration       // bounds the task's Start; 0: none
	started      func()              // called once the task's Start returned without error; nil: nothing
	files        *plugins.FileAccess // the worker's file confinement, for the task context
	// puller is the task's reader of its queues (set before the first Put): the errant
	// record reporter reads a reported record's message back with it (see original).
	puller atomic.Pointer[rmqclient.Puller]
}

type sinkTaskContext struct {
	r *sinkRunner
}

// Assignment returns the queues the runtime plans for the task now (empty before the
// first plan, during Start). It takes only assignMu (a leaf), so a task may call it from
// Put, Flush or PreCommit.
func (c sinkTaskContext) Assignment() []plugins.Queue {
	c.r.assignMu.Lock()
	defer c.r.assignMu.Unlock()
	out := make([]plugins.Queue, 0, len(c.r.assigned))
	for q := range c.r.assigned {
		out = append(out, q)
	}
	sort.Slice(out, func(i, j int) bool {
		return queueLess(rmqclient.Queue(out[i]), rmqclient.Queue(out[j]))
	})
	return out
}

// ResetOffsets makes the task read the given queues from the given offsets: called from
// Start (a sink that stores its offsets itself names where it resumes), the first read
// starts there; called later, the current batches finish and reading restarts there.
// The offsets are stored as the group's offsets at the next commit. Queues the task is
// not planned to read are ignored.
func (c sinkTaskContext) ResetOffsets(offsets map[plugins.Queue]int64) {
	c.r.assignMu.Lock()
	if c.r.seeks == nil {
		c.r.seeks = map[plugins.Queue]int64{}
	}
	for q, o := range offsets {
		c.r.seeks[q] = o
	}
	c.r.assignMu.Unlock()
	if c.r.reseek != nil {
		select {
		case c.r.reseek <- struct{}{}:
		default:
		}
	}
}

func (c sinkTaskContext) Pause(queues ...plugins.Queue) {
	c.r.log.Warn("sink task asked to pause queues; pause the connector instead", "queues", len(queues))
}

func (c sinkTaskContext) Resume(queues ...plugins.Queue) {}

func (c sinkTaskContext) ErrantRecordReporter() plugins.ErrantRecordReporter {
	return errantReporter(c)
}

func (c sinkTaskContext) Logger() *slog.Logger { return c.r.log }

func (c sinkTaskContext) Config() plugins.Values { return c.r.vals }

// Metrics implements plugins.MetricsProvider.
func (c sinkTaskContext) Metrics() plugins.Metrics { return c.r.pluginMetrics.metrics() }

type errantReporter sinkTaskContext

// Report hands a record the task could not write to the error policy. The DLQ gets the
// message the record came from, as the topic holds it (body, keys, properties), so that a
// replay sends what the sink consumed: it is read back from its queue (original), as the
// pulled messages are reused once converted. A record whose message cannot be read back
// (deleted by the broker's retention, or not one the engine gave the task) goes to the DLQ
// rendered as text and marked ErrHeaderBodyRendered, which a replay refuses.
func (e errantReporter) Report(ctx context.Context, rec *schema.Record, err error) error {
	fr := failedRecord{stage: StagePut, class: "sink", topic: rec.Topic, queueID: rec.QueueID, offset: rec.QueueOffset}
	if e.r.errs.logsRecords() {
		fr.preview = preview(rec.Value)
	}
	if e.r.errs.writesDLQ() {
		m, rerr := e.r.original(ctx, rec)
		switch {
		case rerr == nil:
			fr.topic, fr.keys, fr.body, fr.props = m.topic, m.keys, m.body, m.props
		case errors.Is(rerr, errNoOriginal):
			fr.body, fr.rendered = rawBody(rec), true
			if ctx.Err() == nil {
				e.r.log.Warn("reported record's message not found; the DLQ gets the record rendered as text, not replayable",
					"topic", rec.Topic, "queue", rec.QueueID, "offset", rec.QueueOffset, "reason", rerr)
			}
		default:
			return fmt.Errorf("stage %s: read back the reported record's message (%s queue %d offset %d): %w",
				StagePut, rec.Topic, rec.QueueID, rec.QueueOffset, rerr)
		}
	}
	return e.r.errs.report(ctx, fr, err)
}

// errNoOriginal: the message a reported record came from cannot be read back.
var errNoOriginal = errors.New("no such message in the task's queues")

// originalMessage is what the DLQ keeps of a reported record's message.
type originalMessage struct {
	topic string
	keys  []string
	body  []byte
	props map[string]string
}

// original reads back the message rec was converted from: at rec's broker, queue and offset
// in rec's topic, or, when a transform renamed the topic, in the task's topics whose queue
// the task reads; the message id, when rec has one, must match. Reading it back costs a
// pull per reported record and nothing for the others (keeping every pulled message until
// its Flush would cost every record). errNoOriginal when there is none.
func (s *sinkRunner) original(ctx context.Context, rec *schema.Record) (originalMessage, error) {
	pl := s.puller.Load()
	if pl == nil || rec.QueueID < 0 {
		return originalMessage{}, errNoOriginal
	}
	var candidates []string
	if slices.Contains(s.topics, rec.Topic) {
		candidates = []string{rec.Topic}
	} else if rec.MsgID != "" {
		s.assignMu.Lock()
		for _, t := range s.topics {
			if _, ok := s.assigned[plugins.Queue{Topic: t, BrokerName: rec.BrokerName, QueueID: rec.QueueID}]; ok {
				candidates = append(candidates, t)
			}
		}
		s.assignMu.Unlock()
	}
	for _, t := range candidates {
		q := rmqclient.Queue{Topic: t, BrokerName: rec.BrokerName, QueueID: rec.QueueID}
		res, err := pl.Pull(ctx, q, rec.QueueOffset, 1, 0)
		if err != nil {
			return originalMessage{}, err
		}
		var found *originalMessage
		if len(res.Messages) > 0 {
			// What a message points to stays valid after Release; the message itself does not.
			if m := res.Messages[0]; m.Offset == rec.QueueOffset && (rec.MsgID == "" || m.MsgID == rec.MsgID) {
				found = &originalMessage{topic: t, keys: m.Keys, body: m.Body, props: m.Properties}
			}
		}
		res.Release()
		if found != nil {
			return *found, nil
		}
	}
	return originalMessage{}, errNoOriginal
}

// run starts the task and reads until ctx ends (graceful: flush, stop, nil) or the task
// fails (error returned).
func (s *sinkRunner) run(ctx context.Context, stopTimeout time.Duration) (err error) {
	work, stopWork := workContext(ctx, s.fence)
	defer stopWork()
	s.init(work)
	if err := startTask(work, taskStart{policy: s.policy, counters: s.counters, log: s.log,
		startTimeout: s.startTimeout, stopTimeout: stopTimeout,
		start: func(ctx context.Context) error { return s.task.Start(ctx, sinkTaskContext{s}, s.cfg) },
		stop:  func(ctx context.Context) error { return s.task.Stop(ctx) },
		renew: func() {
			if s.newTask != nil {
				s.task = s.newTask()
			}
		}}); err != nil {
		sctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		_ = safeCall(func() error { return s.task.Stop(sctx) })
		return notStarted(fmt.Errorf("start task: %w", err))
	}
	if s.started != nil {
		s.started()
	}
	for _, t := range s.topics {
		if err := ensureTopicQueues(ctx, s.client, t, s.autoCreate, 4); err != nil {
			s.stopTask(stopTimeout)
			return fmt.Errorf("sink topic %s: %w", t, err)
		}
	}
	pl, err := s.client.NewPuller(s.group)
	if err != nil {
		s.stopTask(stopTimeout)
		return fmt.Errorf("consumer: %w", err)
	}
	s.puller.Store(pl)
	lag := s.totalLag
	s.counters.lag.Store(&lag)
	defer s.counters.lag.Store(nil)
	qlag := s.queueLags
	s.counters.queueLag.Store(&qlag)
	defer s.counters.queueLag.Store(nil)
	runErr := s.readLoop(work, pl)
	s.stopFlushTimer()
	if f := s.currentFailure(); f != nil && !errors.Is(f, errStopping) {
		runErr = f
	}
	switch {
	case ctx.Err() != nil:
		runErr = nil // stopped: work in flight ended because of the stop
	case work.Err() != nil:
		runErr = context.Cause(work) // fenced: that is why the work in flight ended
	}
	s.failOnce.Do(func() { s.markFailed(errStopping) })
	s.stopTask(stopTimeout)
	return runErr
}

// init prepares the runner's state; work is the context of the task's work in flight.
func (s *sinkRunner) init(work context.Context) {
	s.work = work
	s.reseek = make(chan struct{}, 1)
	s.flushDone = sync.NewCond(&s.mu)
	if cf, ok := s.task.(plugins.ConcurrentFlusher); ok {
		_ = safeCall(func() error { s.concurrentFlush = cf.ConcurrentFlush(); return nil })
	}
	if pf, ok := s.task.(plugins.PutFlusher); ok {
		_ = safeCall(func() error { s.putFlushes = pf.PutFlushes(); return nil })
	}
	s.offsets = map[plugins.Queue]int64{}
	s.failed = make(chan error, 1)
	s.gathered = make(chan struct{}, 1)
	if s.putGather == 0 {
		s.putGather = sinkPutGather
	}
	if s.flushAfter <= 0 {
		s.flushAfter = sinkCommitInterval
	}
}

var errStopping = errors.New("task is stopping")

func (s *sinkRunner) stopTask(timeout time.Duration) {
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := safeCall(func() error { return s.task.Stop(sctx) }); err != nil {
		s.log.Warn("sink task stop failed", "err", err)
	}
}

// markFailed records the first failure and wakes the run loop and every waiting handler.
func (s *sinkRunner) markFailed(err error) {
	s.mu.Lock()
	s.failErr = err
	s.flushDone.Broadcast()
	s.mu.Unlock()
	if !errors.Is(err, errStopping) {
		s.failed <- err
	}
}

func (s *sinkRunner) fail(err error) {
	s.failOnce.Do(func() { s.markFailed(err) })
}

// process converts msgs (the pulls spans) and hands the records over for a Put. It returns
// once they are put and a Flush that covers them runs or will run (or, when too many
// records wait for a Flush, once they are flushed); that Flush completes spans, so their
// offsets may be committed. An error fails the task: spans are never completed.
func (s *sinkRunner) process(ctx context.Context, msgs []*rmqclient.ReceivedMessage, spans []batchSpan) error {
	if err := s.currentFailure(); err != nil {
		return err
	}
	if s.fence != nil {
		if err := s.fence(); err != nil {
			s.fail(err)
			return err
		}
	}
	s.counters.recordsRead.Add(int64(len(msgs)))
	if s.onTopic != nil {
		// KIP-558: a topic becomes active when a record of it is consumed (not when the task
		// starts), so a reset stays empty until records of the topic arrive again.
		last := ""
		for _, m := range msgs {
			if t := m.Queue.Topic; t != last {
				s.onTopic(t)
				last = t
			}
		}
	}
	recs := make([]*schema.Record, 0, len(msgs))
	slab := make([]schema.Record, len(msgs)) // one allocation for the batch's records
	for i, m := range msgs {
		r, stage, err := s.convert(m, &slab[i])
		if err != nil {
			var fatal error
			err, fatal = waitOutOutage(ctx, s.policy, s.counters, err, func() error {
				var err error
				r, stage, err = s.convert(m, &slab[i])
				return err
			})
			if fatal != nil {
				fatal = fmt.Errorf("stage %s: %w", stage, fatal)
				s.fail(fatal)
				return fatal
			}
		}
		var pe *panicError
		if errors.As(err, &pe) {
			s.fail(err)
			return err
		}
		if err != nil {
			if rerr := s.errs.report(ctx, s.convFailure(m, stage), err); rerr != nil {
				s.fail(rerr)
				return rerr
			}
			continue
		}
		if r != nil {
			recs = append(recs, r)
		}
	}
	sub := &putSub{recs: recs, n: len(recs), spans: spans, handedAt: time.Now()}
	// msgs are the spans' batches' messages, in order: the first spans[0].n of them are the
	// first batch's, and so on (spans without counts, in tests: none is a batch's).
	j, left := 0, 0
	if len(spans) > 0 {
		left = spans[0].n
	}
	for _, m := range msgs {
		q := plugins.Queue{Topic: m.Queue.Topic, BrokerName: m.Queue.BrokerName, QueueID: m.Queue.QueueID}
		for left == 0 && j < len(spans)-1 {
			j++
			left = spans[j].n
		}
		var (
			progress *queueProgress
			epoch    int
		)
		if left > 0 {
			progress, epoch = spans[j].progress, spans[j].epoch
			left--
		}
		if n := len(sub.ends); n > 0 && sub.ends[n-1].q == q && sub.ends[n-1].progress == progress && sub.ends[n-1].epoch == epoch {
			sub.ends[n-1].next = max(sub.ends[n-1].next, m.Offset+1)
		} else {
			sub.ends = append(sub.ends, queueEnd{q: q, next: m.Offset + 1, progress: progress, epoch: epoch})
		}
		sub.bytes += len(m.Body)
	}
	s.mu.Lock()
	if s.failErr != nil {
		s.mu.Unlock()
		return s.failErr
	}
	if err := ctx.Err(); err != nil {
		s.mu.Unlock()
		return err // stopping or fenced: hand nothing more to the task
	}
	s.toPut = append(s.toPut, sub)
	if s.gathering && s.toPutRecs() >= max(s.batchSize, 1) {
		select {
		case s.gathered <- struct{}{}:
		default:
		}
	}
	for {
		if s.failErr != nil {
			err := s.failErr
			s.mu.Unlock()
			return err
		}
		var err error
		// Whoever puts or flushes goes on until nothing waits for a Put, and no Put ended
		// without a Flush begun after it (or one is running: flushAll repeats).
		switch {
		case len(s.toPut) > 0 && s.canPut():
			err = s.putLocked(ctx)
		case s.putSeq > s.flushedSeq && s.canFlush() && s.flushDue():
			err = s.flushAll(ctx, nil)
		case sub.seq != 0 && s.flushedSeq >= sub.seq:
			s.mu.Unlock()
			return nil
		case sub.seq != 0 && !s.flushDue() && s.pendingRecs() <= s.unflushedCap():
			// Put, and its Flush deferred: a later Put that makes one due, or the timer, or
			// the end of the session flushes the records and completes their pulls.
			s.armFlushTimer()
			s.mu.Unlock()
			return nil
		case (s.putting || sub.seq != 0 && s.flushing) && s.pendingRecs() <= s.unflushedCap():
			// The Put running is followed by another for what waits and then by a Flush; the
			// Flush running repeats until it covers every Put done. So the records are put,
			// flushed and completed meanwhile, and the processor goes on with the next pulls.
			s.mu.Unlock()
			return nil
		default:
			s.flushDone.Wait()
			continue
		}
		if err != nil {
			s.mu.Unlock()
			s.fail(err)
			return err
		}
	}
}

// convFailure describes a message the converters or transforms refused at stage: the DLQ
// keeps it as it is; a preview is rendered only for a log that shows it.
func (s *sinkRunner) convFailure(m *rmqclient.ReceivedMessage, stage string) failedRecord {
	fr := failedRecord{stage: stage, class: stage, topic: m.Queue.Topic, queueID: m.Queue.QueueID, offset: m.Offset,
		keys: m.Keys, body: m.Body, props: m.Properties}
	if s.errs.logsRecords() {
		fr.preview = bodyPreview(m.Body)
	}
	return fr
}

// convert turns a message into a record through the converters and transforms. A panic in
// either is returned as a *panicError, which fails the task.
func (s *sinkRunner) convert(m *rmqclient.ReceivedMessage, slot *schema.Record) (r *schema.Record, stage string, err error) {
	stage = stageConverters
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, newPanicError(stage, p)
		}
	}()
	r, stage, err = s.conv.fromMessage(m, slot)
	if err == nil {
		stage = StageTransform
		r, err = s.chain.Apply(r)
	}
	return r, stage, err
}

func (s *sinkRunner) currentFailure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failErr
}

// sinkTopics parses connect.topicnames (or Kafka's topics), ',' or ';' separated.
func sinkTopics(cfg map[string]string) []string {
	raw := cfg["connect.topicnames"]
	if strings.TrimSpace(raw) == "" {
		raw = cfg["topics"]
	}
	var out []string
	seen := map[string]bool{}
	for _, t := range strings.FieldsFunc(raw, func(r rune) bool { return r == ',' || r == ';' }) {
		if t = strings.TrimSpace(t); t != "" && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}
