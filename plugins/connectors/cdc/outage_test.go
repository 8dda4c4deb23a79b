package cdc

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A reconnect that keeps failing is logged at its first failure, at every change of error and once a minute
// while the error stays the same, and its end once, each line with the connection's attributes.
func TestOutageLogsChangesAndRepeats(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	now := time.Unix(1000, 0)
	o := Outage{now: func() time.Time { return now }}
	lines := func() []string { return strings.Split(strings.TrimSpace(buf.String()), "\n") }

	o.Lost(log, "binlog connection lost", errors.New("EOF"), "slot", "s1")
	require.True(t, o.Down())
	require.Contains(t, lines()[0], `level=WARN msg="binlog connection lost; reconnecting" slot=s1 err=EOF`)
	now = now.Add(time.Second)
	o.Lost(log, "binlog connection lost", errors.New("EOF"))
	require.Len(t, lines(), 1, "the same error again within a minute is not logged")
	now = now.Add(time.Second)
	o.Lost(log, "binlog connection lost", errors.New("ERROR 1045 (28000): Access denied"))
	require.Len(t, lines(), 2)
	require.Contains(t, lines()[1], "Access denied")
	require.Contains(t, lines()[1], "still reconnecting")
	require.Contains(t, lines()[1], "down=2s")
	now = now.Add(30 * time.Second)
	o.Lost(log, "binlog connection lost", errors.New("ERROR 1045 (28000): Access denied"))
	require.Len(t, lines(), 2)
	now = now.Add(31 * time.Second)
	o.Lost(log, "binlog connection lost", errors.New("ERROR 1045 (28000): Access denied"))
	require.Len(t, lines(), 3, "a minute on, the same error is logged again")
	require.Contains(t, lines()[2], "down=1m3s")

	now = now.Add(time.Second)
	o.Resumed(log, "binlog replication resumed", "slot", "s1")
	require.False(t, o.Down())
	require.Len(t, lines(), 4)
	require.Contains(t, lines()[3], `level=INFO msg="binlog replication resumed" slot=s1 down=1m4s`)
	o.Resumed(log, "binlog replication resumed")
	require.Len(t, lines(), 4, "logged once")
	o.Lost(log, "binlog connection lost", errors.New("EOF"))
	require.Len(t, lines(), 5, "a new outage is logged from its start")
	require.NotContains(t, lines()[4], "still")
}
