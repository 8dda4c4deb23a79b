package mysql_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc/mysql"
)

// logBuffer is a slog destination safe for concurrent writers.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A Poll whose context is already cancelled (the engine shutting down) returns without treating the
// connection as lost: no "connection lost" warning, no dropped connection, and the next Poll streams.
func TestCancelledPollIsNotALostConnection(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "schema_only"})
	h.exec(`CREATE TABLE a (id INT PRIMARY KEY)`)
	ctx := context.Background()
	c := mysql.NewConnector()
	require.NoError(t, c.Start(ctx, conformance.ConnectorContextFor(t, c, h.cfg), h.cfg))
	t.Cleanup(func() { _ = c.Stop(ctx) })
	tcs, err := c.TaskConfigs(1)
	require.NoError(t, err)
	sctx := conformance.SourceContextFor(t, c.Spec(), h.store, tcs[0])
	var logs logBuffer
	sctx.Log = slog.New(slog.NewTextHandler(&logs, nil))
	task := c.NewSourceTask()
	require.NoError(t, task.Start(ctx, sctx, tcs[0]))
	t.Cleanup(func() { _ = task.Stop(ctx) })

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	recs, err := task.Poll(cancelled)
	require.NoError(t, err)
	require.Empty(t, recs)
	require.NotContains(t, logs.String(), "lost", "a cancelled poll is not a lost connection")

	h.exec(`INSERT INTO a VALUES (1)`)
	require.Equal(t, []string{"srv-" + h.db.Name + "-a {id=1} c nil->{id=1}"}, describeAll(h.poll(task, 1, true)))
	require.NotContains(t, logs.String(), "lost")
}
