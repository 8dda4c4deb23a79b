package worker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// The sink read loop: a task reads the queues the runtime plans for it with explicit pulls
// (long polling at the tail) and stores in the broker, as the consumer offsets of the
// connector's group, the offset of each queue below which every record was put and
// flushed. A session reads one plan; it ends (and a new one starts) when the topics'
// queues or the connector's task count change, or the task seeks.

const (
	// sinkLongPoll is how long the broker may hold a pull at the tail of a queue.
	sinkLongPoll = 20 * time.Second
	// sinkCommitInterval is how often durable offsets are stored in the broker (and once
	// more when a session ends).
	sinkCommitInterval = 200 * time.Millisecond
	// sinkReplanInterval is how often the topics' queues and the task count are checked.
	sinkReplanInterval = 5 * time.Second
	// sinkPullBackoffMax bounds the wait between pulls that fail (broker unreachable).
	sinkPullBackoffMax = 5 * time.Second
	// sinkFinalCommitTimeout bounds the commit when a session ends.
	sinkFinalCommitTimeout = 5 * time.Second
	// sinkMergeMaxBytes bounds the message bytes of the pulls one Put carries (a single pull
	// may hold more); consumer.batch.size bounds its records.
	sinkMergeMaxBytes = 4 << 20
	// sinkPutGather bounds how long the records of a ConcurrentFlusher's Put gather (see
	// sinkRunner.gatherLocked): far below sinkCommitInterval, which bounds their Flush, and
	// long enough that a task read at a few hundred thousand records a second gets Puts of
	// consumer.batch.size (512 by default) records, where 1 ms gave it Puts of about 330: a
	// plugin's round trip costs about 0.1 ms of CPU time whatever it carries (BenchmarkPut of
	// plugins/external: 0.93 µs of CPU a record across the two processes in Puts of 256
	// records, 0.75 in Puts of 512).
	sinkPutGather = 4 * time.Millisecond
)

// errReplan ends a session so that the next one reads a new plan.
var errReplan = errors.New("sink queues re-planned")

// planQueues returns the queues task reads of a connector with tasks tasks: the topics'
// queues in a fixed order (topic, broker, queue id), the i-th to task i mod tasks. Every
// task computes the same plan from the same inputs, so two tasks of one plan never share a
// queue and each queue has a reader.
func planQueues(all []rmqclient.Queue, task, tasks int) []rmqclient.Queue {
	if tasks < 1 {
		tasks = 1
	}
	sorted := slices.Clone(all)
	sort.Slice(sorted, func(i, j int) bool { return queueLess(sorted[i], sorted[j]) })
	var mine []rmqclient.Queue
	for i, q := range sorted {
		if i%tasks == task {
			mine = append(mine, q)
		}
	}
	return mine
}

func queueLess(a, b rmqclient.Queue) bool {
	if a.Topic != b.Topic {
		return a.Topic < b.Topic
	}
	if a.BrokerName != b.BrokerName {
		return a.BrokerName < b.BrokerName
	}
	return a.QueueID < b.QueueID
}

// queueProgress tracks one queue of a session: batches are handed out in offset order and
// may complete out of order (concurrent sinks); durable advances only over a contiguous
// run of completed batches.
//
// floor is where the session started when that was not the group's stored offset (the task
// named it with ResetOffsets, or the queue had none), else -1: nothing below it is wanted, so
// it may be stored before a PreCommit task confirms anything (see commit).
type queueProgress struct {
	q rmqclient.Queue

	mu        sync.Mutex
	durable   int64           // every record below is put and flushed (or was skipped by a seek)
	committed int64           // stored in the broker; -1: nothing stored by this session
	floor     int64           // see the type's comment
	done      map[int64]int64 // completed batches not yet contiguous: start → end
	pending   map[int64]time.Time
	skipTo    int64     // the broker has no records below it that were not handed out (see skipped)
	maxOffset int64     // the queue's next offset as of the last pull
	lastStore time.Time // store time of the newest record pulled
	// epoch counts the times the queue restarted below the reader (see movedBack); cuts[e] is
	// where it restarted the (e+1)-th time. A batch dispatched in an earlier epoch counts only
	// below the cuts made since.
	epoch int
	cuts  []int64
}

func newQueueProgress(q rmqclient.Queue, start int64, committed bool) *queueProgress {
	p := &queueProgress{q: q, durable: start, committed: -1, floor: start, done: map[int64]int64{}, pending: map[int64]time.Time{},
		maxOffset: start}
	if committed {
		p.committed, p.floor = start, -1
	}
	return p
}

// dispatched notes a batch [start, …) handed to processing, whose first record was stored at
// st, and returns the epoch its completion names.
func (p *queueProgress) dispatched(start int64, st time.Time, maxOffset int64, last time.Time) (epoch int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending[start] = st
	p.observe(maxOffset, last)
	return p.epoch
}

func (p *queueProgress) observe(maxOffset int64, last time.Time) {
	if maxOffset > p.maxOffset {
		p.maxOffset = maxOffset
	}
	if last.After(p.lastStore) {
		p.lastStore = last
	}
}

// completed marks the batch [start, end), dispatched in epoch, durable and advances durable
// over every contiguous completed batch. Of a batch dispatched before the queue restarted
// below the reader, only what lies below where it restarted counts (see movedBack).
func (p *queueProgress) completed(epoch int, start, end int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if epoch != p.epoch {
		cut := p.cutSince(epoch)
		if start >= cut {
			return
		}
		end = min(end, cut)
	}
	p.done[start] = end
	p.advance()
}

// within returns off, of a batch dispatched in epoch, cut to where the queue restarted since
// (see movedBack): what the task was handed of the old queue stands for nothing above it.
func (p *queueProgress) within(epoch int, off int64) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if epoch != p.epoch {
		off = min(off, p.cutSince(epoch))
	}
	return off
}

// cutSince returns the lowest offset the queue restarted at since epoch (an earlier one).
// Called with mu held.
func (p *queueProgress) cutSince(epoch int) int64 { return slices.Min(p.cuts[epoch:]) }

// movedBack notes that the broker's queue restarted at next, below where the reader was (its
// topic deleted and created again, or a replica lacking the newest records took over): the
// records from next on are new ones, which nothing read before stands for. Durable goes back
// to next if it passed it; the batches in flight from next on count no more, and one that
// straddles next counts only below it. A durable offset past next would be stored ahead of the
// new records and a restart would skip them; and no new batch would start where durable
// waited, so it would stay there.
func (p *queueProgress) movedBack(next int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.epoch++
	p.cuts = append(p.cuts, next)
	for start, end := range p.done {
		if start >= next {
			delete(p.done, start)
		} else if end > next {
			p.done[start] = next
		}
	}
	for start := range p.pending {
		if start >= next {
			delete(p.pending, start)
		}
	}
	p.skipTo = min(p.skipTo, next)
	p.durable = min(p.durable, next)
	// The old queue's end and newest store time say nothing of the new one (observe only raises
	// them): kept, the lag would count records that no longer exist until the queue passed the
	// old end.
	p.maxOffset, p.lastStore = next, time.Time{}
	p.advance()
}

// advance moves durable over completed batches and over a gap the broker skipped once no
// batch before the gap is in flight. Called with mu held.
func (p *queueProgress) advance() {
	for {
		if e, ok := p.done[p.durable]; ok {
			delete(p.done, p.durable)
			delete(p.pending, p.durable)
			p.durable = e
			continue
		}
		if p.skipTo <= p.durable || p.inFlightBelow(p.skipTo) {
			return
		}
		p.durable = p.skipTo
	}
}

// inFlightBelow reports whether a batch starting at or after durable and before off is
// still being processed.
func (p *queueProgress) inFlightBelow(off int64) bool {
	for start := range p.pending {
		if start >= p.durable && start < off {
			return true
		}
	}
	return false
}

// skipped notes that the broker no longer has the records from where the reader was up to
// next (they were deleted; the reader goes on from next): with nothing in flight durable
// moves to next at once; else it passes the gap once every batch read before it is durable.
// A queue that restarted lower is movedBack's.
func (p *queueProgress) skipped(next int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pending) == 0 {
		p.durable = next
		return
	}
	p.skipTo = max(p.skipTo, next)
	p.advance()
}

// toCommit returns the offset to store, if it moved since the last commit.
func (p *queueProgress) toCommit() (int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.durable, p.durable != p.committed
}

// moved reports whether off differs from the offset last stored.
func (p *queueProgress) moved(off int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return off != p.committed
}

func (p *queueProgress) stored(off int64) {
	p.mu.Lock()
	p.committed = off
	p.mu.Unlock()
}

// lag returns the records of the queue not yet durable and the age of the oldest of them
// (the store time of its batch when it is in flight, else of the newest record pulled: a
// lower bound on the age of records not pulled yet).
func (p *queueProgress) lag(now time.Time) (records int64, seconds float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	records = p.maxOffset - p.durable
	if records <= 0 {
		return 0, 0
	}
	st, ok := p.pending[p.durable]
	if !ok {
		st = p.lastStore
	}
	if st.IsZero() {
		return records, 0
	}
	return records, max(0, now.Sub(st).Seconds())
}

// queueLag is one queue's lag as the metrics report it.
type queueLag struct {
	queue   string
	records int64
	seconds float64
}

// sinkBatch is one pull's records of one queue: offsets [start, end), dispatched in epoch.
type sinkBatch struct {
	progress   *queueProgress
	epoch      int
	start, end int64
	msgs       []*rmqclient.ReceivedMessage
	pulled     rmqclient.Pulled // released once the batch is processed
}

// readLoop runs sessions until ctx ends (nil) or the task fails (the failure).
func (s *sinkRunner) readLoop(ctx context.Context, pl *rmqclient.Puller) error {
	for {
		err := s.session(ctx, pl)
		if errors.Is(err, errReplan) && ctx.Err() == nil {
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
}

// sinkQueues returns the current queues of the sink's topics.
func (s *sinkRunner) sinkQueues(ctx context.Context) ([]rmqclient.Queue, error) {
	var all []rmqclient.Queue
	for _, t := range s.topics {
		qs, err := s.client.TopicQueues(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("queues of sink topic %s: %w", t, err)
		}
		all = append(all, qs...)
	}
	sort.Slice(all, func(i, j int) bool { return queueLess(all[i], all[j]) })
	return all, nil
}

func (s *sinkRunner) tasksNow() int {
	if s.taskCount == nil {
		return 1
	}
	return max(1, s.taskCount())
}

// session reads one plan until it changes (errReplan), ctx ends or the task fails.
func (s *sinkRunner) session(ctx context.Context, pl *rmqclient.Puller) error {
	all, err := s.sinkQueues(ctx)
	if err != nil {
		return err
	}
	tasks := s.tasksNow()
	mine := planQueues(all, s.id.Task, tasks)
	s.setPlan(mine, nil) // Assignment during Open names the session's queues
	if err := s.openQueues(ctx, mine); err != nil {
		s.setPlan(nil, nil)
		return err
	}
	s.keepSeeks(mine) // after Open: a seek it asked for applies to this session
	progress := make([]*queueProgress, 0, len(mine))
	for _, q := range mine {
		p, err := s.startProgress(ctx, pl, q)
		if err != nil {
			cctx, cancel := context.WithTimeout(context.Background(), sinkFinalCommitTimeout)
			defer cancel()
			if cerr := s.closeQueues(cctx, mine); cerr != nil {
				s.log.Warn("sink task did not close its queues", "err", cerr)
			}
			s.setPlan(nil, nil)
			return err
		}
		progress = append(progress, p)
	}
	s.setPlan(mine, progress)
	defer s.setPlan(nil, nil)

	g, gctx := errgroup.WithContext(ctx)
	shared := make(chan sinkBatch, max(1, len(progress)))
	s.processors = max(1, s.goroutines)
	if s.ordered {
		s.processors = len(progress)
	}
	for _, p := range progress {
		out := shared
		if s.ordered {
			// One reader per queue, each batch processed after the one before it.
			out = make(chan sinkBatch, 1)
			g.Go(func() error { return s.processBatches(gctx, out) })
		}
		g.Go(func() error { return s.pullQueue(gctx, pl, p, out) })
	}
	if !s.ordered {
		for range max(1, s.goroutines) {
			g.Go(func() error { return s.processBatches(gctx, shared) })
		}
	}
	g.Go(func() error {
		t := time.NewTicker(sinkCommitInterval)
		defer t.Stop()
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-t.C:
				s.precommitHeld(s.work)
				s.commit(gctx, pl, progress)
			}
		}
	})
	g.Go(func() error { return s.watchPlan(gctx, all, tasks) })
	g.Go(func() error {
		// A failure outside the processors (a Flush of the flush timer or the commit ticker)
		// ends the session even when no batch arrives to find it.
		select {
		case <-gctx.Done():
			return nil
		case err := <-s.failed:
			return err
		}
	})
	err = g.Wait()
	s.flushRest(s.work) // a ConcurrentFlusher's deferred Flush: the last commit covers it
	cctx, cancel := context.WithTimeout(context.Background(), sinkFinalCommitTimeout)
	defer cancel()
	s.commit(cctx, pl, progress)
	if cerr := s.closeQueues(cctx, mine); cerr != nil {
		if err == nil || errors.Is(err, errReplan) {
			return cerr
		}
		s.log.Warn("sink task did not close its queues", "err", cerr)
	}
	return err
}

// openQueues calls a QueueListener task's Open with the session's queues before any of their
// records are read (a seek it asks for there applies to the session), retrying a retriable
// error as a Flush's is. A task planned no queue is not called.
func (s *sinkRunner) openQueues(ctx context.Context, mine []rmqclient.Queue) error {
	ql, ok := s.task.(plugins.QueueListener)
	if !ok || len(mine) == 0 {
		return nil
	}
	qs := toPluginQueues(mine)
	err := s.policy.retry(ctx, func() error {
		return safeCall(func() error { return ql.Open(ctx, qs) })
	}, s.counters.countRetries(plugins.IsRetriable))
	if err != nil {
		return fmt.Errorf("stage %s: open queues: %w", StagePut, err)
	}
	return nil
}

// closeQueues ends a session's hold on its queues once their last commit is made: a
// QueueListener task's Close (after a Flush or PreCommit in flight), and what the runner
// keeps of them for Flush and PreCommit, so that neither names a queue the task no longer
// reads; a queue planned again is given from where its stored offset resumes.
func (s *sinkRunner) closeQueues(ctx context.Context, mine []rmqclient.Queue) error {
	qs := toPluginQueues(mine)
	s.mu.Lock()
	for s.flushing {
		s.flushDone.Wait()
	}
	for _, q := range qs {
		delete(s.offsets, q)
	}
	s.mu.Unlock()
	s.confirmMu.Lock()
	for _, q := range qs {
		delete(s.confirmed, q)
	}
	s.confirmMu.Unlock()
	ql, ok := s.task.(plugins.QueueListener)
	if !ok || len(qs) == 0 {
		return nil
	}
	if err := safeCall(func() error { return ql.Close(ctx, qs) }); err != nil {
		return fmt.Errorf("stage %s: close queues: %w", StagePut, err)
	}
	return nil
}

func toPluginQueues(qs []rmqclient.Queue) []plugins.Queue {
	out := make([]plugins.Queue, len(qs))
	for i, q := range qs {
		out[i] = toPluginQueue(q)
	}
	return out
}

// keepSeeks drops the seeks (ResetOffsets) of queues outside the session's plan, which the
// task is not reading, and the signal of those made before the session: it applies them.
func (s *sinkRunner) keepSeeks(mine []rmqclient.Queue) {
	select {
	case <-s.reseek:
	default:
	}
	s.assignMu.Lock()
	defer s.assignMu.Unlock()
	for q := range s.seeks {
		if !slices.Contains(mine, rmqclient.Queue(q)) {
			delete(s.seeks, q)
		}
	}
}

// startProgress returns where q is read from: the offset the task asked for (ResetOffsets),
// else the group's committed offset, else the start the connector's config names.
func (s *sinkRunner) startProgress(ctx context.Context, pl *rmqclient.Puller, q rmqclient.Queue) (*queueProgress, error) {
	pq := toPluginQueue(q)
	s.assignMu.Lock()
	off, seek := s.seeks[pq] // kept until an offset at or past it is stored (see commit)
	s.assignMu.Unlock()
	if seek {
		// What the task confirmed or was told of the queue before the seek no longer holds.
		s.mu.Lock()
		s.resetQueueLocked(pq, -1)
		s.mu.Unlock()
		return newQueueProgress(q, off, false), nil // stored at the next commit
	}
	off, found, err := pl.CommittedOffset(ctx, q)
	if err != nil {
		return nil, err
	}
	if found {
		return newQueueProgress(q, off, true), nil
	}
	minOff, maxOff, err := pl.QueueRange(ctx, q)
	if err != nil {
		return nil, err
	}
	if s.from == rmqclient.FromFirst {
		return newQueueProgress(q, minOff, false), nil
	}
	return newQueueProgress(q, maxOff, false), nil
}

// readOnFrom handles the broker's answer that offset from is outside the queue's stored range: the
// reader goes on from the broker's next offset, and records between from and it, deleted before this
// task read them (retention, a forced clean of a full disk), are counted as lost.
//
// Past the queue's end it reads on from Pulled.PastEnd: from its start when the queue started again
// (its topic deleted and created again), which the broker's suggestion, the end, would skip.
func (s *sinkRunner) readOnFrom(p *queueProgress, from int64, res rmqclient.Pulled) int64 {
	next := res.Next
	if from > res.MaxOffset {
		next = res.PastEnd()
	}
	s.log.Warn("sink offset outside the queue's stored range; reading on from the broker's suggestion",
		"queue", p.q.String(), "offset", from, "next", next, "suggested", res.Next, "min", res.MinOffset, "max", res.MaxOffset)
	if next > from {
		s.counters.recordsLost.Add(next - from)
	}
	if next < from {
		p.movedBack(next)
		// What the task was told of the queue, and confirmed, stood for the old queue's
		// records: above next it says nothing of the new ones, which Flush and PreCommit must
		// be told of and confirm afresh (as after a seek: startProgress).
		s.mu.Lock()
		s.resetQueueLocked(toPluginQueue(p.q), next)
		s.mu.Unlock()
	} else {
		p.skipped(next)
	}
	return next
}

// pullQueue reads one queue into out until ctx ends. A failing pull is retried with backoff
// (the broker may be restarting); the fence is asked before every pull.
func (s *sinkRunner) pullQueue(ctx context.Context, pl *rmqclient.Puller, p *queueProgress, out chan<- sinkBatch) error {
	p.mu.Lock()
	next := p.durable
	p.mu.Unlock()
	limit := min(max(s.batchSize, 1), 1024)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		if s.fence != nil {
			if err := s.fence(); err != nil {
				s.fail(err)
				return err
			}
		}
		res, err := pl.Pull(ctx, p.q, next, limit, sinkLongPoll)
		var bad *rmqclient.UndecodableError
		if errors.As(err, &bad) {
			if next, err = s.pastUndecodable(ctx, p, next, res, bad, out); err != nil || ctx.Err() != nil {
				return err
			}
			backoff = 100 * time.Millisecond
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.log.Warn("sink pull failed; retrying", "queue", p.q.String(), "offset", next, "err", err)
			if !sleepCtx(ctx, backoff) {
				return nil
			}
			backoff = min(2*backoff, sinkPullBackoffMax)
			continue
		}
		backoff = 100 * time.Millisecond
		if res.Moved {
			next = s.readOnFrom(p, next, res)
			continue
		}
		if len(res.Messages) == 0 {
			res.Release()
			p.mu.Lock()
			p.observe(res.MaxOffset, time.Time{})
			p.mu.Unlock()
			continue
		}
		if !dispatch(ctx, sinkBatch{progress: p, start: next, end: res.Next, msgs: res.Messages, pulled: res}, out) {
			return nil
		}
		next = res.Next
	}
	return nil
}

// dispatch notes b, a batch of pulled messages, as dispatched by its queue and hands it on
// to out; false, with b's pull released, when ctx ended first.
func dispatch(ctx context.Context, b sinkBatch, out chan<- sinkBatch) bool {
	msgs := b.msgs
	b.epoch = b.progress.dispatched(b.start, msgs[0].StoreTime, b.pulled.MaxOffset, msgs[len(msgs)-1].StoreTime)
	select {
	case out <- b:
		return true
	case <-ctx.Done():
		b.pulled.Release()
		return false
	}
}

// pastUndecodable hands on the messages a pull returned before one the client could not
// decode (no pull gets past it: retried, it would stop the queue for good), then puts that one
// through the error policy at stage CONSUME with its stored bytes: tolerated, the queue reads
// on after it, and its offset becomes durable once the batch before it is; otherwise the task
// fails naming it. It returns the offset to read on from (err nil also when ctx ended).
func (s *sinkRunner) pastUndecodable(ctx context.Context, p *queueProgress, next int64, res rmqclient.Pulled,
	bad *rmqclient.UndecodableError, out chan<- sinkBatch) (int64, error) {
	if len(res.Messages) > 0 {
		if !dispatch(ctx, sinkBatch{progress: p, start: next, end: bad.Offset, msgs: res.Messages, pulled: res}, out) {
			return next, nil
		}
	} else {
		res.Release()
	}
	fr := failedRecord{stage: StageConsume, class: "rocketmq", topic: p.q.Topic, queueID: p.q.QueueID,
		offset: bad.Offset, keys: bad.Keys, body: bad.Body, props: bad.Properties, undecodable: true}
	if s.errs.logsRecords() {
		fr.preview = bodyPreview(bad.Body)
	}
	if rerr := s.errs.report(ctx, fr, bad); rerr != nil {
		if ctx.Err() != nil {
			return next, nil
		}
		s.fail(rerr)
		return next, rerr
	}
	p.skipped(bad.Offset + 1)
	return bad.Offset + 1, nil
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// processBatches processes batches from in until ctx ends, each together with the batches
// already waiting behind it (see gather): once they are put it goes on with the next,
// and the Flush that covers them completes them. A batch taken is processed to the end
// under the task's work context (a re-plan does not interrupt a Put, and the session
// ends only once every Put is flushed); a failure fails the task and ends the session.
func (s *sinkRunner) processBatches(ctx context.Context, in <-chan sinkBatch) error {
	var carry *sinkBatch // taken from in but left out of the last merge: processed next
	defer func() {
		if carry != nil {
			carry.pulled.Release()
		}
	}()
	for {
		var first sinkBatch
		if carry != nil {
			first, carry = *carry, nil
		} else {
			select {
			case <-ctx.Done():
				return nil
			case first = <-in:
			}
		}
		var batches []sinkBatch
		batches, carry = s.gather(first, in)
		msgs := batches[0].msgs
		if len(batches) > 1 {
			msgs = nil
			for _, b := range batches {
				msgs = append(msgs, b.msgs...)
			}
		}
		spans := make([]batchSpan, len(batches))
		for i, b := range batches {
			spans[i] = batchSpan{progress: b.progress, epoch: b.epoch, start: b.start, end: b.end, n: len(b.msgs)}
		}
		err := s.process(s.work, msgs, spans)
		for _, b := range batches {
			b.pulled.Release() // process keeps no pointer to a message
		}
		if err != nil {
			if s.work.Err() != nil && s.currentFailure() == nil {
				return nil // stopping: the batches are read again by the next incarnation
			}
			return err
		}
	}
}

// gather returns first and the batches waiting in in behind it, while their messages stay
// within consumer.batch.size and sinkMergeMaxBytes: they are processed, put and flushed
// together. The batch taken that does not fit is returned as carry. Each queue's batches
// keep their order (an ordered sink's in holds one queue).
func (s *sinkRunner) gather(first sinkBatch, in <-chan sinkBatch) (batches []sinkBatch, carry *sinkBatch) {
	batches = []sinkBatch{first}
	n, size := len(first.msgs), msgBytes(first.msgs)
	limit := max(s.batchSize, 1)
	for n < limit && size < sinkMergeMaxBytes {
		select {
		case b := <-in:
			bs := msgBytes(b.msgs)
			if n+len(b.msgs) > limit || size+bs > sinkMergeMaxBytes {
				return batches, &b
			}
			batches = append(batches, b)
			n, size = n+len(b.msgs), size+bs
		default:
			return batches, nil
		}
	}
	return batches, nil
}

func msgBytes(msgs []*rmqclient.ReceivedMessage) int {
	n := 0
	for _, m := range msgs {
		n += len(m.Body)
	}
	return n
}

// commit stores every queue's durable offset that moved since the last commit. A failure
// is logged and counted; the next commit tries again.
func (s *sinkRunner) commit(ctx context.Context, pl *rmqclient.Puller, progress []*queueProgress) {
	for _, p := range progress {
		off, _ := p.toCommit()
		pq := toPluginQueue(p.q)
		limit, ok := s.commitCap(pq)
		if p.floor >= 0 && (!ok || limit < p.floor) {
			// The session's start may be stored whatever a PreCommit task confirmed: a restart
			// that found no stored offset would read from elsewhere (the group's old offset, or
			// the queue's new end) and skip what the task asked for or was given.
			limit, ok = p.floor, true
		}
		if !ok {
			continue // a PreCommit task confirmed nothing of the queue yet
		}
		if !p.moved(min(off, limit)) {
			continue
		}
		off = min(off, limit)
		if err := pl.CommitOffset(ctx, p.q, off); err != nil {
			if ctx.Err() == nil {
				s.counters.commitFailures.Add(1)
				s.log.Warn("sink offset not stored; the next commit tries again", "queue", p.q.String(), "offset", off, "err", err)
			}
			continue
		}
		p.stored(off)
		if p.floor >= 0 && off >= p.floor {
			s.assignMu.Lock()
			if o, ok := s.seeks[pq]; ok && o == p.floor {
				delete(s.seeks, pq) // stored: a restart reads from the group's offset
			}
			s.assignMu.Unlock()
		}
	}
}

// watchPlan returns errReplan once the topics' queues or the connector's task count differ
// from the session's plan, or the task asked to seek.
func (s *sinkRunner) watchPlan(ctx context.Context, all []rmqclient.Queue, tasks int) error {
	t := time.NewTicker(sinkReplanInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.reseek:
			return errReplan
		case <-t.C:
			if s.tasksNow() != tasks {
				return errReplan
			}
			now, err := s.sinkQueues(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Debug("sink queues not re-checked", "err", err)
				}
				continue
			}
			if !slices.Equal(now, all) {
				return errReplan
			}
		}
	}
}

// setPlan publishes the session's queues (Assignment) and progress (lag metrics).
func (s *sinkRunner) setPlan(mine []rmqclient.Queue, progress []*queueProgress) {
	s.assignMu.Lock()
	defer s.assignMu.Unlock()
	s.assigned = make(map[plugins.Queue]struct{}, len(mine))
	for _, q := range mine {
		s.assigned[toPluginQueue(q)] = struct{}{}
	}
	s.progress = progress
}

// queueLags returns the lag of every queue of the current session.
func (s *sinkRunner) queueLags() []queueLag {
	s.assignMu.Lock()
	progress := s.progress
	s.assignMu.Unlock()
	now := time.Now()
	out := make([]queueLag, 0, len(progress))
	for _, p := range progress {
		r, sec := p.lag(now)
		out = append(out, queueLag{queue: p.q.String(), records: r, seconds: sec})
	}
	return out
}

// totalLag is the task's lag in records, summed over its queues.
func (s *sinkRunner) totalLag() int64 {
	var n int64
	for _, l := range s.queueLags() {
		n += l.records
	}
	return n
}

func toPluginQueue(q rmqclient.Queue) plugins.Queue {
	return plugins.Queue{Topic: q.Topic, BrokerName: q.BrokerName, QueueID: q.QueueID}
}

// taskCount is the number of tasks of the connector's current task configs (the sink
// plan's divisor).
func (rt *connRuntime) taskCount() int {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return len(rt.taskCfgs)
}
