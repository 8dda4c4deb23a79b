package faults

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/generator"
)

// TestVerifyCounts: the sink-file check counts what it claims to, so a scenario's zeros mean
// something.
func TestVerifyCounts(t *testing.T) {
	rec := func(task int, seq int64) string { return string(generator.Value(task, seq, recordSize)) }
	cases := []struct {
		name      string
		lines     []string
		committed []int64
		want      tally
	}{
		{"all once in order", []string{rec(0, 0), rec(1, 0), rec(0, 1), rec(1, 1)}, []int64{1, 1}, tally{Sent: 4}},
		{"nothing arrived", nil, []int64{2, 0}, tally{Sent: 4, Lost: 4}},
		{"a gap", []string{rec(0, 0), rec(0, 2)}, []int64{2, -1}, tally{Sent: 3, Lost: 1}},
		{"a tail never committed still counts", []string{rec(0, 0), rec(0, 1)}, []int64{0, -1}, tally{Sent: 2}},
		{"a replay is duplicated, not reordered", []string{rec(0, 0), rec(0, 1), rec(0, 0), rec(0, 1), rec(0, 2)}, []int64{2, -1},
			tally{Sent: 3, Dup: 2}},
		{"a later record of the same key first", []string{rec(0, keys), rec(0, 0)}, []int64{keys, -1},
			tally{Sent: keys + 1, Lost: keys - 1, Reordered: 1}},
		{"other keys may interleave", []string{rec(0, 1), rec(0, 0)}, []int64{1, -1}, tally{Sent: 2}},
		{"torn and foreign lines", []string{rec(0, 0)[:10], "hello", strings.Replace(rec(0, 1), "a", "b", 1) + "x"}, []int64{0, -1},
			tally{Sent: 1, Lost: 1, Corrupt: 3}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "out")
			if tc.lines != nil {
				require.NoError(t, os.WriteFile(p, []byte(strings.Join(tc.lines, "\n")+"\n"), 0o644))
			}
			require.Equal(t, tc.want, verify(t, p, tc.committed))
		})
	}
}
