package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/clustertest"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

func appendLines(t *testing.T, path string, from, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	defer f.Close()
	for i := from; i < from+n; i++ {
		fmt.Fprintf(f, "line-%05d\n", i)
	}
}

func connectorState(t *testing.T, w *workerProc, name string) (string, []string) {
	var st struct {
		Connector struct{ State string }
		Tasks     []struct{ State string }
	}
	if w.Call(t, "GET", "/connectors/"+name+"/status", nil, &st) != http.StatusOK {
		return "", nil
	}
	var tasks []string
	for _, ts := range st.Tasks {
		tasks = append(tasks, ts.State)
	}
	return st.Connector.State, tasks
}

func waitConnector(t *testing.T, w *workerProc, name, state string, tasks int) {
	t.Helper()
	require.Eventually(t, func() bool {
		s, ts := connectorState(t, w, name)
		if s != state || len(ts) != tasks {
			return false
		}
		for _, x := range ts {
			if x != state {
				return false
			}
		}
		return true
	}, 30*time.Second, 50*time.Millisecond, "%s never reached %s with %d tasks", name, state, tasks)
}

// TestRESTLifecycle drives a file pipeline through the REST API as a user would.
func TestRESTLifecycle(t *testing.T) {
	rmqtest.Require(t)
	dir := t.TempDir()
	in, out1, out2 := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out1.txt"), filepath.Join(dir, "out2.txt")
	appendLines(t, in, 0, 100)
	topic := rmqtest.Topic(t, 1)
	group := rmqtest.Group(t)
	port := clustertest.FreePort(t)
	w := startWorker(t, dir, port)

	code := w.Call(t, "POST", "/connectors", map[string]any{"name": "src", "config": map[string]any{
		"connector.class": "file-source", "filename": in, "connect.topicname": topic, "ordering.msg.enable": true}}, nil)
	require.Equal(t, http.StatusCreated, code)
	sinkCfg := map[string]any{"connector.class": "org.apache.rocketmq.connect.file.FileSinkConnector", "filename": out1,
		"connect.topicnames": topic, "task.group.id": group, "ordering.msg.enable": "true"}
	require.Equal(t, http.StatusCreated, w.Call(t, "PUT", "/connectors/snk/config", sinkCfg, nil))
	require.Eventually(t, func() bool { return countLines(out1) == 100 }, 60*time.Second, 100*time.Millisecond)

	// Bad input: named keys, worker unaffected.
	var e struct {
		ErrorCode int    `json:"error_code"`
		Message   string `json:"message"`
	}
	require.Equal(t, http.StatusBadRequest, w.Call(t, "POST", "/connectors", map[string]any{"name": "x", "config": map[string]any{"connector.class": "nope"}}, &e))
	require.Contains(t, e.Message, "connector.class")
	require.Equal(t, http.StatusBadRequest, w.Call(t, "POST", "/connectors", map[string]any{"name": "x", "config": map[string]any{"connector.class": "file-sink", "filename": out1}}, &e))
	require.Contains(t, e.Message, "connect.topicnames")
	require.Equal(t, http.StatusConflict, w.Call(t, "POST", "/connectors", map[string]any{"name": "src", "config": map[string]any{"connector.class": "file-source"}}, nil))

	// Pause: nothing flows; resume: the backlog arrives.
	require.Equal(t, http.StatusAccepted, w.Call(t, "PUT", "/connectors/snk/pause", nil, nil))
	waitConnector(t, w, "snk", "PAUSED", 1)
	appendLines(t, in, 100, 50)
	time.Sleep(2 * time.Second)
	require.Equal(t, 100, countLines(out1), "a paused sink writes nothing")
	require.Equal(t, http.StatusAccepted, w.Call(t, "PUT", "/connectors/snk/resume", nil, nil))
	waitConnector(t, w, "snk", "RUNNING", 1)
	require.Eventually(t, func() bool { return countLines(out1) == 150 }, 60*time.Second, 100*time.Millisecond)

	// Stop, then resume again.
	require.Equal(t, http.StatusNoContent, w.Call(t, "PUT", "/connectors/src/stop", nil, nil))
	waitConnector(t, w, "src", "STOPPED", 0)
	require.Equal(t, http.StatusAccepted, w.Call(t, "PUT", "/connectors/src/resume", nil, nil))
	waitConnector(t, w, "src", "RUNNING", 1)

	// Restart with tasks answers 202 and a status; a plain task restart 204.
	require.Equal(t, http.StatusAccepted, w.Call(t, "POST", "/connectors/snk/restart?includeTasks=true", nil, nil))
	require.Equal(t, http.StatusNoContent, w.Call(t, "POST", "/connectors/snk/tasks/0/restart", nil, nil))
	waitConnector(t, w, "snk", "RUNNING", 1)

	// A config change takes effect: new lines go to the new file.
	sinkCfg["filename"] = out2
	require.Equal(t, http.StatusOK, w.Call(t, "PUT", "/connectors/snk/config", sinkCfg, nil))
	waitConnector(t, w, "snk", "RUNNING", 1)
	appendLines(t, in, 150, 10)
	require.Eventually(t, func() bool { return countLines(out2) == 10 }, 60*time.Second, 100*time.Millisecond)
	require.Equal(t, 150, countLines(out1))

	// Positions survive a worker restart: nothing is read twice.
	w.Stop(t, 90*time.Second)
	w = startWorker(t, dir, port)
	waitConnector(t, w, "src", "RUNNING", 1)
	waitConnector(t, w, "snk", "RUNNING", 1)
	appendLines(t, in, 160, 5)
	require.Eventually(t, func() bool { return countLines(out2) == 15 }, 60*time.Second, 100*time.Millisecond)
	time.Sleep(time.Second)
	b, err := os.ReadFile(out2)
	require.NoError(t, err)
	require.Equal(t, 15, strings.Count(string(b), "\n"), "no line came twice after the restart")

	// Delete: gone, 404 afterwards.
	require.Equal(t, http.StatusNoContent, w.Call(t, "DELETE", "/connectors/snk", nil, nil))
	require.Equal(t, http.StatusNotFound, w.Call(t, "GET", "/connectors/snk/status", nil, nil))
	var names []string
	require.Equal(t, http.StatusOK, w.Call(t, "GET", "/connectors", nil, &names))
	require.Equal(t, []string{"src"}, names)
	w.Stop(t, 90*time.Second)
}
