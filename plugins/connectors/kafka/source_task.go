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
//
// A position holds the id of the topic it is in. The first Poll lists the task's topics and hands each
// to the consumer once its id is known: a position or start offset of another id is of a topic since
// deleted (the name now belongs to a new topic) and is ignored, with a warning, so the partition starts as
// one without a position. Listing in Poll rather than Start keeps a task that starts while Kafka is down
// RUNNING, as the consumer's own retries do afterwards.
type SourceTask struct {
	log     *slog.Logger
	vals    plugins.Values
	client  *kgo.Client
	adm     *kadm.Client
	format  string
	max     int
	targets map[string]string // Kafka topic → RocketMQ topic
	topics  []string          // the Kafka topics of its partitions
	parts   []topicPartition  // its partitions
	// committed holds the positions read at Start and starts kafka.task.start.offsets; otherwise is where
	// a partition with neither starts.
	committed map[topicPartition]topicOffset
	starts    map[topicPartition]topicOffset
	otherwise kgo.Offset
	// ids holds the id of each topic handed to the consumer ("" when unknown), which the positions of its
	// records carry; pending the topics not handed to it yet.
	ids     map[string]string
	pending map[string]bool
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
	if t.starts, err = parseStarts(cfg[KeyTaskStarts], cfg[KeyTaskStartIDs]); err != nil {
		return err
	}
	t.parts, t.format, t.max = parts, t.vals.String(KeyTopicRename), t.vals.Int(KeyPollMaxRecords)
	t.targets, t.lastWarn = map[string]string{}, map[string]time.Time{}
	t.regex, t.dropped = t.vals.String(KeyTopicsRegex) != "", map[string]bool{}
	t.ids, t.pending = map[string]string{}, map[string]bool{}
	keys := make([]map[string]any, len(parts))
	for i, p := range parts {
		keys[i] = sourcePartition(p)
		if _, ok := t.targets[p.topic]; !ok {
			t.topics = append(t.topics, p.topic)
			t.pending[p.topic] = true
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
	t.otherwise = kgo.NewOffset().AtStart()
	if _, fixed := cfg[KeyTaskStarts]; !fixed && t.vals.String(KeyStart) == offsetLatest {
		// A task config written before the connector fixed the start offsets: latest is the end now.
		t.otherwise = kgo.NewOffset().AtEnd()
	}
	t.committed = map[topicPartition]topicOffset{}
	for _, pp := range committed {
		topic, _ := pp.Partition[PartTopic].(string)
		part, ok, err := position.Int64(pp.Partition, PartPartition)
		if err != nil || !ok {
			return fmt.Errorf("committed position %v: %w", pp.Partition, position.ErrBadPosition)
		}
		off, id, ok, err := storedOffset(pp.Offset)
		if err != nil {
			return fmt.Errorf("committed position of %s:%d: %w", topic, part, err)
		}
		if ok {
			t.committed[topicPartition{topic, int32(part)}] = topicOffset{off, id}
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
	// No partition yet: Poll adds each topic's once it knows the topic's id (addPending).
	opts = append(opts,
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

// addPending lists the topics not yet handed to the consumer and hands over each the listing knows,
// its partitions at startOffsets. A refused login or permission fails the task; a listing that fails
// otherwise (Kafka down) is warned about, at most every 30 s, and tried again at the next Poll, as is a
// topic listed with a retriable error. A topic the cluster does not know is handed over without an id:
// the consumer's fetch errors then tell whether it was deleted (fetchError).
func (t *SourceTask) addPending(ctx context.Context) error {
	topics := make([]string, 0, len(t.pending))
	for _, topic := range t.topics {
		if t.pending[topic] {
			topics = append(topics, topic)
		}
	}
	lctx, cancel := context.WithTimeout(ctx, t.vals.Duration(KeyRequestTimeout))
	details, err := t.adm.ListTopics(lctx, topics...)
	cancel()
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil && authFailure(err):
		return fmt.Errorf("%w: %w", ErrUnauthorized, err)
	case err != nil:
		t.warn("kafka topics not listed; their partitions are read once they are", "topics", topics, "err", err)
		return nil
	}
	t.accessOK = time.Now()
	add := map[string]map[int32]kgo.Offset{}
	for _, topic := range topics {
		d, ok := details[topic]
		id := ""
		switch {
		case ok && d.Err == nil:
			id = topicIDString(d.ID)
		case ok && authFailure(d.Err):
			return fmt.Errorf("%w: kafka topic %s: %w", ErrUnauthorized, topic, d.Err)
		case ok && !isUnknownTopic(d.Err):
			t.warn("kafka topic not listed; its partitions are read once it is", "topic", topic, "err", d.Err)
			continue
		}
		add[topic] = t.startOffsets(topic, id)
		delete(t.pending, topic)
	}
	t.client.AddConsumePartitions(add)
	return nil
}

// startOffsets returns where the task's partitions of topic start, id being the topic's id now, and
// records id as the topic's: after the committed position, else at the start offset of
// kafka.task.start.offsets, else at t.otherwise. A position or start offset recorded with another id
// is of a topic since deleted and created again and is ignored, with a warning naming both ids when the
// partition would have started from it: a start offset of the old topic under a committed position of the
// new one (the task read the new topic, then restarted) was never going to be used, and is not warned of.
func (t *SourceTask) startOffsets(topic, id string) map[int32]kgo.Offset {
	out := map[int32]kgo.Offset{}
	stale := ""
	for _, p := range t.parts {
		if p.topic != topic {
			continue
		}
		out[p.partition] = t.otherwise
		c, committed := t.committed[p]
		if committed && sameTopic(c.topicID, id) {
			// The committed offset is the last record RocketMQ acknowledged: resume after it. When
			// retention has removed it meanwhile, the consumer starts at the oldest record kept.
			out[p.partition] = kgo.NewOffset().At(c.offset + 1)
			continue
		}
		if committed {
			stale = c.topicID
		}
		if s, ok := t.starts[p]; ok && sameTopic(s.topicID, id) {
			out[p.partition] = kgo.NewOffset().At(s.offset)
		} else if ok && !committed {
			stale = s.topicID
		}
	}
	if stale != "" {
		t.log.Warn("kafka topic was deleted and created again since its positions were stored; its partitions start as if they had none",
			"topic", topic, "stored_topic_id", stale, "topic_id", id)
	}
	t.ids[topic] = id
	return out
}

// recreated hands the consumer topic again, now that it has id: the client reads a topic only as the
// instance it first saw, and fails a new one of the same name with UNKNOWN_TOPIC_ID until purged. The
// positions read at Start are of the old topic, so the partitions start as if they had none.
func (t *SourceTask) recreated(topic, id string) {
	t.log.Warn("kafka topic was deleted and created again while read; its partitions start as if they had no position",
		"topic", topic, "stored_topic_id", t.ids[topic], "topic_id", id)
	t.client.PurgeTopicsFromConsuming(topic)
	for _, p := range t.parts {
		if p.topic == topic {
			delete(t.committed, p)
			delete(t.starts, p)
		}
	}
	t.client.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: t.startOffsets(topic, id)})
}

// warn logs msg at most every warnEvery per message and error text.
func (t *SourceTask) warn(msg string, args ...any) {
	key := msg + fmt.Sprint(args...)
	if now := time.Now(); now.Sub(t.lastWarn[key]) >= warnEvery {
		t.lastWarn[key] = now
		t.log.Warn(msg, args...)
	}
}

// Poll returns the records fetched so far, waiting up to a second for some; topics not yet handed to
// the consumer are listed first (addPending). Fetch errors of a cluster that is down or moving partitions
// are logged (at most every 30 s each) and retried by the client; a partition whose topic was deleted
// fails the task with ErrTopicDeleted (a regex task drops the topic instead), one whose topic was deleted
// and created again is read anew (recreated), and refused credentials or permissions fail the task with
// ErrUnauthorized.
func (t *SourceTask) Poll(ctx context.Context) ([]*schema.Record, error) {
	if t.client == nil {
		return nil, ErrNotStarted
	}
	if len(t.pending) > 0 {
		if err := t.addPending(ctx); err != nil { // which asks what checkAccess does
			return nil, err
		}
	}
	pctx, cancel := context.WithTimeout(ctx, pollWait)
	defer cancel()
	if len(t.pending) == 0 && time.Since(t.accessOK) >= accessCheckEvery {
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
	// The records are mapped before the errors are handled: a topic found created again (fetchError)
	// takes its new id, which records fetched from the old topic must not carry in their positions.
	out := make([]*schema.Record, 0, fetches.NumRecords())
	fetches.EachRecord(func(r *kgo.Record) { out = append(out, t.record(r)) })
	errs := fetches.Errors()
	checked := map[string]bool{} // topics asked about in this Poll: one listing each
	for _, fe := range errs {
		if err := t.fetchError(ctx, fe, checked); err != nil {
			return nil, err
		}
	}
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
// permission fails the task; an unknown topic is checked against the cluster's metadata (once per Poll,
// checked holding the topics asked about): once the topic is really gone it fails the task (kafka.topics)
// or is dropped (kafka.topics.regex), and when it has another id than the one read, it was created again
// and is read anew (recreated).
func (t *SourceTask) fetchError(ctx context.Context, fe kgo.FetchError, checked map[string]bool) error {
	if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) || t.dropped[fe.Topic] {
		return nil
	}
	if authFailure(fe.Err) {
		return fmt.Errorf("%w: kafka topic %s: %w", ErrUnauthorized, fe.Topic, fe.Err)
	}
	if isUnknownTopic(fe.Err) && !checked[fe.Topic] {
		checked[fe.Topic] = true
		gone, id, err := t.topicState(ctx, fe.Topic)
		if err == nil && !gone && id != "" && t.ids[fe.Topic] != "" && id != t.ids[fe.Topic] {
			t.recreated(fe.Topic, id)
			return nil
		}
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

// topicState asks the cluster whether topic still exists, and its id when it does ("" when the cluster
// gives none).
func (t *SourceTask) topicState(ctx context.Context, topic string) (gone bool, id string, err error) {
	ctx, cancel := context.WithTimeout(ctx, t.vals.Duration(KeyRequestTimeout))
	defer cancel()
	details, err := t.adm.ListTopics(ctx, topic)
	if err != nil {
		return false, "", err
	}
	d, ok := details[topic]
	if !ok || isUnknownTopic(d.Err) {
		return true, "", nil
	}
	if d.Err != nil {
		return false, "", nil
	}
	return false, topicIDString(d.ID), nil
}

// record maps a Kafka record: key and value as bytes (a null or empty value as emptyBody, marked with
// PropEmptyValue), the record's timestamp, headers as properties (see headers.go), and its partition,
// offset and topic id as the position.
func (t *SourceTask) record(r *kgo.Record) *schema.Record {
	rec := &schema.Record{
		SourcePartition: map[string]any{PartTopic: r.Topic, PartPartition: int64(r.Partition)},
		SourceOffset:    sourceOffset(r.Offset, t.ids[r.Topic]),
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
