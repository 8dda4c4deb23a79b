package worker

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/transforms"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// failingSender fails every send with a fatal error, and says when it first did.
type failingSender struct{ failed atomic.Bool }

var errSendRefused = errors.New("message refused by the broker")

func (f *failingSender) SendBatch(context.Context, *rmqclient.Batch) (rmqclient.SendResult, error) {
	f.failed.Store(true)
	return rmqclient.SendResult{}, errSendRefused
}

// countingSource returns one record a Poll; with blockSecond, its second Poll waits for
// its context (a long poll). It counts the Polls that began after the sender failed.
type countingSource struct {
	sender      *failingSender
	blockSecond bool
	polls       atomic.Int32
	afterFail   atomic.Int32
}

func (c *countingSource) Start(context.Context, plugins.SourceTaskContext, map[string]string) error {
	return nil
}

func (c *countingSource) Poll(ctx context.Context) ([]*schema.Record, error) {
	if c.sender.failed.Load() {
		c.afterFail.Add(1)
	}
	if n := c.polls.Add(1); n == 2 && c.blockSecond {
		<-ctx.Done()
		return nil, nil
	}
	r := schema.NewRecord("", nil, nil, schema.StringSchema, "v")
	r.SourcePartition, r.SourceOffset = map[string]any{"p": "0"}, map[string]any{"o": int64(1)}
	return []*schema.Record{r}, nil
}

func (c *countingSource) Commit(context.Context) error { return nil }
func (c *countingSource) Stop(context.Context) error   { return nil }

func sendFailRunner(t *testing.T, task plugins.SourceTask, sender batchSender) *sourceRunner {
	t.Helper()
	chain, err := transforms.ParseChain(map[string]string{}, nil)
	require.NoError(t, err)
	positions, err := OpenFilePositionStore(filepath.Join(t.TempDir(), "positions.json"))
	require.NoError(t, err)
	counters := &taskCounters{}
	return &sourceRunner{id: restapi.TaskID{Connector: "sf", Task: 0}, cfg: map[string]string{}, task: task, chain: chain,
		conv: testConverters(t), producer: sender, positions: positions, counters: counters,
		errs: &errorReporter{connector: "sf", log: quiet(), metrics: counters}, policy: errorPolicy{retryDelayMax: time.Second},
		log: quiet(), defaultTopic: "t", knownTopics: map[string]bool{"t": true}, commitInterval: time.Hour,
		hist: newWorkerMetrics(), labels: []string{"w", "sf", "0"}}
}

// A send that fails for good ends the task's polling at once: a Poll in flight (a long
// poll) has its context cancelled, and no Poll begins after the failure was seen. The poll
// loop went on polling (and waiting for a long Poll) for records it would never send.
func TestSourceStopsPollingWhenASendFails(t *testing.T) {
	t.Run("a long poll in flight is cancelled", func(t *testing.T) {
		sender := &failingSender{}
		task := &countingSource{sender: sender, blockSecond: true}
		s := sendFailRunner(t, task, sender)
		done := make(chan error, 1)
		go func() { done <- s.run(context.Background(), 5*time.Second) }()
		select {
		case err := <-done:
			require.ErrorIs(t, err, errSendRefused)
		case <-time.After(20 * time.Second):
			t.Fatal("the task kept waiting in Poll after its records could no longer be sent")
		}
	})
	t.Run("no poll begins after the failure", func(t *testing.T) {
		for range 30 {
			sender := &failingSender{}
			task := &countingSource{sender: sender}
			s := sendFailRunner(t, task, sender)
			require.ErrorIs(t, s.run(context.Background(), 5*time.Second), errSendRefused)
			require.LessOrEqual(t, task.afterFail.Load(), int32(1), "at most the Poll that was starting as the send failed")
		}
	})
}
