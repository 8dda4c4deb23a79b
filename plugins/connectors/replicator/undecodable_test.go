package replicator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// fakeReader answers pulls from stored messages (one queue's in offsets [first, max)); the
// message at bad, if set, cannot be decoded, as rmqclient.Reader.Pull reports one.
type fakeReader struct {
	queues map[rmqclient.Queue]*fakeQueue
	asked  []string // "queue@offset" of every pull
}

type fakeQueue struct {
	first, max int64
	bad        *rmqclient.UndecodableError
}

func (f *fakeReader) Pull(_ context.Context, q rmqclient.Queue, offset int64, max int) (rmqclient.Pulled, error) {
	f.asked = append(f.asked, fmt.Sprintf("%s@%d", q, offset))
	fq := f.queues[q]
	res := rmqclient.Pulled{Next: offset, MinOffset: fq.first, MaxOffset: fq.max, Status: "FOUND"}
	for o := offset; o < fq.max && len(res.Messages) < max; o++ {
		if fq.bad != nil && o == fq.bad.Offset {
			return res, fmt.Errorf("read %s at %d: %w", q, offset, fq.bad)
		}
		res.Messages = append(res.Messages, &rmqclient.ReceivedMessage{Queue: q, Offset: o, MaxOffset: fq.max,
			Body: fmt.Appendf(nil, "%d", o)})
		res.Next = o + 1
	}
	return res, nil
}

func (*fakeReader) Close() error { return nil }

// offsets lists the source offsets of recs' messages (the offset before each position).
func offsets(t *testing.T, recs []*schema.Record) []int64 {
	t.Helper()
	var out []int64
	for _, r := range recs {
		next, ok := recordNext(r)
		require.True(t, ok)
		out = append(out, next-1)
	}
	return out
}

// TestUndecodableMessageGoesThroughTheErrorPolicy: a message the client cannot decode (a
// compression it does not know) stops no queue. The messages pulled before it are records of
// that poll, in order; it comes alone in the next poll as a failed record the engine routes
// by errors.tolerance (its stored bytes, properties and keys; its position the offset after
// it), so the records before it are sent and committed whatever the policy decides; after it
// the queue reads on. The task's other queues go on meanwhile. A message whose path names the
// target is not replicated, decodable or not.
func TestUndecodableMessageGoesThroughTheErrorPolicy(t *testing.T) {
	q0 := rmqclient.Queue{Topic: "orders", BrokerName: "b", QueueID: 0}
	q1 := rmqclient.Queue{Topic: "orders", BrokerName: "b", QueueID: 1}
	undecodable := func(props map[string]string) *rmqclient.UndecodableError {
		return &rmqclient.UndecodableError{Queue: q0, Offset: 12, Body: []byte("zz"), Properties: props,
			Keys: []string{"k1", "k2"}, Err: errors.New("compression type 6 is not supported")}
	}
	newTask := func(bad *rmqclient.UndecodableError, next0 int64) (*sourceTask, *fakeReader) {
		fr := &fakeReader{queues: map[rmqclient.Queue]*fakeQueue{q0: {first: 0, max: 16, bad: bad}, q1: {first: 0, max: 3}}}
		task := &sourceTask{log: slog.New(slog.NewTextHandler(io.Discard, nil)), sel: &selection{srcAlias: "A", dstAlias: "B"},
			batch: 100, reader: fr, byKey: map[srcQueue]*queueState{}}
		require.NoError(t, task.declareMetrics(conformance.NewMetrics(), []string{"orders"}))
		for i, q := range []rmqclient.Queue{q0, q1} {
			qs := &queueState{q: q, target: "A_orders", label: q.Topic, ackedUp: -1, syncedUp: -1,
				ext:  map[string]string{plugins.ExtTargetQueue: fmt.Sprint(i)},
				part: map[string]any{PartCluster: "A", PartTopic: q.Topic, PartBroker: q.BrokerName, PartQueue: int64(q.QueueID)}}
			qs.max.Store(fr.queues[q].max)
			task.queues = append(task.queues, qs)
			task.byKey[partQueue(qs.part)] = qs
		}
		task.queues[0].next = next0
		return task, fr
	}
	poll := func(task *sourceTask) []*schema.Record {
		recs, err := task.Poll(t.Context())
		require.NoError(t, err)
		return recs
	}
	byQueue := func(recs []*schema.Record) map[int64][]int64 {
		out := map[int64][]int64{}
		for _, r := range recs {
			q := r.SourcePartition[PartQueue].(int64)
			out[q] = append(out[q], offsets(t, []*schema.Record{r})...)
		}
		return out
	}

	t.Run("after messages", func(t *testing.T) {
		bad := undecodable(map[string]string{"p": "1"})
		task, fr := newTask(bad, 10)

		recs := poll(task)
		require.Equal(t, map[int64][]int64{0: {10, 11}, 1: {0, 1, 2}}, byQueue(recs),
			"the messages before it are copied, and the other queue goes on")
		for _, r := range recs {
			require.NotContains(t, r.Extensions, plugins.ExtErrorMessage)
		}

		recs = poll(task)
		require.Len(t, recs, 1, "the failed record comes alone: a task failed by it has committed the records before it")
		r := recs[0]
		require.Equal(t, []int64{12}, offsets(t, recs), "its position passes it once the engine has handled it")
		require.Equal(t, task.queues[0].part, r.SourcePartition)
		require.Equal(t, "A_orders", r.Topic)
		require.Equal(t, []byte("zz"), r.Value, "the stored bytes, for the dead-letter queue")
		require.Contains(t, r.Extensions[plugins.ExtErrorMessage], "source cluster A")
		require.Contains(t, r.Extensions[plugins.ExtErrorMessage], bad.Error())
		h := map[string]any{}
		for _, x := range r.Headers {
			h[x.Key] = x.Value
		}
		require.Equal(t, map[string]any{"p": "1", "KEYS": "k1 k2"}, h)
		require.Equal(t, []string{"orders@b#0@10", "orders@b#1@0"}, fr.asked, "not pulled again while held")

		require.Equal(t, map[int64][]int64{0: {13, 14, 15}}, byQueue(poll(task)), "the queue reads on after it")
		require.Equal(t, "orders@b#0@13", fr.asked[len(fr.asked)-1])
	})

	t.Run("first of its pull", func(t *testing.T) {
		task, _ := newTask(undecodable(nil), 12)
		task.queues[1].next = 3 // read to its end: nothing else to poll
		require.Empty(t, poll(task), "the poll ends at once, without waiting for messages elsewhere")
		recs := poll(task)
		require.Equal(t, []int64{12}, offsets(t, recs))
		require.Contains(t, recs[0].Extensions, plugins.ExtErrorMessage)
		require.Equal(t, map[int64][]int64{0: {13, 14, 15}}, byQueue(poll(task)))
	})

	t.Run("from the target", func(t *testing.T) {
		task, _ := newTask(undecodable(map[string]string{PropPath: "C,B"}), 10)
		require.Equal(t, map[int64][]int64{0: {10, 11, 13, 14, 15}, 1: {0, 1, 2}}, byQueue(poll(task)),
			"not replicated back to where it came from")
	})
}
