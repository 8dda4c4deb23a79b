//go:build linux || darwin

package external_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/external"
)

// TestSocketsUnderALongTempDir: under a temporary directory too long for go-plugin to nest the
// sockets of a process in the worker's socket directory (macOS's is 48 bytes), processes run
// all the same: their own sockets in the socket directory itself, the worker's own for them
// in the temporary directory. A worker that stops leaves nothing.
func TestSocketsUnderALongTempDir(t *testing.T) {
	// 55 bytes: the nesting does not fit, whatever the lengths of the pid and random names,
	// and a socket directly in the socket directory does.
	tmp := shortTMPDIR(t)
	tmp = filepath.Join(tmp, strings.Repeat("d", 55-len(tmp)-1))
	require.NoError(t, os.Mkdir(tmp, 0o700))
	t.Setenv("TMPDIR", tmp)
	m, reg, _ := newManager(t, external.Options{}, "faulty")
	task, _ := startFaulty(t, reg, "none")
	_, err := task.Poll(t.Context())
	require.NoError(t, err)
	var where []string
	for _, s := range sockets(t, tmp) {
		rel, err := filepath.Rel(tmp, filepath.Dir(s))
		require.NoError(t, err)
		where = append(where, rel)
	}
	require.Len(t, where, 2, "the process's socket and the worker's own")
	require.Contains(t, where, ".", "the worker's own")
	for _, w := range where {
		if w != "." {
			require.Regexp(t, "^rmqc-sock-[0-9]+-[0-9]+$", w, "the process's, in no directory of go-plugin's")
		}
	}
	require.NoError(t, task.Stop(t.Context()))
	m.Close()
	require.Empty(t, dirNames(t, tmp))
}

// sockets lists the sockets under dir.
func sockets(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type()&fs.ModeSocket != 0 {
			out = append(out, path)
		}
		return err
	}))
	return out
}
