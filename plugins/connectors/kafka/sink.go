package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
)

// SinkName is the registered name of the Kafka sink.
const SinkName = "kafka-sink"

// SinkAliases are other names kafka-sink is registered under.
var SinkAliases = []string{"org.apache.rocketmq.connect.kafka.connector.KafkaSinkConnector"}

// Configuration keys of kafka-sink (besides the connection keys).
const (
	KeyTargetTopic    = "kafka.topic"
	KeyCompression    = "kafka.compression.type"
	KeyLinger         = "kafka.linger"
	KeyBatchMaxBytes  = "kafka.batch.max.bytes"
	KeyMaxBuffered    = "kafka.max.buffered.records"
	flushWarnInterval = 30 * time.Second
	// accessCheckAfter is how long Flush waits for acknowledgements before it first asks whether the
	// cluster lets the task in (then every accessCheckEvery).
	accessCheckAfter = time.Second
	// limitRetryEvery spaces the reads of a topic's config that failed for a transient reason.
	limitRetryEvery = 10 * time.Second
	// defaultMessageMax is Kafka's default message.max.bytes, used when a topic's limit cannot be read.
	defaultMessageMax = 1048588
)

var sinkSpec = plugins.MustConfigSpec(append(connectionFields(),
	plugins.Field{Name: KeyTargetTopic, Type: plugins.TypeString, Default: "",
		Doc: "Kafka topic every record is written to; empty: topic.rename.format applied to the record's RocketMQ topic."},
	plugins.Field{Name: KeyTopicRename, Type: plugins.TypeString, Default: topicPlaceholder,
		Doc: "Kafka topic of a record when kafka.topic is empty (it may not be empty then); ${topic} stands for the RocketMQ topic it came from."},
	plugins.Field{Name: KeyCompression, Type: plugins.TypeString, Default: "none", Aliases: []string{"compression.type"},
		Validators: []plugins.Validator{plugins.OneOf("none", "gzip", "snappy", "lz4", "zstd")},
		Doc:        "Compression of the record batches written."},
	plugins.Field{Name: KeyLinger, Type: plugins.TypeDuration, Default: 10 * time.Millisecond, Aliases: []string{"linger.ms"},
		Validators: []plugins.Validator{plugins.DurationBetween(0, time.Minute)},
		Doc:        "How long a partition's batch may wait for more records before it is sent. The runtime flushes after every Put, which sends at once, so a linger only gathers the records of one Put into fewer requests."},
	plugins.Field{Name: KeyBatchMaxBytes, Type: plugins.TypeInt, Default: 1000012, Aliases: []string{"batch.size"},
		Validators: []plugins.Validator{plugins.Between(1024, maxBrokerBytes)},
		Doc:        "Most bytes of one record batch before compression, at most 100 MiB; lowered to each topic's max.message.bytes, so a record too large for its topic is refused alone, before it is sent."},
	plugins.Field{Name: KeyMaxBuffered, Type: plugins.TypeInt, Default: 10000, Validators: []plugins.Validator{plugins.Between(1, 1000000)},
		Doc: "Most records buffered in the producer; Put blocks beyond it until Kafka acknowledges some."},
)...)

// SinkConnector is kafka-sink.
type SinkConnector struct {
	cfg map[string]string
}

// NewSinkConnector returns an unstarted kafka-sink connector.
func NewSinkConnector() *SinkConnector { return &SinkConnector{} }

var _ plugins.SinkConnector = (*SinkConnector)(nil)

// Spec declares the keys of kafka-sink.
func (c *SinkConnector) Spec() *plugins.ConfigSpec { return sinkSpec }

// Validate checks the connection rules and the rename format, which must not be empty when it names
// the records' topics (kafka.topic empty): every record would have an empty Kafka topic.
func (c *SinkConnector) Validate(cfg map[string]string) error {
	v, err := sinkSpec.Parse(cfg)
	if err != nil {
		return err
	}
	errs := checkConnection(v)
	format := v.String(KeyTopicRename)
	if err := renameFormat(KeyTopicRename, format); err != nil {
		errs = append(errs, err.(*cfgerr.Error))
	}
	if format == "" && v.String(KeyTargetTopic) == "" {
		errs = append(errs, invalid(KeyTopicRename, format, "empty: every record would have an empty kafka topic; set it (default "+
			topicPlaceholder+") or "+KeyTargetTopic))
	}
	return asError(errs)
}

// Start keeps the configuration; the tasks connect.
func (c *SinkConnector) Start(_ context.Context, _ plugins.ConnectorContext, cfg map[string]string) error {
	c.cfg = cfg
	return nil
}

// TaskConfigs gives every task the connector's configuration; RocketMQ splits the queues among them.
func (c *SinkConnector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	return plugins.IdenticalTaskConfigs(c.cfg, maxTasks), nil
}

// Stop has nothing to release.
func (c *SinkConnector) Stop(context.Context) error { return nil }

// NewSinkTask returns an unstarted kafka-sink task.
func (c *SinkConnector) NewSinkTask() plugins.SinkTask { return &SinkTask{} }

// SinkTask writes records with an idempotent producer (acks from all in-sync replicas, retried without
// limit, so a broker that is down only delays the records and a retry never duplicates or reorders
// them; a topic that does not exist is asked to be created, which the brokers may refuse). Put hands
// records to the producer; Flush returns once Kafka acknowledged every one of them, so the engine
// commits RocketMQ offsets only for records that are in Kafka. A record without a Kafka topic, or one
// Kafka refuses for itself (too large for its topic, invalid), goes to the engine's error policy (DLQ or
// failure); any other refusal fails the task, and so do credentials or permissions Kafka refuses while
// Flush waits (ErrUnauthorized), which the producer would otherwise retry in silence.
//
// Kafka refuses a record by refusing its whole batch, and the producer then fails every record it holds
// for that partition, good ones included. So the refused records are written again one at a time, in
// order, and only those refused on their own go to the error policy (settle). Put stops handing records
// to the producer once a refusal is seen, so the records after it wait for that; only a record handed
// over in the instant between the refusal and its report can precede the ones written again.
type SinkTask struct {
	log      *slog.Logger
	tctx     plugins.SinkTaskContext
	vals     plugins.Values
	client   *kgo.Client
	adm      *kadm.Client // on client: the metadata requests of checkAccess
	fixed    string
	format   string
	limits   *topicLimits
	topicFor map[string]string
	written  map[string]bool // Kafka topics of the records handed to the producer since the last settle

	mu       sync.Mutex
	failed   []failure   // records Kafka refused since the last settle, in completion order
	refused  atomic.Bool // failed holds a record refused for a record fault
	inflight inflight    // records handed to the producer that it has not called back yet

	// stopOnce closes the clients once; client and limits are not changed after Start, as Stop may run
	// while Put or Flush does.
	stopOnce sync.Once
}

type failure struct {
	rec *schema.Record
	err error
}

var _ plugins.SinkTask = (*SinkTask)(nil)

// Start opens the producer.
func (t *SinkTask) Start(ctx context.Context, tctx plugins.SinkTaskContext, cfg map[string]string) error {
	t.log, t.tctx, t.vals = tctx.Logger(), tctx, tctx.Config()
	t.fixed, t.format = t.vals.String(KeyTargetTopic), t.vals.String(KeyTopicRename)
	t.topicFor, t.written = map[string]string{}, map[string]bool{}
	opts, err := clientOptions(t.vals, t.log)
	if err != nil {
		return err
	}
	// The admin client reads each topic's max.message.bytes when Put first meets the topic.
	admClient, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	t.limits = &topicLimits{adm: kadm.NewClient(admClient), closer: admClient, max: int32(t.vals.Int(KeyBatchMaxBytes)),
		timeout: t.vals.Duration(KeyRequestTimeout), retryEvery: limitRetryEvery, log: t.log, byTopic: map[string]int32{},
		retryPut: map[string]time.Time{}, retryProducer: map[string]time.Time{}}
	codec := map[string]kgo.CompressionCodec{"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(),
		"snappy": kgo.SnappyCompression(), "lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression()}[t.vals.String(KeyCompression)]
	opts = append(opts,
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerLinger(t.vals.Duration(KeyLinger)),
		kgo.ProducerBatchMaxBytesFn(t.limits.of),
		kgo.MaxBufferedRecords(t.vals.Int(KeyMaxBuffered)),
		// As Kafka's Java producer does; the brokers decide (auto.create.topics.enable).
		kgo.AllowAutoTopicCreation(),
	)
	client, err := kgo.NewClient(opts...)
	if err != nil {
		admClient.Close()
		t.limits = nil
		return fmt.Errorf("kafka client: %w", err)
	}
	t.client, t.adm = client, kadm.NewClient(client)
	return nil
}

// topicOf is the Kafka topic of a record from RocketMQ topic rt.
func (t *SinkTask) topicOf(rt string) string {
	if t.fixed != "" {
		return t.fixed
	}
	k, ok := t.topicFor[rt]
	if !ok {
		k = rename(t.format, rt)
		t.topicFor[rt] = k
	}
	return k
}

// Put hands the records to the producer in order; it blocks while kafka.max.buffered.records are
// unacknowledged. A record whose key, value or headers cannot be written, or whose Kafka topic comes out
// empty (a transform left it without a RocketMQ topic), goes to the error policy. Once
// Kafka refused a record for itself, Put settles that (see settle) before it hands over the next one.
func (t *SinkTask) Put(ctx context.Context, records []*schema.Record) error {
	if t.client == nil {
		return ErrNotStarted
	}
	for _, r := range records {
		if t.refused.Load() {
			if err := t.settle(ctx); err != nil {
				return err
			}
		}
		kr, err := t.kafkaRecord(r)
		if err != nil {
			if rerr := t.tctx.ErrantRecordReporter().Report(ctx, r, err); rerr != nil {
				return rerr
			}
			continue
		}
		// Read the topic's limit here, before the producer asks for it from its metadata loop.
		t.limits.load(ctx, kr.Topic)
		t.produce(ctx, r, kr)
	}
	return nil
}

// produce hands kr, built from r, to the producer, counting it in t.inflight until the producer calls
// back; a refusal is kept for settle before the count drops.
func (t *SinkTask) produce(ctx context.Context, r *schema.Record, kr *kgo.Record) {
	t.written[kr.Topic] = true
	t.inflight.add()
	t.client.Produce(ctx, kr, func(_ *kgo.Record, err error) {
		if err != nil {
			t.mu.Lock()
			t.failed = append(t.failed, failure{r, err})
			if recordFault(err) {
				t.refused.Store(true)
			}
			t.mu.Unlock()
		}
		t.inflight.done()
	})
}

func (t *SinkTask) kafkaRecord(r *schema.Record) (*kgo.Record, error) {
	key, err := headerBytes(r.Key)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	val, err := headerBytes(r.Value)
	if err != nil {
		return nil, fmt.Errorf("value: %w", err)
	}
	hs, err := toKafkaHeaders(r.Headers)
	if err != nil {
		return nil, err
	}
	if h, ok := r.Headers.Get(PropEmptyValue); ok {
		switch h.Value {
		case valueNull:
			val = nil
		case valueEmpty:
			val = []byte{}
		}
	}
	topic := t.topicOf(r.Topic)
	if topic == "" {
		return nil, fmt.Errorf("%w: %s %q gives an empty name for rocketmq topic %q", ErrEmptyTopic, KeyTopicRename, t.format, r.Topic)
	}
	return &kgo.Record{Topic: topic, Key: key, Value: val, Headers: hs, Timestamp: r.Timestamp}, nil
}

// Flush waits until Kafka acknowledged or refused every record put so far (warning every 30 s while
// the brokers are unreachable, failing when they refuse the task's credentials or permissions: see
// waitAcks), then settles the refused ones (see settle).
func (t *SinkTask) Flush(ctx context.Context, _ map[plugins.Queue]int64) error {
	if t.client == nil {
		return ErrNotStarted
	}
	return t.settle(ctx)
}

// settle waits for every record handed to the producer, then deals with those Kafka refused. Records
// refused for any other reason than their own fail the task (ErrProduce): the engine then commits
// nothing and the records are read again. Records refused for a record fault are written again one at a
// time, in the order they were refused (which is their order per partition), since Kafka refused each
// with the whole batch of one bad record; those refused on their own go to the error policy.
func (t *SinkTask) settle(ctx context.Context) error {
	if err := t.waitAcks(ctx); err != nil {
		return err
	}
	clear(t.written)
	t.mu.Lock()
	failed := t.failed
	t.failed = nil
	t.refused.Store(false)
	t.mu.Unlock()
	for _, f := range failed {
		if !recordFault(f.err) {
			return fmt.Errorf("%w: topic %s: %v", ErrProduce, t.topicOf(f.rec.Topic), f.err)
		}
	}
	for _, f := range failed {
		kr, err := t.kafkaRecord(f.rec) // it was built once already, so it builds again
		if err == nil {
			err = t.client.ProduceSync(ctx, kr).FirstErr()
		}
		switch {
		case err == nil:
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case !recordFault(err):
			return fmt.Errorf("%w: topic %s: %v", ErrProduce, t.topicOf(f.rec.Topic), err)
		}
		if err := t.tctx.ErrantRecordReporter().Report(ctx, f.rec, fmt.Errorf("kafka topic %s: %w", t.topicOf(f.rec.Topic), err)); err != nil {
			return err
		}
	}
	return nil
}

// waitAcks waits until the producer called back every record handed to it: Kafka acknowledged or
// refused each. The producer's Flush waits for the records it buffered; one it refused before buffering
// it (no topic, a Put cancelled while it waited for room) is called back from a goroutine Flush does not
// wait for, so the count of t.inflight is waited for too. The producer retries a refused SASL login or
// metadata request in silence, so a wait that lasts asks the cluster whether it lets the task in
// (checkAccess): after accessCheckAfter, then every accessCheckEvery. It warns every 30 s while it waits.
func (t *SinkTask) waitAcks(ctx context.Context) error {
	start, warned := time.Now(), time.Now()
	step := accessCheckAfter
	for {
		wctx, cancel := context.WithTimeout(ctx, step)
		err := t.client.Flush(wctx)
		if err == nil {
			err = t.inflight.wait(wctx)
		}
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := t.checkAccess(ctx); err != nil {
			return err
		}
		if time.Since(warned) >= flushWarnInterval {
			warned = time.Now()
			t.log.Warn("kafka has not acknowledged every record yet; still waiting", "buffered", t.client.BufferedProduceRecords(),
				"waited", time.Since(start).Round(time.Second))
		}
		step = accessCheckEvery
	}
}

// checkAccess asks the cluster for the metadata of the topics written since the last settle, within
// kafka.request.timeout: a refused login or permission fails the task (ErrUnauthorized, not retriable);
// anything else (a broker down, a slow answer, a topic not created yet) is left to the producer's retries.
func (t *SinkTask) checkAccess(ctx context.Context) error {
	topics := make([]string, 0, len(t.written))
	for topic := range t.written {
		topics = append(topics, topic)
	}
	slices.Sort(topics)
	cctx, cancel := context.WithTimeout(ctx, t.vals.Duration(KeyRequestTimeout))
	defer cancel()
	if len(topics) == 0 { // no topic to ask about, and no need to list them all: the login is checked
		_, err := t.adm.BrokerMetadata(cctx)
		if err != nil && authFailure(err) {
			return fmt.Errorf("%w: %s: %w", ErrUnauthorized, t.principal(), err)
		}
		return nil
	}
	details, err := t.adm.ListTopics(cctx, topics...)
	if err != nil {
		if authFailure(err) {
			return fmt.Errorf("%w: %s: %w", ErrUnauthorized, t.principal(), err)
		}
		return nil
	}
	for _, topic := range topics {
		if d, ok := details[topic]; ok && d.Err != nil && authFailure(d.Err) {
			return fmt.Errorf("%w: %s: kafka topic %s: %w", ErrUnauthorized, t.principal(), topic, d.Err)
		}
	}
	return nil
}

// principal names the credentials the task shows Kafka, for an error saying Kafka refused them.
func (t *SinkTask) principal() string {
	proto := t.vals.String(KeySecurity)
	switch {
	case strings.HasPrefix(proto, "SASL_"):
		return fmt.Sprintf("%s %q (%s, %s)", KeySASLUsername, t.vals.String(KeySASLUsername), proto, t.vals.String(KeySASLMechanism))
	case t.vals.String(KeySSLCert) != "":
		return fmt.Sprintf("%s %q (%s)", KeySSLCert, t.vals.String(KeySSLCert), proto)
	default:
		return fmt.Sprintf("%s %s", KeySecurity, proto)
	}
}

// inflight counts the records handed to the producer that it has not called back yet.
type inflight struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed once n is back to 0
}

func (f *inflight) add() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		f.zero = make(chan struct{})
	}
	f.n++
}

func (f *inflight) done() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.n == 0 {
		close(f.zero)
	}
}

// wait returns once the count is 0, or ctx's error.
func (f *inflight) wait(ctx context.Context) error {
	f.mu.Lock()
	n, zero := f.n, f.zero
	f.mu.Unlock()
	if n == 0 {
		return nil
	}
	select {
	case <-zero:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// recordFault reports whether Kafka refused a record for the record itself.
func recordFault(err error) bool {
	return errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) ||
		errors.Is(err, kerr.InvalidRecord) || errors.Is(err, kerr.CorruptMessage) || errors.Is(err, kerr.InvalidTimestamp)
}

// Stop closes the producer (the engine flushed before); records still buffered fail, and a Put or
// Flush running meanwhile returns.
func (t *SinkTask) Stop(context.Context) error {
	t.stopOnce.Do(func() {
		if t.client != nil {
			t.client.Close()
		}
		if t.limits != nil {
			t.limits.closer.Close()
		}
	})
	return nil
}

// topicLimits answers the producer's question "how large may a batch for this topic be": the smaller of
// kafka.batch.max.bytes and the topic's max.message.bytes, so the broker does not refuse a batch for its
// size and a record too large is refused alone, before it is sent. Put reads the limit (load) before it
// hands over the topic's first record. The producer asks (of) from its metadata loop for every partition
// at every metadata refresh, and keeps the answer it got when it first saw a partition for the client's
// life.
//
// A limit read, or Kafka's answer that it cannot be (the principal may not describe configs, the topic
// does not exist yet), is kept: the config is read once per topic. A read that fails for a transient
// reason (Kafka unreachable or slow) is not: the default answers that call, and the same asker reads
// again retryEvery later at the earliest. Put and the producer wait out their own failures only: after
// an outage the producer first asks once Kafka answers its metadata, which may come within retryEvery
// of Put's failed read, and its answer is the one it keeps.
type topicLimits struct {
	adm        *kadm.Client
	closer     interface{ Close() }
	max        int32
	timeout    time.Duration
	retryEvery time.Duration
	log        *slog.Logger

	mu      sync.Mutex
	byTopic map[string]int32 // the limits kept
	// retryPut and retryProducer hold, per topic whose last read by Put or by the producer failed for a
	// transient reason, when that asker may read it again.
	retryPut, retryProducer map[string]time.Time
	reads                   atomic.Int64 // DescribeConfigs requests made, for tests
}

// of is the producer's callback (kgo.ProducerBatchMaxBytesFn).
func (l *topicLimits) of(topic string) int32 {
	if topic == "" {
		return l.max
	}
	return l.get(context.Background(), topic, l.retryProducer)
}

// load returns topic's limit for Put.
func (l *topicLimits) load(ctx context.Context, topic string) int32 {
	return l.get(ctx, topic, l.retryPut)
}

// get returns topic's limit: the one kept, else the one read now, unless retry holds a time not reached
// yet. When the config is not read, the limit is Kafka's default max.message.bytes, with a warning: a
// batch that still proves too large is refused by Kafka and its records written again one at a time
// (SinkTask.settle).
func (l *topicLimits) get(ctx context.Context, topic string, retry map[string]time.Time) int32 {
	fallback := l.clamp(defaultMessageMax)
	l.mu.Lock()
	n, ok := l.byTopic[topic]
	at, failed := retry[topic]
	l.mu.Unlock()
	if ok {
		return n
	}
	if failed && time.Now().Before(at) {
		return fallback
	}
	// Read without the lock, so the producer's callback for a topic already known never waits on it.
	limit, err := l.read(ctx, topic)
	l.mu.Lock()
	defer l.mu.Unlock()
	if kept, ok := l.byTopic[topic]; ok {
		return kept
	}
	switch {
	case err == nil:
		n = l.clamp(limit)
	case ctx.Err() != nil:
		return fallback // the caller is stopping: read again next time rather than keep a guess
	case !settled(err):
		retry[topic] = time.Now().Add(l.retryEvery)
		l.log.Warn("kafka topic config not read for now; assuming the default max.message.bytes until it is", "topic", topic,
			"max.message.bytes", defaultMessageMax, "retry_in", l.retryEvery, "err", err)
		return fallback
	default:
		l.log.Warn("kafka topic config not read; assuming the default max.message.bytes", "topic", topic,
			"max.message.bytes", defaultMessageMax, "err", err)
		n = fallback
	}
	l.byTopic[topic] = n
	delete(l.retryPut, topic)
	delete(l.retryProducer, topic)
	return n
}

// clamp bounds a topic's max.message.bytes by kafka.batch.max.bytes and franz-go's least batch size.
func (l *topicLimits) clamp(limit int64) int32 { return int32(max(512, min(int64(l.max), limit))) }

// read reads topic's max.message.bytes within the request timeout: Kafka's default when the config does
// not hold it.
func (l *topicLimits) read(ctx context.Context, topic string) (int64, error) {
	rctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	l.reads.Add(1)
	rcs, err := l.adm.DescribeTopicConfigs(rctx, topic)
	if err != nil {
		return 0, err
	}
	rc, err := rcs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return 0, err
	}
	limit := int64(defaultMessageMax)
	for _, c := range rc.Configs {
		if c.Key == "max.message.bytes" && c.Value != nil {
			if n, perr := strconv.ParseInt(*c.Value, 10, 32); perr == nil {
				limit = n
			}
		}
	}
	return limit, nil
}

// settled reports whether err, from reading a topic's config, is Kafka's answer for the topic (it may
// not be described, it does not exist, the request is invalid) rather than a failure to get one (a
// broker down or slow), after which the config is read again.
func settled(err error) bool {
	var ke *kerr.Error
	return authFailure(err) || isUnknownTopic(err) || errors.As(err, &ke) && !ke.Retriable
}
