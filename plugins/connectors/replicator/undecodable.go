package replicator

import (
	"context"
	"fmt"
	"strings"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// queueReader is what a task pulls its source queues with: a *rmqclient.Reader, or a fake in
// tests.
type queueReader interface {
	// Pull is rmqclient.Reader.Pull: an *rmqclient.UndecodableError comes with the messages
	// before the undecodable one.
	Pull(ctx context.Context, q rmqclient.Queue, offset int64, max int) (rmqclient.Pulled, error)
	Close() error
}

// holdUndecodable takes bad, the message at qs.next that the client could not decode (the
// messages before it are already records of this poll). It cannot be copied as it is
// stored: the engine's messages carry no compression flag, so the stored bytes would reach
// the target as a body no consumer could read. It is held for the next poll, which hands it
// to the engine alone as a failed record (see undecodableRecords), so the records before it
// are sent, and their positions committed, whatever errors.tolerance decides for it. A
// message that came from the target cluster is not replicated whether or not it can be
// decoded: qs reads on after it.
func (t *sourceTask) holdUndecodable(qs *queueState, bad *rmqclient.UndecodableError) {
	if t.fromTarget(bad.Properties[PropPath]) {
		qs.next = bad.Offset + 1
		return
	}
	qs.bad = bad
	t.holding++
}

// undecodableRecords returns a failed record for each message held by holdUndecodable and
// moves its queue past it: the engine routes such a record per errors.tolerance (to the
// dead-letter queue with the stored bytes, or failing the task) at stage TASK_POLL, and its
// position counts once it is handled, so a tolerated one never stalls its queue and an
// untolerated one fails the task with the records before it committed. Its tag is unknown
// (the client keeps only user properties of a message it cannot decode), so a tag filter
// cannot drop it: it goes through the error policy rather than being skipped unseen.
func (t *sourceTask) undecodableRecords() []*schema.Record {
	if t.holding == 0 {
		return nil
	}
	var out []*schema.Record
	for _, qs := range t.queues {
		if qs.bad == nil {
			continue
		}
		out = append(out, t.undecodableRecord(qs, qs.bad))
		qs.next, qs.bad = qs.bad.Offset+1, nil
	}
	t.holding = 0
	return out
}

// undecodableRecord is the failed record of bad, a message of qs: its value the stored
// bytes (still compressed; nil when the message's framing is broken), its headers its user
// properties and keys, its position the offset after it.
func (t *sourceTask) undecodableRecord(qs *queueState, bad *rmqclient.UndecodableError) *schema.Record {
	off := nextOffset(bad.Offset + 1)
	r := &schema.Record{SourcePartition: qs.part, LazyOffset: &off, Topic: qs.target, QueueID: -1, Value: bad.Body,
		Extensions: map[string]string{plugins.ExtErrorMessage: fmt.Sprintf(
			"rocketmq-replicator cannot copy a message of source cluster %s: %v", t.sel.srcAlias, bad)}}
	for k, v := range bad.Properties {
		r.Headers.Add(k, nil, v)
	}
	if len(bad.Keys) > 0 {
		r.Headers.Add(propKeys, nil, strings.Join(bad.Keys, " "))
	}
	return r
}
