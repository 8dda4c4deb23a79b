package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func runCapture(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "out"))
	require.NoError(t, err)
	errf, err := os.Create(filepath.Join(dir, "err"))
	require.NoError(t, err)
	code := run(args, out, errf)
	o, _ := os.ReadFile(out.Name())
	e, _ := os.ReadFile(errf.Name())
	return code, string(o), string(e)
}

func TestCheckConfig(t *testing.T) {
	t.Setenv("RMQ_NAMESRV", "")
	code, out, _ := runCapture(t, "check-config", "-c", "../../distribution/conf/connect-standalone.yaml")
	require.Equal(t, 0, code)
	require.Contains(t, out, "config OK")

	bad := filepath.Join(t.TempDir(), "bad.properties")
	require.NoError(t, os.WriteFile(bad, []byte("httpPort=abc\nworkerId=ok\n"), 0o644))
	code, _, errOut := runCapture(t, "check-config", "-c", bad)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "httpPort")
}

func TestCommands(t *testing.T) {
	code, out, _ := runCapture(t, "version")
	require.Equal(t, 0, code)
	require.True(t, strings.HasPrefix(out, "rmqconnect "))
	code, _, errOut := runCapture(t, "frobnicate")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "unknown command")
	code, _, _ = runCapture(t)
	require.Equal(t, 2, code)
}
