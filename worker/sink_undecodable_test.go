package worker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// TestSinkUndecodableMessageGoesThroughTheErrorPolicy: a message the client cannot decode
// (a compression it does not know) stops no queue. The messages pulled before it are handed
// on; it goes through the error policy at stage CONSUME with its stored bytes, marked never
// to be replayed; tolerated, the queue reads on after it and its offset becomes durable once
// the batch before it is; not tolerated, the task fails naming it.
func TestSinkUndecodableMessageGoesThroughTheErrorPolicy(t *testing.T) {
	q := rmqclient.Queue{Topic: "t", BrokerName: "b", QueueID: 0}
	bad := &rmqclient.UndecodableError{Queue: q, Offset: 12, Body: []byte("zz"), Properties: map[string]string{"p": "1"},
		Keys: []string{"k"}, Err: errors.New("compression type 6 is not supported")}
	before := func() rmqclient.Pulled {
		return rmqclient.Pulled{Next: 12, Messages: []*rmqclient.ReceivedMessage{
			{Queue: q, Offset: 10, Body: []byte("a")}, {Queue: q, Offset: 11, Body: []byte("b")}}}
	}
	runner := func(policy errorPolicy) (*sinkRunner, *[]*rmqclient.Message) {
		var sent []*rmqclient.Message
		r := &errorReporter{policy: policy, connector: "c", log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			metrics: &taskCounters{}, dlq: func(_ context.Context, m *rmqclient.Message) error { sent = append(sent, m); return nil }}
		s := &sinkRunner{errs: r, failed: make(chan error, 1)}
		s.flushDone = sync.NewCond(&s.mu)
		return s, &sent
	}
	tolerant := errorPolicy{tolerateAll: true, dlqTopic: "dlq", dlqContextProps: true}

	t.Run("after a batch", func(t *testing.T) {
		s, sent := runner(tolerant)
		p := newQueueProgress(q, 10, false)
		out := make(chan sinkBatch, 1)
		next, err := s.pastUndecodable(t.Context(), p, 10, before(), bad, out)
		require.NoError(t, err)
		require.Equal(t, int64(13), next, "the queue reads on after it")
		b := <-out
		require.Equal(t, [2]int64{10, 12}, [2]int64{b.start, b.end})
		require.Len(t, b.msgs, 2)

		require.Len(t, *sent, 1)
		m := (*sent)[0]
		require.Equal(t, "zz", string(m.Body))
		require.Equal(t, []string{"k"}, m.Keys)
		require.Equal(t, "1", m.Properties["p"])
		require.Equal(t, "true", m.Properties[ErrHeaderBodyUndecodable])
		require.Equal(t, StageConsume, m.Properties[ErrHeaderStage])
		rp := &replayer{allowed: map[string]bool{"t": true}}
		code, reason := rp.refusal(restapi.DLQRecord{Topic: "t"}, &rmqclient.ReceivedMessage{Properties: m.Properties})
		require.Equal(t, restapi.RefusedBodyUndecodable, code, "a replay refuses it")
		require.Contains(t, reason, "could not decode")

		off, _ := p.toCommit()
		require.Equal(t, int64(10), off, "not past the batch before it while that is in flight")
		p.completed(0, 10, 12)
		off, _ = p.toCommit()
		require.Equal(t, int64(13), off)
	})
	t.Run("alone", func(t *testing.T) {
		s, sent := runner(tolerant)
		p := newQueueProgress(q, 12, false)
		next, err := s.pastUndecodable(t.Context(), p, 12, rmqclient.Pulled{Next: 12}, bad, make(chan sinkBatch))
		require.NoError(t, err)
		require.Equal(t, int64(13), next)
		require.Len(t, *sent, 1)
		off, _ := p.toCommit()
		require.Equal(t, int64(13), off)
	})
	t.Run("not tolerated", func(t *testing.T) {
		s, sent := runner(errorPolicy{})
		p := newQueueProgress(q, 12, false)
		_, err := s.pastUndecodable(t.Context(), p, 12, rmqclient.Pulled{Next: 12}, bad, make(chan sinkBatch))
		require.ErrorIs(t, err, rmqclient.ErrUndecodable)
		require.ErrorContains(t, err, "stage CONSUME")
		require.ErrorIs(t, <-s.failed, rmqclient.ErrUndecodable, "the task fails")
		require.Empty(t, *sent)
		off, _ := p.toCommit()
		require.Equal(t, int64(12), off, "not past it")
	})
}
