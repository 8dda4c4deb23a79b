package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/transforms"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/schema/converter"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// TestSinkFailing20TimesThenRecoveringLosesNothing: a sink whose Put fails 20 times in a row
// (errors.tolerance=none: each failure fails the task, which restarts) delivers the record once
// it recovers; the batch is retried in place, never sent back through the retry topic (which
// advanced the offset past it and, after 16 rounds, moved it to %DLQ%<group>).
func TestSinkFailing20TimesThenRecoveringLosesNothing(t *testing.T) {
	topic := rmqtest.Topic(t, 1)
	group := rmqtest.Group(t)
	env := startHerder(t, t.TempDir())
	defer env.stop(t)
	ctx := context.Background()
	client := rmqtest.Client(t)
	p, err := client.NewProducer("fail20", rmqclient.ProducerOptions{})
	require.NoError(t, err)
	defer p.Close()
	_, err = p.Send(ctx, &rmqclient.Message{Topic: topic, Body: []byte("the record")})
	require.NoError(t, err)

	id := rmqtest.Name(t, "state")
	st := stateFor(id)
	st.mu.Lock()
	st.putErrs = 20
	st.mu.Unlock()
	_, err = env.h.CreateConnector(ctx, "s", map[string]string{
		"connector.class": "mem-sink", "test.id": id, "connect.topicnames": topic, "task.group.id": group,
	}, "")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return st.unique()["the record"] }, 3*time.Minute, 100*time.Millisecond,
		"the record arrives once the sink recovers")
	st.mu.Lock()
	require.Zero(t, st.putErrs, "every failure happened")
	require.GreaterOrEqual(t, st.starts, 21, "each failure failed the task, which was restarted")
	st.mu.Unlock()
	waitState(t, env.h, "s", restapi.StateRunning, 1)
	_, err = client.TopicQueues(ctx, "%DLQ%"+group)
	require.ErrorIs(t, err, rmqclient.ErrNoRoute, "nothing went to the group's %%DLQ%% topic")
	// The failed batch was never sent to the group's retry topic (which moved the group's
	// offset past it and, after 16 rounds, to %DLQ%): the runtime reads by explicit pulls.
	qs, err := client.TopicQueues(ctx, "%RETRY%"+group)
	if !errors.Is(err, rmqclient.ErrNoRoute) {
		require.NoError(t, err)
	}
	for _, q := range qs {
		_, maxOff, err := client.QueueOffsets(ctx, q)
		require.NoError(t, err)
		require.Zero(t, maxOff, "nothing was sent back to the group's retry topic")
	}
	t.Logf("the record was put %d time(s)", len(st.snapshot()))
}

// blockingSink's Put blocks until its context ends, and reports that context's cause.
type blockingSink struct {
	entered chan struct{}
	cause   chan error
	flushed atomic.Int32
}

func (b *blockingSink) Start(context.Context, plugins.SinkTaskContext, map[string]string) error {
	return nil
}

func (b *blockingSink) Put(ctx context.Context, _ []*schema.Record) error {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	b.cause <- context.Cause(ctx)
	return ctx.Err()
}

func (b *blockingSink) Flush(context.Context, map[plugins.Queue]int64) error {
	b.flushed.Add(1)
	return nil
}
func (b *blockingSink) Stop(context.Context) error { return nil }

func testConverters(t *testing.T) converters {
	t.Helper()
	cfg := map[string]string{"key.converter": "string", "value.converter": "string"}
	kc, err := converter.FromConfig(cfg, "key.converter", true)
	require.NoError(t, err)
	vc, err := converter.FromConfig(cfg, "value.converter", false)
	require.NoError(t, err)
	return converters{kc, vc}
}

// TestFenceInterruptsSinkPut: a Put in flight when this worker's lease runs out gets its
// context cancelled with the fence's error (it used to run on the client's background
// context, never cancelled), the task fails with that error and nothing is flushed.
func TestFenceInterruptsSinkPut(t *testing.T) {
	topic := rmqtest.Topic(t, 1)
	client := rmqtest.Client(t)
	ctx := context.Background()
	p, err := client.NewProducer("fence", rmqclient.ProducerOptions{})
	require.NoError(t, err)
	defer p.Close()
	_, err = p.Send(ctx, &rmqclient.Message{Topic: topic, Body: []byte("r")})
	require.NoError(t, err)

	var fenced atomic.Bool
	errLease := errors.New("lease ran out")
	task := &blockingSink{entered: make(chan struct{}, 1), cause: make(chan error, 1)}
	counters := &taskCounters{}
	s := &sinkRunner{
		fence: func() error {
			if fenced.Load() {
				return errLease
			}
			return nil
		},
		id: restapi.TaskID{Connector: "fenced", Task: 0}, cfg: map[string]string{}, task: task, conv: testConverters(t), client: client,
		errs:   &errorReporter{connector: "fenced", log: quiet(), metrics: counters},
		policy: errorPolicy{retryDelayMax: time.Second}, log: quiet(), counters: counters,
		group: rmqtest.Group(t), topics: []string{topic}, from: rmqclient.FromFirst, batchSize: 10,
		hist: newWorkerMetrics(), labels: []string{"w", "fenced", "0"},
	}
	done := make(chan error, 1)
	go func() { done <- s.run(ctx, 5*time.Second) }()
	select {
	case <-task.entered:
	case <-time.After(time.Minute):
		t.Fatal("Put was never called")
	}
	fenced.Store(true)
	select {
	case cause := <-task.cause:
		require.ErrorIs(t, cause, errLease, "Put's context ended because of the fence")
	case <-time.After(30 * time.Second):
		t.Fatal("Put's context was not cancelled when the fence tripped")
	}
	select {
	case err := <-done:
		require.ErrorIs(t, err, errLease)
	case <-time.After(30 * time.Second):
		t.Fatal("the fenced task did not stop")
	}
	require.Zero(t, task.flushed.Load(), "nothing was flushed after the fence")
}

// TestFenceStopsSourceSendRetries: a source retrying a failing send asks the fence before
// every attempt and gives up with the fence's error once the lease has run out, instead of
// retrying for 2 minutes (longer than the 15 s lease).
func TestFenceStopsSourceSendRetries(t *testing.T) {
	dead, err := rmqclient.New(rmqclient.Config{NameServers: []string{"127.0.0.1:1"}, Instance: rmqtest.Name(t, "dead"), Logger: quiet()})
	require.NoError(t, err)
	defer dead.Close()
	p, err := dead.NewProducer("fence-src", rmqclient.ProducerOptions{Retries: 1})
	require.NoError(t, err)
	defer p.Close()
	var attempts atomic.Int32
	errLease := errors.New("lease ran out")
	s := &sourceRunner{
		producer: p, counters: &taskCounters{}, policy: errorPolicy{retryDelayMax: 100 * time.Millisecond},
		knownTopics: map[string]bool{"t": true},
		fence: func() error {
			if attempts.Add(1) > 2 {
				return errLease
			}
			return nil
		},
	}
	b, err := rmqclient.NewBatch(&rmqclient.Message{Topic: "t", Body: []byte("x")})
	require.NoError(t, err)
	_, err = s.send(context.Background(), b)
	require.ErrorIs(t, err, errLease)
}

// panicky is a transform that panics on every record.
type panicky struct{}

func (panicky) Configure(map[string]string) error { return nil }
func (panicky) Apply(*schema.Record) (*schema.Record, error) {
	var m map[string]int
	m["boom"]++ //lint:ignore SA5000 a nil-map write: the plain bug this transform has
	return nil, nil
}

func panickyChain(t *testing.T) *transforms.Chain {
	t.Helper()
	reg := transforms.NewRegistry()
	require.NoError(t, reg.RegisterTransform("Panicky", nil, func() transforms.Transform { return panicky{} }))
	chain, err := transforms.ParseChain(map[string]string{"transforms": "p", "transforms.p.type": "Panicky"}, reg)
	require.NoError(t, err)
	return chain
}

// TestSourceTransformPanicFailsTheTaskOnly: a panic in a source transform is recovered and
// returned as the task's error, with the panic value and the stack (it used to kill the
// worker), even with errors.tolerance=all.
func TestSourceTransformPanicFailsTheTaskOnly(t *testing.T) {
	counters := &taskCounters{}
	s := &sourceRunner{chain: panickyChain(t), conv: testConverters(t), defaultTopic: "t", validTopics: map[string]bool{},
		counters: counters, errs: &errorReporter{policy: errorPolicy{tolerateAll: true}, log: quiet(), metrics: counters}}
	rec := schema.NewRecord("", nil, nil, schema.StringSchema, "v")
	_, err := s.convertBatch(context.Background(), []*schema.Record{rec})
	require.Error(t, err)
	require.Contains(t, err.Error(), "assignment to entry in nil map", "the panic value")
	require.Contains(t, err.Error(), "panicky.Apply", "the stack")
	require.Contains(t, err.Error(), StageTransform)
	require.Zero(t, counters.recordsSkipped.Load(), "a panic is not a tolerated record error")
}

// TestSinkTransformPanicFailsTheTaskOnly: the same for a sink: the batch is not
// completed (its offsets are not stored) and the task fails with the panic value and stack.
func TestSinkTransformPanicFailsTheTaskOnly(t *testing.T) {
	counters := &taskCounters{}
	s := &sinkRunner{chain: panickyChain(t), conv: testConverters(t), task: &memSinkTask{st: &memState{}}, counters: counters,
		errs: &errorReporter{policy: errorPolicy{tolerateAll: true}, log: quiet(), metrics: counters}, log: quiet()}
	s.init(context.Background())
	msg := &rmqclient.ReceivedMessage{Queue: rmqclient.Queue{Topic: "t"}, Body: []byte("v"), Properties: map[string]string{}}
	require.Error(t, s.process(context.Background(), []*rmqclient.ReceivedMessage{msg}, nil), "the batch is not durable")
	var failure error
	select {
	case failure = <-s.failed:
	case <-time.After(10 * time.Second):
		t.Fatal("the task did not fail")
	}
	require.Contains(t, failure.Error(), "assignment to entry in nil map")
	require.Contains(t, failure.Error(), "panicky.Apply")
	require.Zero(t, counters.recordsPut.Load())
}

// TestSourceRecordOverBrokerLimit: a record larger than RocketMQ takes is refused before the
// send and handled by errors.tolerance: with all it goes to the DLQ, cut to what fits and
// marked, and the source moves on; with none the task fails with an error that says why. It
// used to be retried as a transient send failure, then fail the task and replay forever.
func TestSourceRecordOverBrokerLimit(t *testing.T) {
	const size = 6 << 20 // incompressible: the client's compression cannot bring it under 4 MiB
	t.Run("tolerance=all", func(t *testing.T) {
		topic := rmqtest.Topic(t, 1)
		dlq := rmqtest.Name(t, "dlq")
		env := startHerder(t, t.TempDir())
		defer env.stop(t)
		_, err := env.h.CreateConnector(context.Background(), "src", map[string]string{
			"connector.class": "mem-source", "test.id": rmqtest.Name(t, "s"), "count": "2", "value.bytes": fmt.Sprint(size),
			"connect.topicname": topic, "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
		}, "")
		require.NoError(t, err)
		msgs := readDLQ(t, dlq, 2)
		for _, m := range msgs {
			require.Equal(t, dlqMaxBody, len(m.Body), "the DLQ keeps the head that fits")
			require.True(t, strings.HasPrefix(string(m.Body), "value-0-"))
			require.Equal(t, "true", m.Properties[ErrHeaderBodyTruncated])
			require.Equal(t, fmt.Sprint(size), m.Properties[ErrHeaderBodySize])
			require.Equal(t, StageProduce, m.Properties[ErrHeaderStage])
		}
		require.Eventually(t, func() bool {
			ps, _ := env.h.Positions("src")
			return len(ps) == 1 && ps[0].Offset["seq"] == int64(1)
		}, 30*time.Second, 50*time.Millisecond, "the source moved on")
		waitState(t, env.h, "src", restapi.StateRunning, 1)
	})
	t.Run("tolerance=none", func(t *testing.T) {
		env := startHerder(t, t.TempDir())
		defer env.stop(t)
		_, err := env.h.CreateConnector(context.Background(), "src", map[string]string{
			"connector.class": "mem-source", "test.id": rmqtest.Name(t, "s"), "count": "1", "value.bytes": fmt.Sprint(size),
			"connect.topicname": rmqtest.Topic(t, 1),
		}, "")
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			s, err := env.h.TaskStatus(context.Background(), restapi.TaskID{Connector: "src", Task: 0})
			return err == nil && s.State == restapi.StateFailed && strings.Contains(s.Trace, "maxMessageSize")
		}, time.Minute, 50*time.Millisecond, "the task is FAILED saying the record is over the broker's limit")
	})
}

// TestSourceSendsOutlastABrokerRestart: with no errors.retry.timeout, a source retries a failing
// send for two minutes (Kafka's delivery.timeout.ms), at most two seconds apart, so a broker
// restart of half a minute leaves the task RUNNING and sending resumes within seconds of the
// broker's return; a connector's own retry settings are kept.
func TestSourceSendsOutlastABrokerRestart(t *testing.T) {
	p := sendPolicy(errorPolicy{retryDelayMax: time.Minute})
	require.Equal(t, 2*time.Minute, p.retryTimeout)
	require.Equal(t, 2*time.Second, p.retryDelayMax)

	p = sendPolicy(errorPolicy{retryDelayMax: 500 * time.Millisecond})
	require.Equal(t, 500*time.Millisecond, p.retryDelayMax, "a shorter configured delay is kept")

	own := errorPolicy{retryTimeout: 10 * time.Second, retryDelayMax: 5 * time.Second}
	require.Equal(t, own, sendPolicy(own), "a connector's errors.retry.timeout is honoured as set")
	forever := errorPolicy{retryTimeout: -1, retryDelayMax: time.Minute}
	require.Equal(t, forever, sendPolicy(forever))
}
