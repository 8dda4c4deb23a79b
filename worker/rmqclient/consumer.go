package rmqclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/rmqconnect/rmqconnect/conf/rmqname"
)

// StartPosition says where a consumer group with no stored offset begins.
type StartPosition int

const (
	// FromLast starts at the end of each queue (the broker may still start young queues at 0).
	FromLast StartPosition = iota
	// FromFirst starts at the oldest stored message.
	FromFirst
	// FromTimestamp starts at ConsumerOptions.Timestamp.
	FromTimestamp
)

// ReceivedMessage is a message as delivered to a handler.
type ReceivedMessage struct {
	Queue  Queue
	Offset int64
	MsgID  string
	Keys   []string
	Tag    string
	// Properties are the user properties; broker and client bookkeeping (KEYS, TAGS,
	// UNIQ_KEY, MAX_OFFSET, ...) is read with SysProperty.
	Properties     map[string]string
	Body           []byte
	BornTime       time.Time
	StoreTime      time.Time
	ReconsumeTimes int32
	// MaxOffset is the queue's next offset at the time of the pull: Offset+1 == MaxOffset
	// means this message was the newest when it was fetched.
	MaxOffset int64

	// The system properties: sys (push consumer), or found in rawProps (pulls: every
	// property as stored, name 0x01 value 0x02), so that a pull does not build a map
	// nobody may read.
	sys      map[string]string
	rawProps string
}

// SysProperty returns the system property name (one of the broker's and clients'
// bookkeeping names: KEYS, TAGS, UNIQ_KEY, WAIT, ...) of the message and whether it has it.
// User properties are in Properties.
func (m *ReceivedMessage) SysProperty(name string) (value string, ok bool) {
	if !IsSystemProperty(name) {
		return "", false
	}
	if m.sys != nil {
		value, ok = m.sys[name]
		return value, ok
	}
	forEachProperty(m.rawProps, func(k, v string) {
		if k == name {
			value, ok = v, true // the last one wins, as in a map
		}
	})
	return value, ok
}

// Handler processes a batch. Returning nil acknowledges the whole batch; an error (or a
// panic, which is recovered) has the batch delivered again later.
type Handler func(ctx context.Context, msgs []*ReceivedMessage) error

// ConsumerOptions tune a push consumer.
type ConsumerOptions struct {
	Group  string   // required; must match ^[%|a-zA-Z0-9_-]+$
	Topics []string // required; the topics must exist (CreateTopic) before Start
	// Tag filters by tag expression ("*" or empty means all).
	Tag       string
	From      StartPosition
	Timestamp time.Time
	// Broadcast delivers every message to every consumer of the group, with offsets kept
	// locally; failures are not retried by the broker in this mode.
	Broadcast bool
	// Orderly consumes each queue with one goroutine, in offset order.
	Orderly bool
	// BatchSize is the most messages per handler call (default 1, at most 1024).
	BatchSize int
	// Goroutines bounds concurrent handler calls per topic (default 20).
	Goroutines int
	// RetryDelayLevel picks the broker's redelivery delay for failed batches in clustering
	// mode: 1=1s 2=5s 3=10s 4=30s ... (0 means the broker default, 10s growing).
	RetryDelayLevel int
	// MaxReconsume is how often a message is redelivered before the broker moves it to the
	// group's %DLQ% topic (0 means the client default, 16).
	MaxReconsume int32
	// Instance, when set, is the exact client instance name (so the client id is
	// "<ip>@<Instance>"); otherwise a process-unique name is derived from the role.
	Instance string
	// OnMembers, when set, receives the group's member ids (the part of each client id
	// after '@') on every rebalance whose member set differs from the last one reported.
	// It is called from the client's rebalance goroutine and must not block.
	OnMembers func(members []string)
}

// Consumer is a started push consumer.
type Consumer struct {
	c      rocketmq.PushConsumer
	client *Client
	log    *slog.Logger
	group  string
	// broadcast consumers keep their offsets in a local file, saved synchronously by the
	// client library's shutdown: Close has nothing to store in the broker for them.
	broadcast bool
	mu        sync.Mutex
	closed    bool
}

// NewConsumer subscribes handler to opts.Topics and starts consuming.
func (c *Client) NewConsumer(role string, opts ConsumerOptions, handler Handler) (*Consumer, error) {
	if !rmqname.Topic(opts.Group) {
		return nil, fmt.Errorf("%w: consumer group %q must match %s", ErrInvalid, opts.Group, rmqname.TopicPattern)
	}
	if len(opts.Topics) == 0 {
		return nil, fmt.Errorf("%w: consumer %s has no topic", ErrInvalid, opts.Group)
	}
	if handler == nil {
		return nil, fmt.Errorf("%w: consumer %s has no handler", ErrInvalid, opts.Group)
	}
	instance := opts.Instance
	if instance == "" {
		instance = c.instanceName(role)
	}
	copts := []consumer.Option{
		consumer.WithNsResolver(primitive.NewPassthroughResolver(c.cfg.NameServers)),
		consumer.WithGroupName(opts.Group),
		consumer.WithInstance(instance),
		consumer.WithConsumerOrder(opts.Orderly),
		consumer.WithCredentials(credentials(c.cfg)),
	}
	if opts.OnMembers != nil {
		copts = append(copts, consumer.WithStrategy(membersHook(opts.Topics, opts.OnMembers)))
	}
	if opts.Broadcast {
		copts = append(copts, consumer.WithConsumerModel(consumer.BroadCasting))
	} else {
		copts = append(copts, consumer.WithConsumerModel(consumer.Clustering))
	}
	switch opts.From {
	case FromFirst:
		copts = append(copts, consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	case FromTimestamp:
		copts = append(copts, consumer.WithConsumeFromWhere(consumer.ConsumeFromTimestamp),
			consumer.WithConsumeTimestamp(opts.Timestamp.UTC().Format("20060102150405")))
	default:
		copts = append(copts, consumer.WithConsumeFromWhere(consumer.ConsumeFromLastOffset))
	}
	if opts.BatchSize > 0 {
		copts = append(copts, consumer.WithConsumeMessageBatchMaxSize(min(opts.BatchSize, 1024)))
	}
	if opts.Goroutines > 0 {
		copts = append(copts, consumer.WithConsumeGoroutineNums(opts.Goroutines))
	}
	if opts.MaxReconsume > 0 {
		copts = append(copts, consumer.WithMaxReconsumeTimes(opts.MaxReconsume))
	}
	if !opts.Broadcast {
		// The broker creates the group's retry topic on the first failed message, but the
		// client only starts consuming it at its next 20s rebalance. Creating it first makes
		// redelivery begin after RetryDelayLevel, not after the next rebalance.
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.RouteTimeout)
		err := c.CreateTopic(ctx, TopicSpec{Name: "%RETRY%" + opts.Group, Queues: 1})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("retry topic of %s: %w", opts.Group, err)
		}
	}
	pc, err := rocketmq.NewPushConsumer(copts...)
	if err != nil {
		return nil, fmt.Errorf("new consumer %s: %w", opts.Group, err)
	}
	cons := &Consumer{c: pc, client: c, log: c.log.With("group", opts.Group), group: opts.Group, broadcast: opts.Broadcast}
	sel := consumer.MessageSelector{}
	if opts.Tag != "" && opts.Tag != "*" {
		sel = consumer.MessageSelector{Type: consumer.TAG, Expression: opts.Tag}
	}
	wrapped := cons.wrap(handler, opts)
	for _, t := range opts.Topics {
		if err := pc.Subscribe(t, sel, wrapped); err != nil {
			_ = safeClose(pc.Shutdown)
			return nil, fmt.Errorf("subscribe %s to %s: %w", opts.Group, t, err)
		}
	}
	if err := pc.Start(); err != nil {
		_ = safeClose(pc.Shutdown)
		return nil, fmt.Errorf("start consumer %s on %s: %w", opts.Group, strings.Join(opts.Topics, ","), err)
	}
	return cons, nil
}

// wrap adapts a Handler to the client's callback: it converts messages, recovers panics and
// maps errors to a redelivery.
func (cons *Consumer) wrap(h Handler, opts ConsumerOptions) func(context.Context, ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
	failed := consumer.ConsumeRetryLater
	if opts.Orderly {
		failed = consumer.SuspendCurrentQueueAMoment
	}
	return func(ctx context.Context, msgs ...*primitive.MessageExt) (res consumer.ConsumeResult, err error) {
		defer func() {
			if r := recover(); r != nil {
				cons.log.Error("consumer handler panicked; batch will be redelivered",
					"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				res, err = failed, fmt.Errorf("handler panicked: %v", r)
			}
			if res == failed && opts.RetryDelayLevel > 0 {
				if cc, ok := primitive.GetConcurrentlyCtx(ctx); ok {
					cc.DelayLevelWhenNextConsume = opts.RetryDelayLevel
				}
			}
		}()
		batch := make([]*ReceivedMessage, 0, len(msgs))
		for _, m := range msgs {
			batch = append(batch, convert(m))
		}
		if err := h(ctx, batch); err != nil {
			return failed, err
		}
		return consumer.ConsumeSuccess, nil
	}
}

func convert(m *primitive.MessageExt) *ReceivedMessage {
	rm := &ReceivedMessage{
		Offset:         m.QueueOffset,
		MsgID:          m.MsgId,
		Tag:            m.GetTags(),
		Body:           m.Body,
		BornTime:       time.UnixMilli(m.BornTimestamp),
		StoreTime:      time.UnixMilli(m.StoreTimestamp),
		ReconsumeTimes: m.ReconsumeTimes,
		Properties:     map[string]string{},
	}
	if m.Queue != nil {
		rm.Queue = Queue{Topic: m.Queue.Topic, BrokerName: m.Queue.BrokerName, QueueID: m.Queue.QueueId}
	} else {
		rm.Queue = Queue{Topic: m.Topic, QueueID: -1}
	}
	for k, v := range m.GetProperties() {
		if IsSystemProperty(k) {
			if rm.sys == nil {
				rm.sys = map[string]string{}
			}
			rm.sys[k] = v
			continue
		}
		rm.Properties[k] = v
	}
	if k := m.GetKeys(); k != "" {
		rm.Keys = strings.Fields(k)
	}
	if v, err := strconv.ParseInt(m.GetProperty("MAX_OFFSET"), 10, 64); err == nil {
		rm.MaxOffset = v
	}
	return rm
}

// IsSystemProperty reports whether name is one of the property names RocketMQ brokers and
// clients use for their own bookkeeping (MessageConst in the Java client, plus what the Go
// client adds on pull). Such a property changes how a message is treated (DELAY and the
// TIMER_ ones delay it, TRAN_MSG makes it a transaction's half message that is never
// delivered, UNIQ_KEY replaces its id), and a received one is not a user property: sends
// refuse one in Message.Properties. A switch: a map lookup per property was a tenth of a
// pull's cost.
func IsSystemProperty(name string) bool {
	switch name {
	case "KEYS", "TAGS", "WAIT", "DELAY", "RETRY_TOPIC", "REAL_TOPIC", "REAL_QID", "TRAN_MSG",
		"PGROUP", "MIN_OFFSET", "MAX_OFFSET", "BUYER_ID", "ORIGIN_MESSAGE_ID", "TRANSFER_FLAG",
		"CORRECTION_FLAG", "MQ2_FLAG", "RECONSUME_TIME", "MSG_REGION", "TRACE_ON", "UNIQ_KEY",
		"MAX_RECONSUME_TIMES", "CONSUME_START_TIME", "SHARDING_KEY", "__SHARDINGKEY", "CLUSTER",
		"INNER_NUM", "INNER_BASE", "TRAN_PREPARED_QUEUE_OFFSET", "TRANSACTION_CHECK_TIMES",
		"CHECK_IMMUNITY_TIME_IN_SECONDS", "INSTANCE_ID", "CORRELATION_ID", "REPLY_TO_CLIENT", "TTL",
		"ARRIVE_TIME", "MSG_TYPE", "__STARTDELIVERTIME", "TIMER_DELIVER_MS", "TIMER_DELAY_SEC",
		"TIMER_DELAY_MS", "TIMER_OUT_MS", "TIMER_ENQUEUE_MS", "TIMER_DEQUEUE_MS", "TIMER_ROLL_TIMES",
		"TIMER_DEL_UNIQKEY", "__BORNHOST", "bname", "POP_CK", "1ST_POP_TIME", "DUP_INFO", "CRC32",
		"INNER_MULTI_DISPATCH", "INNER_MULTI_QUEUE_OFFSET", "TRACE_CONTEXT", "DelayLevel":
		return true
	}
	return false
}

// closeCommitTimeout bounds the synchronous offset commit of Close.
const closeCommitTimeout = 5 * time.Second

// Close shuts the consumer down and stores its offsets in the broker: the offset of each
// queue it held, below which every message was acknowledged by the handler (or sent to the
// retry topic). The client library only persists them on shutdown with a one-way request,
// which closing its connection can lose, so Close sends them again and waits for the
// answers (at most 5 s; a failure is logged: the next consumer then re-reads from the last
// offsets stored, at most the library's 5 s persist interval back). Broadcast consumers
// keep their offsets in a local file, which the library saves itself. It is idempotent.
func (cons *Consumer) Close() error {
	cons.mu.Lock()
	defer cons.mu.Unlock()
	if cons.closed {
		return nil
	}
	cons.closed = true
	err := safeClose(cons.c.Shutdown)
	if cons.broadcast {
		return err
	}
	offsets, oerr := consumedOffsets(cons.c)
	if oerr != nil {
		cons.log.Warn("consumer offsets not read at close; relying on the client's one-way persist", "err", oerr)
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeCommitTimeout)
	defer cancel()
	for q, off := range offsets {
		if cerr := cons.client.SetGroupOffset(ctx, cons.group, q, off); cerr != nil {
			cons.log.Warn("consumer offset not stored at close; the next consumer may re-read some messages",
				"queue", q, "offset", off, "err", cerr)
		}
	}
	return err
}

// consumedOffsets reads the offsets the client library holds in memory for the queues of
// pc (what its shutdown persists), from its running info: the library exports the method
// but not the type, so it is read by reflection.
func consumedOffsets(pc rocketmq.PushConsumer) (out map[Queue]int64, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("client running info: %v", r)
		}
	}()
	m := reflect.ValueOf(pc).MethodByName("GetConsumerRunningInfo")
	if !m.IsValid() {
		return nil, errors.New("the client has no GetConsumerRunningInfo")
	}
	info := m.Call([]reflect.Value{reflect.ValueOf(false)})[0]
	if info.Kind() == reflect.Pointer {
		info = info.Elem()
	}
	table := info.FieldByName("MQTable")
	if table.Kind() != reflect.Map {
		return nil, errors.New("the client's running info has no MQTable")
	}
	out = map[Queue]int64{}
	for it := table.MapRange(); it.Next(); {
		mq, ok := it.Key().Interface().(primitive.MessageQueue)
		co := it.Value().FieldByName("CommitOffset")
		if !ok || co.Kind() != reflect.Int64 {
			return nil, errors.New("unexpected shape of the client's running info")
		}
		if off := co.Int(); off >= 0 {
			out[Queue{Topic: mq.Topic, BrokerName: mq.BrokerName, QueueID: mq.QueueId}] = off
		}
	}
	return out, nil
}

// Lag is how many messages of its topics the consumer has not consumed yet, as of its
// last pulls (0 before the first pull).
func (cons *Consumer) Lag() (lag int64) {
	defer func() {
		if recover() != nil {
			lag = 0
		}
	}()
	for _, v := range cons.c.GetOffsetDiffMap() {
		if v > 0 {
			lag += v
		}
	}
	return lag
}
