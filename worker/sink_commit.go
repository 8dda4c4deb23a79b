package worker

// The sink's group commit (see sinkRunner): processors hand converted records over as
// putSubs; whoever finds no Put running puts what waits (putLocked, gathering for a
// ConcurrentFlusher), whoever finds no Flush running flushes (flushLocked); a completed
// Flush confirms the pulls' spans it covers, and only those offsets are committed.

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
)

// pendingRecs is the records handed over and not flushed yet. Called with s.mu held.
func (s *sinkRunner) pendingRecs() int {
	n := s.unflushedRecs
	for _, sub := range s.toPut {
		n += sub.n
	}
	return n
}

// toPutRecs is the records handed over for the next Put. Called with s.mu held.
func (s *sinkRunner) toPutRecs() int {
	n := 0
	for _, sub := range s.toPut {
		n += len(sub.recs)
	}
	return n
}

// unflushedCap is how many records may be handed over and not flushed yet before a
// processor waits instead of reading on.
func (s *sinkRunner) unflushedCap() int { return 4 * max(s.batchSize, 1) }

// putSub is one processor's converted records, handed over for a Put.
type putSub struct {
	recs     []*schema.Record // dropped once put
	n        int              // records
	bytes    int              // message bytes the records came from
	ends     []queueEnd       // per queue, the offset after its last message
	spans    []batchSpan      // the pulls the records came from, completed by the Flush that covers them
	seq      int64            // the Put that carried the records; 0 until then
	putAt    time.Time        // when that Put returned
	handedAt time.Time        // when they were handed over
}

// batchSpan is one pull's offsets [start, end) of a queue, dispatched in epoch (see
// queueProgress.completed).
type batchSpan struct {
	progress   *queueProgress
	epoch      int
	start, end int64
	n          int // its messages: the next n of the msgs process is given
}

type queueEnd struct {
	q    plugins.Queue
	next int64
	// progress and epoch are those of the batch the messages came in (nil in tests): next
	// counts only below where the queue restarted since (queueProgress.within).
	progress *queueProgress
	epoch    int
}

// canPut reports whether a Put may start now. Called with s.mu held.
func (s *sinkRunner) canPut() bool {
	return !s.putting && (s.concurrentFlush || !s.flushing)
}

// canFlush reports whether a Flush may start now: never with another, nor during a Put
// unless the task allows it, and then only once a Put's worth of records waits for one
// (otherwise the Flush after the running Put covers both, in one call less).
// Called with s.mu held.
func (s *sinkRunner) canFlush() bool {
	return !s.flushing && (!s.putting || s.concurrentFlush && s.unflushedRecs >= max(s.batchSize, 1))
}

// putLocked puts, in one call, the records handed over first, while they stay within
// consumer.batch.size records and sinkMergeMaxBytes (at least one hand-over). When a Flush
// is due once they are put and none runs, a PutFlusher's Put carries it: the call's Flush is
// that Flush's first attempt (flushAll). Called with s.mu held, which it releases during the
// calls.
func (s *sinkRunner) putLocked(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err // stopping or fenced: hand nothing more to the task
	}
	s.putting = true
	if err := s.gatherLocked(ctx); err != nil {
		s.putting = false
		s.flushDone.Broadcast()
		return err
	}
	n, size, take := len(s.toPut[0].recs), s.toPut[0].bytes, 1
	for ; take < len(s.toPut); take++ {
		next := s.toPut[take]
		if n+len(next.recs) > max(s.batchSize, 1) || size+next.bytes > sinkMergeMaxBytes {
			break
		}
		n, size = n+len(next.recs), size+next.bytes
	}
	subs := slices.Clone(s.toPut[:take])
	s.toPut = slices.Delete(s.toPut, 0, take)
	// A Put that makes a Flush due carries it when the task can (one round trip instead of
	// two); the Flush is then running until the Put's outcome is known.
	var carried *flushOutcome
	if s.putFlushes && n > 0 && !s.flushing && s.flushDueWith(subs) {
		s.flushing = true
		carried = &flushOutcome{offsets: s.offsetsWith(subs), resets: s.resetsLocked()}
	}
	s.mu.Unlock()
	recs := subs[0].recs
	if len(subs) > 1 {
		recs = make([]*schema.Record, 0, n)
		for _, sub := range subs {
			recs = append(recs, sub.recs...)
		}
	}
	var err error
	if len(recs) > 0 {
		putStart := time.Now()
		err = s.policy.retry(ctx, func() error {
			return safeCall(func() error {
				if carried == nil {
					return s.task.Put(ctx, recs)
				}
				res := s.task.(plugins.PutFlusher).PutFlush(ctx, recs, carried.offsets)
				carried.err, carried.durable = res.FlushErr, res.Durable
				return res.PutErr
			})
		}, s.counters.countRetries(plugins.IsRetriable))
		s.hist.putTime.WithLabelValues(s.labels...).Observe(since(putStart))
		s.hist.putBatchSize.WithLabelValues(s.labels...).Observe(float64(len(recs)))
		if err != nil {
			err = fmt.Errorf("stage %s: %w", StagePut, err)
		} else {
			s.counters.recordsPut.Add(int64(len(recs)))
		}
	}
	s.mu.Lock()
	s.putting = false
	if carried != nil {
		s.flushing = false
	}
	s.flushDone.Broadcast()
	if err != nil {
		return err
	}
	s.putSeq++
	now := time.Now()
	for _, sub := range subs {
		sub.seq, sub.recs, sub.putAt = s.putSeq, nil, now
		s.unflushed = append(s.unflushed, sub)
		s.unflushedRecs += sub.n
		advanceOffsets(s.offsets, sub.ends)
	}
	if carried != nil {
		// The Flush the Put carried is the first attempt of the Flush due now.
		return s.flushAll(ctx, carried)
	}
	return nil
}

// resetsLocked returns a copy of s.resets. Called with s.mu held.
func (s *sinkRunner) resetsLocked() map[plugins.Queue]int {
	s.confirmMu.Lock()
	defer s.confirmMu.Unlock()
	return maps.Clone(s.resets)
}

// resetQueueLocked notes that what the task was told of q stopped holding, and sets what it
// was told and confirmed of q to at most to (deleted when to is negative). Called with s.mu
// held.
func (s *sinkRunner) resetQueueLocked(q plugins.Queue, to int64) {
	if o, ok := s.offsets[q]; ok && (to < 0 || o > to) {
		if to < 0 {
			delete(s.offsets, q)
		} else {
			s.offsets[q] = to
		}
	}
	s.confirmMu.Lock()
	defer s.confirmMu.Unlock()
	if s.resets == nil {
		s.resets = map[plugins.Queue]int{}
	}
	s.resets[q]++
	if c, ok := s.confirmed[q]; ok && (to < 0 || c > to) {
		if to < 0 {
			delete(s.confirmed, q)
		} else {
			s.confirmed[q] = to
		}
	}
}

// advanceOffsets moves offsets past ends.
func advanceOffsets(offsets map[plugins.Queue]int64, ends []queueEnd) {
	for _, e := range ends {
		next := e.next
		if e.progress != nil {
			next = e.progress.within(e.epoch, next)
		}
		if next > offsets[e.q] {
			offsets[e.q] = next
		}
	}
}

// offsetsWith returns the offsets after the records put so far and those of subs. Called
// with s.mu held.
func (s *sinkRunner) offsetsWith(subs []*putSub) map[plugins.Queue]int64 {
	out := maps.Clone(s.offsets)
	for _, sub := range subs {
		advanceOffsets(out, sub.ends)
	}
	return out
}

// flushOutcome is a Flush a PutFlush carried: the offsets it was given and what it answered.
type flushOutcome struct {
	offsets map[plugins.Queue]int64
	resets  map[plugins.Queue]int // s.resets when offsets were read
	err     error
	durable map[plugins.Queue]int64
}

// gatherLocked lets the records of a ConcurrentFlusher's next Put gather while the other
// processors read on, until consumer.batch.size records wait or the first of them waited
// putGather. Such a task's calls are round trips (an out-of-process plugin) whose CPU time is
// largely per call: about 0.1 ms plus half a microsecond per record across the two processes
// (BenchmarkPut of plugins/external), taken from the reading on a small host; fewer, larger
// Puts leave it that time. With a single processor nothing could join, so nothing is gathered. Called with s.mu held and
// s.putting set; s.mu is released while waiting. An error is the task's failure or the end of
// ctx: the records stay handed over and are not put.
func (s *sinkRunner) gatherLocked(ctx context.Context) error {
	if !s.concurrentFlush || s.putGather <= 0 || s.processors <= 1 {
		return nil
	}
	wait := s.putGather - time.Since(s.toPut[0].handedAt)
	if wait <= 0 || s.toPutRecs() >= max(s.batchSize, 1) {
		return nil
	}
	s.gathering = true
	s.mu.Unlock()
	t := time.NewTimer(wait)
	select {
	case <-t.C:
	case <-s.gathered:
	case <-ctx.Done():
	}
	t.Stop()
	s.mu.Lock()
	s.gathering = false
	select {
	case <-s.gathered: // sent after the wait ended
	default:
	}
	if s.failErr != nil {
		return s.failErr
	}
	return ctx.Err()
}

// flushAll flushes until every Put done is covered (at least once) and completes the pulls
// each Flush covered; carried, when not nil, is the first Flush's first attempt, made by the
// last Put. Called with s.mu held, which it releases during the calls.
func (s *sinkRunner) flushAll(ctx context.Context, carried *flushOutcome) error {
	for {
		err := s.flushLocked(ctx, carried)
		carried = nil
		if err != nil {
			if ctx.Err() == nil {
				s.hist.flushFailed(s.labels) // a Flush or PreCommit failed after its retries
			}
			return err
		}
		s.counters.commits.Add(1)
		n := 0
		for _, sub := range s.unflushed {
			if sub.seq > s.flushedSeq {
				break
			}
			for _, sp := range sub.spans {
				sp.progress.completed(sp.epoch, sp.start, sp.end)
			}
			s.unflushedRecs -= sub.n
			n++
		}
		s.unflushed = slices.Delete(s.unflushed, 0, n)
		if s.flushedSeq >= s.putSeq || s.failErr != nil {
			return nil
		}
		if !s.flushDue() {
			s.armFlushTimer() // the Puts that ended meanwhile wait for a due Flush
			return nil
		}
	}
}

// flushDue reports whether the records put and not flushed are to be flushed now: always for a
// task that is not a ConcurrentFlusher; for one that is, once consumer.batch.size of them wait,
// the oldest waited flushAfter, or the session ends. Called with s.mu held.
func (s *sinkRunner) flushDue() bool { return s.flushDueWith(nil) }

// flushDueWith is flushDue once subs are put too. Called with s.mu held.
func (s *sinkRunner) flushDueWith(subs []*putSub) bool {
	n := s.unflushedRecs
	for _, sub := range subs {
		n += sub.n
	}
	if !s.concurrentFlush || s.forceFlush || n >= max(s.batchSize, 1) {
		return true
	}
	for _, sub := range s.unflushed {
		if sub.seq > s.flushedSeq {
			return time.Since(sub.putAt) >= s.flushAfter
		}
	}
	return false
}

// armFlushTimer makes sure a Flush runs within flushAfter for the records put and not
// flushed. Called with s.mu held.
func (s *sinkRunner) armFlushTimer() {
	if s.timerArmed || s.timerOff {
		return
	}
	s.timerArmed = true
	if s.flushTimer == nil {
		s.flushTimer = time.AfterFunc(s.flushAfter, s.flushStale)
		return
	}
	s.flushTimer.Reset(s.flushAfter)
}

// flushStale, the flush timer's function, flushes the records put and not flushed once the
// oldest waited flushAfter (else, or while a Flush or Put excludes one, it waits again). A
// failure fails the task, as a failed Flush after a Put does.
func (s *sinkRunner) flushStale() {
	s.mu.Lock()
	s.timerArmed = false
	if s.timerOff || s.failErr != nil || s.work.Err() != nil || s.putSeq <= s.flushedSeq {
		s.mu.Unlock()
		return
	}
	if !s.flushDue() || !s.canFlush() {
		s.armFlushTimer()
		s.mu.Unlock()
		return
	}
	err := s.flushAll(s.work, nil)
	s.mu.Unlock()
	if err != nil && s.work.Err() == nil {
		s.fail(fmt.Errorf("stage %s: %w", StagePut, err))
	}
}

// flushRest flushes every record put and not flushed yet, once the session's processors
// returned (a re-plan), so that the session's last commit covers them, as it would have
// without the deferral. Called without s.mu.
func (s *sinkRunner) flushRest(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.flushing || s.putting {
		s.flushDone.Wait()
	}
	if s.failErr != nil || ctx.Err() != nil || s.putSeq <= s.flushedSeq {
		return
	}
	s.forceFlush = true
	err := s.flushAll(ctx, nil)
	s.forceFlush = false
	if err != nil && ctx.Err() == nil {
		s.mu.Unlock()
		s.fail(fmt.Errorf("stage %s: %w", StagePut, err))
		s.mu.Lock()
	}
}

// stopFlushTimer ends the flush timer once the task's reading stopped and waits for a Flush it
// started, so that the task's Stop never overlaps one.
func (s *sinkRunner) stopFlushTimer() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timerOff = true
	if s.flushTimer != nil {
		s.flushTimer.Stop()
	}
	for s.flushing {
		s.flushDone.Wait()
	}
}

// flushLocked makes everything put so far durable (Flush, or PreCommit when the task
// implements it); carried, when not nil, is the first attempt, made by the last Put with the
// offsets after it. Called with s.mu held, which it releases during the call.
func (s *sinkRunner) flushLocked(ctx context.Context, carried *flushOutcome) error {
	if err := ctx.Err(); err != nil && (carried == nil || carried.err != nil) {
		return err
	}
	s.flushing = true
	target := s.putSeq
	offsets, resets := maps.Clone(s.offsets), s.resetsLocked()
	s.mu.Unlock()
	err := s.flushTask(ctx, offsets, resets, carried)
	s.mu.Lock()
	s.flushing = false
	if err == nil && target > s.flushedSeq {
		s.flushedSeq = target
	}
	s.flushDone.Broadcast()
	return err
}

// flushTask calls Flush, or PreCommit when the task implements it, with the offsets after
// the records put so far; when carried is not nil, the first attempt was made already (by the
// last Put, with the same offsets) and is only recorded.
func (s *sinkRunner) flushTask(ctx context.Context, offsets map[plugins.Queue]int64, resets map[plugins.Queue]int, carried *flushOutcome) error {
	flushStart := time.Now()
	defer func() { s.hist.commitTime.WithLabelValues(s.labels...).Observe(since(flushStart)) }()
	return s.policy.retry(ctx, func() error {
		if c := carried; c != nil {
			carried = nil
			if _, ok := s.task.(plugins.PreCommitter); ok && c.err == nil {
				s.confirm(c.offsets, c.resets, c.durable)
			}
			return c.err
		}
		return safeCall(func() error {
			if pc, ok := s.task.(plugins.PreCommitter); ok {
				durable, err := pc.PreCommit(ctx, offsets)
				if err == nil {
					s.confirm(offsets, resets, durable)
				}
				return err
			}
			return s.task.Flush(ctx, offsets)
		})
	}, s.counters.countRetries(plugins.IsRetriable))
}

// confirm records a PreCommit answer: for each queue it was given, the offset below which the
// task's records are durable, never past what it was given; a queue missing from the answer
// keeps what the task confirmed before (commit nothing new for it), and so does a queue reset
// since the offsets were given (resets: s.resets then).
func (s *sinkRunner) confirm(given map[plugins.Queue]int64, resets map[plugins.Queue]int, durable map[plugins.Queue]int64) {
	s.confirmMu.Lock()
	defer s.confirmMu.Unlock()
	if s.confirmed == nil {
		s.confirmed = make(map[plugins.Queue]int64, len(given))
	}
	for q, g := range given {
		if s.resets[q] != resets[q] {
			continue // told of the queue as it was before a seek or a restart
		}
		d, ok := durable[q]
		if !ok {
			continue
		}
		if d > g {
			d = g
		}
		if prev, ok := s.confirmed[q]; !ok || d > prev {
			s.confirmed[q] = d
		}
	}
}

// commitCap returns the highest offset of q that may be stored: unlimited (ok, math.MaxInt64)
// for a task without PreCommit, else what the task confirmed; ok is false when a PreCommit
// task confirmed nothing of q yet.
func (s *sinkRunner) commitCap(q plugins.Queue) (int64, bool) {
	if _, ok := s.task.(plugins.PreCommitter); !ok {
		return math.MaxInt64, true
	}
	s.confirmMu.Lock()
	defer s.confirmMu.Unlock()
	c, ok := s.confirmed[q]
	return c, ok
}

// holding reports whether a PreCommit task was given records it has not confirmed yet.
func (s *sinkRunner) holding() bool {
	if _, ok := s.task.(plugins.PreCommitter); !ok {
		return false
	}
	s.mu.Lock()
	given := make(map[plugins.Queue]int64, len(s.offsets))
	for q, o := range s.offsets {
		given[q] = o
	}
	s.mu.Unlock()
	s.confirmMu.Lock()
	defer s.confirmMu.Unlock()
	for q, o := range given {
		if c, ok := s.confirmed[q]; !ok || c < o {
			return true
		}
	}
	return false
}

// precommitHeld asks a PreCommit task again, without new records, what is durable now (a
// task writing asynchronously confirms its last records later). A failure fails the task,
// as a failed flush after a Put does.
func (s *sinkRunner) precommitHeld(ctx context.Context) {
	if !s.holding() {
		return
	}
	s.mu.Lock()
	if s.failErr != nil || !s.canFlush() || ctx.Err() != nil {
		s.mu.Unlock()
		return
	}
	err := s.flushAll(ctx, nil)
	s.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		s.fail(fmt.Errorf("stage %s: %w", StagePut, err))
	}
}
