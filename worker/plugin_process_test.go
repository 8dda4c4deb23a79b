package worker

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/external"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// TestPluginCrashFailsOnlyItsTask runs an out-of-process plugin connector in a real herder:
// its plugin process crashes on the first Poll, the task goes FAILED with a trace naming the
// plugin process and the panic, the automatic restart starts a new process and the task runs
// again, while a built-in connector next to it and the herder keep working.
func TestPluginCrashFailsOnlyItsTask(t *testing.T) {
	bin := t.TempDir()
	out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "faulty"),
		"github.com/rmqconnect/rmqconnect/plugins/external/testdata/faulty").CombinedOutput()
	require.NoError(t, err, "%s", out)
	reg := testRegistry()
	m := external.New(reg, external.Options{Dirs: []string{bin}, Logger: quiet()})
	defer m.Close()
	rep, err := m.Reload(context.Background())
	require.NoError(t, err)
	require.Len(t, rep.Loaded, 2) // its source and its sink

	topic := rmqtest.Topic(t, 1)
	h, err := NewStandalone(StandaloneConfig{
		WorkerID: "w-" + t.Name(), StoreDir: t.TempDir(), KeyConverter: "string", ValueConverter: "string",
		CommitInterval: 200 * time.Millisecond, StopTimeout: 10 * time.Second, AutoCreate: true,
		// A long first backoff keeps the FAILED state visible to the test.
		RestartBackoffMin: 3 * time.Second, RestartBackoffMax: 3 * time.Second,
	}, rmqtest.Client(t), reg, quiet())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
		for _, p := range m.Processes() {
			require.Equal(t, external.RoleValidate, p.Role, "the herder's stop ended every connector and task process")
		}
		m.Close()
		require.Empty(t, m.Processes(), "Close ends the rest")
	}()
	<-h.Started()

	builtin := rmqtest.Name(t, "builtin")
	_, _, err = h.PutConnectorConfig(ctx, builtin, map[string]string{"connector.class": "mem-source", "test.id": builtin, "count": "1000000",
		"connect.topicname": topic, "max.tasks": "1"})
	require.NoError(t, err)
	waitState(t, h, builtin, restapi.StateRunning, 1)

	name := rmqtest.Name(t, "plugin")
	marker := filepath.Join(t.TempDir(), "marker")
	_, _, err = h.PutConnectorConfig(ctx, name, map[string]string{"connector.class": "faulty-source",
		"fault": "crash", "marker": marker, "connect.topicname": topic, "max.tasks": "1"})
	require.NoError(t, err)

	var trace string
	require.Eventually(t, func() bool {
		st, err := h.ConnectorStatus(ctx, name)
		if err != nil || len(st.Tasks) != 1 || st.Tasks[0].State != restapi.StateFailed {
			return false
		}
		trace = st.Tasks[0].Trace
		return true
	}, 60*time.Second, 20*time.Millisecond, "the plugin task never went FAILED")
	require.Contains(t, trace, "plugin process")
	require.Contains(t, trace, "exited (exit status 2) during Poll")
	require.Contains(t, trace, "faulty plugin crashes on purpose")
	crashed, err := os.ReadFile(marker)
	require.NoError(t, err)

	st, err := h.ConnectorStatus(ctx, builtin)
	require.NoError(t, err, "the herder keeps serving")
	require.Equal(t, restapi.StateRunning, st.Tasks[0].State, "the built-in connector is unaffected")

	waitState(t, h, name, restapi.StateRunning, 1)
	// The status and the process table are updated apart: wait for the new process to be listed.
	var pids []string
	require.Eventually(t, func() bool {
		pids = pids[:0]
		for _, p := range m.Processes() {
			if p.Role == external.RoleTask {
				pids = append(pids, strconv.Itoa(p.PID))
			}
		}
		return len(pids) == 1
	}, 10*time.Second, 20*time.Millisecond, "one task process: %v", pids)
	require.NotEqual(t, strings.TrimSpace(string(crashed)), pids[0], "a new process serves the restarted task")
}
