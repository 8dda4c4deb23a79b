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
// anything), its plugin processes exit on their own. The directory of their sockets and of
// the worker's own for them (the Host service it serves each), which the worker could not
// remove, is removed by the next worker to start, and not while its worker runs: nothing
// the killed worker made is left in the temporary directory.
func TestPluginDiesWithWorker(t *testing.T) {
	dir, tmp := t.TempDir(), shortTMPDIR(t)
	copyBinary(t, filepath.Join(binDir, "faulty"), filepath.Join(dir, "faulty"))
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
	theirs := dirNames(t, tmp)
	require.Len(t, theirs, 1, "the fake worker's socket directory, and nothing else")
	require.True(t, strings.HasPrefix(theirs[0], "rmqc-sock-"), theirs[0])

	// A worker starting while the fake one runs leaves its directory alone.
	running := external.New(plugins.NewRegistry(), external.Options{Dirs: []string{dir}, Logger: discard()})
	defer running.Close()
	_, err = running.Reload(t.Context())
	require.NoError(t, err)
	require.Contains(t, dirNames(t, tmp), theirs[0])
	require.Len(t, dirNames(t, tmp), 2)

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
	base := filepath.Join(tmp, theirs[0])
	left := sockets(t, base)
	require.Len(t, left, 2, "the killed plugin's socket and the killed worker's own for it are left behind")
	for _, s := range left {
		require.LessOrEqual(t, len(s)-len(base), external.GoPluginNesting, "go-plugin nests %s no deeper than runIn expects", s)
	}

	// The next worker to start removes them.
	next := external.New(plugins.NewRegistry(), external.Options{Dirs: []string{dir}, Logger: discard()})
	_, err = next.Reload(t.Context())
	require.NoError(t, err)
	require.NotContains(t, dirNames(t, tmp), theirs[0])
	next.Close()
	running.Close()
	require.Empty(t, dirNames(t, tmp))
}
