package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

// A retried send can store one event twice, with other writes in between: the second copy is
// skipped by its request id, whether the reader replays the whole log or restores a snapshot
// taken between the copies (whole or split into parts).
func TestRetriedEventAppliedOnce(t *testing.T) {
	ev := func(op, subject, req string) event {
		return event{Op: op, Req: req, Cluster: "c", Tenant: "t", Subject: subject, IDL: schemaV1, Compatibility: "NONE"}
	}
	update := func(req string) event { e := ev(opUpdate, "a", req); e.IDL = schemaV2; return e }
	deleteVersion := func(v int64, req string) event { e := ev(opDeleteVersion, "a", req); e.Version = v; return e }
	for _, tc := range []struct {
		name string
		// before and after the snapshot; the last event of after is a copy of an earlier one.
		before, after []event
		want          map[string][]int64
	}{{
		name:   "a repeated subject delete leaves the subject registered again",
		before: []event{ev(opRegister, "a", "r1"), ev(opDeleteSubject, "a", "r2"), ev(opRegister, "a", "r3"), ev(opRegister, "b", "r4")},
		after:  []event{ev(opDeleteSubject, "a", "r2")},
		want:   map[string][]int64{"a": {301}, "b": {401}},
	}, {
		name:   "a repeated register does not bring back a deleted subject",
		before: []event{ev(opRegister, "a", "r1"), ev(opDeleteSubject, "a", "r2"), ev(opRegister, "b", "r4"), ev(opRegister, "c", "r5")},
		after:  []event{ev(opRegister, "a", "r1")},
		want:   map[string][]int64{"b": {301}, "c": {401}},
	}, {
		name:   "a repeated update does not bring back a deleted version",
		before: []event{ev(opRegister, "a", "r1"), update("r2"), deleteVersion(2, "r3"), ev(opRegister, "b", "r4")},
		after:  []event{update("r2")},
		want:   map[string][]int64{"a": {101}, "b": {401}},
	}} {
		for _, partBytes := range []int{0, 1} {
			t.Run(fmt.Sprintf("%s/snapshot part bytes %d", tc.name, partBytes), func(t *testing.T) {
				log := NewMemLog()
				for _, e := range tc.before {
					appendEvent(t, log, e)
				}
				writer, err := New(Config{Log: log.Peer(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SnapshotPartBytes: partBytes})
				require.NoError(t, err)
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- writer.Run(ctx) }()
				<-writer.Ready()
				snapAt := int64(log.Len())
				require.NoError(t, writer.Snapshot(context.Background()))
				cancel()
				require.NoError(t, <-done)
				if partBytes == 1 {
					require.Greater(t, int64(log.Len()), snapAt+1, "the snapshot took several entries")
				}
				for _, e := range tc.after {
					appendEvent(t, log, e)
				}

				require.Equal(t, tc.want, stateOf(t, log.Peer()), "full replay")
				require.Equal(t, tc.want, stateOf(t, truncatedLog{log.Peer(), snapAt}), "replay from the snapshot")
			})
		}
	}
}

// Events without a request id (written by hand) apply every time, as before; request ids are
// remembered for dedupWindow positions, no longer.
func TestDedupWindow(t *testing.T) {
	st := newState()
	reg := &event{Op: opRegister, Cluster: "c", Tenant: "t", Subject: "a", IDL: schemaV1}
	del := &event{Op: opDeleteSubject, Cluster: "c", Tenant: "t", Subject: "a"}
	for pos, e := range []*event{reg, del, reg, del, reg} {
		_, ok := st.commit(int64(pos), e)
		require.True(t, ok)
	}
	require.NotNil(t, st.lookup("c", "t", "a"))

	st = newState()
	for pos := range int64(3 * dedupWindow) {
		_, ok := st.commit(pos, &event{Op: opDeleteSubject, Req: fmt.Sprint("r", pos), Cluster: "c", Tenant: "t", Subject: "a"})
		require.True(t, ok)
		require.LessOrEqual(t, len(st.applied), dedupWindow)
		require.LessOrEqual(t, len(st.recent), dedupWindow)
	}
	// r<k> was committed at position k.
	next := int64(3 * dedupWindow)
	_, ok := st.commit(next, &event{Op: opDeleteSubject, Req: fmt.Sprint("r", next-dedupWindow+2), Subject: "a"})
	require.False(t, ok, "a copy dedupWindow-2 positions after its event is skipped")
	_, ok = st.commit(next+1, &event{Op: opDeleteSubject, Req: fmt.Sprint("r", next+1-dedupWindow), Subject: "a"})
	require.True(t, ok, "a copy dedupWindow positions after its event applies")
}
