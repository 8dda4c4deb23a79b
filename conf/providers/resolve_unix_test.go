//go:build unix

package providers

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestResolveFileLimits: ${file:} reads regular files only, never blocks on a FIFO, never
// reads past the size cap, takes absolute paths only, and honours the opener's refusal.
func TestResolveFileLimits(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	big := filepath.Join(dir, "big")
	require.NoError(t, os.WriteFile(big, make([]byte, 2048), 0o600))
	small := filepath.Join(dir, "small")
	require.NoError(t, os.WriteFile(small, []byte("k=v\n"), 0o600))
	r := Resolver{MaxFileBytes: 1024}
	for _, tt := range []struct{ value, reason string }{
		{"${file:/dev/zero}", "file /dev/zero is not a regular file"},
		{"${file:" + fifo + "}", "is not a regular file"},
		{"${file:" + fifo + ":k}", "is not a regular file"},
		{"${file:" + dir + "}", "is not a regular file"},
		{"${file:" + big + "}", "is larger than 1024 bytes (configProviderFileMaxBytes)"},
		{"${file:relative/path:k}", "file relative/path is not an absolute path"},
	} {
		_, err := r.Resolve(map[string]string{"k": tt.value})
		require.ErrorIs(t, err, ErrNotAllowed, tt.value)
		require.ErrorContains(t, err, tt.reason, tt.value)
	}
	out, err := r.Resolve(map[string]string{"k": "${file:" + small + ":k}"})
	require.NoError(t, err)
	require.Equal(t, "v", out["k"])
	_, err = Resolver{}.Resolve(map[string]string{"k": "${file:" + big + "}"})
	require.NoError(t, err, "the default cap is 1 MiB")

	refuse := Resolver{Open: func(path string, flag int, perm fs.FileMode) (*os.File, error) {
		if path != small {
			return nil, fmt.Errorf("%w: %s", ErrNotAllowed, path)
		}
		return os.OpenFile(path, flag, perm)
	}}
	_, err = refuse.Resolve(map[string]string{"k": "${file:" + big + "}"})
	require.ErrorIs(t, err, ErrNotAllowed)
	require.ErrorContains(t, err, "file "+big+" is outside configProviderFileAllowedDirs")
	_, err = refuse.Resolve(map[string]string{"k": "${file:" + small + ":k}"})
	require.NoError(t, err)
}
