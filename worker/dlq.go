package worker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rmqconnect/rmqconnect/worker/internal/filestore"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

const previewBytes = 256

// parseDLQID splits a DLQ record id, "<queue>-<offset>".
func parseDLQID(id string) (int, int64, error) {
	q, o, ok := strings.Cut(id, "-")
	qi, err1 := strconv.Atoi(q)
	oi, err2 := strconv.ParseInt(o, 10, 64)
	if !ok || err1 != nil || err2 != nil || qi < 0 || oi < 0 {
		return 0, 0, fmt.Errorf("dlq record id %q: want <queue>-<offset>", id)
	}
	return qi, oi, nil
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

func (e *engine) dlqReader() *rmqclient.Reader {
	e.producerMu.Lock()
	defer e.producerMu.Unlock()
	if e.reader == nil {
		e.reader = e.client.NewReader("dlq")
	}
	return e.reader
}

// dlqQueues lists the DLQ topic's queues that can be read; a topic not created yet has
// none. They are the readable queues, not the writable ones: a DLQ topic made read-only, or
// drained to fewer write queues, still holds its records.
func (e *engine) dlqQueues(ctx context.Context, topic string) ([]rmqclient.Queue, error) {
	qs, err := e.client.ReadableQueues(ctx, topic)
	if errors.Is(err, rmqclient.ErrNoRoute) {
		return nil, nil
	}
	return qs, err
}

// DLQList lists up to limit DLQ records of a connector after the record id after ("" =
// from the start), oldest first.
func (e *engine) DLQList(ctx context.Context, name, after string, limit int) (restapi.DLQPage, error) {
	topic, _, err := e.dlqTopic(name)
	if err != nil {
		return restapi.DLQPage{}, err
	}
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	startQ, startOff := 0, int64(0)
	if after != "" {
		q, o, err := parseDLQID(after)
		if err != nil {
			// A cursor the caller got wrong, not a record that is missing.
			return restapi.DLQPage{}, fmt.Errorf("dlq of connector %s: %w", name,
				problem("after", after, "not a DLQ record id; want <queue>-<offset>, a record's id or a page's next"))
		}
		startQ, startOff = q, o+1
	}
	qs, err := e.dlqQueues(ctx, topic)
	if err != nil {
		return restapi.DLQPage{}, err
	}
	replayed := e.replayedSet(name)
	page := restapi.DLQPage{Topic: topic, Records: []restapi.DLQRecord{}}
	for _, q := range qs {
		if q.QueueID < startQ {
			continue
		}
		off := int64(0)
		if q.QueueID == startQ {
			off = startOff
		}
		for len(page.Records) < limit {
			msgs, next, err := e.dlqReader().Read(ctx, q, off, limit-len(page.Records))
			if err != nil {
				return restapi.DLQPage{}, err
			}
			if len(msgs) == 0 {
				break
			}
			for _, m := range msgs {
				rec := decodeDLQ(m, false)
				if ri, ok := lookupReplay(replayed, topic, rec.ID, m); ok {
					rec.Replayed = &ri
				}
				page.Records = append(page.Records, rec)
			}
			off = next
		}
		if len(page.Records) >= limit {
			break
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
	m, err := e.readDLQAt(ctx, name, qs, id)
	if err != nil {
		return restapi.DLQRecord{}, err
	}
	rec := decodeDLQ(m, true)
	if ri, ok := lookupReplay(e.replayedSet(name), topic, rec.ID, m); ok {
		rec.Replayed = &ri
	}
	return rec, nil
}

// readDLQAt reads record id of connector name's DLQ, whose queues are qs; ErrNotFound when
// the DLQ does not hold it, or id names no record.
func (e *engine) readDLQAt(ctx context.Context, name string, qs []rmqclient.Queue, id string) (*rmqclient.ReceivedMessage, error) {
	qi, off, err := parseDLQID(id)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, restapi.ErrNotFound)
	}
	for _, q := range qs {
		if q.QueueID != qi {
			continue
		}
		msgs, _, err := e.dlqReader().Read(ctx, q, off, 1)
		if err != nil {
			return nil, err
		}
		if len(msgs) == 1 && msgs[0].Offset == off {
			return msgs[0], nil
		}
	}
	return nil, fmt.Errorf("dlq record %s of connector %s: %w", id, name, restapi.ErrNotFound)
}

// DLQReplay re-sends DLQ records (all of them when ids is empty) to their original topic
// with their original keys and properties, so the sink consumes them again. A record
// already replayed is skipped unless force is set; in a cluster, one another worker is
// replaying is refused as such (see clusterReplays.begin). Records are read, sent and recorded in
// batches of replayBatch, so memory stays bounded whatever the DLQ holds; the replays of
// a batch are recorded durably before the next batch is read and before the call returns
// (a crash in the middle of a batch may send its records again on the next replay).
//
// Only a sink connector's DLQ can be replayed: a source connector's DLQ holds records that
// were never converted, which its target topic's readers cannot expect. A record is sent
// only to a topic the connector consumes (connect.topicnames): the target comes from a
// message property anyone who can write the DLQ topic can set, so any other target (a
// store topic, another connector's topic) is refused, as is a record whose body the DLQ
// kept only in part, without its own properties, or only as the task rendered it; refused
// records are listed with the reason.
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
	r := &replayer{e: e, name: name, dlq: topic, force: force, p: p, done: e.replayedSet(name),
		allowed: map[string]bool{}, res: restapi.DLQReplayResult{Replayed: []string{}, Skipped: []string{}, Refused: []restapi.DLQRefusal{}}}
	for _, t := range rt.st.topics {
		r.allowed[t] = true
	}
	qs, err := e.dlqQueues(ctx, topic)
	if err != nil {
		return r.res, err
	}
	if len(ids) > 0 {
		return r.res, r.replayIDs(ctx, qs, ids)
	}
	// Only what the DLQ held when the replay began: a replayed record that fails again
	// comes back to the DLQ, on any of its queues, and must not be replayed again by this
	// call; so every queue's range is read before anything is sent.
	type span struct{ off, end int64 }
	spans := make([]span, len(qs))
	for i, q := range qs {
		off, end, err := e.client.QueueOffsets(ctx, q)
		if err != nil {
			return r.res, err
		}
		spans[i] = span{off, end}
	}
	for i, q := range qs {
		off, end := spans[i].off, spans[i].end
		for off < end {
			batch, next, err := e.dlqReader().ReadBelow(ctx, q, off, end, replayBatch)
			if err != nil {
				return r.res, err
			}
			if len(batch) == 0 {
				break
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

// replayer carries one DLQReplay call's state across its batches.
type replayer struct {
	e       *engine
	name    string
	dlq     string
	force   bool
	p       *rmqclient.Producer
	done    map[string]restapi.ReplayInfo
	allowed map[string]bool
	res     restapi.DLQReplayResult
}

// replayIDs replays the records ids of the DLQ queues qs. Every id is looked up before
// anything is sent, so that an unknown one fails the call with nothing sent; only the first
// batch read is kept (memory stays bounded), the others are read again as they are sent,
// and a record the DLQ lost meanwhile (the broker's retention) is refused, not an error
// that would hide what was sent before it.
func (r *replayer) replayIDs(ctx context.Context, qs []rmqclient.Queue, ids []string) error {
	first := make([]*rmqclient.ReceivedMessage, 0, min(replayBatch, len(ids)))
	for i, id := range ids {
		m, err := r.e.readDLQAt(ctx, r.name, qs, id)
		if err != nil {
			return err
		}
		if i < replayBatch {
			first = append(first, m)
		}
	}
	if err := r.replay(ctx, first); err != nil {
		return err
	}
	for start := replayBatch; start < len(ids); start += replayBatch {
		batch := make([]*rmqclient.ReceivedMessage, 0, min(replayBatch, len(ids)-start))
		for _, id := range ids[start:min(start+replayBatch, len(ids))] {
			m, err := r.e.readDLQAt(ctx, r.name, qs, id)
			if errors.Is(err, restapi.ErrNotFound) {
				r.res.Refused = append(r.res.Refused, restapi.DLQRefusal{ID: id, Reason: "no longer in the DLQ: deleted since the replay began (the broker's retention)"})
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
			if serr := r.e.saveReplayed(r.name, r.dlq, r.done); serr != nil && err == nil {
				err = serr
			}
		}()
	}
	for _, m := range msgs {
		rec := decodeDLQ(m, false)
		if _, ok := lookupReplay(r.done, r.dlq, rec.ID, m); ok && !r.force {
			r.res.Skipped = append(r.res.Skipped, rec.ID)
			continue
		}
		if reason := r.refusal(rec, m); reason != "" {
			r.res.Refused = append(r.res.Refused, restapi.DLQRefusal{ID: rec.ID, Reason: reason})
			continue
		}
		key := replayKey(r.dlq, rec.ID, m)
		var ticket replayTicket
		if r.e.replays != nil {
			// In a cluster, the replay is taken in the config topic first, so that the same
			// record replayed through two workers at once is sent once.
			t, err := r.e.replays.begin(ctx, r.name, key, r.force)
			var busy *replayBusyError
			switch {
			case errors.As(err, &busy):
				r.res.Refused = append(r.res.Refused, restapi.DLQRefusal{ID: rec.ID, Reason: busy.Error()})
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
		info := restapi.ReplayInfo{At: time.Now().UTC(), MsgID: sr.MsgID}
		r.done[key] = info
		sent++
		if r.e.replays != nil {
			if err := r.e.replays.finish(ctx, r.name, key, info); err != nil {
				return fmt.Errorf("record the replay of %s (sent as %s): %w", rec.ID, sr.MsgID, err)
			}
		}
		r.res.Replayed = append(r.res.Replayed, rec.ID)
	}
	return nil
}

// refusal says why rec must not be replayed, or "" when it may.
func (r *replayer) refusal(rec restapi.DLQRecord, m *rmqclient.ReceivedMessage) string {
	switch {
	case rec.Topic == "":
		return fmt.Sprintf("no %s property: the original topic is unknown", ErrHeaderTopic)
	case !r.allowed[rec.Topic]:
		return fmt.Sprintf("original topic %q is not one the connector consumes (connect.topicnames); a replay only "+
			"writes to the connector's own topics", rec.Topic)
	case m.Properties[ErrHeaderBodyTruncated] == "true":
		return fmt.Sprintf("the DLQ kept only the first %d of the record's %s bytes (too large for RocketMQ)",
			len(m.Body), m.Properties[ErrHeaderBodySize])
	case m.Properties[ErrHeaderPropsTruncated] == "true":
		return "the DLQ could not keep the record's own properties and keys (with the error context they passed " +
			"RocketMQ's 32 KiB limit on a message's properties)"
	case m.Properties[ErrHeaderBodyRendered] == "true":
		return "the DLQ holds the sink task's rendering of the record, not the bytes its topic held (the message " +
			"could not be read back when the task reported it)"
	case m.Properties[ErrHeaderBodyUndecodable] == "true":
		return "the DLQ holds the message's stored bytes, which the worker could not decode (an unknown compression " +
			"or a corrupt body)"
	}
	return ""
}

// replayStore keeps DLQ replay records where every worker of a cluster sees them (nil in
// standalone mode, which keeps them in <StoreDir>/dlq-replayed.json). Records are keyed by
// replayKey. Its calls are made under engine.replayMu.
type replayStore interface {
	// replayed returns the connector's done replays.
	replayed(name string) map[string]restapi.ReplayInfo
	// begin takes the replay of record key. Unless force is set, it fails with
	// ErrAlreadyExists when the record was replayed, and with a *replayBusyError when a
	// replay of it is in progress. The ticket names the take, also when begin fails.
	begin(ctx context.Context, name, key string, force bool) (replayTicket, error)
	// finish records a done replay (even once ctx has ended: the record was sent).
	finish(ctx context.Context, name, key string, info restapi.ReplayInfo) error
	// abandon gives up the take t (a failed send, or a begin whose answer was lost), and no
	// other take of the record.
	abandon(name string, t replayTicket)
}

// replayTicket names one take of a record's replay: who took it and when.
type replayTicket struct {
	key   string
	taker string
	at    time.Time
}

// replayKey is the key of the replay records of DLQ message m, record id of DLQ topic: the
// id alone names another record once the connector's DLQ topic changes or is re-created
// (offsets start again at 0); the message id tells those apart.
func replayKey(topic, id string, m *rmqclient.ReceivedMessage) string {
	return topic + "/" + id + "/" + m.MsgID
}

// lookupReplay finds the replay record of DLQ message m, record id of topic, in set. A
// record kept by id alone (written before records were keyed by replayKey) counts too.
func lookupReplay(set map[string]restapi.ReplayInfo, topic, id string, m *rmqclient.ReceivedMessage) (restapi.ReplayInfo, bool) {
	if ri, ok := set[replayKey(topic, id, m)]; ok {
		return ri, true
	}
	ri, ok := set[id]
	return ri, ok
}

// replayOfTopic reports whether replay record key belongs to DLQ topic (a record kept by
// id alone is taken to).
func replayOfTopic(key, topic string) bool {
	return !strings.Contains(key, "/") || strings.HasPrefix(key, topic+"/")
}

// decodeDLQ turns a DLQ message into a record; full adds the body and stack trace.
func decodeDLQ(m *rmqclient.ReceivedMessage, full bool) restapi.DLQRecord {
	p := m.Properties
	rec := restapi.DLQRecord{
		ID: fmt.Sprintf("%d-%d", m.Queue.QueueID, m.Offset), Topic: p[ErrHeaderTopic], Partition: p[ErrHeaderPartition],
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
		body = body[:previewBytes]
	}
	if utf8.Valid(body) {
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

func (e *engine) replayPath() string { return filepath.Join(e.cfg.StoreDir, "dlq-replayed.json") }

// replayedSet returns a copy of the connector's replayed-record map.
func (e *engine) replayedSet(name string) map[string]restapi.ReplayInfo {
	if e.replays != nil {
		return e.replays.replayed(name)
	}
	var all map[string]map[string]restapi.ReplayInfo
	if err := filestore.Read(e.replayPath(), &all); err != nil && !errors.Is(err, os.ErrNotExist) {
		e.log.Warn("dlq replay record unreadable", "err", err)
	}
	out := map[string]restapi.ReplayInfo{}
	for k, v := range all[name] {
		out[k] = v
	}
	return out
}

// saveReplayed stores set as the connector's replay records; those of a DLQ topic other
// than topic, the connector's, are dropped: no record of it is looked up any more.
func (e *engine) saveReplayed(name, topic string, set map[string]restapi.ReplayInfo) error {
	var all map[string]map[string]restapi.ReplayInfo
	if err := filestore.Read(e.replayPath(), &all); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if all == nil {
		all = map[string]map[string]restapi.ReplayInfo{}
	}
	maps.DeleteFunc(set, func(key string, _ restapi.ReplayInfo) bool { return !replayOfTopic(key, topic) })
	all[name] = set
	return filestore.Write(e.replayPath(), all)
}
