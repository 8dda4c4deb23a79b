package worker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// TestTaskStartRetriedWhenRetriable: a task whose Start fails with a RetriableError is stopped
// and started again after a backoff within errors.retry.timeout, as the SPI says (plugins.SourceTask
// and SinkTask Start), and runs without ever being FAILED; it was FAILED at once and left to the
// restart backoff.
func TestTaskStartRetriedWhenRetriable(t *testing.T) {
	topic := rmqtest.Topic(t, 4)
	env := startHerder(t, t.TempDir())
	defer env.stop(t)
	ctx := context.Background()
	id := rmqtest.Name(t, "startretry")
	for _, tc := range []struct{ name, stateID string }{{"src", id + "-src"}, {"snk", id}} {
		st := stateFor(tc.stateID)
		st.mu.Lock()
		st.startRetriable = 2
		st.mu.Unlock()
	}
	_, err := env.h.CreateConnector(ctx, "src", map[string]string{
		"connector.class": "mem-source", "test.id": id + "-src", "count": "50", "connect.topicname": topic,
		"errors.retry.timeout": "30000",
	}, "")
	require.NoError(t, err)
	_, err = env.h.CreateConnector(ctx, "snk", map[string]string{
		"connector.class": "mem-sink", "test.id": id, "connect.topicnames": topic, "task.group.id": rmqtest.Group(t),
		"errors.retry.timeout": "30000",
	}, "")
	require.NoError(t, err)
	deadline := time.Now().Add(30 * time.Second)
	for name := range map[string]bool{"src": true, "snk": true} {
		require.Eventually(t, func() bool {
			st, err := env.h.ConnectorStatus(ctx, name)
			require.NoError(t, err)
			for _, ts := range st.Tasks {
				require.NotEqual(t, restapi.StateFailed, ts.State, "%s task failed: %s", name, ts.Trace)
			}
			return len(st.Tasks) == 1 && st.Tasks[0].State == restapi.StateRunning
		}, time.Until(deadline), 20*time.Millisecond)
	}
	snk := stateFor(id)
	require.Eventually(t, func() bool { return len(snk.unique()) >= 50 }, 60*time.Second, 50*time.Millisecond)
	for _, stateID := range []string{id + "-src", id} {
		st := stateFor(stateID)
		st.mu.Lock()
		starts, stops, reused := st.starts, st.taskStops, st.reused
		st.mu.Unlock()
		require.Zero(t, reused, "%s: each Start on a new task object", stateID)
		require.Equal(t, 3, starts, fmt.Sprintf("%s: two retriable failures, then a start", stateID))
		require.GreaterOrEqual(t, stops, 2, "%s: Stop after each failed Start", stateID)
	}
}
