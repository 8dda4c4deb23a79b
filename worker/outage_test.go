package worker

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/transforms"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/schema/converter"
	"github.com/rmqconnect/rmqconnect/schema/registry"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// flakyRegistryConverter is a converter whose schema registry is unavailable for its first
// down calls in each direction (all of them when down is negative).
type flakyRegistryConverter struct {
	converter.Converter
	down        int64
	to, from    atomic.Int64
	unavailable error
}

func newFlakyRegistryConverter(t *testing.T, down int64) *flakyRegistryConverter {
	cfg := map[string]string{"value.converter": "string"}
	c, err := converter.FromConfig(cfg, "value.converter", false)
	require.NoError(t, err)
	return &flakyRegistryConverter{Converter: c, down: down,
		unavailable: fmt.Errorf("look up schema 7: %w: connection refused", registry.ErrUnavailable)}
}

func (c *flakyRegistryConverter) ToConnect(topic string, data []byte) (*schema.Schema, any, error) {
	if n := c.to.Add(1); c.down < 0 || n <= c.down {
		return nil, nil, c.unavailable
	}
	return c.Converter.ToConnect(topic, data)
}

func (c *flakyRegistryConverter) FromConnect(topic string, s *schema.Schema, v any) ([]byte, error) {
	if n := c.from.Add(1); c.down < 0 || n <= c.down {
		return nil, c.unavailable
	}
	return c.Converter.FromConnect(topic, s, v)
}

// dlqCounter is a DLQ writer that counts what it is given.
func dlqCounter(n *atomic.Int64) func(context.Context, *rmqclient.Message) error {
	return func(context.Context, *rmqclient.Message) error { n.Add(1); return nil }
}

// A sink whose records cannot be converted while the schema registry is down waits the
// outage out and puts them; they are not the records' failures, so none goes to the DLQ
// (under errors.tolerance=all they all did, and their offsets were committed).
func TestSinkWaitsOutARegistryOutage(t *testing.T) {
	task := &gcSink{}
	s := unitSinkRunner(t, task, 32)
	conv := newFlakyRegistryConverter(t, 3)
	s.conv.value = conv
	var dlq atomic.Int64
	s.errs.policy = errorPolicy{tolerateAll: true, dlqTopic: "dlq"}
	s.errs.dlq = dlqCounter(&dlq)
	s.policy = errorPolicy{tolerateAll: true, dlqTopic: "dlq", retryDelayMax: 10 * time.Millisecond}
	p := newQueueProgress(gcQueue(0), 0, true)
	in := make(chan sinkBatch, 1)
	in <- gcBatch(p, 0, 5)
	runProcessors(t, s, in, 1)
	require.Eventually(t, func() bool { return durable(p) == 5 }, 10*time.Second, 5*time.Millisecond)
	task.mu.Lock()
	defer task.mu.Unlock()
	require.Equal(t, [][]string{{"q0@0", "q0@1", "q0@2", "q0@3", "q0@4"}}, task.puts)
	require.Zero(t, dlq.Load(), "nothing went to the DLQ")
	require.Zero(t, s.counters.recordsSkipped.Load())
	require.NoError(t, s.currentFailure())
}

// An outage that outlasts the error policy's retries fails the task, saying so; the record
// is neither skipped nor sent to the DLQ, and its offset is not committed.
func TestSinkRegistryOutageFailsTheTask(t *testing.T) {
	task := &gcSink{}
	s := unitSinkRunner(t, task, 32)
	s.conv.value = newFlakyRegistryConverter(t, -1)
	var dlq atomic.Int64
	s.errs.policy = errorPolicy{tolerateAll: true, dlqTopic: "dlq"}
	s.errs.dlq = dlqCounter(&dlq)
	s.policy = errorPolicy{tolerateAll: true, dlqTopic: "dlq", retryTimeout: 200 * time.Millisecond, retryDelayMax: 20 * time.Millisecond}
	p := newQueueProgress(gcQueue(0), 0, true)
	s.work = context.Background()
	err := s.process(context.Background(), gcBatch(p, 0, 3).msgs, nil)
	require.ErrorIs(t, err, registry.ErrUnavailable)
	require.ErrorContains(t, err, "stage VALUE_CONVERTER")
	require.ErrorIs(t, s.currentFailure(), registry.ErrUnavailable)
	task.mu.Lock()
	require.Empty(t, task.puts)
	task.mu.Unlock()
	require.Zero(t, dlq.Load())
	require.Zero(t, s.counters.recordsSkipped.Load())
	require.Equal(t, int64(0), durable(p))
}

// A source's records waiting on the registry are sent once it is back, not skipped (their
// positions advanced past records never written); a longer outage fails the task.
func TestSourceWaitsOutARegistryOutage(t *testing.T) {
	chain, err := transforms.ParseChain(map[string]string{}, nil)
	require.NoError(t, err)
	for _, tt := range []struct {
		name string
		down int64
	}{{"short", 3}, {"longer than the retries", -1}} {
		counters := &taskCounters{}
		var dlq atomic.Int64
		conv := testConverters(t)
		conv.value = newFlakyRegistryConverter(t, tt.down)
		s := &sourceRunner{chain: chain, conv: conv, defaultTopic: "t", validTopics: map[string]bool{}, counters: counters,
			policy: errorPolicy{tolerateAll: true, retryTimeout: 200 * time.Millisecond, retryDelayMax: 10 * time.Millisecond},
			errs:   &errorReporter{policy: errorPolicy{tolerateAll: true, dlqTopic: "dlq"}, dlq: dlqCounter(&dlq), log: quiet(), metrics: counters}}
		recs := []*schema.Record{schema.NewRecord("", nil, nil, schema.StringSchema, "a"), schema.NewRecord("", nil, nil, schema.StringSchema, "b")}
		b, err := s.convertBatch(context.Background(), recs)
		if tt.down < 0 {
			require.ErrorIs(t, err, registry.ErrUnavailable, tt.name)
		} else {
			require.NoError(t, err, tt.name)
			require.Len(t, b.chunks, 1, tt.name)
			require.Equal(t, 2, b.chunks[0].Len(), tt.name)
		}
		require.Zero(t, dlq.Load(), tt.name)
		require.Zero(t, counters.recordsSkipped.Load(), tt.name)
	}
}

// A sink whose converter's credentials the schema registry refuses (401, 403: a rotated
// password) fails at once, saying so; no record goes to the DLQ, even under
// errors.tolerance=all, and no offset is committed. Every record used to go to the DLQ.
func TestSinkRegistryRefusingCredentialsFailsTheTask(t *testing.T) {
	task := &gcSink{}
	s := unitSinkRunner(t, task, 32)
	conv := newFlakyRegistryConverter(t, -1)
	conv.unavailable = fmt.Errorf("look up schema 7: %w: 401 Unauthorized", registry.ErrUnauthorized)
	s.conv.value = conv
	var dlq atomic.Int64
	s.errs.policy = errorPolicy{tolerateAll: true, dlqTopic: "dlq"}
	s.errs.dlq = dlqCounter(&dlq)
	s.policy = errorPolicy{tolerateAll: true, dlqTopic: "dlq", retryTimeout: time.Minute, retryDelayMax: 20 * time.Millisecond}
	p := newQueueProgress(gcQueue(0), 0, true)
	s.work = context.Background()
	err := s.process(context.Background(), gcBatch(p, 0, 3).msgs, nil)
	require.ErrorIs(t, err, registry.ErrUnauthorized)
	require.ErrorContains(t, err, "refused the converter's credentials")
	require.ErrorIs(t, s.currentFailure(), registry.ErrUnauthorized)
	require.EqualValues(t, 1, conv.to.Load(), "not retried: waiting does not mend credentials")
	task.mu.Lock()
	require.Empty(t, task.puts)
	task.mu.Unlock()
	require.Zero(t, dlq.Load())
	require.Zero(t, s.counters.recordsSkipped.Load())
	require.Equal(t, int64(0), durable(p))
}
