package client_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDLQReplayNeedsIDs: DLQReplay with no ids sends nothing and fails naming DLQReplayAll,
// which sends {"all": true}; an empty ids used to be sent and replay every record.
func TestDLQReplayNeedsIDs(t *testing.T) {
	ctx := context.Background()
	cs := &canned{status: 200, body: `{"replayed":[],"skipped":[],"in_progress":[],"refused":[]}`}
	c := cs.start(t)
	for _, ids := range [][]string{nil, {}} {
		_, err := c.DLQReplay(ctx, "c", ids, false)
		require.ErrorContains(t, err, "DLQReplayAll replays every record")
		require.Empty(t, cs.method, "a replay of no ids was sent")
	}
	_, err := c.DLQReplayAll(ctx, "c", true)
	require.NoError(t, err)
	require.Equal(t, "POST /connectors/c/dlq/replay", cs.request())
	require.JSONEq(t, `{"all": true, "force": true}`, cs.got)
	_, err = c.DLQReplay(ctx, "c", []string{"b:0:1"}, false)
	require.NoError(t, err)
	require.JSONEq(t, `{"ids": ["b:0:1"]}`, cs.got)
}

// TestDLQListLimit: a limit is sent as it is; 0 asks for the worker's default page; a
// negative one is an error sent nowhere (it used to be dropped, listing the default 100).
func TestDLQListLimit(t *testing.T) {
	ctx := context.Background()
	cs := &canned{status: 200, body: `{"dlq_topic":"d","records":[]}`}
	c := cs.start(t)
	_, err := c.DLQList(ctx, "c", "", -1)
	require.ErrorContains(t, err, "limit -1")
	require.Empty(t, cs.method, "a negative limit was sent as no limit")
	_, err = c.DLQList(ctx, "c", "", 0)
	require.NoError(t, err)
	require.Equal(t, "GET /connectors/c/dlq", cs.request())
	_, err = c.DLQList(ctx, "c", "", 7)
	require.NoError(t, err)
	require.Equal(t, "GET /connectors/c/dlq?limit=7", cs.request())
}
