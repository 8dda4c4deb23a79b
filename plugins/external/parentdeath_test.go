//go:build linux

package external_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/external"
)

// TestFakeWorker is not a test: it is the worker process TestPluginDiesWithWorker kills. It
// starts a plugin task, prints the plugin's pid and waits to be killed.
func TestFakeWorker(t *testing.T) {
	dir := os.Getenv(envFakeWorker)
	if dir == "" {
		t.Skip("run by TestPluginDiesWithWorker")
	}
	reg := plugins.NewRegistry()
	m := external.New(reg, external.Options{Dirs: []string{dir}, Logger: discard()})
	_, err := m.Reload(context.Background())
	require.NoError(t, err)
	c, err := reg.NewSource("faulty-source")
	require.NoError(t, err)
	cfg := map[string]string{"marker": filepath.Join(dir, "marker")}
	task := c.NewSourceTask()
	require.NoError(t, task.Start(context.Background(), conformance.SourceContextFor(t, c.Spec(), nil, cfg), cfg))
	fmt.Printf("PLUGIN_PID=%d\n", m.Processes()[0].PID)
	select {}
}

// TestPluginDiesWithWorker: when the worker is killed with SIGKILL (no chance to stop
// anything), its plugin processes exit on their own. The directory of their sockets, which
// the worker could not remove, is removed by the next worker to start, and not while its
// worker runs.
func TestPluginDiesWithWorker(t *testing.T) {
	dir, tmp := t.TempDir(), t.TempDir()
	copyBinary(t, filepath.Join(binDir, "faulty"), filepath.Join(dir, "faulty"))
	t.Setenv("TMPDIR", tmp) // the workers' and their plugins'
	cmd := exec.Command(os.Args[0], "-test.run=^TestFakeWorker$", "-test.v")
	cmd.Env = append(os.Environ(), envFakeWorker+"="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	// A failure before the kill below would leave the fake worker (and its plugin) running.
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	pid := ""
	for pid == "" && sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PLUGIN_PID="); ok {
			pid = v
		}
	}
	require.NotEmpty(t, pid, "the fake worker started a plugin")
	require.True(t, alive(t, pid))
	theirs := socketDirs(t, tmp)
	require.Len(t, theirs, 1, "the fake worker's socket directory")

	// A worker starting while the fake one runs leaves its directory alone.
	running := external.New(plugins.NewRegistry(), external.Options{Dirs: []string{dir}, Logger: discard()})
	defer running.Close()
	_, err = running.Reload(t.Context())
	require.NoError(t, err)
	require.Contains(t, socketDirs(t, tmp), theirs[0])
	require.Len(t, socketDirs(t, tmp), 2)

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	n, _ := strconv.Atoi(pid)
	deadline := time.Now().Add(20 * time.Second) // a deadline for a hang, not a timing assertion
	for alive(t, pid) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if alive(t, pid) {
		_ = syscall.Kill(n, syscall.SIGKILL)
		t.Fatalf("plugin process %s outlived its worker", pid)
	}
	left, err := os.ReadDir(filepath.Join(tmp, theirs[0]))
	require.NoError(t, err)
	require.NotEmpty(t, left, "the killed plugin's socket is left behind")

	// The next worker to start removes it.
	next := external.New(plugins.NewRegistry(), external.Options{Dirs: []string{dir}, Logger: discard()})
	_, err = next.Reload(t.Context())
	require.NoError(t, err)
	require.NotContains(t, socketDirs(t, tmp), theirs[0])
	next.Close()
	running.Close()
	require.Empty(t, socketDirs(t, tmp))
}

// socketDirs lists the directories in tmp: the workers' plugin socket directories. The
// sockets of the workers' own listeners (the Host service a worker serves each plugin) are
// left out: go-plugin makes them in the temporary directory itself, and a worker removes
// them when it stops the plugin, which a killed worker does not.
func socketDirs(t *testing.T, tmp string) []string {
	t.Helper()
	var out []string
	for _, n := range dirNames(t, tmp) {
		if st, err := os.Stat(filepath.Join(tmp, n)); err == nil && st.IsDir() {
			out = append(out, n)
		}
	}
	return out
}
