package worker

import (
	"encoding/json"
	"os"
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

// A Put or Delete that fails leaves the store as it was: what Get and All return is what the
// file holds, so that no position is read (by the Positions API, by a task restarted in this
// process) that a crash would lose. The write is made to fail by a file standing where the
// store's directory was, which fails for root too.
func TestFilePositionStoreFailedChangeLeavesItAsItWas(t *testing.T) {
	p1, p2 := map[string]any{"table": "a"}, map[string]any{"table": "b"}
	o1, o2 := map[string]any{"id": int64(1)}, map[string]any{"id": int64(2)}
	cases := []struct {
		name       string
		unwritable bool
		change     func(s *FilePositionStore) error
	}{
		{"put a new and a changed position", true, func(s *FilePositionStore) error {
			return s.Put("c", []plugins.PartitionPosition{{Partition: p1, Offset: o2}, {Partition: p2, Offset: o2}})
		}},
		{"put a removal", true, func(s *FilePositionStore) error {
			return s.Put("c", []plugins.PartitionPosition{{Partition: p1}})
		}},
		{"put a new connector", true, func(s *FilePositionStore) error {
			return s.Put("new", []plugins.PartitionPosition{{Partition: p1, Offset: o1}})
		}},
		{"delete", true, func(s *FilePositionStore) error { return s.Delete("c") }},
		{"put a partition that is no JSON data after a good one", false, func(s *FilePositionStore) error {
			return s.Put("c", []plugins.PartitionPosition{{Partition: p2, Offset: o2}, {Partition: map[string]any{"f": func() {}}, Offset: o1}})
		}},
		{"put an offset that is no JSON data after a good one", false, func(s *FilePositionStore) error {
			return s.Put("c", []plugins.PartitionPosition{{Partition: p2, Offset: o2}, {Partition: p1, Offset: map[string]any{"c": make(chan int)}}})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "store")
			path := filepath.Join(dir, "positions.json")
			s, err := OpenFilePositionStore(path)
			require.NoError(t, err)
			require.NoError(t, s.Put("c", []plugins.PartitionPosition{{Partition: p1, Offset: o1}}))
			require.NoError(t, s.Put("d", []plugins.PartitionPosition{{Partition: p2, Offset: o2}}))
			want := map[string][]plugins.PartitionPosition{
				"c": {{Partition: p1, Offset: o1}}, "d": {{Partition: p2, Offset: o2}}, "new": {},
			}
			requireHolds := func(t *testing.T, s *FilePositionStore) {
				t.Helper()
				for c, ps := range want {
					all, err := s.All(c)
					require.NoError(t, err)
					require.Equal(t, ps, all, "connector %s", c)
				}
				got, err := s.Get("c", p2)
				require.NoError(t, err)
				require.Nil(t, got)
			}

			if tc.unwritable {
				require.NoError(t, os.Rename(dir, dir+".moved"))
				require.NoError(t, os.WriteFile(dir, nil, 0o644))
			}
			require.Error(t, tc.change(s))
			requireHolds(t, s)
			if tc.unwritable {
				require.NoError(t, os.Remove(dir))
				require.NoError(t, os.Rename(dir+".moved", dir))
			}
			again, err := OpenFilePositionStore(path)
			require.NoError(t, err)
			requireHolds(t, again)

			// Once the file can be written, changes are stored again.
			require.NoError(t, s.Put("c", []plugins.PartitionPosition{{Partition: p2, Offset: o2}}))
			again, err = OpenFilePositionStore(path)
			require.NoError(t, err)
			all, err := again.All("c")
			require.NoError(t, err)
			require.Equal(t, []plugins.PartitionPosition{{Partition: p1, Offset: o1}, {Partition: p2, Offset: o2}}, all)
		})
	}
}
