package e2e

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

// TestSecretsNeverLeave: a secret given inline or through ${env:..} never appears in a
// REST answer or the worker's log, while the connector runs with the resolved value.
func TestSecretsNeverLeave(t *testing.T) {
	rmqtest.Require(t)
	const envSecret, inlineSecret = "env-s3cr3t-4f9a", "inline-s3cr3t-77c1"
	t.Setenv("RMQCONNECT_E2E_SECRET", envSecret)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	require.NoError(t, os.WriteFile(in, []byte("a\nb\n"), 0o644))
	w := startWorker(t, dir, freePort(t))
	topic := rmqtest.Topic(t, 1)
	code := w.call(t, "POST", "/connectors", map[string]any{"name": "sec", "config": map[string]any{
		"connector.class": "file-source", "filename": in, "connect.topicname": topic,
		"db.password": inlineSecret, "api.token": "${env:RMQCONNECT_E2E_SECRET}", "errors.log.enable": "true",
		"errors.log.include.messages": "true"}}, nil)
	require.Equal(t, http.StatusCreated, code)
	waitConnector(t, w, "sec", "RUNNING", 1)
	// A bad placeholder is rejected naming the key and the placeholder, not a value.
	var e map[string]any
	require.Equal(t, http.StatusBadRequest, w.call(t, "POST", "/connectors", map[string]any{"name": "bad", "config": map[string]any{
		"connector.class": "file-source", "filename": in, "connect.topicname": topic, "x": "${env:RMQCONNECT_E2E_MISSING}"}}, &e))
	require.Contains(t, e["message"], "RMQCONNECT_E2E_MISSING")

	var bodies []string
	for _, path := range []string{"/connectors?expand=info&expand=status", "/connectors/sec", "/connectors/sec/config",
		"/connectors/sec/tasks", "/connectors/list", "/allocated/connectors", "/allocated/tasks", "/metrics"} {
		resp, err := http.Get(w.url + path)
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		bodies = append(bodies, string(b))
	}
	all := strings.Join(bodies, "\n")
	require.Contains(t, all, "${env:RMQCONNECT_E2E_SECRET}", "placeholders are shown as written")
	require.Contains(t, all, "[hidden]")
	require.NotContains(t, all, envSecret)
	require.NotContains(t, all, inlineSecret)

	time.Sleep(500 * time.Millisecond)
	w.stop(t)
	logs, err := os.ReadFile(filepath.Join(dir, "worker.log"))
	require.NoError(t, err)
	require.NotContains(t, string(logs), envSecret)
	require.NotContains(t, string(logs), inlineSecret)
}
