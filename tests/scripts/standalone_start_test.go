package scripts

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// storeLockedWorker wraps the fake worker (%q) as the real one runs: it holds an exclusive flock on
// its store directory's lock file (%q) while it runs, and a second worker of that store exits 1.
const storeLockedWorker = `#!/bin/bash
exec 8>>%[2]q
flock -n 8 || { echo "rmqconnect standalone: store directory is in use by another worker" >&2; exit 1; }
exec %[1]q "$@"
`

// Concurrent connect-standalone.sh --daemon starts with one config start one worker: the others
// are refused as already running, and the pid file names the worker that runs (a start whose own
// worker lost the store lock must not remove or overwrite it).
func TestStandaloneConcurrentStarts(t *testing.T) {
	w := newWorkers(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "rmqconnect-locked")
	require.NoError(t, os.WriteFile(bin,
		[]byte(fmt.Sprintf(storeLockedWorker, filepath.Join(filepath.Dir(w.run), "rmqconnect"), filepath.Join(dir, "store.lock"))), 0o755))
	cfg := writeFile(t, dir, "s.yaml", "workerId: s\n")
	env := append(append([]string{}, w.env...), "RMQCONNECT_BIN="+bin)

	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for range 6 {
		cmd := exec.Command("bash", standaloneScript, "--daemon", "-c", cfg)
		cmd.Env = env
		out := &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		require.NoError(t, cmd.Start())
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	var started []string
	for i, cmd := range cmds {
		if cmd.Wait() == nil {
			started = append(started, outs[i].String())
		}
	}
	require.Len(t, started, 1, "%q", outs)
	pid := w.pid(t, "connect-standalone.pid")
	require.Contains(t, started[0], fmt.Sprintf("started (pid %d)", pid))
	for _, out := range outs {
		if out.String() != started[0] {
			require.Contains(t, out.String(), fmt.Sprintf("already running (pid %d, ", pid))
		}
	}
	w.args(t, pid)
	require.Equal(t, []int{pid}, w.started(t), "no second worker ran")
	require.True(t, alive(pid))

	out, code := w.sh(t, nil, shutdownScript)
	require.Equal(t, 0, code, out)
	require.True(t, w.stoppedBySIGTERM(pid))
	require.Empty(t, w.pidFiles(t))
}
