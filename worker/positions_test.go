package worker

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
)

// Integers past 2^53 in a position (a snowflake id an incrementing jdbc-source resumes
// after) come back exact from the file store and from a position record (snapshots and the
// cluster cache decode the same way); decoded as float64 they came back rounded (…6897 as
// …7024), and the task skipped the rows between.
func TestLargeIntegerPositionsStayExact(t *testing.T) {
	const id = int64(1234567890123456897)
	part := map[string]any{"table": "orders", "shard": int64(9007199254740993)}
	off := map[string]any{"incrementing": id, "ratio": 1.5}

	path := filepath.Join(t.TempDir(), "positions.json")
	s, err := OpenFilePositionStore(path)
	require.NoError(t, err)
	require.NoError(t, s.Put("c", []plugins.PartitionPosition{{Partition: part, Offset: off}}))
	again, err := OpenFilePositionStore(path)
	require.NoError(t, err)
	got, err := again.Get("c", part)
	require.NoError(t, err)
	require.Equal(t, off, got)

	body, err := json.Marshal(positionRecord{Connector: "c", Inc: 1, Gen: 1, Positions: []positionEntry{{Partition: part, Offset: off}}})
	require.NoError(t, err)
	var r positionRecord
	require.NoError(t, decodeExact(body, &r))
	ps := newPositionState()
	require.NoError(t, ps.apply(r))
	all := ps.all("c", 1)
	require.Len(t, all, 1)
	require.Equal(t, part, all[0].Partition)
	require.Equal(t, off, all[0].Offset)
}
