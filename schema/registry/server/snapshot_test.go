package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// truncatedLog replays only the entries of a MemLog from position from on, as a RocketMQ
// topic does after the broker deleted its oldest files.
type truncatedLog struct {
	*MemLog
	from int64
}

func (l truncatedLog) Run(ctx context.Context, apply func(pos int64, event []byte)) error {
	return l.MemLog.Run(ctx, func(pos int64, ev []byte) {
		if pos >= l.from {
			apply(pos, ev)
		}
	})
}

func appendEvent(t *testing.T, log *MemLog, ev event) {
	t.Helper()
	b, err := json.Marshal(ev)
	require.NoError(t, err)
	require.NoError(t, log.Append(context.Background(), b))
}

const (
	schemaV1 = `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`
	schemaV2 = `{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":["null","string"],"default":null}]}`
)

func stateOf(t *testing.T, log Log) map[string][]int64 {
	t.Helper()
	s, err := New(Config{Log: log, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("replay did not finish")
	}
	cancel()
	require.NoError(t, <-done)
	out := map[string][]int64{}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, sub := range s.st.subjects {
		for _, r := range sub.records() {
			out[k.subject] = append(out[k.subject], r.RecordID*100+r.Version)
		}
	}
	return out
}

func TestSnapshotSurvivesTruncation(t *testing.T) {
	log := NewMemLog()
	ev := func(op, subject, idl string) event {
		return event{Op: op, Cluster: "c", Tenant: "t", Subject: subject, IDL: idl}
	}
	appendEvent(t, log, ev(opRegister, "a", schemaV1)) // 0
	appendEvent(t, log, ev(opUpdate, "a", schemaV2))   // 1
	// A snapshot taken as of position 1, appended after another instance's write at 2.
	writer, err := New(Config{Log: log.Peer(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	writer.st.apply(0, &event{Op: opRegister, Cluster: "c", Tenant: "t", Subject: "a", IDL: schemaV1}, true)
	writer.st.apply(1, &event{Op: opUpdate, Cluster: "c", Tenant: "t", Subject: "a", IDL: schemaV2}, true)
	writer.st.last = 1
	appendEvent(t, log, ev(opRegister, "b", schemaV1))        // 2
	require.NoError(t, writer.Snapshot(context.Background())) // 3
	appendEvent(t, log, ev(opRegister, "c", schemaV1))        // 4

	full := stateOf(t, log.Peer())
	require.Equal(t, map[string][]int64{"a": {101, 202}, "b": {301}, "c": {501}}, full)
	for from := int64(1); from <= 2; from++ {
		got := stateOf(t, truncatedLog{log.Peer(), from})
		require.Equal(t, full, got, fmt.Sprintf("log truncated before position %d", from))
	}
	// Truncated exactly between the snapshot's as-of position and its own: the event in
	// between (b) is gone with the deleted entries; a later snapshot would have it.
	got3 := stateOf(t, truncatedLog{log.Peer(), 3})
	require.Equal(t, map[string][]int64{"a": {101, 202}, "c": {501}}, got3)
	// Truncated past the only snapshot: what is left is applied, the rest is lost (and logged).
	got := stateOf(t, truncatedLog{log.Peer(), 4})
	require.Equal(t, map[string][]int64{"c": {501}}, got)
}
