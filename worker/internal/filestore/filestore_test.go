package filestore

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

type doc struct {
	N int               `json:"n"`
	M map[string]string `json:"m"`
}

// warnings is a logger that keeps what it is given.
func warnings() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, nil)), &buf
}

func TestWriteRead(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "state.json")
	var d doc
	require.ErrorIs(t, Read(p, &d), os.ErrNotExist)
	require.NoError(t, Write(p, doc{N: 1}))
	require.NoError(t, Write(p, doc{N: 2, M: map[string]string{"a": "b"}}))
	require.NoError(t, Read(p, &d))
	require.Equal(t, doc{N: 2, M: map[string]string{"a": "b"}}, d)
	entries, _ := os.ReadDir(filepath.Dir(p))
	require.Len(t, entries, 2, "only the file and its backup remain")
}

func TestTornWriteFallsBackToBackup(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state.json")
	require.NoError(t, Write(p, doc{N: 1}))
	require.NoError(t, Write(p, doc{N: 2}))
	// Simulate a torn main file: the backup (previous version) is used, and the caller's
	// logger hears which file was unusable and why.
	require.NoError(t, os.WriteFile(p, []byte(`{"n": 3, "m": {`), 0o644))
	log, buf := warnings()
	var d doc
	require.NoError(t, ReadLogged(p, &d, log))
	require.Equal(t, 1, d.N)
	require.Contains(t, buf.String(), "level=WARN")
	require.Contains(t, buf.String(), "file="+p)
	require.Contains(t, buf.String(), "unexpected end of JSON input")

	require.NoError(t, os.WriteFile(p+".bak", []byte(`garbage`), 0o644))
	err := Read(p, &d)
	require.Error(t, err)
	require.False(t, errors.Is(err, os.ErrNotExist))
}

// A main file with a type error is not half used: json.Unmarshal fills what it can before
// it reports the error, and neither that nor what v held may mix with the backup.
func TestPartialDecodeIsNotMerged(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state.json")
	require.NoError(t, Write(p, map[string]doc{"old": {N: 1}}))
	require.NoError(t, Write(p, map[string]doc{"old": {N: 1}, "kept": {N: 2}}))
	// The newest version: "old" deleted, "new" added, but "bad" has a type error.
	require.NoError(t, os.WriteFile(p, []byte(`{"new": {"n": 3}, "bad": {"n": "x"}}`), 0o644))
	got := map[string]doc{"stale": {N: 9}}
	require.NoError(t, Read(p, &got))
	require.Equal(t, map[string]doc{"old": {N: 1}}, got, "the backup alone, nothing of the main file or of what was there")

	// Decoded whole: what the value held before is replaced, not merged into.
	require.NoError(t, Write(p, map[string]doc{"a": {N: 1}}))
	got = map[string]doc{"stale": {N: 9}}
	require.NoError(t, Read(p, &got))
	require.Equal(t, map[string]doc{"a": {N: 1}}, got)

	// Neither file usable: the value is left as it was.
	require.NoError(t, os.WriteFile(p, []byte(`{"a": {"n": "x"}}`), 0o644))
	require.NoError(t, os.WriteFile(p+".bak", []byte(`{"b": {"n": "y"}}`), 0o644))
	got = map[string]doc{"stale": {N: 9}}
	require.Error(t, Read(p, &got))
	require.Equal(t, map[string]doc{"stale": {N: 9}}, got)
}

// os.ErrNotExist means "nothing was ever stored" and callers start empty on it; it must not
// come back when there is a backup that cannot be used, or the whole store would be dropped.
func TestMissingMainWithUnusableBackupIsNotNotExist(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	require.NoError(t, os.WriteFile(p+".bak", []byte(`{"n": `), 0o644))
	var d doc
	err := Read(p, &d)
	require.Error(t, err)
	require.False(t, errors.Is(err, os.ErrNotExist), "%v", err)
	require.Contains(t, err.Error(), p)

	// A backup that cannot be read at all (here: a directory) is no better.
	require.NoError(t, os.Remove(p+".bak"))
	require.NoError(t, os.Mkdir(p+".bak", 0o755))
	err = Read(p, &d)
	require.Error(t, err)
	require.False(t, errors.Is(err, os.ErrNotExist), "%v", err)

	// A missing main file with a good backup uses it, and says so.
	require.NoError(t, os.Remove(p+".bak"))
	require.NoError(t, os.WriteFile(p+".bak", []byte(`{"n": 4}`), 0o644))
	log, buf := warnings()
	require.NoError(t, ReadLogged(p, &d, log))
	require.Equal(t, 4, d.N)
	require.Contains(t, buf.String(), "file="+p)

	// Corrupt main file and no backup: an error, not "nothing stored".
	q := filepath.Join(dir, "other.json")
	require.NoError(t, os.WriteFile(q, []byte(`{`), 0o644))
	err = Read(q, &d)
	require.Error(t, err)
	require.False(t, errors.Is(err, os.ErrNotExist), "%v", err)
}

// A main file that exists but cannot be read is not torn: the backup would silently drop
// its newest version, so it is an error.
func TestUnreadableMainIsAnError(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state.json")
	require.NoError(t, Write(p, doc{N: 1}))
	require.NoError(t, Write(p, doc{N: 2}))
	require.NoError(t, os.Remove(p))
	require.NoError(t, os.Mkdir(p, 0o755)) // reading it fails with EISDIR
	var d doc
	err := Read(p, &d)
	require.Error(t, err)
	require.False(t, errors.Is(err, os.ErrNotExist))
	require.Zero(t, d.N)
}

func TestReadNeedsAPointer(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state.json")
	require.NoError(t, Write(p, doc{N: 1}))
	require.Error(t, Read(p, doc{}))
	var nilp *doc
	require.Error(t, Read(p, nilp))
}
