package dirlock

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLockDir(t *testing.T) {
	if !Supported {
		t.Skip("no flock on this platform")
	}
	dir := t.TempDir()
	l, err := LockDir(dir)
	require.NoError(t, err)

	_, err = LockDir(dir)
	require.ErrorIs(t, err, ErrLocked)
	require.Contains(t, err.Error(), dir)
	require.Contains(t, err.Error(), "pid "+strconv.Itoa(os.Getpid()))

	require.NoError(t, l.Close())
	require.NoError(t, l.Close(), "Close twice")
	l2, err := LockDir(dir)
	require.NoError(t, err, "released by Close")
	require.NoError(t, l2.Close())
	var none *Lock
	require.NoError(t, none.Close())
}

// A lock file left by a holder that ended (a crash leaves it) does not lock the directory.
func TestLockDirStaleFile(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, LockName), []byte("999999999\n"), 0o644))
	l, err := LockDir(dir)
	require.NoError(t, err)
	defer l.Close()
	b, err := os.ReadFile(filepath.Join(dir, LockName))
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(os.Getpid())+"\n", string(b), "the holder's pid replaces the old one")
}

// TestSweepTemp: a sweep removes the directories of the prefix whose lock is free, with what
// they hold, and leaves alone those still locked, those being made (hidden) and everything
// else. A process that ends releases its locks as Close does here (the cross-process case is
// plugins/external's TestPluginDiesWithWorker).
func TestSweepTemp(t *testing.T) {
	if !Supported {
		t.Skip("no flock on this platform")
	}
	parent := t.TempDir()
	live, err := MkdirTemp(parent, "p-")
	require.NoError(t, err)
	require.Regexp(t, "^"+regexp.QuoteMeta("p-"+strconv.Itoa(os.Getpid())+"-")+"[0-9]+$", filepath.Base(live.Path))
	require.Equal(t, parent, filepath.Dir(live.Path))
	dead, err := MkdirTemp(parent, "p-")
	require.NoError(t, err)
	require.NotEqual(t, live.Path, dead.Path)
	require.NoError(t, os.WriteFile(filepath.Join(dead.Path, "left"), nil, 0o600))
	require.NoError(t, dead.lock.Close()) // its process is gone
	for _, d := range []string{"q-1", ".p-new-1"} {
		require.NoError(t, os.Mkdir(filepath.Join(parent, d), 0o700))
	}
	require.NoError(t, os.WriteFile(filepath.Join(parent, "p-file"), nil, 0o600))

	require.NoError(t, SweepTemp(parent, "p-"))
	require.True(t, dead.Gone())
	require.False(t, live.Gone())
	names := func() []string {
		entries, err := os.ReadDir(parent)
		require.NoError(t, err)
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}
	require.ElementsMatch(t, []string{filepath.Base(live.Path), "q-1", ".p-new-1", "p-file"}, names())

	require.NoError(t, live.Remove())
	require.NoError(t, live.Remove(), "Remove twice")
	require.True(t, live.Gone())
	require.NoError(t, SweepTemp(parent, "p-"))
	require.ElementsMatch(t, []string{"q-1", ".p-new-1", "p-file"}, names())
}
