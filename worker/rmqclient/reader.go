package rmqclient

import (
	"context"
	"fmt"
	"sync"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// Reader reads a queue at explicit offsets without joining the topic's consumer groups
// or committing anything: for inspecting a dead-letter queue or rebuilding state. One
// pull consumer per topic is kept for the reader's life (the client library leaks
// goroutines when consumers are started and stopped repeatedly).
type Reader struct {
	c      *Client
	group  string
	mu     sync.Mutex
	pulls  map[string]rocketmq.PullConsumer
	closed bool
}

// NewReader makes a reader whose private consumer group is derived from role.
func (c *Client) NewReader(role string) *Reader {
	return &Reader{c: c, group: "rmqconnect-reader-" + sanitize(c.cfg.Instance+"-"+role), pulls: map[string]rocketmq.PullConsumer{}}
}

func (r *Reader) consumerFor(topic string) (rocketmq.PullConsumer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	if pc, ok := r.pulls[topic]; ok {
		return pc, nil
	}
	pc, err := rocketmq.NewPullConsumer(
		consumer.WithNsResolver(primitive.NewPassthroughResolver(r.c.cfg.NameServers)),
		consumer.WithGroupName(sanitize(r.group+"-"+topic)),
		consumer.WithInstance(r.c.instanceName("reader-"+topic)),
		consumer.WithConsumerModel(consumer.BroadCasting),
		consumer.WithCredentials(credentials(r.c.cfg)),
	)
	if err != nil {
		return nil, fmt.Errorf("reader for %s: %w", topic, err)
	}
	if err := pc.Subscribe(topic, consumer.MessageSelector{}); err != nil {
		_ = safeClose(pc.Shutdown)
		return nil, fmt.Errorf("reader for %s: %w", topic, err)
	}
	if err := pc.Start(); err != nil {
		_ = safeClose(pc.Shutdown)
		return nil, fmt.Errorf("reader for %s: %w", topic, err)
	}
	r.pulls[topic] = pc
	return pc, nil
}

// Read returns up to max messages of q starting at offset, and the offset to read next.
// It never waits for new messages: at the end of the queue it returns what there is.
func (r *Reader) Read(ctx context.Context, q Queue, offset int64, max int) ([]*ReceivedMessage, int64, error) {
	minOff, maxOff, err := r.c.QueueOffsets(ctx, q)
	if err != nil {
		return nil, offset, err
	}
	if offset < minOff {
		offset = minOff
	}
	return r.ReadBelow(ctx, q, offset, maxOff, max)
}

// ReadBelow is Read for a caller that already knows the queue's max offset: it pulls only
// when offset < maxOff, so a reader polling the tail costs one max-offset query per poll.
func (r *Reader) ReadBelow(ctx context.Context, q Queue, offset, maxOff int64, max int) ([]*ReceivedMessage, int64, error) {
	if offset >= maxOff || max <= 0 {
		return nil, offset, nil // pulling at the tail would be held by the broker for ~20s
	}
	pc, err := r.consumerFor(q.Topic)
	if err != nil {
		return nil, offset, err
	}
	mq := &primitive.MessageQueue{Topic: q.Topic, BrokerName: q.BrokerName, QueueId: q.QueueID}
	res, err := func() (res *primitive.PullResult, err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("pull panicked: %v", p)
			}
		}()
		return pc.PullFrom(ctx, mq, offset, min(max, 32))
	}()
	if err != nil {
		return nil, offset, fmt.Errorf("read %s at %d: %w", q, offset, err)
	}
	switch res.Status {
	case primitive.PullFound:
	case primitive.PullOffsetIllegal:
		return nil, res.NextBeginOffset, nil
	default:
		return nil, max64(offset, res.NextBeginOffset), nil
	}
	var out []*ReceivedMessage
	for _, m := range res.GetMessageExts() {
		if m.Queue == nil {
			m.Queue = mq
		}
		rm := convert(m)
		rm.MaxOffset = maxOff
		out = append(out, rm)
	}
	return out, res.NextBeginOffset, nil
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// Close shuts the reader's consumers down.
func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	var first error
	for t, pc := range r.pulls {
		if err := safeClose(pc.Shutdown); err != nil && first == nil {
			first = err
		}
		delete(r.pulls, t)
	}
	return first
}
