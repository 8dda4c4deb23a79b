package rmqclient

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	rmqerrors "github.com/apache/rocketmq-client-go/v2/errors"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
)

// Message is one message to send. Properties must be plain text: the wire format separates
// entries with \x01 and \x02, and the client drops empty keys or values. A property whose
// name RocketMQ reserves (IsSystemProperty: KEYS, TAGS, DELAY, TRAN_MSG, UNIQ_KEY, ...) is
// refused: Keys and Tag set the message's keys and tag.
type Message struct {
	Topic      string
	Body       []byte
	Keys       []string
	Tag        string
	Properties map[string]string
	// ShardingKey, when set on a producer made with HashByKey, picks the queue by a hash of
	// the key, so messages with one key land on one queue and keep their order (as long as
	// the topic's queue count does not change). It also works for batches: a batch goes
	// to the queue of its first message's key.
	ShardingKey string
	// QueueHint, when ShardingKey is empty, picks the queue on a producer made with
	// HashByKey: a hint n > 0 sends to queue (n-1) modulo the topic's queue count (a batch
	// goes to its first message's). Zero means no hint.
	QueueHint int
}

// SendResult says where the broker stored a message, or the first message of a batch
// (the others follow it on the same queue).
type SendResult struct {
	// MsgID is the message's client-side ID; empty for a batch, whose messages carry none.
	MsgID  string
	Queue  Queue
	Offset int64

	brokerIDs string // the broker's IDs of the stored messages, comma-separated
}

// MsgIDs returns the ID a consumer sees for each message stored by the send, in order:
// the client-side ID of a single message, else the broker's IDs of a batch's messages;
// nil when there are none.
func (r SendResult) MsgIDs() []string {
	if r.MsgID != "" {
		return []string{r.MsgID}
	}
	if r.brokerIDs == "" {
		return nil
	}
	return strings.Split(r.brokerIDs, ",")
}

// ProducerOptions tune a producer.
type ProducerOptions struct {
	// Group is the producer group; empty means "rmqconnect-<role>".
	Group string
	// Retries is the number of extra attempts after a transport failure (default 2).
	Retries int
	// HashByKey selects the queue from Message.ShardingKey instead of round robin.
	HashByKey bool
}

// Producer sends messages synchronously. It is safe for concurrent use; each Send blocks
// until the broker answers, the context ends, or the client's 3s transport timeout passes.
type Producer struct {
	p      rocketmq.Producer
	mu     sync.RWMutex
	closed bool

	// build makes a new client-library producer with connections of its own (a fresh
	// instance name), for renew.
	build func() (rocketmq.Producer, error)
	// timeouts counts sends in a row that got no answer in time.
	timeouts atomic.Int32
}

// renewAfterTimeouts is how many sends in a row may get no answer before the producer's
// connections are replaced. A connection over which the broker's answers were lost (a
// one-way partition) stays stalled after the network heals until the broker's TCP
// retransmission timer fires, which after a minute of loss is tens of seconds away: new
// connections answer at once.
const renewAfterTimeouts = 2

// NewProducer builds and starts a producer for one role ("source-task-x-0", "dlq", ...).
func (c *Client) NewProducer(role string, opts ProducerOptions) (*Producer, error) {
	if opts.Group == "" {
		opts.Group = "rmqconnect-" + sanitize(role)
	}
	if opts.Retries <= 0 {
		opts.Retries = 2
	}
	popts := []producer.Option{
		producer.WithNsResolver(primitive.NewPassthroughResolver(c.cfg.NameServers)),
		producer.WithGroupName(sanitize(opts.Group)),
		producer.WithRetry(opts.Retries),
		// Only one-way requests heed it: each synchronous send attempt waits a fixed 3 s (see
		// Config.OperationTimeout).
		producer.WithSendMsgTimeout(c.cfg.OperationTimeout),
		producer.WithCredentials(credentials(c.cfg)),
	}
	if opts.HashByKey {
		popts = append(popts, producer.WithQueueSelector(&keySelector{}))
	}
	build := func() (rocketmq.Producer, error) {
		p, err := rocketmq.NewProducer(append(popts, producer.WithInstanceName(c.instanceName(role)))...)
		if err != nil {
			return nil, fmt.Errorf("new producer %s: %w", role, err)
		}
		if err := p.Start(); err != nil {
			_ = safeClose(p.Shutdown)
			return nil, fmt.Errorf("start producer %s: %w", role, err)
		}
		return p, nil
	}
	p, err := build()
	if err != nil {
		return nil, err
	}
	return &Producer{p: p, build: build}, nil
}

// renew replaces the client-library producer by a new one with connections of its own
// after sends in a row went unanswered; the old one is shut down once no send uses it.
// A failure to build the new one keeps the old (the next timeouts try again).
func (p *Producer) renew() {
	np, err := p.build()
	if err != nil {
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = safeClose(np.Shutdown)
		return
	}
	old := p.p
	p.p = np
	p.timeouts.Store(0)
	p.mu.Unlock()
	_ = safeClose(old.Shutdown)
}

// isTimeout reports whether err is the client library's "no answer in time".
func isTimeout(err error) bool {
	return errors.Is(err, rmqerrors.ErrRequestTimeout) || strings.Contains(err.Error(), rmqerrors.ErrRequestTimeout.Error())
}

func toPrimitive(m *Message) (*primitive.Message, error) {
	if m == nil || m.Topic == "" {
		return nil, fmt.Errorf("%w: message without topic", ErrInvalid)
	}
	pm := primitive.NewMessage(m.Topic, m.Body)
	if len(m.Keys) > 0 {
		pm.WithKeys(m.Keys)
	}
	if m.Tag != "" {
		pm.WithTag(m.Tag)
	}
	for k, v := range m.Properties {
		if IsSystemProperty(k) {
			return nil, errSystemProperty(k)
		}
		pm.WithProperty(k, v)
	}
	if m.ShardingKey != "" {
		pm.WithShardingKey(m.ShardingKey)
		// The client copies the first message's Queue onto a batch, so the key's hash travels
		// in Queue.QueueId and keySelector maps it onto the topic's queues.
		pm.Queue = &primitive.MessageQueue{Topic: m.Topic, QueueId: keyHash(m.ShardingKey)}
	} else if m.QueueHint > 0 {
		pm.Queue = &primitive.MessageQueue{Topic: m.Topic, QueueId: m.QueueHint - 1}
	}
	return pm, nil
}

// errSystemProperty refuses a user property of a name RocketMQ reserves: the broker or the
// client library would act on it (a single message with TRAN_MSG=true is stored as a
// transaction's half message and never delivered, though the send answers SEND_OK).
func errSystemProperty(name string) error {
	return fmt.Errorf("%w: property %s is a RocketMQ system property (the broker acts on it; a user property must have another name)", ErrInvalid, name)
}

// keySelector picks, for a message carrying a key hash or a queue hint n (see toPrimitive),
// the queue at n % len of the topic's writable queues in a fixed order (queueOrder), and
// rotates over the queues for the others. The client library hands the queues over in the
// name server's route order (broker registration or hash order, then reordered by its own
// sort), which differs between name servers and after a broker registers again: a key's
// queue, and the replicator's target queue of a source queue, must depend only on the set
// of queues.
type keySelector struct {
	next atomic.Uint32
	// orders caches, per topic, the ordered copy of the library's last queue list.
	orders sync.Map // topic -> *orderedQueues
}

// orderedQueues is the ordered copy of one queue list of the library, known by its first and
// last elements (the library builds a new list, of new queues, on every route change).
type orderedQueues struct {
	first, last *primitive.MessageQueue
	n           int
	ordered     []*primitive.MessageQueue
}

func (s *keySelector) Select(msg *primitive.Message, mqs []*primitive.MessageQueue, _ string) *primitive.MessageQueue {
	if len(mqs) == 0 {
		return nil
	}
	if msg.Queue != nil && msg.Queue.BrokerName == "" {
		return s.ordered(msg.Topic, mqs)[msg.Queue.QueueId%len(mqs)]
	}
	return mqs[int(s.next.Add(1))%len(mqs)]
}

// ordered returns mqs in queueOrder, from the cache while the library hands over the same
// list (it is shared by concurrent sends, so it is never sorted in place).
func (s *keySelector) ordered(topic string, mqs []*primitive.MessageQueue) []*primitive.MessageQueue {
	if v, ok := s.orders.Load(topic); ok {
		if o := v.(*orderedQueues); o.n == len(mqs) && o.first == mqs[0] && o.last == mqs[len(mqs)-1] {
			return o.ordered
		}
	}
	o := &orderedQueues{first: mqs[0], last: mqs[len(mqs)-1], n: len(mqs), ordered: slices.SortedFunc(slices.Values(mqs), queueOrder)}
	s.orders.Store(topic, o)
	return o.ordered
}

// queueOrder orders a topic's queues by queue id, then broker name: A:0, B:0, A:1, B:1, ...,
// so that consecutive hints (the replicator's source queues) spread over the brokers.
func queueOrder(a, b *primitive.MessageQueue) int {
	return cmp.Or(cmp.Compare(a.QueueId, b.QueueId), strings.Compare(a.BrokerName, b.BrokerName))
}

// Send delivers one message (a lone empty body goes as a batch of one, which the broker
// takes), or a batch of messages that all share one topic (stored as
// one batch on one queue). It never panics; every failure is an error wrapping ErrSend,
// ErrClosed or ErrInvalid.
func (p *Producer) Send(ctx context.Context, msgs ...*Message) (res SendResult, err error) {
	if len(msgs) == 0 {
		return res, fmt.Errorf("%w: nothing to send", ErrInvalid)
	}
	if len(msgs) == 1 && msgs[0] != nil && len(msgs[0].Body) == 0 {
		// The broker refuses a lone message with an empty body (a tombstone, an empty
		// line) on every try, but stores one inside a batch: send it as a batch of one.
		b, err := NewBatch(msgs[0])
		if err != nil {
			return res, err
		}
		if res, err = p.SendBatch(ctx, b); err != nil {
			return res, err
		}
		res.MsgID, res.brokerIDs = res.brokerIDs, "" // the one ID its consumers see
		return res, nil
	}
	pms := make([]*primitive.Message, 0, len(msgs))
	for _, m := range msgs {
		pm, err := toPrimitive(m)
		if err != nil {
			return res, err
		}
		if m.Topic != msgs[0].Topic {
			return res, fmt.Errorf("%w: a batch must share one topic (%s, %s)", ErrInvalid, msgs[0].Topic, m.Topic)
		}
		if len(m.Body) > MaxMessageBytes {
			return res, fmt.Errorf("%w: a body of %d bytes, more than the broker's %d (maxMessageSize)", ErrTooLarge, len(m.Body), MaxMessageBytes)
		}
		pms = append(pms, pm)
	}
	return p.send(ctx, msgs[0].Topic, pms...)
}

// send hands pms to the client library's synchronous send and turns its answer into a
// SendResult or an error wrapping ErrSend or ErrClosed.
func (p *Producer) send(ctx context.Context, topic string, pms ...*primitive.Message) (res SendResult, err error) {
	sr, err := p.sendSync(ctx, pms)
	if err != nil && !errors.Is(err, ErrClosed) && ctx.Err() == nil && isTimeout(err) {
		if p.timeouts.Add(1) >= renewAfterTimeouts {
			p.renew()
		}
	} else if err == nil {
		p.timeouts.Store(0)
	}
	if errors.Is(err, ErrClosed) {
		return res, err
	}
	if err != nil {
		if ctx.Err() != nil {
			return res, fmt.Errorf("%w: %s: %w", ErrSend, topic, ctx.Err())
		}
		return res, fmt.Errorf("%w: %s: %w", ErrSend, topic, err)
	}
	if sr == nil || sr.Status != primitive.SendOK {
		status := "no result"
		if sr != nil {
			status = sendStatus(sr.Status)
		}
		return res, fmt.Errorf("%w: %s: broker answered %s", ErrSend, topic, status)
	}
	res = SendResult{MsgID: sr.MsgID, Offset: sr.QueueOffset, brokerIDs: sr.OffsetMsgID}
	if sr.MessageQueue != nil {
		res.Queue = Queue{Topic: sr.MessageQueue.Topic, BrokerName: sr.MessageQueue.BrokerName, QueueID: sr.MessageQueue.QueueId}
	}
	return res, nil
}

// sendSync is the client library's synchronous send, with its panics turned into errors.
func (p *Producer) sendSync(ctx context.Context, pms []*primitive.Message) (sr *primitive.SendResult, err error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return nil, ErrClosed
	}
	defer func() {
		if r := recover(); r != nil {
			sr, err = nil, fmt.Errorf("%w: client panicked: %v", ErrSend, r)
		}
	}()
	return p.p.SendSync(ctx, pms...)
}

func sendStatus(s primitive.SendStatus) string {
	switch s {
	case primitive.SendOK:
		return "SEND_OK"
	case primitive.SendFlushDiskTimeout:
		return "FLUSH_DISK_TIMEOUT"
	case primitive.SendFlushSlaveTimeout:
		return "FLUSH_SLAVE_TIMEOUT"
	case primitive.SendSlaveNotAvailable:
		return "SLAVE_NOT_AVAILABLE"
	default:
		return fmt.Sprintf("status %d", s)
	}
}

// Close waits for in-flight sends and shuts the producer down. It is idempotent.
func (p *Producer) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	return safeClose(p.p.Shutdown)
}

// IsRetriable reports whether a send error may succeed if tried again later.
func IsRetriable(err error) bool {
	return errors.Is(err, ErrSend) || errors.Is(err, ErrUnreachable) || errors.Is(err, ErrNoRoute)
}
