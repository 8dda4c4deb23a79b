package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// errStoreTopic: a store topic exists with a layout the worker cannot use.
var errStoreTopic = errors.New("store topic")

// storeLog is one worker's view of a single-queue store topic (config, status or
// positions): it appends records and tails the queue with pulls at explicit offsets,
// handing every record to apply exactly once, in offset order. Offsets are the same for
// every reader, so they serve as epochs.
type storeLog struct {
	topic string
	q     storeQueue
	log   *slog.Logger
	idle  time.Duration // poll interval at the tail

	mu      sync.Mutex
	next    int64           // the next offset to apply
	results map[int64]error // what apply said about recent offsets
	last    appliedMark     // the last record applied
	moved   chan struct{}   // closed and replaced whenever next grows
	poke    chan struct{}

	// Rebasing: the reader started after records it needed were deleted (the broker's
	// retention), so it holds records back until a snapshot record gives it a base.
	snap     *snapshotter
	rebasing bool
	held     []heldRecord
}

// snapshotter recognises a store topic's snapshot records: the whole fold as of an offset,
// which a reader whose start was deleted by the broker's retention adopts as its base.
type snapshotter struct {
	// through reports whether body is a snapshot and the offset up to which it covers the topic.
	through func(body []byte) (int64, bool)
	// adopt replaces the fold with the snapshot in body.
	adopt func(body []byte) error
}

type heldRecord struct {
	off  int64
	body []byte
}

// storeQueue is the one queue of a store topic, as storeLog writes and reads it: the broker's
// (brokerQueue) in a worker; an in-memory one in the tests of the coordination logic (claims,
// status folding), so that they run without a broker and under the race detector.
type storeQueue interface {
	// send stores body (with key, "" for none) and returns its offset once it is stored.
	send(ctx context.Context, key string, body []byte) (int64, error)
	// offsets returns the first offset still stored and the next offset to be written.
	offsets(ctx context.Context) (first, next int64, err error)
	// maxOffset returns the next offset to be written.
	maxOffset(ctx context.Context) (int64, error)
	// readBelow returns up to max records from offset from on, all below below, in offset
	// order, and the offset to read from next (past a gap, when nothing below it is left).
	readBelow(ctx context.Context, from, below int64, max int) ([]storeRecord, int64, error)
	close()
}

// storeRecord is one record of a store queue.
type storeRecord struct {
	off  int64
	body []byte
}

// brokerQueue is a store topic's queue on the broker.
type brokerQueue struct {
	topic    string
	queue    rmqclient.Queue
	client   *rmqclient.Client
	producer *rmqclient.Producer
	reader   *rmqclient.Reader
	tail     *rmqclient.Tail
}

func (b *brokerQueue) send(ctx context.Context, key string, body []byte) (int64, error) {
	m := &rmqclient.Message{Topic: b.topic, Body: body}
	if key != "" {
		m.Keys = []string{key}
	}
	res, err := b.producer.Send(ctx, m)
	if err != nil {
		return 0, err
	}
	return res.Offset, nil
}

func (b *brokerQueue) offsets(ctx context.Context) (int64, int64, error) {
	return b.client.QueueOffsets(ctx, b.queue)
}

func (b *brokerQueue) maxOffset(ctx context.Context) (int64, error) { return b.tail.MaxOffset(ctx) }

func (b *brokerQueue) readBelow(ctx context.Context, from, below int64, max int) ([]storeRecord, int64, error) {
	msgs, next, err := b.reader.ReadBelow(ctx, b.queue, from, below, max)
	out := make([]storeRecord, len(msgs))
	for i, m := range msgs {
		out[i] = storeRecord{off: m.Offset, body: m.Body}
	}
	return out, next, err
}

func (b *brokerQueue) close() { _ = b.reader.Close() }

// newStoreLog is the log of topic over q.
func newStoreLog(topic string, q storeQueue, log *slog.Logger) *storeLog {
	return &storeLog{topic: topic, q: q, log: log.With("topic", topic), idle: 50 * time.Millisecond,
		results: map[int64]error{}, moved: make(chan struct{}), poke: make(chan struct{}, 1)}
}

// openStoreLog makes sure topic exists with exactly one queue.
func openStoreLog(ctx context.Context, c *rmqclient.Client, p *rmqclient.Producer, topic string, log *slog.Logger) (*storeLog, error) {
	if err := ensureTopicQueues(ctx, c, topic, true, 1); err != nil {
		return nil, fmt.Errorf("%w %s: %w", errStoreTopic, topic, err)
	}
	qs, err := c.TopicQueues(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", errStoreTopic, topic, err)
	}
	if len(qs) != 1 {
		return nil, fmt.Errorf("%w %s: has %d queues; a store topic needs exactly one so that its records are totally ordered",
			errStoreTopic, topic, len(qs))
	}
	q := &brokerQueue{topic: topic, queue: qs[0], client: c, producer: p, reader: c.NewReader("store-" + topic), tail: c.NewTail(qs[0])}
	return newStoreLog(topic, q, log), nil
}

// append stores body and returns its offset once the broker has it.
func (l *storeLog) append(ctx context.Context, key string, body []byte) (int64, error) {
	off, err := l.q.send(ctx, key, body)
	if err != nil {
		return 0, storeWriteErr(l.topic, err)
	}
	select {
	case l.poke <- struct{}{}:
	default:
	}
	return off, nil
}

// run applies the queue from offset from (clamped to the queue's first offset) until ctx
// ends. apply's error is kept as that offset's result for waitApplied.
//
// When the queue's first offset is above from (records the fold needs were deleted), the
// log rebases: it holds records back until a snapshot record, adopts it, applies the held
// records the snapshot does not cover, and goes on; without any snapshot up to the tail it
// applies what it has and says the state may be incomplete.
func (l *storeLog) run(ctx context.Context, from, minOff int64, snap *snapshotter, apply func(off int64, body []byte) error) {
	l.mu.Lock()
	l.next, l.snap = from, snap
	if minOff > from && snap != nil {
		l.rebasing = true
		l.log.Warn("store topic starts after the records this worker needs (deleted by the broker's retention); "+
			"rebuilding from its first snapshot", "from", from, "first_offset", minOff)
	}
	l.mu.Unlock()
	backoff := l.idle
	for ctx.Err() == nil {
		n, err := l.step(ctx, apply)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			l.log.Warn("store topic read failed; retrying", "err", err, "backoff", backoff)
			backoff = min(backoff*2, 5*time.Second)
		} else {
			backoff = l.idle
		}
		if n > 0 && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
		case <-l.poke:
		case <-time.After(backoff):
		}
	}
}

// step reads and applies one batch; it returns how many records it applied.
func (l *storeLog) step(ctx context.Context, apply func(int64, []byte) error) (int, error) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	maxOff, err := l.q.maxOffset(rctx)
	if err != nil {
		return 0, err
	}
	l.mu.Lock()
	next := l.next
	l.mu.Unlock()
	if next >= maxOff {
		return 0, nil
	}
	msgs, nextOff, err := l.q.readBelow(rctx, next, maxOff, 32)
	if err != nil {
		return 0, err
	}
	applied := 0
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range msgs {
		if m.off < l.next {
			continue
		}
		if m.off > l.next && !l.rebasing {
			l.log.Warn("store topic records missing (deleted by the broker's retention?)", "from", l.next, "to", m.off)
		}
		if l.rebasing {
			l.rebase(m.off, m.body, apply)
		} else {
			l.results[m.off] = apply(m.off, m.body)
			l.last = markOf(m.off, m.body)
		}
		l.next = m.off + 1
		applied++
	}
	if l.rebasing && l.next >= maxOff {
		l.log.Error("store topic has no snapshot after its deleted records; the state rebuilt from what remains may be incomplete",
			"first_offset", func() int64 {
				if len(l.held) > 0 {
					return l.held[0].off
				}
				return l.next
			}())
		for _, h := range l.held {
			l.results[h.off] = apply(h.off, h.body)
			l.last = markOf(h.off, h.body)
		}
		l.held, l.rebasing = nil, false
	}
	if applied == 0 && nextOff > l.next {
		// Nothing readable below nextOff (a gap left by retention): move past it.
		l.next = nextOff
		applied = -1
	}
	if applied != 0 {
		for off := range l.results {
			if off < l.next-1024 {
				delete(l.results, off)
			}
		}
		close(l.moved)
		l.moved = make(chan struct{})
	}
	return max(applied, 0), nil
}

// rebase holds a record back, or adopts it when it is a snapshot and then applies the held
// records it does not cover. l.mu is held.
func (l *storeLog) rebase(off int64, body []byte, apply func(int64, []byte) error) {
	through, ok := l.snap.through(body)
	if !ok {
		l.held = append(l.held, heldRecord{off, body})
		return
	}
	if err := l.snap.adopt(body); err != nil {
		l.log.Error("store topic snapshot unreadable; still looking for one", "offset", off, "err", err)
		l.held = append(l.held, heldRecord{off, body})
		return
	}
	if len(l.held) > 0 && l.held[0].off > through {
		l.log.Error("store topic records between a snapshot and the first retained record were deleted; they are lost",
			"snapshot_through", through, "first_offset", l.held[0].off)
	}
	l.last = markOf(off, body)
	for _, h := range l.held {
		if h.off >= through {
			l.results[h.off] = apply(h.off, h.body)
			l.last = markOf(h.off, h.body)
		}
	}
	l.held, l.rebasing = nil, false
	l.log.Info("store topic rebuilt from a snapshot", "snapshot_offset", off, "through", through)
}

// atomically runs f with the next offset to apply while nothing is applied, so that f can
// copy the fold exactly as of that offset.
func (l *storeLog) atomically(f func(next int64)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f(l.next)
}

// appliedMark identifies a record of a store topic by offset and content digest, so that
// a cache of the fold can tell the topic it was read from from a recreated one.
type appliedMark struct {
	Offset int64  `json:"offset"`
	Digest string `json:"digest"`
}

func markOf(off int64, body []byte) appliedMark {
	sum := sha256.Sum256(body)
	return appliedMark{Offset: off, Digest: hex.EncodeToString(sum[:])}
}

// recordAt reads the record at off (nil when there is none).
func (l *storeLog) recordAt(ctx context.Context, off int64) ([]byte, error) {
	msgs, _, err := l.q.readBelow(ctx, off, off+1, 1)
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		if m.off == off {
			return m.body, nil
		}
	}
	return nil, nil
}

// position returns the next offset to apply.
func (l *storeLog) position() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next
}

// errResultUnknown: a store record's fold result is no longer kept (it was applied long
// before its writer asked) or it was never applied (a gap); its writer must look at the
// state again rather than take the write for a success.
var errResultUnknown = errors.New("store record result unknown")

// waitApplied waits until the record at off has been applied and returns what apply said.
func (l *storeLog) waitApplied(ctx context.Context, off int64) error {
	if err := l.waitPast(ctx, off); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	err, ok := l.results[off]
	if !ok {
		return fmt.Errorf("%s: record %d: %w", l.topic, off, errResultUnknown)
	}
	return err
}

// waitPast waits until every record up to off has been applied.
func (l *storeLog) waitPast(ctx context.Context, off int64) error {
	for {
		l.mu.Lock()
		next, moved := l.next, l.moved
		l.mu.Unlock()
		if next > off {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: record %d not applied yet: %w", l.topic, off, ctx.Err())
		case <-moved:
		}
	}
}

// sync returns once every record stored before the call has been applied.
func (l *storeLog) sync(ctx context.Context) error {
	maxOff, err := l.q.maxOffset(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", l.topic, err)
	}
	if maxOff == 0 {
		return nil
	}
	select {
	case l.poke <- struct{}{}:
	default:
	}
	return l.waitPast(ctx, maxOff-1)
}

func (l *storeLog) close() { l.q.close() }

// storeWriteErr wraps a failed write of a store topic. A failure of the broker (unreachable,
// timed out, refusing) wraps ErrUnavailable as well, so the REST API answers 503 (retry) instead
// of 500; a message the broker could never take (too large, invalid) is a bug and stays as it is.
func storeWriteErr(topic string, err error) error {
	if errors.Is(err, rmqclient.ErrTooLarge) || errors.Is(err, rmqclient.ErrInvalid) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("write %s: %w", topic, err)
	}
	return fmt.Errorf("write %s: %w: %w", topic, restapi.ErrUnavailable, err)
}
