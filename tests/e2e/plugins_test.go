package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

// pluginChildren lists the pids of the processes whose parent is pid and whose executable
// lies in dir.
func pluginChildren(t *testing.T, pid int, dir string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var out []int
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) < 2 || fields[0] == "Z" || fields[1] != strconv.Itoa(pid) {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && strings.HasPrefix(exe, dir) {
			out = append(out, n)
		}
	}
	return out
}

// TestPluginsInRealWorker runs the example plugin in a real worker process: a binary copied
// in after start is picked up by /plugin/reload (a protocol-99 binary next to it is refused
// with a clear reason), listed with its version and location, describes and validates its
// config through /plugin/config*, and moves a file through RocketMQ; killing its processes
// fails and restarts only those tasks while the worker serves, and SIGKILL of the worker
// ends every plugin process.
func TestPluginsInRealWorker(t *testing.T) {
	rmqtest.Require(t)
	dir := t.TempDir()
	plugDir := filepath.Join(dir, "plugins")
	require.NoError(t, os.Mkdir(plugDir, 0o755))
	build := filepath.Join(dir, "build")
	for name, pkg := range map[string]string{"lines": "../../plugins/examples/lines", "oldproto": "../../plugins/external/testdata/oldproto"} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(build, name), pkg).CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	install := func(name string) {
		b, err := os.ReadFile(filepath.Join(build, name))
		require.NoError(t, err)
		tmp := filepath.Join(plugDir, "."+name+".tmp")
		require.NoError(t, os.WriteFile(tmp, b, 0o755))
		require.NoError(t, os.Rename(tmp, filepath.Join(plugDir, name)))
	}
	install("oldproto")
	w := startWorkerWith(t, dir, freePort(t), "pluginPaths="+plugDir+"\ntaskRestartBackoffInitialMs=200\n")

	type plugin struct{ Class, Type, Version, Location string }
	var list []plugin
	require.Equal(t, http.StatusOK, w.Call(t, "GET", "/connector-plugins", nil, &list))
	for _, p := range list {
		require.NotEqual(t, "example-line-source", p.Class)
	}

	install("lines")
	var env struct {
		Status int
		Body   string
	}
	require.Equal(t, http.StatusOK, w.Call(t, "GET", "/plugin/reload", nil, &env))
	require.Contains(t, env.Body, "Plugin reload succeeded; 1 refused: "+filepath.Join(plugDir, "oldproto"))
	require.Contains(t, env.Body, "it speaks protocol version 99 and this worker speaks version 1")
	require.Equal(t, http.StatusOK, w.Call(t, "GET", "/connector-plugins", nil, &list))
	found := map[string]plugin{}
	for _, p := range list {
		found[p.Class] = p
	}
	require.Equal(t, plugin{"example-line-source", "source", "1.0.0", filepath.Join(plugDir, "lines")}, found["example-line-source"])
	require.Equal(t, plugin{"example-line-sink", "sink", "1.0.0", filepath.Join(plugDir, "lines")}, found["example-line-sink"])

	var defs struct {
		Body []struct{ Name string }
	}
	require.Equal(t, http.StatusOK, w.Call(t, "GET", "/plugin/config?plugin=example-line-source", nil, &defs))
	names := []string{}
	for _, d := range defs.Body {
		names = append(names, d.Name)
	}
	require.Contains(t, names, "batch.size")
	var val struct {
		Body struct {
			ErrorCount int `json:"error_count"`
		}
	}
	require.Equal(t, http.StatusOK, w.Call(t, "POST", "/plugin/config/validate?plugin=example-line-source",
		map[string]string{"name": "v", "file": "/x", "batch.size": "0", "connect.topicname": "t"}, &val))
	require.Equal(t, 1, val.Body.ErrorCount, "batch.size=0 fails the plugin's own validator")

	in, out := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
	write := func(from, n int) {
		f, err := os.OpenFile(in, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		require.NoError(t, err)
		defer f.Close()
		for i := from; i < from+n; i++ {
			fmt.Fprintf(f, "line %d\n", i)
		}
	}
	write(0, 50)
	topic := rmqtest.Topic(t, 1)
	require.Equal(t, http.StatusCreated, w.Call(t, "POST", "/connectors", map[string]any{"name": "src", "config": map[string]any{
		"connector.class": "example-line-source", "file": in, "topic": topic}}, nil))
	require.Equal(t, http.StatusCreated, w.Call(t, "POST", "/connectors", map[string]any{"name": "snk", "config": map[string]any{
		"connector.class": "com.example.connect.LineSinkConnector", "file": out, "connect.topicnames": topic,
		"task.group.id": rmqtest.Group(t)}}, nil))
	lines := func() map[string]bool {
		b, _ := os.ReadFile(out)
		m := map[string]bool{}
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if l != "" {
				m[l] = true
			}
		}
		return m
	}
	require.Eventually(t, func() bool { return len(lines()) == 50 }, 60*time.Second, 100*time.Millisecond,
		"the file crossed through the plugins; log: %s", readFile(filepath.Join(dir, "worker.log")))

	// Kill every plugin process: the tasks fail and restart, the worker keeps serving.
	pids := pluginChildren(t, w.Cmd.Process.Pid, plugDir)
	require.GreaterOrEqual(t, len(pids), 2, "a process per connector and task")
	for _, p := range pids {
		require.NoError(t, syscall.Kill(p, syscall.SIGKILL))
	}
	require.Equal(t, http.StatusOK, w.Call(t, "GET", "/connectors", nil, nil), "the worker serves")
	write(50, 50)
	require.Eventually(t, func() bool { return len(lines()) == 100 }, 90*time.Second, 100*time.Millisecond,
		"lines after the kill arrive once the tasks restarted; log: %s", readFile(filepath.Join(dir, "worker.log")))
	var st struct {
		Tasks []struct{ State string }
	}
	require.Equal(t, http.StatusOK, w.Call(t, "GET", "/connectors/snk/status", nil, &st))
	require.Equal(t, "RUNNING", st.Tasks[0].State)
	log := readFile(filepath.Join(dir, "worker.log"))
	require.Contains(t, log, "exited (signal: killed) during", "the failure names how the plugin process ended")

	// SIGKILL of the worker: its plugin processes exit on their own.
	pids = pluginChildren(t, w.Cmd.Process.Pid, plugDir)
	require.NotEmpty(t, pids)
	w.Kill()
	require.Eventually(t, func() bool {
		for _, p := range pids {
			if syscall.Kill(p, 0) == nil {
				if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p)); err == nil {
					s := string(stat)
					if f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]); len(f) > 0 && f[0] != "Z" {
						return false
					}
				}
			}
		}
		return true
	}, 30*time.Second, 100*time.Millisecond, "plugin processes outlived the worker")
}
