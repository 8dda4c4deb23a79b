package replicator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/internal/position"
	"github.com/rmqconnect/rmqconnect/plugins/internal/box"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// Source partition and offset keys of a replicated queue.
const (
	PartCluster = "cluster"
	PartTopic   = "topic"
	PartBroker  = "broker"
	PartQueue   = "queue"
	OffsetNext  = "offset" // the next source offset to read
)

// PropPath is the property that lists, comma-separated, the aliases of the clusters a
// message was replicated from. It is added only where a topic keeps its name (there the
// topic name cannot tell a replica apart), and a message whose path names the target
// cluster is not replicated (it came from there).
const PropPath = "rmqconnect.replicator.path"

// Message properties that carry a message's keys and tag; the engine writes them as the
// message's KEYS and TAGS.
const (
	propKeys = "KEYS"
	propTags = "TAGS"
)

// Plugin metric families (exposed as rmqconnect_plugin_rocketmq_replicator_<name>).
const (
	MetricLagSeconds = "replication_lag_seconds"
	MetricLagRecords = "replication_lag_records"
	MetricReplicated = "replicated_total"
	MetricLost       = "records_lost_total"
	MetricReadErrors = "read_errors_total"
)

var lagRecordBuckets = []float64{1, 10, 100, 1000, 10000, 100000, 1000000}

const (
	pullMax      = 32                    // messages per pull request
	idlePoll     = 50 * time.Millisecond // wait between tail checks of an idle task
	maxPollBlock = time.Second           // Poll returns empty after this

	// A queue that cannot be read is tried again after retryFirst, doubling up to retryMax,
	// while the task's other queues go on.
	retryFirst = time.Second
	retryMax   = 16 * time.Second
	// While queues cannot be read, a warning naming them is logged at once and then every
	// failWarnEvery.
	failWarnEvery = time.Minute
)

type queueState struct {
	q        rmqclient.Queue
	part     map[string]any
	ext      map[string]string // the target queue (plugins.ExtTargetQueue), shared by its records
	target   string
	identity bool
	tags     func(string) bool
	tail     *rmqclient.Tail
	label    string
	gone     bool // the topic was deleted (regex selection): skipped

	next int64        // Poll's goroutine only
	max  atomic.Int64 // end of the queue when last looked

	// Poll's goroutine only. unset: the queue has no committed position and its stored
	// range is not known yet (the broker did not answer at Start); it starts per
	// start.position once the broker answers. failSince is zero while the queue is read
	// fine; otherwise reads of it fail since then, fails times in a row, the last with
	// failErr, and it is tried again at retryAt.
	unset     bool
	failSince time.Time
	failErr   error
	fails     int
	retryAt   time.Time
	// Poll's goroutine only: the message at next, which the client could not decode, held
	// for the next poll to hand on as a failed record (see holdUndecodable); nil when none.
	bad *rmqclient.UndecodableError

	// Under sourceTask.mu: the last acked message and the last one an offset sync was
	// written for (upstream offsets; -1 none), and where the last acked message was stored
	// (Topic empty: none yet).
	ackedUp, syncedUp int64
	acked             RecordTarget
}

// RecordTarget is where a replicated message was stored.
type RecordTarget struct {
	Topic, Broker string
	Queue         int
	Offset        int64
}

type sourceTask struct {
	log        *slog.Logger
	sel        *selection
	client     *rmqclient.Client
	reader     queueReader
	queues     []*queueState
	byKey      map[srcQueue]*queueState
	batch      int
	ordered    bool // ordering.msg.enable: each source queue goes to one target queue
	emitSyncs  bool
	lagMax     int64
	latest     bool // start.position=latest
	rr         int
	lastTail   time.Time
	failing    int       // queues whose reads fail (queueState.failSince set)
	holding    int       // queues holding an undecodable message (queueState.bad set)
	warnedAt   time.Time // the last warning about failing queues; zero when none is due
	downSince  time.Time // when the failures warned about began
	lagSeconds plugins.Histogram
	lagRecords plugins.Histogram
	replicated plugins.Counter
	lost       plugins.Counter
	readErrors plugins.Counter
	topicLabel plugins.MetricLabel

	mu      sync.Mutex
	pending []pendingSync // offset syncs made by CommitRecord, sent by Poll

	// readMu is held around every pull: Stop takes it before closing the reader, since the
	// client library neither cancels a pull with its context nor fails a pull whose
	// consumer was shut down under it (it waits 30 s).
	readMu  sync.Mutex
	stopped bool
}

var (
	_ plugins.SourceTask      = (*sourceTask)(nil)
	_ plugins.RecordCommitter = (*sourceTask)(nil)
)

// Start implements plugins.SourceTask: it reads the committed positions of its queues; a
// queue without one starts per start.position.
func (t *sourceTask) Start(ctx context.Context, tctx plugins.SourceTaskContext, cfg map[string]string) error {
	v := tctx.Config()
	t.log = tctx.Logger()
	sel, err := newSelection(v)
	if err != nil {
		return err
	}
	t.sel, t.batch, t.emitSyncs, t.lagMax = sel, v.Int(KeyPollBatch), v.Bool(KeyEmitSyncs), v.Long(KeyOffsetLagMax)
	t.ordered = v.Bool(plugins.KeyOrdering)
	var tqs []taskQueue
	if raw := cfg[keyQueues]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &tqs); err != nil {
			return &cfgerr.Error{Key: keyQueues, Value: raw, Reason: err.Error()}
		}
	}
	role := fmt.Sprintf("task-%d", time.Now().UnixNano()%1e9)
	if t.client, err = newClient(sourceCluster(v), role, t.log); err != nil {
		return err
	}
	t.reader = t.client.NewReader(role)
	t.byKey = map[srcQueue]*queueState{}
	var topics []string
	for _, tq := range tqs {
		q := rmqclient.Queue{Topic: tq.Topic, BrokerName: tq.Broker, QueueID: tq.Queue}
		qs := &queueState{q: q, target: sel.rename(q.Topic), identity: sel.identity(q.Topic), tags: sel.tagFilter(q.Topic),
			tail: t.client.NewTail(q), label: q.Topic, ackedUp: -1, syncedUp: -1,
			ext:  map[string]string{plugins.ExtTargetQueue: strconv.Itoa(tq.Index)},
			part: map[string]any{PartCluster: sel.srcAlias, PartTopic: q.Topic, PartBroker: q.BrokerName, PartQueue: int64(q.QueueID)}}
		t.queues = append(t.queues, qs)
		t.byKey[srcQueue{sel.srcAlias, q.Topic, q.BrokerName, q.QueueID}] = qs
		if !slices.Contains(topics, q.Topic) {
			topics = append(topics, q.Topic)
		}
	}
	if err := t.declareMetrics(plugins.MetricsOf(tctx), topics); err != nil {
		return err
	}
	return t.resume(ctx, tctx.Positions(), v.String(KeyStart) == "latest")
}

func (t *sourceTask) declareMetrics(m plugins.Metrics, topics []string) error {
	if len(topics) >= plugins.MaxMetricSeries {
		topics = topics[:plugins.MaxMetricSeries-1]
	}
	if len(topics) == 0 {
		topics = []string{plugins.OtherLabelValue + "_none"}
	}
	t.topicLabel = plugins.MetricLabel{Name: "topic", Values: topics}
	var err error
	if t.lagSeconds, err = m.Histogram(MetricLagSeconds,
		"Seconds from a message's birth on the source cluster to its acknowledgement by the target, by source topic.",
		[]float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}, t.topicLabel); err != nil {
		return err
	}
	if t.lagRecords, err = m.Histogram(MetricLagRecords,
		"Messages of a source queue not yet read, observed at every read, by source topic.", lagRecordBuckets, t.topicLabel); err != nil {
		return err
	}
	if t.replicated, err = m.Counter(MetricReplicated, "Messages replicated (acknowledged by the target), by source topic.", t.topicLabel); err != nil {
		return err
	}
	if t.lost, err = m.Counter(MetricLost,
		"Source messages skipped because the source broker no longer held them when the task came to read them (retention, a cleaned disk), by source topic.",
		t.topicLabel); err != nil {
		return err
	}
	t.readErrors, err = m.Counter(MetricReadErrors,
		"Failed reads of a source queue (the queue is tried again while the task's other queues go on), by source topic.", t.topicLabel)
	return err
}

// resume sets every queue's next offset from its committed position or start.position. A
// queue whose broker does not answer is tried again by Poll (the task's other queues go on
// meanwhile); only an unreachable name server, which leaves no queue readable, fails Start.
func (t *sourceTask) resume(ctx context.Context, pr plugins.PositionReader, latest bool) error {
	t.latest = latest
	parts := make([]map[string]any, len(t.queues))
	for i, qs := range t.queues {
		parts[i] = qs.part
	}
	got, err := pr.Positions(ctx, parts)
	if err != nil {
		return plugins.Retriable(fmt.Errorf("read positions: %w", err))
	}
	have := map[srcQueue]bool{}
	for _, p := range got {
		qs := t.byKey[partQueue(p.Partition)]
		if qs == nil {
			continue
		}
		n, ok, err := position.Int64(p.Offset, OffsetNext)
		if err != nil || !ok {
			return fmt.Errorf("position of %s: %v", qs.q, err)
		}
		qs.next = n
		have[partQueue(p.Partition)] = true
	}
	for _, qs := range t.queues {
		qs.unset = !have[partQueue(qs.part)]
		if err := t.place(ctx, qs); err != nil {
			if errors.Is(err, rmqclient.ErrUnreachable) || ctx.Err() != nil {
				return plugins.Retriable(fmt.Errorf("source cluster %s: %w", t.sel.srcAlias, err))
			}
			t.markFailing(qs, err)
		}
	}
	t.lastTail = time.Now()
	return nil
}

// place asks the source for qs's stored range: its end, and, for a queue without a
// position, where it starts per start.position.
func (t *sourceTask) place(ctx context.Context, qs *queueState) error {
	lo, hi, err := t.client.QueueOffsets(ctx, qs.q)
	if err != nil {
		return err
	}
	qs.max.Store(hi)
	if qs.unset {
		qs.next, qs.unset = lo, false
		if t.latest {
			qs.next = hi
		}
	}
	return nil
}

// partQueue reads a source partition back.
func partQueue(p map[string]any) srcQueue {
	c, _ := p[PartCluster].(string)
	tp, _ := p[PartTopic].(string)
	b, _ := p[PartBroker].(string)
	var q int
	switch x := p[PartQueue].(type) {
	case int64:
		q = int(x)
	case float64:
		q = int(x)
	case int:
		q = x
	}
	return srcQueue{c, tp, b, q}
}

// Poll implements plugins.SourceTask: it reads the queues round robin, up to
// poll.batch.size messages, after the offset syncs made since the last poll. The batch
// holds each queue's messages together, in queue order, so that the engine sends them to
// their target queue in its largest batches (it cuts a send batch where the target queue
// changes). A queue that cannot be read (its broker is down, the source cluster
// unreachable) is tried again later while the others go on; the task keeps running and
// resumes that queue from its position once it answers (see failed). A message that cannot
// be decoded ends its queue's records of the poll; the next poll returns it alone, as a
// failed record (see holdUndecodable).
func (t *sourceTask) Poll(ctx context.Context) ([]*schema.Record, error) {
	if recs := t.undecodableRecords(); recs != nil {
		return t.withSyncs(recs), nil
	}
	per := make([][]*schema.Record, len(t.queues))
	n := 0
	start := time.Now()
	for n < t.batch && ctx.Err() == nil {
		progressed := false
		now := time.Now()
		for i := 0; i < len(t.queues) && n < t.batch; i++ {
			k := (t.rr + i) % len(t.queues)
			qs := t.queues[k]
			if qs.gone || qs.unset || qs.bad != nil || qs.next == qs.max.Load() || !qs.due(now) {
				continue
			}
			before := len(per[k])
			advanced, err := t.read(ctx, qs, &per[k])
			n += len(per[k]) - before
			if err != nil {
				if ctx.Err() != nil || errors.Is(err, context.Canceled) {
					return t.withSyncs(concat(per, n)), nil
				}
				if err := t.failed(ctx, qs, err); err != nil {
					return nil, err
				}
				continue
			}
			progressed = progressed || advanced
		}
		t.rr++
		if progressed {
			continue
		}
		if n > 0 || t.holding > 0 || time.Since(start) >= maxPollBlock {
			break
		}
		if wait := idlePoll - time.Since(t.lastTail); wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
		if err := t.refreshTails(ctx); err != nil {
			return nil, err
		}
		if !t.anyBehind() {
			t.syncIdle()
		}
	}
	t.reportFailing()
	return t.withSyncs(concat(per, n)), nil
}

// concat joins the per-queue records of a poll, n in all.
func concat(per [][]*schema.Record, n int) []*schema.Record {
	if n == 0 {
		return nil
	}
	out := make([]*schema.Record, 0, n)
	for _, recs := range per {
		out = append(out, recs...)
	}
	return out
}

// read pulls once from qs and appends its records; it reports whether qs advanced. A
// position outside the queue's stored range moves qs (see moved). A message the client
// cannot decode is held after the records before it (see holdUndecodable).
func (t *sourceTask) read(ctx context.Context, qs *queueState, recs *[]*schema.Record) (bool, error) {
	t.readMu.Lock()
	if t.stopped {
		t.readMu.Unlock()
		return false, context.Canceled
	}
	res, err := t.reader.Pull(ctx, qs.q, qs.next, pullMax)
	t.readMu.Unlock()
	var bad *rmqclient.UndecodableError
	if err != nil && !errors.As(err, &bad) {
		return false, err
	}
	// The records keep what the messages point to, never the messages themselves.
	defer res.Release()
	if res.Moved || qs.next > res.MaxOffset {
		return t.moved(ctx, qs, res)
	}
	t.readable(qs)
	if res.MaxOffset > qs.max.Load() {
		qs.max.Store(res.MaxOffset)
	}
	advanced := res.Next != qs.next
	qs.next = res.Next // with bad, its offset
	msgs := res.Messages
	if len(msgs) > 0 {
		last := msgs[len(msgs)-1]
		t.lagRecords.Observe(float64(max(last.MaxOffset-last.Offset-1, 0)), t.topicLabel.Bound(qs.label))
		b := newPullBlock(msgs)
		for i, m := range msgs {
			if r := t.record(qs, m, &b, i); r != nil {
				*recs = append(*recs, r)
			}
		}
		advanced = true
	}
	if bad != nil {
		t.holdUndecodable(qs, bad)
		advanced = true
	}
	return advanced, nil
}

// nextOffset is a record's position (the source offset after its message) as its
// LazyOffset: the engine builds the map only for the records whose position it stores, and
// CommitRecord reads the number without one.
type nextOffset int64

func (o *nextOffset) Offset() map[string]any { return map[string]any{OffsetNext: int64(*o)} }

// recordNext returns the source offset after r's message.
func recordNext(r *schema.Record) (int64, bool) {
	if o, ok := r.LazyOffset.(*nextOffset); ok && r.SourceOffset == nil {
		return int64(*o), true
	}
	n, ok, _ := position.Int64(r.Offset(), OffsetNext)
	return n, ok
}

// pullBlock holds the records of one pull and what they point to, so that a pull of 32
// messages costs a few allocations rather than several a message: the records, their
// positions, their headers (each record's slice at full capacity, so that appending to it
// copies), and their values and the strings of their headers in interfaces.
type pullBlock struct {
	recs   []schema.Record
	offs   []nextOffset
	hdrs   []schema.Header
	strs   box.Boxes[string]
	bodies box.Boxes[[]byte]
}

func newPullBlock(msgs []*rmqclient.ReceivedMessage) pullBlock {
	n := 0
	for _, m := range msgs {
		n += len(m.Properties) + 3
	}
	b := pullBlock{recs: make([]schema.Record, len(msgs)), offs: make([]nextOffset, len(msgs)),
		hdrs: make([]schema.Header, 0, n)}
	b.strs.Size(n)
	b.bodies.Size(len(msgs))
	return b
}

// record turns a source message into a record, or nil when the tag filter or loop
// prevention drops it.
// Message i of the pull is written into b's slots.
func (t *sourceTask) record(qs *queueState, m *rmqclient.ReceivedMessage, b *pullBlock, i int) *schema.Record {
	if qs.tags != nil && !qs.tags(m.Tag) {
		return nil
	}
	path := m.Properties[PropPath]
	if t.fromTarget(path) {
		return nil
	}
	b.offs[i] = nextOffset(m.Offset + 1)
	r := &b.recs[i]
	*r = schema.Record{SourcePartition: qs.part, LazyOffset: &b.offs[i],
		Topic: qs.target, QueueID: -1, Value: b.bodies.Box(m.Body), Timestamp: m.BornTime, Extensions: qs.ext}
	hdrs := b.hdrs[len(b.hdrs):]
	add := func(k, v string) { hdrs = append(hdrs, schema.Header{Key: k, Value: b.strs.Box(v)}) }
	for k, v := range m.Properties {
		if k != PropPath {
			add(k, v)
		}
	}
	if len(m.Keys) > 0 {
		add(propKeys, strings.Join(m.Keys, " "))
	}
	if m.Tag != "" {
		add(propTags, m.Tag)
	}
	if qs.identity || path != "" {
		p := t.sel.srcAlias
		if path != "" {
			p = path + "," + p
		}
		add(PropPath, p)
	}
	r.Headers = hdrs[:len(hdrs):len(hdrs)]
	b.hdrs = b.hdrs[:len(b.hdrs)+len(hdrs)]
	return r
}

// fromTarget reports whether a message whose PropPath property is path came from the target
// cluster (and so is not replicated back to it).
func (t *sourceTask) fromTarget(path string) bool {
	return path != "" && slices.Contains(strings.Split(path, ","), t.sel.dstAlias)
}

// refreshTails asks the source for the end of every queue that is due: a queue that failed
// is asked again once its retry time has come. A queue that does not answer waits for its
// next try while the others are refreshed. The only error is a listed topic's deletion.
func (t *sourceTask) refreshTails(ctx context.Context) error {
	t.lastTail = time.Now()
	for _, qs := range t.queues {
		if qs.gone || !qs.due(t.lastTail) {
			continue
		}
		var err error
		if qs.unset {
			err = t.place(ctx, qs)
		} else {
			var hi int64
			if hi, err = qs.tail.MaxOffset(ctx); err == nil {
				// A position past the new end (the topic was made again, the store
				// wiped) is read, and moved, by the next pass (see moved).
				qs.max.Store(hi)
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if err := t.failed(ctx, qs, err); err != nil {
				return err
			}
			continue
		}
		if qs.next == qs.max.Load() {
			t.readable(qs) // nothing to read: the queue answered all that was asked
		}
	}
	return nil
}

// anyBehind reports whether a queue that can be read has messages left to read.
func (t *sourceTask) anyBehind() bool {
	for _, qs := range t.queues {
		if !qs.gone && !qs.unset && qs.failSince.IsZero() && qs.next != qs.max.Load() {
			return true
		}
	}
	return false
}

// moved handles the broker's answer that qs's position lies outside the queue's stored
// range, logging the queue, the position and the range:
//   - before its start: the broker deleted those messages before the task read them
//     (retention, a forced clean of a full disk). The task reads on from the broker's
//     suggestion, the start, and counts the messages it skipped as lost.
//   - past its end: see rmqclient.Pulled.PastEnd. A topic that no longer exists is handled as deleted.
func (t *sourceTask) moved(ctx context.Context, qs *queueState, res rmqclient.Pulled) (bool, error) {
	from, next := qs.next, res.Next
	if from > res.MaxOffset {
		if gone, err := t.deleted(ctx, qs.q.Topic,
			fmt.Errorf("%s ends at %d, before the position %d", qs.q, res.MaxOffset, from)); gone {
			return false, err
		}
		next = res.PastEnd()
		t.log.Warn("source position past the end of its queue; reading on from another offset", "cluster", t.sel.srcAlias,
			"queue", qs.q.String(), "position", from, "next", next, "min", res.MinOffset, "max", res.MaxOffset)
	} else {
		if next <= from {
			// The broker names no offset to go on from: try again later, visibly.
			t.markFailing(qs, fmt.Errorf("read %s at %d: the broker answered %s with next offset %d", qs.q, from, res.Status, next))
			return false, nil
		}
		t.log.Warn("source messages deleted before they were read; reading on from the broker's next offset", "cluster", t.sel.srcAlias,
			"queue", qs.q.String(), "position", from, "next", next, "min", res.MinOffset, "max", res.MaxOffset, "lost", next-from,
			"status", res.Status)
		t.lost.Add(float64(next-from), t.topicLabel.Bound(qs.label))
	}
	qs.next = next
	qs.max.Store(res.MaxOffset)
	t.readable(qs)
	return true, nil
}

// failed handles a failed read or tail query of qs. A topic that no longer exists fails
// the task when it was listed and is dropped when a regex chose it (see deleted); otherwise
// qs is tried again after a growing delay while the task's other queues go on, and
// reportFailing keeps it visible.
//
// A queue that keeps failing does not fail the task: the task's other queues would stop
// with it, and a restarted task would meet the same broker; a source broker that is down,
// or whose master is being switched, is a wait that replication survives (MirrorMaker and
// RocketMQ's own consumers wait too). The warning repeats every failWarnEvery and
// read_errors_total counts every failed try, for alerts.
func (t *sourceTask) failed(ctx context.Context, qs *queueState, err error) error {
	if gone, derr := t.deleted(ctx, qs.q.Topic, err); gone {
		return derr
	}
	t.markFailing(qs, err)
	return nil
}

// deleted reports whether topic no longer exists on the source (cause is why the task
// asks). A topic listed in the config then fails the task with a status naming it; one a
// regex chose is dropped (nil error) until the connector reconfigures.
func (t *sourceTask) deleted(ctx context.Context, topic string, cause error) (bool, error) {
	_, err := t.client.ReadableQueues(ctx, topic)
	if !errors.Is(err, rmqclient.ErrNoRoute) {
		return false, nil
	}
	if slices.Contains(t.sel.listed, topic) {
		return true, fmt.Errorf("%w: topic %s does not exist on source cluster %s any more; remove it from %s or create it again: %w",
			ErrTopicDeleted, topic, t.sel.srcAlias, KeyTopics, cause)
	}
	t.log.Info("source topic deleted; no longer replicated", "cluster", t.sel.srcAlias, "topic", topic)
	for _, qs := range t.queues {
		if qs.q.Topic == topic {
			t.readable(qs)
			qs.gone = true
		}
	}
	return true, nil
}

// due reports whether qs may be read or asked for its end at now.
func (qs *queueState) due(now time.Time) bool {
	return qs.failSince.IsZero() || !now.Before(qs.retryAt)
}

// markFailing records a failed try of qs and when to try again.
func (t *sourceTask) markFailing(qs *queueState, err error) {
	t.readErrors.Inc(t.topicLabel.Bound(qs.label))
	now := time.Now()
	if qs.failSince.IsZero() {
		qs.failSince = now
		t.failing++
	}
	qs.failErr = err
	qs.fails++
	qs.retryAt = now.Add(min(retryFirst<<min(qs.fails-1, 8), retryMax))
}

// readable records that qs answered.
func (t *sourceTask) readable(qs *queueState) {
	if !qs.failSince.IsZero() {
		qs.failSince, qs.failErr, qs.fails = time.Time{}, nil, 0
		t.failing--
	}
}

// reportFailing logs one warning naming the queues that cannot be read, at once and then
// every failWarnEvery while any fails, and once when all can be read again.
func (t *sourceTask) reportFailing() {
	if t.failing == 0 {
		if !t.warnedAt.IsZero() {
			t.log.Info("source queues readable again", "cluster", t.sel.srcAlias, "after", time.Since(t.downSince).Round(time.Second))
			t.warnedAt, t.downSince = time.Time{}, time.Time{}
		}
		return
	}
	if !t.warnedAt.IsZero() && time.Since(t.warnedAt) < failWarnEvery {
		return
	}
	var first *queueState
	var names []string
	for _, qs := range t.queues {
		if qs.failSince.IsZero() {
			continue
		}
		if first == nil || qs.failSince.Before(first.failSince) {
			first = qs
		}
		if len(names) < 10 {
			names = append(names, qs.q.String())
		}
	}
	if t.warnedAt.IsZero() {
		t.downSince = first.failSince
	}
	t.warnedAt = time.Now()
	t.log.Warn("source queues cannot be read; retrying", "cluster", t.sel.srcAlias, "failing", t.failing, "task_queues", len(t.queues),
		"queues", strings.Join(names, ","), "since", first.failSince.Format(time.RFC3339), "err", first.failErr)
}

// CommitRecord implements plugins.RecordCommitter: it measures lag and decides offset
// syncs from where the target stored each message.
//
// With ordering on, a message stored on another target queue than the message before it of
// its source queue means that the queue moved: the worker maps target queue indexes onto
// the target topic's writable queues, and that set changed (a broker joined or left, or its
// master is down; a queue count changed). The move is logged, and an offset sync is written
// for the first message on the new queue, so that a group past it translates onto the new
// queue from that message rather than onto the old one, and a group behind it resumes on the
// new queue at that message (syncStore.ahead).
func (t *sourceTask) CommitRecord(_ context.Context, r *schema.Record, md *plugins.RecordMetadata) error {
	if md == nil || r.Topic == t.sel.syncsTopic {
		return nil
	}
	qs := t.byKey[partQueue(r.SourcePartition)]
	if qs == nil {
		return nil
	}
	label := t.topicLabel.Bound(qs.label)
	t.replicated.Inc(label)
	if !r.Timestamp.IsZero() {
		t.lagSeconds.Observe(time.Since(r.Timestamp).Seconds(), label)
	}
	up, _ := recordNext(r)
	up--
	to := RecordTarget{Topic: md.Topic, Broker: md.BrokerName, Queue: md.QueueID, Offset: md.QueueOffset}
	t.mu.Lock()
	from := qs.acked
	moved := t.ordered && from.Topic != "" && (from.Topic != to.Topic || from.Broker != to.Broker || from.Queue != to.Queue)
	qs.ackedUp, qs.acked = up, to
	if t.emitSyncs && (qs.syncedUp < 0 || moved || up-qs.syncedUp >= t.lagMax) {
		t.addSync(qs)
	}
	t.mu.Unlock()
	if moved {
		t.log.Warn("source queue moved to another target queue; its messages go on there, in order, after those on the old one",
			"cluster", t.sel.srcAlias, "queue", qs.q.String(), "from", from.queue().String(), "to", to.queue().String(), "upstream", up)
	}
	return nil
}

// queue returns the target queue of rt.
func (rt RecordTarget) queue() rmqclient.Queue {
	return rmqclient.Queue{Topic: rt.Topic, BrokerName: rt.Broker, QueueID: rt.Queue}
}

// syncIdle writes an offset sync for the last acked message of every queue whose last
// sync is older: once a task is idle, the end of each queue translates exactly.
func (t *sourceTask) syncIdle() {
	if !t.emitSyncs {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, qs := range t.queues {
		if qs.ackedUp > qs.syncedUp {
			t.addSync(qs)
		}
	}
}

// addSync queues an offset sync of qs's last acked message. Caller holds t.mu.
func (t *sourceTask) addSync(qs *queueState) {
	s := OffsetSync{Cluster: t.sel.srcAlias, Topic: qs.q.Topic, Broker: qs.q.BrokerName, Queue: qs.q.QueueID, Upstream: qs.ackedUp,
		TargetTopic: qs.acked.Topic, TargetBroker: qs.acked.Broker, TargetQueue: qs.acked.Queue, Downstream: qs.acked.Offset}
	b, _ := json.Marshal(s) // plain fields: never fails
	qs.syncedUp = qs.ackedUp
	t.pending = append(t.pending, pendingSync{qs, b})
}

type pendingSync struct {
	qs   *queueState
	body []byte
}

// withSyncs puts the offset-sync records made since the last poll before recs. A sync
// record carries its queue's position as Poll has read it: every message before that was
// in an earlier batch (acked before this one's positions count) or is in this one, after
// the sync, so a queue's committed position never goes back.
func (t *sourceTask) withSyncs(recs []*schema.Record) []*schema.Record {
	t.mu.Lock()
	pending := t.pending
	t.pending = nil
	t.mu.Unlock()
	if len(pending) == 0 {
		return recs
	}
	out := make([]*schema.Record, 0, len(pending)+len(recs))
	for _, p := range pending {
		out = append(out, &schema.Record{SourcePartition: p.qs.part, SourceOffset: map[string]any{OffsetNext: p.qs.next},
			Topic: t.sel.syncsTopic, QueueID: -1, Value: p.body})
	}
	return append(out, recs...)
}

// Commit implements plugins.SourceTask; positions are all the engine's.
func (*sourceTask) Commit(context.Context) error { return nil }

// Stop implements plugins.SourceTask.
func (t *sourceTask) Stop(context.Context) error {
	t.readMu.Lock()
	t.stopped = true
	t.readMu.Unlock()
	var errs []error
	if t.reader != nil {
		errs = append(errs, t.reader.Close())
	}
	if t.client != nil {
		errs = append(errs, t.client.Close())
	}
	return errors.Join(errs...)
}
