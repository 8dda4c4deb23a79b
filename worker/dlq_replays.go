package worker

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rmqconnect/rmqconnect/worker/internal/filestore"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// dlqReplays are the replays of one connector's DLQ records: which records a replay must
// not send again (unless forced) and what a listing shows as replayed. Standalone mode keeps
// them in <StoreDir>/dlq-replays.json, a cluster in the config topic's fold; both follow the
// rules below.
//
// A record is kept as replayed for as long as the DLQ holds it, and no longer: once the
// broker's retention has deleted it (its offset is below its queue's first retained one,
// see prune), it can be neither read nor replayed again. Nothing else drops the replay of a
// record the connector's DLQ topic still holds, so no record is ever sent twice by replays
// that skip replayed ones, however many there are.
// Replays are kept per DLQ queue as runs of consecutive offsets replayed, by one call or
// by many (replays of the records a DLQ received since the previous replay extend its
// run), so that what is kept grows with the gaps between replayed records (records
// refused, or not asked for), neither with their number nor with the number of replays.
type dlqReplays struct {
	// Topic is the DLQ topic the records are of: replays of another topic (the connector's
	// former DLQ topic) are not kept.
	Topic string `json:"topic,omitempty"`
	// Queues are the replayed records by queue (dlqID.queueKey).
	Queues map[string]*queueReplays `json:"queues,omitempty"`
	// Sent names the message each of the latest keepSent replays sent. It is shown, never
	// consulted: dropping an entry sends nothing again.
	Sent []sentReplay `json:"sent,omitempty"`
	// Legacy are the replay records of earlier releases, by replayKey with the id in its
	// earlier form, or by that id alone; they go as the others do (prune).
	Legacy map[string]restapi.ReplayInfo `json:"legacy,omitempty"`
}

// queueReplays are the replayed records of one DLQ queue.
type queueReplays struct {
	// Runs are sorted by offset and disjoint; two that touch are of messages stored out of
	// offset order (see join).
	Runs []replayRun `json:"runs"`
}

// replayRun is the records at offsets [From, To) of a queue, replayed; Stored is the latest
// store time (Unix ms) of their messages. A broker stores a queue's messages in offset
// order, so a message at an offset of the run stored after Stored is not one that was
// replayed: its topic was deleted and created again (offsets start again at 0). At is when
// the latest replay call that sent one of them began: it is shown (restapi.ReplayInfo),
// never consulted, so runs of different calls are joined.
type replayRun struct {
	From   int64     `json:"from"`
	To     int64     `json:"to"`
	At     time.Time `json:"at"`
	Stored int64     `json:"stored"`
}

// sentReplay names the message a replay of record ID sent.
type sentReplay struct {
	ID    string `json:"id"`
	MsgID string `json:"msg_id"`
}

// keepSent is how many replays' message ids dlqReplays.Sent keeps.
const keepSent = 1000

// queueKey names the queue of id in dlqReplays.Queues and in prune's floors.
func (id dlqID) queueKey() string { return id.broker + ":" + strconv.Itoa(id.queue) }

// queueKeyOf is the key of queue q.
func queueKeyOf(q rmqclient.Queue) string { return dlqRecordID(q, 0).queueKey() }

// of returns the replays of DLQ topic: d if they are topic's, else none but the legacy
// records that may be topic's.
func (d *dlqReplays) of(topic string) *dlqReplays {
	if d != nil && d.Topic == topic {
		return d
	}
	out := &dlqReplays{Topic: topic}
	if d != nil {
		for k, v := range d.Legacy {
			if legacyOfTopic(k, topic) {
				if out.Legacy == nil {
					out.Legacy = map[string]restapi.ReplayInfo{}
				}
				out.Legacy[k] = v
			}
		}
	}
	return out
}

// clone returns a deep copy of d.
func (d *dlqReplays) clone() *dlqReplays {
	if d == nil {
		return nil
	}
	out := &dlqReplays{Topic: d.Topic, Sent: slices.Clone(d.Sent), Legacy: maps.Clone(d.Legacy)}
	if d.Queues != nil {
		out.Queues = make(map[string]*queueReplays, len(d.Queues))
		for k, q := range d.Queues {
			out.Queues[k] = &queueReplays{Runs: slices.Clone(q.Runs)}
		}
	}
	return out
}

// run finds the run holding record id of topic, whose message was stored at stored (Unix
// ms): the record was replayed.
func (d *dlqReplays) run(topic string, id dlqID, stored int64) (replayRun, bool) {
	if d == nil || d.Topic != topic {
		return replayRun{}, false
	}
	q := d.Queues[id.queueKey()]
	if q == nil {
		return replayRun{}, false
	}
	i, ok := q.find(id.offset)
	if !ok || stored > q.Runs[i].Stored {
		return replayRun{}, false
	}
	return q.Runs[i], true
}

// replayed reports whether DLQ message m of topic was replayed (lookup without what it
// shows).
func (d *dlqReplays) replayed(topic string, m *rmqclient.ReceivedMessage) bool {
	if _, ok := d.run(topic, dlqRecordID(m.Queue, m.Offset), m.StoreTime.UnixMilli()); ok {
		return true
	}
	_, ok := d.legacy(topic, m)
	return ok
}

// lookup finds the replay of DLQ message m of topic, among the runs or the legacy records.
func (d *dlqReplays) lookup(topic string, m *rmqclient.ReceivedMessage) (restapi.ReplayInfo, bool) {
	id := dlqRecordID(m.Queue, m.Offset)
	if r, ok := d.run(topic, id, m.StoreTime.UnixMilli()); ok {
		info := restapi.ReplayInfo{At: r.At}
		s := id.String()
		for j := len(d.Sent) - 1; j >= 0; j-- {
			if d.Sent[j].ID == s {
				info.MsgID = d.Sent[j].MsgID
				break
			}
		}
		return info, true
	}
	return d.legacy(topic, m)
}

// legacy finds the legacy replay record of DLQ message m of topic.
func (d *dlqReplays) legacy(topic string, m *rmqclient.ReceivedMessage) (restapi.ReplayInfo, bool) {
	if d == nil {
		return restapi.ReplayInfo{}, false
	}
	old := dlqID{queue: m.Queue.QueueID, offset: m.Offset}.String()
	if info, ok := d.Legacy[topic+"/"+old+"/"+m.MsgID]; ok {
		return info, true
	}
	info, ok := d.Legacy[old]
	return info, ok
}

// add records the replay of record id of topic, whose message was stored at stored (Unix
// ms); prev is the store time of the message the DLQ holds before it in its queue, 0 when
// unknown (endsAt says when it is needed). Replays of another topic are dropped: the
// connector's DLQ topic is topic now.
func (d *dlqReplays) add(topic string, id dlqID, stored, prev int64, info restapi.ReplayInfo) {
	if d.Topic != topic {
		*d = *d.of(topic)
	}
	if d.Queues == nil {
		d.Queues = map[string]*queueReplays{}
	}
	q := d.Queues[id.queueKey()]
	if q == nil {
		q = &queueReplays{}
		d.Queues[id.queueKey()] = q
	}
	// A run reaching past the record, of messages all stored before it, is of a former
	// topic of the same name: this topic's later messages were stored after it. So is a run
	// ending at the record whose messages were all stored before the one now before it.
	q.Runs = slices.DeleteFunc(q.Runs, func(r replayRun) bool {
		return r.To > id.offset && r.Stored < stored || r.To == id.offset && r.Stored < prev
	})
	q.add(id.offset, info.At, stored)
	d.Sent = append(d.Sent, sentReplay{ID: id.String(), MsgID: info.MsgID})
	if len(d.Sent) > keepSent+keepSent/4 {
		d.Sent = slices.Clone(d.Sent[len(d.Sent)-keepSent:])
	}
}

// endsAt reports whether a run of topic's replays ends just before record id and holds only
// messages stored before id's (at stored): id's record then extends that run, unless the
// topic was deleted and created again since, which add tells by the store time of the
// message now before id's (its prev).
func (d *dlqReplays) endsAt(topic string, id dlqID, stored int64) bool {
	if d == nil || d.Topic != topic || id.offset == 0 {
		return false
	}
	q := d.Queues[id.queueKey()]
	if q == nil {
		return false
	}
	i, ok := q.find(id.offset - 1)
	return ok && q.Runs[i].To == id.offset && q.Runs[i].Stored < stored
}

// prune drops the replays of records of topic the DLQ no longer holds: floors maps a queue
// (queueKey) to its first retained offset. A queue without a floor keeps its replays (its
// broker may only be unreachable now). It also joins the runs that touch (records written
// by earlier releases keep the runs of different calls apart) and reports whether anything
// changed.
func (d *dlqReplays) prune(topic string, floors map[string]int64) bool {
	if d == nil {
		return false
	}
	pruned := false
	if d.Topic == topic {
		for k, q := range d.Queues {
			if floor, ok := floors[k]; ok && q.cut(floor) {
				pruned = true
				if len(q.Runs) == 0 {
					delete(d.Queues, k)
				}
			}
			if q.joinAll() {
				pruned = true
			}
		}
		d.Sent = slices.DeleteFunc(d.Sent, func(s sentReplay) bool {
			id, err := parseDLQID(s.ID)
			floor, ok := floors[id.queueKey()]
			return err == nil && ok && id.offset < floor
		})
	}
	for k := range d.Legacy {
		if legacyOfTopic(k, topic) && legacyGone(k, floors) {
			delete(d.Legacy, k)
			pruned = true
		}
	}
	return pruned
}

// find returns the index of the run holding offset off.
func (q *queueReplays) find(off int64) (int, bool) {
	i, _ := slices.BinarySearchFunc(q.Runs, off, func(r replayRun, off int64) int {
		switch {
		case r.To <= off:
			return -1
		case r.From > off:
			return 1
		}
		return 0
	})
	return i, i < len(q.Runs) && q.Runs[i].From <= off && off < q.Runs[i].To
}

// add records the replay of offset off, whose message was stored at stored, by the call
// that began at at, joining it to the runs it touches.
func (q *queueReplays) add(off int64, at time.Time, stored int64) {
	i, in := q.find(off)
	if in {
		r := &q.Runs[i]
		r.Stored = max(r.Stored, stored)
		r.At = latest(r.At, at)
		return
	}
	q.Runs = slices.Insert(q.Runs, i, replayRun{From: off, To: off + 1, At: at, Stored: stored})
	q.join(i)
	if i > 0 {
		q.join(i - 1)
	}
}

// join joins run i to run i+1 when they touch and their messages were stored in offset
// order (run i's latest no later than run i+1's), keeping the latest At, and reports
// whether it did. The joined run keeps run i+1's store time, its latest, so a message at
// one of its offsets stored after every message replayed there is still told from one
// that was replayed. Runs stored out of offset order are of different incarnations of the
// topic (run i's records are of the topic created again, run i+1's of the former one,
// recorded late) and stay apart: joined, the next replay of the new topic's record at one
// of run i+1's offsets would drop the whole run (dlqReplays.add), run i's records with it.
// The other case, run i of a former incarnation and a record of the one that replaced it at
// its end, stored later as a next record of the same incarnation would be, is told by the
// store time of the message before that record (dlqReplays.add drops run i first).
func (q *queueReplays) join(i int) bool {
	if i < 0 || i+1 >= len(q.Runs) {
		return false
	}
	a, b := q.Runs[i], q.Runs[i+1]
	if a.To != b.From || a.Stored > b.Stored {
		return false
	}
	q.Runs[i] = replayRun{From: a.From, To: b.To, At: latest(a.At, b.At), Stored: b.Stored}
	q.Runs = slices.Delete(q.Runs, i+1, i+2)
	return true
}

// joinAll joins every two runs that join allows to and reports whether any were.
func (q *queueReplays) joinAll() bool {
	joined := false
	for i := 0; i+1 < len(q.Runs); {
		if q.join(i) {
			joined = true
		} else {
			i++
		}
	}
	return joined
}

// latest returns the later of a and b.
func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// cut drops the offsets below floor and reports whether there were any.
func (q *queueReplays) cut(floor int64) bool {
	i := 0
	for i < len(q.Runs) && q.Runs[i].To <= floor {
		i++
	}
	cut := i > 0
	q.Runs = slices.Delete(q.Runs, 0, i)
	if len(q.Runs) > 0 && q.Runs[0].From < floor {
		q.Runs[0].From, cut = floor, true
	}
	return cut
}

// replayKey is the key of the replay records of DLQ message m, record id of DLQ topic: the
// id alone names another record once the connector's DLQ topic changes or is re-created
// (offsets start again at 0); the message id tells those apart. A cluster takes a replay
// under this key (clusterReplays.begin); once done, it is kept in the connector's
// dlqReplays.
func replayKey(topic, id string, m *rmqclient.ReceivedMessage) string {
	return topic + "/" + id + "/" + m.MsgID
}

// parseReplayKey splits a replayKey whose id is of this release's form; ok is false for a
// key of an earlier release (see dlqReplays.Legacy).
func parseReplayKey(key string) (topic string, id dlqID, ok bool) {
	topic, rest, found := strings.Cut(key, "/")
	if !found {
		return "", dlqID{}, false
	}
	rid, _, found := cutLast(rest, "/")
	if !found {
		return "", dlqID{}, false
	}
	id, err := parseDLQID(rid)
	if err != nil || id.broker == "" {
		return "", dlqID{}, false
	}
	return topic, id, true
}

// legacyOfTopic reports whether legacy replay record key belongs to DLQ topic (a record
// kept by id alone is taken to).
func legacyOfTopic(key, topic string) bool {
	return !strings.Contains(key, "/") || strings.HasPrefix(key, topic+"/")
}

// legacyGone reports whether the record of legacy replay record key is below the floor
// (first retained offset) of every queue with its queue id in floors, and there is one.
func legacyGone(key string, floors map[string]int64) bool {
	id := key
	if _, rest, ok := strings.Cut(key, "/"); ok {
		id, _, _ = cutLast(rest, "/")
	}
	rid, err := parseDLQID(id)
	if err != nil || rid.broker != "" {
		return false
	}
	seen := false
	for k, floor := range floors {
		_, q, _ := cutLast(k, ":")
		if q != strconv.Itoa(rid.queue) {
			continue
		}
		if rid.offset >= floor {
			return false
		}
		seen = true
	}
	return seen
}

// The standalone replay records: <StoreDir>/dlq-replays.json, a dlqReplays per connector.
// legacyReplayPath is the file of earlier releases (record key to replay per connector);
// it is read while the other does not exist, and removed once that is written.
func (e *engine) replayPath() string       { return filepath.Join(e.cfg.StoreDir, "dlq-replays.json") }
func (e *engine) legacyReplayPath() string { return filepath.Join(e.cfg.StoreDir, "dlq-replayed.json") }

// readReplays reads every connector's standalone replay records.
func (e *engine) readReplays() (map[string]*dlqReplays, error) {
	var all map[string]*dlqReplays
	err := filestore.Read(e.replayPath(), &all)
	if !errors.Is(err, os.ErrNotExist) {
		return all, err
	}
	var legacy map[string]map[string]restapi.ReplayInfo
	if err := filestore.Read(e.legacyReplayPath(), &legacy); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	all = map[string]*dlqReplays{}
	for name, set := range legacy {
		all[name] = &dlqReplays{Legacy: set}
	}
	return all, nil
}

// replayedSet returns a copy of the connector's replay records.
func (e *engine) replayedSet(name string) *dlqReplays {
	if e.replays != nil {
		return e.replays.replayed(name)
	}
	all, err := e.readReplays()
	if err != nil {
		e.log.Warn("dlq replay record unreadable", "err", err)
	}
	if all[name] == nil {
		return &dlqReplays{}
	}
	return all[name]
}

// saveReplayed stores d as the connector's standalone replay records.
func (e *engine) saveReplayed(name string, d *dlqReplays) error {
	all, err := e.readReplays()
	if err != nil {
		return err
	}
	if all == nil {
		all = map[string]*dlqReplays{}
	}
	all[name] = d
	if err := filestore.Write(e.replayPath(), all); err != nil {
		return err
	}
	if err := os.Remove(e.legacyReplayPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
