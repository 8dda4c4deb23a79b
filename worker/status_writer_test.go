package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
	"github.com/stretchr/testify/require"
)

// flakyStatusTopic fails its first failures appends, then stores every record.
type flakyStatusTopic struct {
	mu       sync.Mutex
	failures int
	stored   []statusRecord
	gate     chan struct{} // appends block until it is closed
}

func (f *flakyStatusTopic) append(ctx context.Context, _ string, body []byte) (int64, error) {
	select {
	case <-f.gate:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failures > 0 {
		f.failures--
		return 0, errors.New("broker busy")
	}
	var r statusRecord
	if err := json.Unmarshal(body, &r); err != nil {
		return 0, err
	}
	f.stored = append(f.stored, r)
	return int64(len(f.stored) - 1), nil
}

// latest folds what was stored into the last state per task.
func (f *flakyStatusTopic) latest() map[string]restapi.State {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]restapi.State{}
	for _, r := range f.stored {
		out[fmt.Sprintf("%s-%d", r.Connector, r.Task)] = r.State
	}
	return out
}

// The latest state of every task reaches the status topic: through more failed writes
// than any fixed retry count, and with more tasks changing state at once than any
// fixed queue holds.
func TestStatusWriterWritesTheLatestStateOfEveryTask(t *testing.T) {
	d := newTestDistributed(t, time.Second)
	topic := &flakyStatusTopic{failures: 12, gate: make(chan struct{})}
	d.appendStatus, d.statusBackoff = topic.append, time.Millisecond
	done := make(chan struct{})
	go func() { defer close(done); d.statusWriter() }()

	const tasks = 5000
	want := map[string]restapi.State{}
	for i := range tasks {
		for _, st := range []restapi.State{restapi.StateRunning, restapi.StateFailed, restapi.StateRunning, restapi.StateUnassigned} {
			if i%2 == 1 && st == restapi.StateUnassigned {
				break // odd tasks end RUNNING
			}
			d.report(statusRecord{Connector: "c", Task: i, Inc: 1, State: st, Worker: "w1", Gen: 1})
			want[fmt.Sprintf("c-%d", i)] = st
		}
	}
	close(topic.gate)
	require.Eventually(t, func() bool { return len(topic.latest()) == tasks }, time.Minute, 10*time.Millisecond)
	require.Equal(t, want, topic.latest())

	d.reportMu.Lock()
	d.reportsClosed, d.flushBy = true, time.Now().Add(time.Minute)
	d.reportMu.Unlock()
	d.wakeWriter()
	<-done
}

// TestStatusWriterCutsLongTraces: a trace too large for one RocketMQ message (a failure
// quoting a whole payload) is cut, so its record is written and the records queued behind it
// (another task's release) are not held up for good.
func TestStatusWriterCutsLongTraces(t *testing.T) {
	d := newTestDistributed(t, time.Second)
	var mu sync.Mutex
	var stored []statusRecord
	d.appendStatus = func(_ context.Context, _ string, body []byte) (int64, error) {
		if len(body) > rmqclient.MaxMessageBytes {
			return 0, fmt.Errorf("%w: %d bytes", rmqclient.ErrTooLarge, len(body))
		}
		var r statusRecord
		if err := json.Unmarshal(body, &r); err != nil {
			return 0, err
		}
		mu.Lock()
		defer mu.Unlock()
		stored = append(stored, r)
		return int64(len(stored) - 1), nil
	}
	d.statusBackoff = time.Millisecond
	done := make(chan struct{})
	go func() { defer close(done); d.statusWriter() }()

	huge := "failed: " + strings.Repeat("é", rmqclient.MaxMessageBytes)
	d.report(statusRecord{Connector: "c", Task: 0, Inc: 1, State: restapi.StateFailed, Trace: huge, Worker: "w1", Gen: 1})
	d.report(statusRecord{Connector: "c", Task: 1, Inc: 1, State: restapi.StateUnassigned, Worker: "w1", Gen: 1})
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(stored) == 2 }, 10*time.Second, time.Millisecond,
		"the record with the long trace, and the release behind it, are written")
	mu.Lock()
	tr := stored[0].Trace
	mu.Unlock()
	require.LessOrEqual(t, len(tr), maxStatusTrace)
	require.True(t, strings.HasPrefix(tr, "failed: é"))
	require.True(t, utf8.ValidString(tr), "cut on a character boundary")
	require.Contains(t, tr, fmt.Sprintf("(cut: %d bytes)", len(huge)))

	d.reportMu.Lock()
	d.reportsClosed, d.flushBy = true, time.Now().Add(time.Minute)
	d.reportMu.Unlock()
	d.wakeWriter()
	<-done
}
