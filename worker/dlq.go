package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

const previewBytes = 256

// A DLQ record's id names its message in the DLQ topic: "<broker>:<queue>:<offset>", the
// broker holding its queue, the queue's id there and the message's offset in it. A topic
// of a multi-master cluster has a queue 0 on every broker, so the broker is part of the
// id. It is split at the last two colons, so a broker name may hold any character.
//
// The form of earlier releases, "<queue>-<offset>", is still taken, for the one broker
// holding a queue <queue> (see dlqIDOn); records are always shown with the full form.
type dlqID struct {
	broker string // "" in the earlier form
	queue  int
	offset int64
}

func (id dlqID) String() string {
	if id.broker == "" {
		return fmt.Sprintf("%d-%d", id.queue, id.offset)
	}
	return fmt.Sprintf("%s:%d:%d", id.broker, id.queue, id.offset)
}

// dlqRecordID is the id of the message at offset off of DLQ queue q.
func dlqRecordID(q rmqclient.Queue, off int64) dlqID {
	return dlqID{broker: q.BrokerName, queue: q.QueueID, offset: off}
}

// dlqIDFormat is how an error names the forms parseDLQID takes.
const dlqIDFormat = "<broker>:<queue>:<offset>"

// parseDLQID parses a DLQ record id of either form.
func parseDLQID(s string) (dlqID, error) {
	var id dlqID
	var q, o string
	ok := false
	if rest, off, found := cutLast(s, ":"); found {
		id.broker, q, ok = cutLast(rest, ":")
		o = off
		ok = ok && id.broker != ""
	} else {
		q, o, ok = strings.Cut(s, "-")
	}
	qi, err1 := strconv.Atoi(q)
	oi, err2 := strconv.ParseInt(o, 10, 64)
	if !ok || err1 != nil || err2 != nil || qi < 0 || oi < 0 {
		return dlqID{}, fmt.Errorf("dlq record id %q: want %s", s, dlqIDFormat)
	}
	id.queue, id.offset = qi, oi
	return id, nil
}

// cutLast is strings.Cut at the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// errAmbiguousID: an id of the earlier form names a queue id several brokers of the DLQ
// topic have.
var errAmbiguousID = errors.New("ambiguous DLQ record id")

// errNoSuchQueue: an id of the earlier form names a queue id no broker of a DLQ topic on
// several brokers has.
var errNoSuchQueue = errors.New("no such DLQ queue")

// dlqIDOn completes id against the DLQ's queues qs: an id of the earlier form is given the
// broker of the one queue of qs with its queue id or, when no queue has it, the one broker
// of qs (it names a record the DLQ does not hold). It fails with errAmbiguousID, naming the
// ids it may mean, when several brokers have that queue; with errNoSuchQueue when none does
// and qs spans several brokers.
func dlqIDOn(qs []rmqclient.Queue, id dlqID) (dlqID, error) {
	if id.broker != "" || len(qs) == 0 {
		return id, nil
	}
	var with, all []string
	for _, q := range qs {
		if !slices.Contains(all, q.BrokerName) {
			all = append(all, q.BrokerName)
		}
		if q.QueueID == id.queue {
			with = append(with, q.BrokerName)
		}
	}
	switch {
	case len(with) == 1:
		id.broker = with[0]
		return id, nil
	case len(with) == 0 && len(all) == 1:
		id.broker = all[0]
		return id, nil
	case len(with) == 0:
		return id, fmt.Errorf("%w: no broker of the DLQ topic has a queue %d", errNoSuchQueue, id.queue)
	}
	names := make([]string, len(with))
	for i, b := range with {
		names[i] = dlqID{broker: b, queue: id.queue, offset: id.offset}.String()
	}
	return id, fmt.Errorf("%w: the DLQ topic has a queue %d on %d brokers; name the record with one of %s",
		errAmbiguousID, id.queue, len(with), strings.Join(names, ", "))
}

// badDLQID is the error for an id, given as key, that does not name one record of the DLQ
// (err from parseDLQID or dlqIDOn): the caller's mistake.
func badDLQID(key, value string, err error) error {
	reason := "not a DLQ record id; want " + dlqIDFormat + ", a record's id or a page's next"
	for _, sentinel := range []error{errAmbiguousID, errNoSuchQueue} {
		if errors.Is(err, sentinel) {
			reason = strings.TrimPrefix(err.Error(), sentinel.Error()+": ")
		}
	}
	return problem(key, value, reason)
}

// dlqTopic returns the connector's DLQ topic, or an error when it has none.
func (e *engine) dlqTopic(name string) (string, *connRuntime, error) {
	rt, err := e.runtime(name)
	if err != nil {
		return "", nil, err
	}
	if rt.st.policy.dlqTopic == "" {
		return "", nil, fmt.Errorf("connector %s has no errors.deadletterqueue.topic.name: %w", name, restapi.ErrBadState)
	}
	return rt.st.policy.dlqTopic, rt, nil
}

// dlqIO reads the DLQ topics: the broker's (brokerDLQ), or, in tests, topics held in memory.
type dlqIO interface {
	// Queues lists topic's readable queues (not its writable ones: a DLQ topic made
	// read-only, or drained to fewer write queues, still holds its records), sorted by broker
	// and queue id; none when the topic does not exist.
	Queues(ctx context.Context, topic string) ([]rmqclient.Queue, error)
	// Offsets returns q's first retained offset (the broker's retention deleted the messages
	// below it) and the offset its next message will get.
	Offsets(ctx context.Context, q rmqclient.Queue) (minOff, maxOff int64, err error)
	// Read returns up to max messages of q from offset on (from the first retained one when
	// offset is below it) and the offset to read next; none at the end of the queue.
	Read(ctx context.Context, q rmqclient.Queue, offset int64, max int) ([]*rmqclient.ReceivedMessage, int64, error)
}

// brokerDLQ reads the DLQ topics from the broker, through the engine's client.
type brokerDLQ struct{ e *engine }

func (b brokerDLQ) Queues(ctx context.Context, topic string) ([]rmqclient.Queue, error) {
	qs, err := b.e.client.ReadableQueues(ctx, topic)
	if errors.Is(err, rmqclient.ErrNoRoute) {
		return nil, nil
	}
	return qs, err
}

func (b brokerDLQ) Offsets(ctx context.Context, q rmqclient.Queue) (int64, int64, error) {
	return b.e.client.QueueOffsets(ctx, q)
}

func (b brokerDLQ) Read(ctx context.Context, q rmqclient.Queue, offset int64, max int) ([]*rmqclient.ReceivedMessage, int64, error) {
	return b.e.dlqReader().Read(ctx, q, offset, max)
}

func (e *engine) dlqReader() *rmqclient.Reader {
	e.producerMu.Lock()
	defer e.producerMu.Unlock()
	if e.reader == nil {
		e.reader = e.client.NewReader("dlq")
	}
	return e.reader
}

// dlqIO is how the engine reads the DLQ topics.
func (e *engine) dlqIO() dlqIO {
	if e.dlq != nil {
		return e.dlq
	}
	return brokerDLQ{e}
}

// readDLQ is dlqIO.Read for the DLQ routes: a message the worker cannot decode (a foreign
// writer's, a corrupt one) does not fail the read, which no read gets past, but comes as an
// unreadable message (unreadableMessage) after the messages before it, and the read goes on
// after it. So a listing shows it and the records after it, and a replay refuses it and
// sends the others.
func (e *engine) readDLQ(ctx context.Context, q rmqclient.Queue, offset int64, max int) ([]*rmqclient.ReceivedMessage, int64, error) {
	msgs, next, err := e.dlqIO().Read(ctx, q, offset, max)
	var bad *rmqclient.UndecodableError
	if !errors.As(err, &bad) {
		return msgs, next, err
	}
	return append(msgs, unreadableMessage(bad)), bad.Offset + 1, nil
}

// dlqUnreadable marks a message readDLQ could not decode; its value is why. It is never
// written to a DLQ topic; a message a writer sent with it is taken as unreadable (shown so
// and refused by a replay), as one sent with ErrHeaderBodyUndecodable is refused.
const dlqUnreadable = ErrHeaderPrefix + "dlq.undecodable"

// unreadableMessage is the DLQ message bad as far as it could be read: its id, its stored
// (undecodable) body and, when they could be read, its properties and keys; marked with
// dlqUnreadable.
func unreadableMessage(bad *rmqclient.UndecodableError) *rmqclient.ReceivedMessage {
	props := make(map[string]string, len(bad.Properties)+1)
	maps.Copy(props, bad.Properties)
	why := rmqclient.ErrUndecodable.Error()
	if bad.Err != nil {
		why = bad.Err.Error()
	}
	props[dlqUnreadable] = why
	return &rmqclient.ReceivedMessage{Queue: bad.Queue, Offset: bad.Offset, Body: bad.Body, Keys: bad.Keys, Properties: props}
}

// dlqQueues lists the DLQ topic's readable queues; a topic not created yet has none.
func (e *engine) dlqQueues(ctx context.Context, topic string) ([]rmqclient.Queue, error) {
	return e.dlqIO().Queues(ctx, topic)
}

// DLQList lists up to limit DLQ records of a connector after the record id after ("" =
// from the start), oldest first on each queue, the queues in (broker, queue id) order.
func (e *engine) DLQList(ctx context.Context, name, after string, limit int) (restapi.DLQPage, error) {
	topic, _, err := e.dlqTopic(name)
	if err != nil {
		return restapi.DLQPage{}, err
	}
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	var cursor dlqID
	if after != "" {
		if cursor, err = parseDLQID(after); err != nil {
			// A cursor the caller got wrong, not a record that is missing.
			return restapi.DLQPage{}, fmt.Errorf("dlq of connector %s: %w", name, badDLQID("after", after, err))
		}
	}
	qs, err := e.dlqQueues(ctx, topic)
	if err != nil {
		return restapi.DLQPage{}, err
	}
	start, startOff := 0, int64(0)
	if after != "" {
		id, err := dlqIDOn(qs, cursor)
		if err != nil {
			return restapi.DLQPage{}, fmt.Errorf("dlq of connector %s: %w", name, badDLQID("after", after, err))
		}
		// Start on the cursor's queue after its record or, if that queue is gone, on the
		// queue that follows it.
		var found bool
		start, found = slices.BinarySearchFunc(qs, id, func(q rmqclient.Queue, id dlqID) int {
			return cmp.Or(strings.Compare(q.BrokerName, id.broker), cmp.Compare(q.QueueID, id.queue))
		})
		if found {
			startOff = id.offset + 1
		}
	}
	replayed := e.replayedSet(name)
	page := restapi.DLQPage{Topic: topic, Records: []restapi.DLQRecord{}}
	for i := start; i < len(qs) && len(page.Records) < limit; i++ {
		off := int64(0)
		if i == start {
			off = startOff
		}
		for len(page.Records) < limit {
			msgs, next, err := e.readDLQ(ctx, qs[i], off, limit-len(page.Records))
			if err != nil {
				return restapi.DLQPage{}, err
			}
			if len(msgs) == 0 {
				break
			}
			for _, m := range msgs {
				rec := decodeDLQ(m, false)
				if ri, ok := replayed.lookup(topic, m); ok {
					rec.Replayed = &ri
				}
				page.Records = append(page.Records, rec)
			}
			off = next
		}
	}
	if len(page.Records) == limit {
		page.Next = page.Records[len(page.Records)-1].ID
	}
	return page, nil
}

// DLQGet returns one DLQ record with its full body and stack trace.
func (e *engine) DLQGet(ctx context.Context, name, id string) (restapi.DLQRecord, error) {
	topic, _, err := e.dlqTopic(name)
	if err != nil {
		return restapi.DLQRecord{}, err
	}
	qs, err := e.dlqQueues(ctx, topic)
	if err != nil {
		return restapi.DLQRecord{}, err
	}
	m, err := e.readDLQAt(ctx, name, qs, "id", id)
	if err != nil {
		return restapi.DLQRecord{}, err
	}
	rec := decodeDLQ(m, true)
	if ri, ok := e.replayedSet(name).lookup(topic, m); ok {
		rec.Replayed = &ri
	}
	return rec, nil
}

// readDLQAt reads record id, given as key, of connector name's DLQ, whose queues are qs;
// ErrNotFound when the DLQ does not hold it or id is not a record id, a *cfgerr.Error
// naming key when id is of the earlier form and may name several records.
func (e *engine) readDLQAt(ctx context.Context, name string, qs []rmqclient.Queue, key, id string) (*rmqclient.ReceivedMessage, error) {
	rid, err := parseDLQID(id)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, restapi.ErrNotFound)
	}
	switch rid, err = dlqIDOn(qs, rid); {
	case errors.Is(err, errNoSuchQueue):
		return nil, fmt.Errorf("dlq record %s of connector %s: %w: %w", id, name, err, restapi.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("dlq of connector %s: %w", name, badDLQID(key, id, err))
	}
	for _, q := range qs {
		if q.BrokerName != rid.broker || q.QueueID != rid.queue {
			continue
		}
		msgs, _, err := e.readDLQ(ctx, q, rid.offset, 1)
		if err != nil {
			return nil, err
		}
		if len(msgs) == 1 && msgs[0].Offset == rid.offset {
			return msgs[0], nil
		}
	}
	return nil, fmt.Errorf("dlq record %s of connector %s: %w", id, name, restapi.ErrNotFound)
}

// DLQReplay re-sends DLQ records (all of them when ids is empty) to their original topic
// with their original keys and properties, so the sink consumes them again. A record
// already replayed is skipped unless force is set; in a cluster, one another worker is
// replaying is left to it and listed as in progress (see clusterReplays.begin). Records
// are read, sent and recorded in batches of replayBatch, so memory stays bounded whatever
// the DLQ holds; the replays of a batch are recorded durably before the next batch is read
// and before the call returns (a crash in the middle of a batch may send its records again
// on the next replay). The replay records of records the broker's retention deleted are
// dropped first (dlqReplays.prune).
//
// Only a sink connector's DLQ can be replayed: a source connector's DLQ holds records that
// were never converted, which its target topic's readers cannot expect. A record is sent
// only to a topic the connector consumes (connect.topicnames): the target comes from a
// message property anyone who can write the DLQ topic can set, so any other target (a
// store topic, another connector's topic) is refused, as is a record whose body the DLQ
// kept only in part, without its own properties, or only as the task rendered it; refused
// records are listed with the reason (a restapi.DLQRefusalCode and a sentence).
func (e *engine) DLQReplay(ctx context.Context, name string, ids []string, force bool) (restapi.DLQReplayResult, error) {
	topic, rt, err := e.dlqTopic(name)
	if err != nil {
		return restapi.DLQReplayResult{}, err
	}
	if rt.connType() != restapi.TypeSink {
		return restapi.DLQReplayResult{}, fmt.Errorf("connector %s is a source; only a sink connector's DLQ can be replayed: %w", name, restapi.ErrBadState)
	}
	p, err := e.sharedProducer()
	if err != nil {
		return restapi.DLQReplayResult{}, err
	}
	e.replayMu.Lock()
	defer e.replayMu.Unlock()
	r := &replayer{e: e, name: name, dlq: topic, force: force, p: p, at: time.Now().UTC(), done: e.replayedSet(name).of(topic),
		allowed: map[string]bool{}, res: restapi.DLQReplayResult{Replayed: []string{}, Skipped: []string{},
			InProgress: []restapi.DLQInProgress{}, Refused: []restapi.DLQRefusal{}}}
	for _, t := range rt.st.topics {
		r.allowed[t] = true
	}
	qs, err := e.dlqQueues(ctx, topic)
	if err != nil {
		return r.res, err
	}
	// Only what the DLQ held when the replay began: a replayed record that fails again
	// comes back to the DLQ, on any of its queues, and must not be replayed again by this
	// call; so every queue's range is read before anything is sent. Its start, the first
	// offset the broker's retention kept, is where the queue's replay records begin.
	type span struct{ off, end int64 }
	spans := make([]span, len(qs))
	floors := map[string]int64{}
	for i, q := range qs {
		off, end, err := e.dlqIO().Offsets(ctx, q)
		if err != nil {
			if len(ids) == 0 {
				return r.res, err
			}
			floors = nil // a replay of some records needs no queue it does not read; it prunes nothing
			continue
		}
		spans[i] = span{off, end}
		if floors != nil {
			floors[queueKeyOf(q)] = off
		}
	}
	if err := r.prune(ctx, floors); err != nil {
		return r.res, err
	}
	if len(ids) > 0 {
		return r.res, r.replayIDs(ctx, qs, ids)
	}
	for i, q := range qs {
		off, end := spans[i].off, spans[i].end
		for off < end {
			batch, next, err := e.readBelow(ctx, q, off, end)
			if err != nil {
				return r.res, err
			}
			if len(batch) == 0 {
				off = next // deleted by the broker's retention meanwhile
				continue
			}
			for len(batch) > 0 && batch[len(batch)-1].Offset >= end {
				batch = batch[:len(batch)-1] // a pull may return a little past end
			}
			if err := r.replay(ctx, batch); err != nil {
				return r.res, err
			}
			off = next
		}
	}
	return r.res, nil
}

// replayBatch is how many DLQ records a replay reads, sends and records at a time.
const replayBatch = 256

// readBelow reads up to replayBatch records of DLQ queue q from offset off, below end, which the
// queue's offsets showed stored: a batch, or none and the offset past records the broker deleted
// meanwhile. A pull that answers neither (nothing found, "pull again", a dispatch the broker has not
// finished) is asked again for a few seconds, then is an error: the replay must not end as if the
// records below end had been read (it answered with nothing replayed, and the records stayed).
func (e *engine) readBelow(ctx context.Context, q rmqclient.Queue, off, end int64) ([]*rmqclient.ReceivedMessage, int64, error) {
	wait := 50 * time.Millisecond
	for deadline := time.Now().Add(readBelowPatience); ; {
		batch, next, err := e.readDLQ(ctx, q, off, replayBatch)
		if err != nil || len(batch) > 0 || next > off {
			return batch, next, err
		}
		if time.Now().After(deadline) {
			return nil, off, fmt.Errorf("read DLQ queue %s at %d: the broker answered no records below its end %d for %s; "+
				"nothing past them was replayed, try again", q, off, end, readBelowPatience)
		}
		select {
		case <-ctx.Done():
			return nil, off, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// readBelowPatience bounds how long readBelow asks again for records a queue shows stored. A var
// so that tests can shorten it.
var readBelowPatience = 5 * time.Second

// replayer carries one DLQReplay call's state across its batches.
type replayer struct {
	e     *engine
	name  string
	dlq   string
	force bool
	p     *rmqclient.Producer
	// at is when the call began: the time its replays are recorded with.
	at      time.Time
	done    *dlqReplays
	allowed map[string]bool
	res     restapi.DLQReplayResult
	// last is the message read before the one being replayed: a replay of all reads each
	// queue in offset order, so it is mostly the one prevStored needs.
	last *rmqclient.ReceivedMessage
}

// prune drops the replay records of the DLQ's records the broker's retention deleted:
// floors maps a queue (queueKey) to its first retained offset.
func (r *replayer) prune(ctx context.Context, floors map[string]int64) error {
	if !r.done.prune(r.dlq, floors) {
		return nil
	}
	if r.e.replays != nil {
		return r.e.replays.prune(ctx, r.name, r.dlq, floors)
	}
	return r.e.saveReplayed(r.name, r.done)
}

// replayIDs replays the records ids of the DLQ queues qs. Every id is looked up before
// anything is sent, so that an unknown one fails the call with nothing sent; only the first
// batch read is kept (memory stays bounded), the others are read again as they are sent,
// and a record the DLQ lost meanwhile (the broker's retention) is refused, not an error
// that would hide what was sent before it. A record named more than once (the same id
// repeated, or its full and its earlier form) is replayed and listed once: with force, each
// naming would otherwise send it again.
func (r *replayer) replayIDs(ctx context.Context, qs []rmqclient.Queue, ids []string) error {
	first := make([]*rmqclient.ReceivedMessage, 0, min(replayBatch, len(ids)))
	seen := make(map[dlqID]bool, len(ids))
	uniq := make([]string, 0, len(ids))
	for _, id := range ids {
		m, err := r.e.readDLQAt(ctx, r.name, qs, "ids", id)
		if err != nil {
			return err
		}
		if rid := dlqRecordID(m.Queue, m.Offset); !seen[rid] {
			seen[rid] = true
			uniq = append(uniq, id)
			if len(first) < replayBatch {
				first = append(first, m)
			}
		}
	}
	ids = uniq
	if err := r.replay(ctx, first); err != nil {
		return err
	}
	for start := replayBatch; start < len(ids); start += replayBatch {
		batch := make([]*rmqclient.ReceivedMessage, 0, min(replayBatch, len(ids)-start))
		for _, id := range ids[start:min(start+replayBatch, len(ids))] {
			m, err := r.e.readDLQAt(ctx, r.name, qs, "ids", id)
			if errors.Is(err, restapi.ErrNotFound) {
				r.res.Refused = append(r.res.Refused, restapi.DLQRefusal{ID: id, Code: restapi.RefusedGone,
					Reason: "no longer in the DLQ: deleted since the replay began (the broker's retention)"})
				continue
			}
			if err != nil {
				return err
			}
			batch = append(batch, m)
		}
		if err := r.replay(ctx, batch); err != nil {
			return err
		}
	}
	return nil
}

// replay sends one batch and records what was sent (one write per batch in standalone mode;
// in a cluster each record is taken and finished in the config topic).
func (r *replayer) replay(ctx context.Context, msgs []*rmqclient.ReceivedMessage) (err error) {
	sent := 0
	if r.e.replays == nil {
		defer func() {
			if sent == 0 {
				return
			}
			if serr := r.e.saveReplayed(r.name, r.done); serr != nil && err == nil {
				err = serr
			}
		}()
	}
	for _, m := range msgs {
		before := r.last
		r.last = m
		rec := decodeDLQ(m, false)
		if r.done.replayed(r.dlq, m) && !r.force {
			r.res.Skipped = append(r.res.Skipped, rec.ID)
			continue
		}
		if code, reason := r.refusal(rec, m); code != "" {
			r.res.Refused = append(r.res.Refused, restapi.DLQRefusal{ID: rec.ID, Code: code, Reason: reason})
			continue
		}
		prev, err := r.prevStored(ctx, before, m)
		if err != nil {
			return fmt.Errorf("replay %s: %w", rec.ID, err)
		}
		ref := replayRef{key: replayKey(r.dlq, rec.ID, m), stored: m.StoreTime.UnixMilli(), prev: prev}
		var ticket replayTicket
		if r.e.replays != nil {
			// In a cluster, the replay is taken in the config topic first, so that the same
			// record replayed through two workers at once is sent once.
			t, err := r.e.replays.begin(ctx, r.name, ref, r.force)
			var busy *replayBusyError
			switch {
			case errors.As(err, &busy):
				r.res.InProgress = append(r.res.InProgress, restapi.DLQInProgress{ID: rec.ID, Worker: busy.taker, Since: busy.since.UTC(),
					Reason: busy.Error()})
				continue
			case errors.Is(err, restapi.ErrAlreadyExists):
				r.res.Skipped = append(r.res.Skipped, rec.ID)
				continue
			case err != nil:
				// The take may be in the config topic although its answer was lost (ctx ended
				// while it was folded): give it up, or the record would read as being replayed
				// until the lease passes.
				r.e.replays.abandon(r.name, t)
				return fmt.Errorf("replay %s: %w", rec.ID, err)
			}
			ticket = t
		}
		out := &rmqclient.Message{Topic: rec.Topic, Body: m.Body, Keys: rec.Keys, Properties: rec.Properties}
		sr, err := r.p.Send(ctx, out)
		if err != nil {
			if r.e.replays != nil {
				r.e.replays.abandon(r.name, ticket)
			}
			return fmt.Errorf("replay %s to %s: %w", rec.ID, rec.Topic, err)
		}
		info := restapi.ReplayInfo{At: r.at, MsgID: sr.MsgID}
		r.done.add(r.dlq, dlqRecordID(m.Queue, m.Offset), ref.stored, ref.prev, info)
		sent++
		if r.e.replays != nil {
			if err := r.e.replays.finish(ctx, r.name, ref, info); err != nil {
				return fmt.Errorf("record the replay of %s (sent as %s): %w", rec.ID, sr.MsgID, err)
			}
		}
		r.res.Replayed = append(r.res.Replayed, rec.ID)
	}
	return nil
}

// prevStored returns the store time of the message the DLQ holds before m in its queue when
// dlqReplays.add needs it (dlqReplays.endsAt), else 0, as when that message is gone or
// cannot be decoded. before is the message read before m, nil for none.
func (r *replayer) prevStored(ctx context.Context, before, m *rmqclient.ReceivedMessage) (int64, error) {
	if !r.done.endsAt(r.dlq, dlqRecordID(m.Queue, m.Offset), m.StoreTime.UnixMilli()) {
		return 0, nil
	}
	if before != nil && before.Queue == m.Queue && before.Offset == m.Offset-1 {
		return before.StoreTime.UnixMilli(), nil
	}
	msgs, _, err := r.e.dlqIO().Read(ctx, m.Queue, m.Offset-1, 1)
	if err != nil && !errors.Is(err, rmqclient.ErrUndecodable) {
		return 0, err
	}
	if len(msgs) == 0 || msgs[0].Offset != m.Offset-1 {
		return 0, nil
	}
	return msgs[0].StoreTime.UnixMilli(), nil
}

// refusal says why rec must not be replayed, as a code and a sentence; no code when it may.
func (r *replayer) refusal(rec restapi.DLQRecord, m *rmqclient.ReceivedMessage) (restapi.DLQRefusalCode, string) {
	switch {
	case m.Properties[dlqUnreadable] != "":
		return restapi.RefusedBodyUndecodable, fmt.Sprintf("the worker cannot decode the DLQ's message (%s): its "+
			"body is not known", m.Properties[dlqUnreadable])
	case rec.Topic == "":
		return restapi.RefusedNoTopic, fmt.Sprintf("no %s property: the original topic is unknown", ErrHeaderTopic)
	case !r.allowed[rec.Topic]:
		return restapi.RefusedForeignTopic, fmt.Sprintf("original topic %q is not one the connector consumes "+
			"(connect.topicnames); a replay only writes to the connector's own topics", rec.Topic)
	case m.Properties[ErrHeaderBodyTruncated] == "true":
		return restapi.RefusedBodyTruncated, fmt.Sprintf("the DLQ kept only the first %d of the record's %s bytes "+
			"(too large for RocketMQ)", len(m.Body), m.Properties[ErrHeaderBodySize])
	case m.Properties[ErrHeaderPropsTruncated] == "true":
		return restapi.RefusedPropertiesTruncated, "the DLQ could not keep the record's own properties and keys (with " +
			"the error context they passed RocketMQ's 32 KiB limit on a message's properties)"
	case m.Properties[ErrHeaderBodyRendered] == "true":
		return restapi.RefusedBodyRendered, "the DLQ holds the sink task's rendering of the record, not the bytes its " +
			"topic held (the message could not be read back when the task reported it)"
	case m.Properties[ErrHeaderBodyUndecodable] == "true":
		return restapi.RefusedBodyUndecodable, "the DLQ holds the message's stored bytes, which the worker could not " +
			"decode (an unknown compression or a corrupt body)"
	}
	return "", ""
}

// replayStore keeps DLQ replay records where every worker of a cluster sees them (nil in
// standalone mode, which keeps them in <StoreDir>/dlq-replays.json). Both keep done replays
// as dlqReplays; a cluster takes a record's replay under its replayKey first. Its calls are
// made under engine.replayMu.
type replayStore interface {
	// replayed returns a copy of the connector's done replays.
	replayed(name string) *dlqReplays
	// begin takes the replay of record ref. Unless force is set, it fails with
	// ErrAlreadyExists when the record was replayed, and with a *replayBusyError when a
	// replay of it is in progress. The ticket names the take, also when begin fails.
	begin(ctx context.Context, name string, ref replayRef, force bool) (replayTicket, error)
	// finish records a done replay (even once ctx has ended: the record was sent).
	finish(ctx context.Context, name string, ref replayRef, info restapi.ReplayInfo) error
	// abandon gives up the take t (a failed send, or a begin whose answer was lost), and no
	// other take of the record.
	abandon(name string, t replayTicket)
	// prune drops the replay records of DLQ topic's records below floors (dlqReplays.prune).
	prune(ctx context.Context, name, topic string, floors map[string]int64) error
}

// replayRef names a DLQ record to a replayStore: its replayKey, its message's store time
// (Unix ms; see replayRun.Stored) and, when dlqReplays.add needs it, that of the message
// before it in its queue (0 otherwise).
type replayRef struct {
	key          string
	stored, prev int64
}

// replayTicket names one take of a record's replay: who took it and when.
type replayTicket struct {
	key   string
	taker string
	at    time.Time
}

// decodeDLQ turns a DLQ message into a record; full adds the body and stack trace.
func decodeDLQ(m *rmqclient.ReceivedMessage, full bool) restapi.DLQRecord {
	p := m.Properties
	rec := restapi.DLQRecord{
		ID: dlqRecordID(m.Queue, m.Offset).String(), Topic: p[ErrHeaderTopic], Partition: p[ErrHeaderPartition],
		Offset: p[ErrHeaderOffset], Connector: p[ErrHeaderConnector], Task: p[ErrHeaderTask], Stage: p[ErrHeaderStage],
		ClassName: p[ErrHeaderClass], ExceptionClass: p[ErrHeaderExcClass], ExceptionMessage: p[ErrHeaderExcMessage],
		Keys: m.Keys, BodySize: len(m.Body), Time: m.StoreTime.UTC(),
	}
	if ms, err := strconv.ParseInt(p[ErrHeaderTimestamp], 10, 64); err == nil {
		rec.Time = time.UnixMilli(ms).UTC()
	}
	if k := p[ErrHeaderOriginalKeys]; k != "" {
		rec.Keys = strings.Fields(k)
	}
	for k, v := range p {
		if !strings.HasPrefix(k, ErrHeaderPrefix) {
			if rec.Properties == nil {
				rec.Properties = map[string]string{}
			}
			rec.Properties[k] = v
		}
	}
	body := m.Body
	if len(body) > previewBytes {
		// Cut before a character the mark falls in: cut inside it, a text body would not be
		// valid UTF-8 and would be shown quoted, as a binary one is.
		cut := previewBytes
		for cut > previewBytes-utf8.UTFMax+1 && !utf8.RuneStart(body[cut]) {
			cut--
		}
		if !utf8.Valid(body[:cut]) {
			cut = previewBytes // not text: the first 256 bytes, quoted
		}
		body = body[:cut]
	}
	if why := p[dlqUnreadable]; why != "" {
		// Its bytes are as stored (compressed, or corrupt): a preview of them would pass
		// for the record's body.
		rec.BodyPreview = "<undecodable: " + why + ">"
	} else if utf8.Valid(body) {
		rec.BodyPreview = string(body)
	} else {
		rec.BodyPreview = fmt.Sprintf("%q", body)
	}
	if full {
		rec.Body = m.Body
		rec.Stacktrace = p[ErrHeaderExcStack]
	}
	return rec
}
