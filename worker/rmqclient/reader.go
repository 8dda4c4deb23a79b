package rmqclient

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Reader reads a queue at explicit offsets without joining the topic's consumer groups
// or committing anything: for inspecting a dead-letter queue or rebuilding state. Its pulls
// go over the client's kept connections, in a private consumer group per topic.
type Reader struct {
	c      *Client
	group  string
	mu     sync.Mutex
	pulls  map[string]*Puller
	closed bool
}

// NewReader makes a reader whose private consumer group is derived from role.
func (c *Client) NewReader(role string) *Reader {
	return &Reader{c: c, group: "rmqconnect-reader-" + sanitize(c.cfg.Instance+"-"+role), pulls: map[string]*Puller{}}
}

func (r *Reader) pullerFor(topic string) (*Puller, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	if p, ok := r.pulls[topic]; ok {
		return p, nil
	}
	p, err := r.c.NewPuller(sanitize(r.group + "-" + topic))
	if err != nil {
		return nil, fmt.Errorf("reader for %s: %w", topic, err)
	}
	r.pulls[topic] = p
	return p, nil
}

// Read returns up to max messages of q starting at offset (or at the oldest stored
// message, if offset is older), and the offset to read next. It never waits for new
// messages: at the end of the queue it returns what there is. It costs one request, two
// when offset is outside the stored range. A message that cannot be decoded gives an
// *UndecodableError with the messages before it, and its own offset as the next one.
func (r *Reader) Read(ctx context.Context, q Queue, offset int64, max int) ([]*ReceivedMessage, int64, error) {
	if max <= 0 {
		return nil, offset, nil
	}
	p, err := r.pullerFor(q.Topic)
	if err != nil {
		return nil, offset, err
	}
	res, err := p.Pull(ctx, q, offset, min(max, 32), 0)
	if err != nil {
		return readFailed(res, q, offset, err)
	}
	if res.Moved {
		if offset >= res.MaxOffset || res.Next <= offset {
			return nil, max64(offset, min(res.Next, res.MaxOffset)), nil
		}
		if res, err = p.Pull(ctx, q, res.Next, min(max, 32), 0); err != nil {
			return readFailed(res, q, offset, err)
		}
	}
	return res.Messages, res.Next, nil
}

// readFailed is Read's answer to a failed pull of q at offset: the messages before an
// undecodable one with its offset as the next, else nothing and offset.
func readFailed(res Pulled, q Queue, offset int64, err error) ([]*ReceivedMessage, int64, error) {
	err = fmt.Errorf("read %s at %d: %w", q, offset, err)
	if errors.Is(err, ErrUndecodable) {
		return res.Messages, res.Next, err
	}
	return nil, offset, err
}

// ReadBelow is Read for a caller that already knows the queue's max offset: it pulls only
// when offset < maxOff, and each message's MaxOffset is maxOff.
func (r *Reader) ReadBelow(ctx context.Context, q Queue, offset, maxOff int64, max int) ([]*ReceivedMessage, int64, error) {
	if offset >= maxOff || max <= 0 {
		return nil, offset, nil
	}
	msgs, next, err := r.Read(ctx, q, offset, max)
	for _, m := range msgs {
		m.MaxOffset = maxOff
	}
	return msgs, next, err
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// Close makes the reader refuse further reads; its connections are the client's.
func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	return nil
}

// Pull is Read for a caller that handles an offset outside the queue's stored range itself:
// it returns the broker's answer as it is — with Moved, the broker's suggested Next and the
// queue's range, and nothing read — where Read reads on from the suggestion. Each message's
// MaxOffset is the queue's end as the broker answered. One request. An *UndecodableError
// comes with the messages before the undecodable one, as from Puller.Pull.
func (r *Reader) Pull(ctx context.Context, q Queue, offset int64, max int) (Pulled, error) {
	if max <= 0 {
		return Pulled{Next: offset}, nil
	}
	p, err := r.pullerFor(q.Topic)
	if err != nil {
		return Pulled{Next: offset}, err
	}
	res, err := p.Pull(ctx, q, offset, min(max, 32), 0)
	if err != nil {
		return res, fmt.Errorf("read %s at %d: %w", q, offset, err)
	}
	return res, nil
}
