package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/internal/position"
	"github.com/rmqconnect/rmqconnect/schema"
)

var (
	errUnknownTopic   = kerr.UnknownTopicOrPartition
	errUnknownTopicID = kerr.UnknownTopicID
)

// pollWait is how long Poll waits for records before it returns an empty batch.
const pollWait = time.Second

// warnEvery spaces the warnings of a fetch error that persists (a broker down).
const warnEvery = 30 * time.Second

// accessCheckEvery is how long a task reads nothing before it asks the cluster whether it still lets the
// task in. The consumer retries a refused SASL login or metadata request in silence, so without the
// question a task whose credentials are wrong would stay RUNNING and idle.
const accessCheckEvery = 30 * time.Second

// SourceTask reads its partitions (kafka.task.partitions) from the positions the engine committed, or
// where there is none from kafka.task.start.offsets (latest) or the partition's oldest record. It never
// commits anything to Kafka: the engine's positions are the only progress, so a restart resumes after the
// last record RocketMQ acknowledged.
type SourceTask struct {
	log     *slog.Logger
	vals    plugins.Values
	client  *kgo.Client
	adm     *kadm.Client
	format  string
	max     int
	targets map[string]string // Kafka topic → RocketMQ topic
	topics  []string          // the Kafka topics of its partitions
	// regex: the topics come from kafka.topics.regex, so a deleted one is dropped (the connector's next
	// listing leaves it out) instead of failing the task; dropped holds those.
	regex   bool
	dropped map[string]bool
	// lastWarn spaces the warnings of persisting fetch errors, per error text.
	lastWarn map[string]time.Time
	// accessOK is when the cluster last showed it lets the task in (records came, or a check passed).
	accessOK time.Time
	// stopOnce closes the client once; client is not changed after Start, as Stop may run while Poll does.
	stopOnce sync.Once
}

var _ plugins.SourceTask = (*SourceTask)(nil)

// Start reads the committed positions of its partitions and opens a consumer on them. A missing or
// unreadable position store fails the start (the engine retries it).
func (t *SourceTask) Start(ctx context.Context, tctx plugins.SourceTaskContext, cfg map[string]string) error {
	t.log, t.vals = tctx.Logger(), tctx.Config()
	parts, err := parsePartitions(t.vals.String(KeyTaskPartitions))
	if err != nil {
		return err
	}
	starts, err := parseStarts(cfg[KeyTaskStarts])
	if err != nil {
		return err
	}
	t.format, t.max = t.vals.String(KeyTopicRename), t.vals.Int(KeyPollMaxRecords)
	t.targets, t.lastWarn = map[string]string{}, map[string]time.Time{}
	t.regex, t.dropped = t.vals.String(KeyTopicsRegex) != "", map[string]bool{}
	keys := make([]map[string]any, len(parts))
	for i, p := range parts {
		keys[i] = sourcePartition(p)
		if _, ok := t.targets[p.topic]; !ok {
			t.topics = append(t.topics, p.topic)
		}
		t.targets[p.topic] = targetTopic(t.format, p.topic)
	}
	committed, err := tctx.Positions().Positions(ctx, keys)
	if err != nil {
		return plugins.Retriable(fmt.Errorf("read committed positions: %w", err))
	}
	// Without a committed position a partition starts where the connector fixed latest when it started
	// (kafka.task.start.offsets), else at its oldest record: it was found after the connector started
	// (or the reset is earliest), and the oldest record holds what was written before it was found.
	otherwise := kgo.NewOffset().AtStart()
	if _, fixed := cfg[KeyTaskStarts]; !fixed && t.vals.String(KeyStart) == offsetLatest {
		// A task config written before the connector fixed the start offsets: latest is the end now.
		otherwise = kgo.NewOffset().AtEnd()
	}
	offsets := map[string]map[int32]kgo.Offset{}
	for _, p := range parts {
		if offsets[p.topic] == nil {
			offsets[p.topic] = map[int32]kgo.Offset{}
		}
		offsets[p.topic][p.partition] = otherwise
		if off, ok := starts[p]; ok {
			offsets[p.topic][p.partition] = kgo.NewOffset().At(off)
		}
	}
	for _, pp := range committed {
		topic, _ := pp.Partition[PartTopic].(string)
		part, ok, err := position.Int64(pp.Partition, PartPartition)
		if err != nil || !ok {
			return fmt.Errorf("committed position %v: %w", pp.Partition, position.ErrBadPosition)
		}
		off, ok, err := position.Int64(pp.Offset, OffsetKey)
		if err != nil {
			return fmt.Errorf("committed position of %s:%d: %w", topic, part, err)
		}
		if ok && offsets[topic] != nil {
			// The committed offset is the last record RocketMQ acknowledged: resume after it. When
			// retention has removed it meanwhile, the consumer starts at the oldest record kept.
			offsets[topic][int32(part)] = kgo.NewOffset().At(off + 1)
		}
	}
	opts, err := clientOptions(t.vals, t.log)
	if err != nil {
		return err
	}
	isolation := kgo.ReadUncommitted()
	if t.vals.String(KeyIsolation) == isolationCommitted {
		isolation = kgo.ReadCommitted()
	}
	opts = append(opts,
		kgo.ConsumePartitions(offsets),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(int32(t.vals.Int(KeyFetchMaxBytes))),
		kgo.FetchMaxWait(t.vals.Duration(KeyFetchMaxWait)),
		kgo.FetchIsolationLevel(isolation),
		kgo.KeepRetryableFetchErrors(),
	)
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	t.client, t.adm = client, kadm.NewClient(client)
	return nil
}

func sourcePartition(p topicPartition) map[string]any {
	return map[string]any{PartTopic: p.topic, PartPartition: int64(p.partition)}
}

// Poll returns the records fetched so far, waiting up to a second for some. Fetch errors of a cluster
// that is down or moving partitions are logged (at most every 30 s each) and retried by the client; a
// partition whose topic was deleted fails the task with ErrTopicDeleted (a regex task drops the topic
// instead), and refused credentials or permissions fail it with ErrUnauthorized.
func (t *SourceTask) Poll(ctx context.Context) ([]*schema.Record, error) {
	if t.client == nil {
		return nil, ErrNotStarted
	}
	pctx, cancel := context.WithTimeout(ctx, pollWait)
	defer cancel()
	if time.Since(t.accessOK) >= accessCheckEvery {
		if err := t.checkAccess(pctx); err != nil {
			return nil, err
		}
	}
	fetches := t.client.PollRecords(pctx, t.max)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if fetches.IsClientClosed() {
		return nil, ErrNotStarted
	}
	errs := fetches.Errors()
	for _, fe := range errs {
		if err := t.fetchError(ctx, fe); err != nil {
			return nil, err
		}
	}
	out := make([]*schema.Record, 0, fetches.NumRecords())
	fetches.EachRecord(func(r *kgo.Record) { out = append(out, t.record(r)) })
	if len(out) > 0 {
		t.accessOK = time.Now()
	}
	if len(out) == 0 && len(errs) > 0 {
		// Nothing but errors (a broker down): wait out the poll second instead of asking again at once.
		<-pctx.Done()
	}
	return out, nil
}

// checkAccess asks the cluster for the metadata of the task's topics, within ctx (the poll's second): a
// refused login or permission fails the task; anything else (a broker down, a slow answer) is left to the
// consumer's retries and asked again accessCheckEvery later.
func (t *SourceTask) checkAccess(ctx context.Context) error {
	t.accessOK = time.Now()
	details, err := t.adm.ListTopics(ctx, t.topics...)
	if err != nil {
		if authFailure(err) {
			return fmt.Errorf("%w: %w", ErrUnauthorized, err)
		}
		return nil
	}
	for _, topic := range t.topics {
		if d, ok := details[topic]; ok && d.Err != nil && authFailure(d.Err) && !t.dropped[topic] {
			return fmt.Errorf("%w: kafka topic %s: %w", ErrUnauthorized, topic, d.Err)
		}
	}
	return nil
}

// fetchError handles one error of a fetch: a context error is the poll wait ending; a refused login or
// permission fails the task; an unknown topic is checked against the cluster's metadata, and once the
// topic is really gone fails the task (kafka.topics) or is dropped (kafka.topics.regex).
func (t *SourceTask) fetchError(ctx context.Context, fe kgo.FetchError) error {
	if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) || t.dropped[fe.Topic] {
		return nil
	}
	if authFailure(fe.Err) {
		return fmt.Errorf("%w: kafka topic %s: %w", ErrUnauthorized, fe.Topic, fe.Err)
	}
	if isUnknownTopic(fe.Err) {
		gone, err := t.topicGone(ctx, fe.Topic)
		if err == nil && gone {
			if t.regex {
				// The connector's next listing leaves the topic out and reassigns the tasks; until then
				// the task reads its other topics.
				t.dropped[fe.Topic] = true
				t.client.PurgeTopicsFromConsuming(fe.Topic)
				t.log.Info("kafka topic deleted; no longer read", "topic", fe.Topic)
				return nil
			}
			return fmt.Errorf("%w: %s (partition %d was being read; it is no longer on the Kafka cluster)", ErrTopicDeleted, fe.Topic, fe.Partition)
		}
	}
	key := fe.Err.Error()
	if now := time.Now(); now.Sub(t.lastWarn[key]) >= warnEvery {
		t.lastWarn[key] = now
		t.log.Warn("kafka fetch failed; the client retries", "topic", fe.Topic, "partition", fe.Partition, "err", fe.Err)
	}
	return nil
}

// topicGone asks the cluster whether topic still exists.
func (t *SourceTask) topicGone(ctx context.Context, topic string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, t.vals.Duration(KeyRequestTimeout))
	defer cancel()
	details, err := t.adm.ListTopics(ctx, topic)
	if err != nil {
		return false, err
	}
	d, ok := details[topic]
	return !ok || isUnknownTopic(d.Err), nil
}

// record maps a Kafka record: key and value as bytes (a null or empty value as emptyBody, marked with
// PropEmptyValue), the record's timestamp, headers as properties (see headers.go), and its partition and
// offset as the position.
func (t *SourceTask) record(r *kgo.Record) *schema.Record {
	rec := &schema.Record{
		SourcePartition: map[string]any{PartTopic: r.Topic, PartPartition: int64(r.Partition)},
		SourceOffset:    map[string]any{OffsetKey: r.Offset},
		Topic:           t.targets[r.Topic],
		QueueID:         -1,
		KeySchema:       schema.OptionalBytesSchema,
		ValueSchema:     schema.OptionalBytesSchema,
		Timestamp:       r.Timestamp,
		Headers:         toRecordHeaders(r.Headers),
	}
	if rec.Topic == "" {
		rec.Topic = targetTopic(t.format, r.Topic)
	}
	if r.Key != nil {
		rec.Key = r.Key
	}
	switch {
	case len(r.Value) > 0:
		rec.Value = r.Value
	case r.Value == nil:
		rec.Value = emptyBody
		rec.Headers = append(rec.Headers, schema.Header{Key: PropEmptyValue, Schema: schema.OptionalStringSchema, Value: valueNull})
	default:
		rec.Value = emptyBody
		rec.Headers = append(rec.Headers, schema.Header{Key: PropEmptyValue, Schema: schema.OptionalStringSchema, Value: valueEmpty})
	}
	return rec
}

// Commit has nothing to do: positions live in the engine's store only.
func (t *SourceTask) Commit(context.Context) error { return nil }

// Stop closes the consumer; a Poll running meanwhile returns.
func (t *SourceTask) Stop(context.Context) error {
	t.stopOnce.Do(func() {
		if t.client != nil {
			t.client.Close()
		}
	})
	return nil
}
