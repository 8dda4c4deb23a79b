package worker

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// memDLQ is a dlqIO holding DLQ topics in memory, spread over any brokers (as a
// multi-master cluster spreads a topic), whose retention a test drives with expire.
type memDLQ struct {
	mu     sync.Mutex
	queues map[rmqclient.Queue]*memDLQQueue
	// seq orders the puts: a message's store time, as a broker's, never goes back.
	seq int64
}

type memDLQQueue struct {
	min  int64 // first retained offset
	msgs []*rmqclient.ReceivedMessage
}

func newMemDLQ() *memDLQ { return &memDLQ{queues: map[rmqclient.Queue]*memDLQQueue{}} }

// put appends a DLQ record of the connector's topic target to queue id of topic on broker
// and returns it as read back.
func (d *memDLQ) put(topic, broker string, id int, target, body string) *rmqclient.ReceivedMessage {
	d.mu.Lock()
	defer d.mu.Unlock()
	q := rmqclient.Queue{Topic: topic, BrokerName: broker, QueueID: id}
	mq := d.queues[q]
	if mq == nil {
		mq = &memDLQQueue{}
		d.queues[q] = mq
	}
	off := int64(len(mq.msgs))
	m := &rmqclient.ReceivedMessage{Queue: q, Offset: off, Body: []byte(body),
		// Like an offsetMsgId, the id names the broker and where it stored the message.
		MsgID:      fmt.Sprintf("%s-%d-%d", broker, id, off),
		Properties: map[string]string{ErrHeaderTopic: target},
		StoreTime:  time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(d.seq) * time.Millisecond)}
	d.seq++
	mq.msgs = append(mq.msgs, m)
	return copyMsg(m)
}

// expire deletes the messages of queue id of topic on broker below offset, as the broker's
// retention does.
func (d *memDLQ) expire(topic, broker string, id int, below int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.queues[rmqclient.Queue{Topic: topic, BrokerName: broker, QueueID: id}].min = below
}

func (d *memDLQ) Queues(_ context.Context, topic string) ([]rmqclient.Queue, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var qs []rmqclient.Queue
	for q := range maps.Keys(d.queues) {
		if q.Topic == topic {
			qs = append(qs, q)
		}
	}
	slices.SortFunc(qs, func(a, b rmqclient.Queue) int {
		return cmp.Or(cmp.Compare(a.BrokerName, b.BrokerName), cmp.Compare(a.QueueID, b.QueueID))
	})
	return qs, nil
}

func (d *memDLQ) Offsets(_ context.Context, q rmqclient.Queue) (int64, int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	mq := d.queues[q]
	if mq == nil {
		return 0, 0, fmt.Errorf("%w: no queue %s", rmqclient.ErrNoRoute, q)
	}
	return mq.min, int64(len(mq.msgs)), nil
}

func (d *memDLQ) Read(_ context.Context, q rmqclient.Queue, offset int64, n int) ([]*rmqclient.ReceivedMessage, int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	mq := d.queues[q]
	if mq == nil {
		return nil, offset, fmt.Errorf("%w: no queue %s", rmqclient.ErrNoRoute, q)
	}
	offset = max(offset, mq.min)
	var out []*rmqclient.ReceivedMessage
	for off := offset; off < int64(len(mq.msgs)) && len(out) < min(n, 32); off++ {
		out = append(out, copyMsg(mq.msgs[off]))
	}
	return out, offset + int64(len(out)), nil
}

func copyMsg(m *rmqclient.ReceivedMessage) *rmqclient.ReceivedMessage {
	c := *m
	c.Properties = maps.Clone(m.Properties)
	return &c
}

// recreate deletes topic and creates it again, with the same queues: their offsets start
// again at 0, and their messages are stored after every message stored before.
func (d *memDLQ) recreate(topic string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for q := range d.queues {
		if q.Topic == topic {
			d.queues[q] = &memDLQQueue{}
		}
	}
}
