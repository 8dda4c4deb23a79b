package filestore

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

type doc struct {
	N int               `json:"n"`
	M map[string]string `json:"m"`
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
	// Simulate a torn main file: the backup (previous version) is used.
	require.NoError(t, os.WriteFile(p, []byte(`{"n": 3, "m": {`), 0o644))
	var d doc
	require.NoError(t, Read(p, &d))
	require.Equal(t, 1, d.N)

	require.NoError(t, os.WriteFile(p+".bak", []byte(`garbage`), 0o644))
	err := Read(p, &d)
	require.Error(t, err)
	require.False(t, errors.Is(err, os.ErrNotExist))
}
