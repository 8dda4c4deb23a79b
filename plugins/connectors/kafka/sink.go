package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
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
	// defaultMessageMax is Kafka's default message.max.bytes, used when a topic's limit cannot be read.
	defaultMessageMax = 1048588
)

var sinkSpec = plugins.MustConfigSpec(append(connectionFields(),
	plugins.Field{Name: KeyTargetTopic, Type: plugins.TypeString, Default: "",
		Doc: "Kafka topic every record is written to; empty: topic.rename.format applied to the record's RocketMQ topic."},
	plugins.Field{Name: KeyTopicRename, Type: plugins.TypeString, Default: topicPlaceholder,
		Doc: "Kafka topic of a record when kafka.topic is empty; ${topic} stands for the RocketMQ topic it came from."},
	plugins.Field{Name: KeyCompression, Type: plugins.TypeString, Default: "none", Aliases: []string{"compression.type"},
		Validators: []plugins.Validator{plugins.OneOf("none", "gzip", "snappy", "lz4", "zstd")},
		Doc:        "Compression of the record batches written."},
	plugins.Field{Name: KeyLinger, Type: plugins.TypeDuration, Default: 10 * time.Millisecond, Aliases: []string{"linger.ms"},
		Validators: []plugins.Validator{plugins.DurationBetween(0, time.Minute)},
		Doc:        "How long a partition's batch may wait for more records before it is sent. The runtime flushes after every Put, which sends at once, so a linger only gathers the records of one Put into fewer requests."},
	plugins.Field{Name: KeyBatchMaxBytes, Type: plugins.TypeInt, Default: 1000012, Aliases: []string{"batch.size"},
		Validators: []plugins.Validator{plugins.Between(1024, 1<<30)},
		Doc:        "Most bytes of one record batch before compression; lowered to each topic's max.message.bytes, so a record too large for its topic is refused alone, before it is sent."},
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

// Validate checks the connection rules and the rename format.
func (c *SinkConnector) Validate(cfg map[string]string) error {
	v, err := sinkSpec.Parse(cfg)
	if err != nil {
		return err
	}
	errs := checkConnection(v)
	if err := renameFormat(KeyTopicRename, v.String(KeyTopicRename)); err != nil {
		errs = append(errs, err.(*cfgerr.Error))
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
// them). Put hands records to the producer; Flush returns once Kafka acknowledged every one of them, so
// the engine commits RocketMQ offsets only for records that are in Kafka. A record Kafka refuses for
// itself (too large for its topic, invalid) goes to the engine's error policy (DLQ or failure); any
// other refusal fails the task.
type SinkTask struct {
	log      *slog.Logger
	tctx     plugins.SinkTaskContext
	vals     plugins.Values
	client   *kgo.Client
	fixed    string
	format   string
	limits   *topicLimits
	topicFor map[string]string

	mu     sync.Mutex
	failed []failure // records Kafka refused since the last Flush, in completion order

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
	t.topicFor = map[string]string{}
	opts, err := clientOptions(t.vals, t.log)
	if err != nil {
		return err
	}
	// The admin client reads each topic's max.message.bytes when the producer first meets the topic.
	admClient, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	t.limits = &topicLimits{adm: kadm.NewClient(admClient), closer: admClient, max: int32(t.vals.Int(KeyBatchMaxBytes)),
		timeout: t.vals.Duration(KeyRequestTimeout), log: t.log}
	codec := map[string]kgo.CompressionCodec{"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(),
		"snappy": kgo.SnappyCompression(), "lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression()}[t.vals.String(KeyCompression)]
	opts = append(opts,
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerLinger(t.vals.Duration(KeyLinger)),
		kgo.ProducerBatchMaxBytesFn(t.limits.of),
		kgo.MaxBufferedRecords(t.vals.Int(KeyMaxBuffered)),
	)
	client, err := kgo.NewClient(opts...)
	if err != nil {
		admClient.Close()
		t.limits = nil
		return fmt.Errorf("kafka client: %w", err)
	}
	t.client = client
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
// unacknowledged. A record whose key, value or headers cannot be written goes to the error policy.
func (t *SinkTask) Put(ctx context.Context, records []*schema.Record) error {
	if t.client == nil {
		return ErrNotStarted
	}
	for _, r := range records {
		kr, err := t.kafkaRecord(r)
		if err != nil {
			if rerr := t.tctx.ErrantRecordReporter().Report(ctx, r, err); rerr != nil {
				return rerr
			}
			continue
		}
		t.client.Produce(ctx, kr, func(_ *kgo.Record, err error) {
			if err != nil {
				t.mu.Lock()
				t.failed = append(t.failed, failure{r, err})
				t.mu.Unlock()
			}
		})
	}
	return nil
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
	return &kgo.Record{Topic: t.topicOf(r.Topic), Key: key, Value: val, Headers: hs, Timestamp: r.Timestamp}, nil
}

// Flush waits until Kafka acknowledged or refused every record put so far (warning every 30 s while
// the brokers are unreachable), then hands the records refused for themselves to the error policy.
// Records refused for any other reason fail the task (ErrProduce); the engine then commits nothing and
// the records are read again.
func (t *SinkTask) Flush(ctx context.Context, _ map[plugins.Queue]int64) error {
	if t.client == nil {
		return ErrNotStarted
	}
	start := time.Now()
	for {
		fctx, cancel := context.WithTimeout(ctx, flushWarnInterval)
		err := t.client.Flush(fctx)
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t.log.Warn("kafka has not acknowledged every record yet; still waiting", "buffered", t.client.BufferedProduceRecords(),
			"waited", time.Since(start).Round(time.Second))
	}
	t.mu.Lock()
	failed := t.failed
	t.failed = nil
	t.mu.Unlock()
	for _, f := range failed {
		if !recordFault(f.err) {
			return fmt.Errorf("%w: topic %s: %v", ErrProduce, t.topicOf(f.rec.Topic), f.err)
		}
	}
	for _, f := range failed {
		if err := t.tctx.ErrantRecordReporter().Report(ctx, f.rec, fmt.Errorf("kafka topic %s: %w", t.topicOf(f.rec.Topic), f.err)); err != nil {
			return err
		}
	}
	return nil
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
// kafka.batch.max.bytes and the topic's max.message.bytes, so the broker never refuses a whole batch
// for its size (which would fail the good records in it) and a record too large is refused alone.
type topicLimits struct {
	adm     *kadm.Client
	closer  interface{ Close() }
	max     int32
	timeout time.Duration
	log     *slog.Logger
}

func (l *topicLimits) of(topic string) int32 {
	if topic == "" {
		return l.max
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	rcs, err := l.adm.DescribeTopicConfigs(ctx, topic)
	limit := int64(defaultMessageMax)
	if err == nil {
		if rc, err2 := rcs.On(topic, nil); err2 == nil && rc.Err == nil {
			for _, c := range rc.Configs {
				if c.Key == "max.message.bytes" && c.Value != nil {
					if n, err := strconv.ParseInt(*c.Value, 10, 32); err == nil {
						limit = n
					}
				}
			}
		}
	} else {
		l.log.Warn("kafka topic config not read; assuming the default max.message.bytes", "topic", topic, "err", err)
	}
	return int32(max(512, min(int64(l.max), limit)))
}
