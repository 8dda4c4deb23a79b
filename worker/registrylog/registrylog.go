package registrylog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/rmqconnect/rmqconnect/schema/registry/server"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

var _ server.Log = (*Log)(nil)

// ErrTopic: the store topic exists with a layout the log cannot use (not exactly one queue).
var ErrTopic = errors.New("schema registry store topic")

// Config configures a Log.
type Config struct {
	// Client reaches RocketMQ (required); the caller closes it after the log.
	Client *rmqclient.Client
	// Topic is the store topic (required); it is created with one queue when missing.
	Topic string
	// Logger receives the log's warnings (slog.Default() when nil).
	Logger *slog.Logger
}

// Log is one reader and writer of the store topic; it implements server.Log. Run must be called once.
type Log struct {
	cfg      Config
	log      *slog.Logger
	queue    rmqclient.Queue
	producer *rmqclient.Producer

	mu      sync.Mutex
	started bool
	running chan struct{}    // closed once Run has found where the queue starts
	next    int64            // the next offset to apply
	pending map[int64][]byte // delivered ahead of next
	moved   chan struct{}    // closed and replaced whenever next grows
	// appended is one past the queue offset of the latest event this log's Append stored. The broker answers a send
	// before it has indexed the message in the queue, so the queue's max offset read right after can still be short
	// of it: Sync waits for this too.
	appended int64
}

// Open makes sure the topic exists with exactly one queue and starts the producer. Close releases it.
func Open(ctx context.Context, cfg Config) (*Log, error) {
	if cfg.Client == nil || cfg.Topic == "" {
		return nil, fmt.Errorf("%w: a client and a topic are required", ErrTopic)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	qs, err := cfg.Client.TopicQueues(ctx, cfg.Topic)
	if errors.Is(err, rmqclient.ErrNoRoute) {
		if err := cfg.Client.CreateTopic(ctx, rmqclient.TopicSpec{Name: cfg.Topic, Queues: 1}); err != nil {
			return nil, fmt.Errorf("%w %s: %w", ErrTopic, cfg.Topic, err)
		}
		qs, err = cfg.Client.TopicQueues(ctx, cfg.Topic)
	}
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrTopic, cfg.Topic, err)
	}
	if len(qs) != 1 {
		return nil, fmt.Errorf("%w %s: has %d queues; the registry needs exactly one so that its events are totally ordered",
			ErrTopic, cfg.Topic, len(qs))
	}
	p, err := cfg.Client.NewProducer("schema-registry", rmqclient.ProducerOptions{})
	if err != nil {
		return nil, fmt.Errorf("schema registry producer: %w", err)
	}
	return &Log{cfg: cfg, log: cfg.Logger.With("topic", cfg.Topic), queue: qs[0], producer: p,
		running: make(chan struct{}), pending: map[int64][]byte{}, moved: make(chan struct{})}, nil
}

// Close stops the producer; call it after Run has returned. It is idempotent.
func (l *Log) Close() error { return l.producer.Close() }

// Append sends event and returns once the broker has stored it. The producer retries an attempt the broker did not
// answer in time, which the broker may have stored all the same: the event may then be in the queue twice, at two
// offsets with other events in between, and each copy is delivered to Run's apply. The registry server applies
// an event once per request id (server.Log).
func (l *Log) Append(ctx context.Context, event []byte) error {
	res, err := l.producer.Send(ctx, &rmqclient.Message{Topic: l.cfg.Topic, Body: event})
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.appended = max(l.appended, res.Offset+1)
	l.mu.Unlock()
	return nil
}

// Run replays the queue from its first offset and follows it, passing each event to apply in offset order, until
// ctx ends; it returns nil then.
func (l *Log) Run(ctx context.Context, apply func(pos int64, event []byte)) error {
	l.mu.Lock()
	if l.started {
		l.mu.Unlock()
		return errors.New("registrylog: Run called twice")
	}
	l.started = true
	l.mu.Unlock()
	minOff, _, err := l.cfg.Client.QueueOffsets(ctx, l.queue)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("schema registry log %s: %w", l.cfg.Topic, err)
	}
	if minOff > 0 {
		// The broker has deleted the oldest events (its file retention): the state replayed lacks them.
		l.log.Error("schema registry log starts after offset 0: older events were deleted by the broker's retention",
			"min_offset", minOff)
	}
	l.mu.Lock()
	l.next = minOff
	close(l.running)
	l.mu.Unlock()

	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	group := l.cfg.Topic
	if len(group) > 100 {
		group = group[:100]
	}
	group += "-reader-" + hex.EncodeToString(suffix[:])
	cons, err := l.cfg.Client.NewConsumer("schema-registry-reader", rmqclient.ConsumerOptions{
		Group: group, Topics: []string{l.cfg.Topic}, Broadcast: true, From: rmqclient.FromFirst,
		Goroutines: 1, BatchSize: 32,
	}, func(_ context.Context, msgs []*rmqclient.ReceivedMessage) error {
		l.deliver(msgs, apply)
		return nil
	})
	if err != nil {
		return fmt.Errorf("schema registry log %s: %w", l.cfg.Topic, err)
	}
	<-ctx.Done()
	if err := cons.Close(); err != nil {
		l.log.Warn("schema registry reader close", "err", err)
	}
	return nil
}

// deliver applies what msgs make contiguous after next; earlier offsets are repeats and are dropped.
func (l *Log) deliver(msgs []*rmqclient.ReceivedMessage, apply func(int64, []byte)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range msgs {
		if m.Offset >= l.next {
			l.pending[m.Offset] = m.Body
		}
	}
	moved := false
	for {
		body, ok := l.pending[l.next]
		if !ok {
			break
		}
		delete(l.pending, l.next)
		apply(l.next, body)
		l.next++
		moved = true
	}
	if moved {
		close(l.moved)
		l.moved = make(chan struct{})
	}
}

// Sync returns once every event this log appended before the call, and every event the queue held when the call
// began, has been applied. An event another Log appended counts once the broker has indexed it, which is certain
// once that Log applied it (its reader reads the index): the registry server answers a write only then.
func (l *Log) Sync(ctx context.Context) error {
	_, maxOff, err := l.cfg.Client.QueueOffsets(ctx, l.queue)
	if err != nil {
		return fmt.Errorf("schema registry log %s: %w", l.cfg.Topic, err)
	}
	l.mu.Lock()
	maxOff = max(maxOff, l.appended)
	l.mu.Unlock()
	select {
	case <-l.running:
	case <-ctx.Done():
		return ctx.Err()
	}
	for {
		l.mu.Lock()
		next, moved := l.next, l.moved
		l.mu.Unlock()
		if next >= maxOff {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-moved:
		}
	}
}
