package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSchemaRegistryBadConfig(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "registry.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("httpPort: abc\nstoreTopic: 'no spaces'\n"), 0o644))
	code, _, errOut := runCapture(t, "schema-registry", "-c", bad)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "httpPort")
	require.Contains(t, errOut, "storeTopic")

	code, _, _ = runCapture(t, "schema-registry", "-x")
	require.Equal(t, 2, code)

	code, out, _ := runCapture(t, "help")
	require.Equal(t, 0, code)
	require.Contains(t, out, "schema-registry -c")
}
