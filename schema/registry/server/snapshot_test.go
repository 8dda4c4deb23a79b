package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
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
	case <-time.After(2 * time.Minute): // a bound against a hang; -race on a loaded host is slow
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

// brokerLimit is RocketMQ's default maxMessageSize: the broker refuses a larger message.
const brokerLimit = 4 << 20

// limitedLog refuses entries over brokerLimit, as the broker does.
type limitedLog struct{ *MemLog }

func (l limitedLog) Append(ctx context.Context, ev []byte) error {
	if len(ev) > brokerLimit {
		return fmt.Errorf("message body size %d exceeds the broker's limit %d", len(ev), brokerLimit)
	}
	return l.MemLog.Append(ctx, ev)
}

// A registry whose state is larger than one log entry may be still survives the broker deleting
// the log's start: its snapshot is split into entries under the limit and put back together.
func TestLargeSnapshotSurvivesTruncation(t *testing.T) {
	log := NewMemLog()
	big := func(i int) string {
		return fmt.Sprintf(`{"type":"record","name":"R%d","doc":"%s","fields":[{"name":"a","type":"int"}]}`, i, strings.Repeat("d", 200<<10))
	}
	// 30 subjects of one 200 KiB schema, and one subject with 8 such versions (1.6 MiB alone):
	// about 7.6 MiB of state.
	for i := range 30 {
		appendEvent(t, log, event{Op: opRegister, Cluster: "c", Tenant: "t", Subject: fmt.Sprintf("s%02d", i), IDL: big(i), Compatibility: "NONE"})
	}
	appendEvent(t, log, event{Op: opRegister, Cluster: "c", Tenant: "t", Subject: "many", IDL: big(100), Compatibility: "NONE"})
	for v := 1; v < 8; v++ {
		appendEvent(t, log, event{Op: opUpdate, Cluster: "c", Tenant: "t", Subject: "many", IDL: big(100 + v)})
	}
	full := stateOf(t, log.Peer())
	require.Len(t, full, 31)
	require.Len(t, full["many"], 8)

	writer, err := New(Config{Log: limitedLog{log.Peer()}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- writer.Run(ctx) }()
	<-writer.Ready()
	before := int64(log.Len())
	require.NoError(t, writer.Snapshot(context.Background()))
	cancel()
	require.NoError(t, <-done)
	require.Greater(t, int64(log.Len()), before+1, "the snapshot took several entries")
	appendEvent(t, log, event{Op: opRegister, Cluster: "c", Tenant: "t", Subject: "after", IDL: schemaV1})
	full = stateOf(t, log.Peer())

	// The broker deleted everything before the snapshot: the state is whole again.
	got := stateOf(t, truncatedLog{log.Peer(), before})
	require.Equal(t, full, got)
	// Deleted up to the snapshot's second entry: that snapshot is incomplete, nothing restores it.
	got = stateOf(t, truncatedLog{log.Peer(), before + 1})
	require.Equal(t, map[string][]int64{"after": {full["after"][0]}}, got)
}
