package postgres_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// A Poll whose context is already cancelled (the engine shutting down) returns without treating the
// connection as lost: no "connection lost" warning, no dropped connection, and the next Poll streams.
func TestCancelledPollIsNotALostConnection(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "never"})
	h.exec(`CREATE TABLE a (id INT PRIMARY KEY)`)
	task, logs := h.startLogged()

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	recs, err := task.Poll(cancelled)
	require.NoError(t, err)
	require.Empty(t, recs)
	require.NotContains(t, logs.String(), "lost", "a cancelled poll is not a lost connection")

	h.exec(`INSERT INTO a VALUES (1)`)
	require.Equal(t, []string{"srv-public-a {id=1} c nil->{id=1}"}, describeAll(h.poll(task, 1, true)))
	require.NotContains(t, logs.String(), "lost")
}
