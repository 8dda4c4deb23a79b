package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
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
