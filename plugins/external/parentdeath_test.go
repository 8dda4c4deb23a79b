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
// anything), its plugin processes exit on their own.
func TestPluginDiesWithWorker(t *testing.T) {
	dir := t.TempDir()
	copyBinary(t, filepath.Join(binDir, "faulty"), filepath.Join(dir, "faulty"))
	cmd := exec.Command(os.Args[0], "-test.run=^TestFakeWorker$", "-test.v")
	cmd.Env = append(os.Environ(), envFakeWorker+"="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(out)
	pid := ""
	for pid == "" && sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PLUGIN_PID="); ok {
			pid = v
		}
	}
	require.NotEmpty(t, pid, "the fake worker started a plugin")
	require.True(t, alive(t, pid))
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
}
