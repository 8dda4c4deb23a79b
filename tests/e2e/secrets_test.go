package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/clustertest"
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
	w := startWorker(t, dir, clustertest.FreePort(t))
	topic := rmqtest.Topic(t, 1)
	code := w.Call(t, "POST", "/connectors", map[string]any{"name": "sec", "config": map[string]any{
		"connector.class": "file-source", "filename": in, "connect.topicname": topic,
		"db.password": inlineSecret, "api.token": "${env:RMQCONNECT_E2E_SECRET}", "errors.log.enable": "true",
		"errors.log.include.messages": "true"}}, nil)
	require.Equal(t, http.StatusCreated, code)
	waitConnector(t, w, "sec", "RUNNING", 1)
	// A bad placeholder is rejected naming the key and the placeholder, not a value.
	var e map[string]any
	require.Equal(t, http.StatusBadRequest, w.Call(t, "POST", "/connectors", map[string]any{"name": "bad", "config": map[string]any{
		"connector.class": "file-source", "filename": in, "connect.topicname": topic, "x": "${env:RMQCONNECT_E2E_MISSING}"}}, &e))
	require.Contains(t, e["message"], "RMQCONNECT_E2E_MISSING")

	var bodies []string
	for _, path := range []string{"/connectors?expand=info&expand=status", "/connectors/sec", "/connectors/sec/config",
		"/connectors/sec/tasks", "/connectors/list", "/allocated/connectors", "/allocated/tasks", "/metrics"} {
		resp, err := http.Get(w.URL + path)
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
	w.Stop(t, 90*time.Second)
	logs, err := os.ReadFile(filepath.Join(dir, "worker.log"))
	require.NoError(t, err)
	require.NotContains(t, string(logs), envSecret)
	require.NotContains(t, string(logs), inlineSecret)
}

// TestSecretsScrubbedAndFilesBounded runs a distributed worker (status goes through the
// status topic) with fileConnectorAllowedDirs and configProviderFile* set:
//   - a task failing with an error that quotes a resolved ${env:} value shows the trace with
//     the value hidden, over REST and in the log;
//   - ${file:} refuses a FIFO (without blocking), a too-large file and a file outside the
//     allowed directories, naming the key and the placeholder;
//   - a file connector whose file lies outside the allowed directories is refused, naming
//     the key and the path.
func TestSecretsScrubbedAndFilesBounded(t *testing.T) {
	rmqtest.Require(t)
	const secret = "env-s3cr3t-9d1e"
	t.Setenv("RMQCONNECT_E2E_SECRET", secret)
	dir := t.TempDir()
	files, secrets := filepath.Join(dir, "files"), filepath.Join(dir, "secrets")
	require.NoError(t, os.MkdirAll(files, 0o755))
	require.NoError(t, os.MkdirAll(secrets, 0o755))
	fifo := filepath.Join(secrets, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	big := filepath.Join(secrets, "big.properties")
	require.NoError(t, os.WriteFile(big, []byte("k="+strings.Repeat("x", 2000)+"\n"), 0o600))
	good := filepath.Join(secrets, "db.properties")
	require.NoError(t, os.WriteFile(good, []byte("password=file-s3cr3t-51ab\n"), 0o600))
	outside := filepath.Join(dir, "outside.properties")
	require.NoError(t, os.WriteFile(outside, []byte("k=v\n"), 0o600))

	w, logPath := launchWorker(t, dir, "distributed", rmqtest.NameServer(t), fmt.Sprintf(
		"fileConnectorAllowedDirs=%s\nconfigProviderFileAllowedDirs=%s\nconfigProviderFileMaxBytes=1024\n", files, secrets))
	awaitHealthy(t, w, logPath)
	topic := rmqtest.Topic(t, 1)

	createConnector(t, w, "leak", map[string]string{"connector.class": "file-source", "connect.topicname": topic,
		"filename":    filepath.Join(files, "nonexistent", "${env:RMQCONNECT_E2E_SECRET}"),
		"db.password": "${file:" + good + ":password}"})
	var trace string
	require.Eventually(t, func() bool {
		var st struct {
			Tasks []struct {
				State string `json:"state"`
				Trace string `json:"trace"`
			} `json:"tasks"`
		}
		if w.Call(t, "GET", "/connectors/leak/status", nil, &st) != http.StatusOK || len(st.Tasks) != 1 {
			return false
		}
		trace = st.Tasks[0].Trace
		return st.Tasks[0].State == "FAILED"
	}, 60*time.Second, 100*time.Millisecond)
	require.Contains(t, trace, filepath.Join(files, "nonexistent", "[hidden]"))
	require.NotContains(t, trace, secret)

	for _, tt := range []struct{ value, reason string }{
		{"${file:" + fifo + ":k}", "is not a regular file"},
		{"${file:" + big + ":k}", "is larger than 1024 bytes"},
		{"${file:" + outside + ":k}", "is outside configProviderFileAllowedDirs"},
		{"${file:/dev/zero}", "is outside configProviderFileAllowedDirs"},
	} {
		var e map[string]any
		code := w.Call(t, "POST", "/connectors", map[string]any{"name": "bad", "config": map[string]any{
			"connector.class": "file-source", "filename": filepath.Join(files, "in.txt"), "connect.topicname": topic,
			"conn.password": tt.value}}, &e)
		require.Equal(t, http.StatusBadRequest, code, tt.value)
		require.Contains(t, e["message"], "conn.password", tt.value)
		require.Contains(t, e["message"], tt.reason, tt.value)
	}
	for _, class := range []string{"file-source", "file-sink"} {
		var e map[string]any
		code := w.Call(t, "POST", "/connectors", map[string]any{"name": "escape", "config": map[string]any{
			"connector.class": class, "filename": filepath.Join(files, "..", "outside.properties"),
			"connect.topicname": topic, "connect.topicnames": topic}}, &e)
		require.Equal(t, http.StatusBadRequest, code, class)
		require.Contains(t, e["message"], "filename", class)
		require.Contains(t, e["message"], filepath.Join(files, "..", "outside.properties"), class)
		require.Contains(t, e["message"], "fileConnectorAllowedDirs", class)
	}

	w.Stop(t, 90*time.Second)
	logs, err := os.ReadFile(logPath)
	require.NoError(t, err)
	require.Contains(t, string(logs), "task failed")
	require.NotContains(t, string(logs), secret)
	require.NotContains(t, string(logs), "file-s3cr3t-51ab")
}
