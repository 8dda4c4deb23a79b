package external_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/external"
)

// faultyConfig is the config of a faulty task with the given fault, and its marker file
// (written with the pid once the first Poll or Put began).
func faultyConfig(t *testing.T, fault string) (map[string]string, string) {
	marker := filepath.Join(t.TempDir(), "marker")
	return map[string]string{"fault": fault, "marker": marker}, marker
}

// startFaulty starts a faulty-source task with the given fault and returns it and its
// marker file.
func startFaulty(t *testing.T, reg *plugins.Registry, fault string) (plugins.SourceTask, string) {
	t.Helper()
	cfg, marker := faultyConfig(t, fault)
	c, err := reg.NewSource("faulty-source")
	require.NoError(t, err)
	task := c.NewSourceTask()
	require.NoError(t, task.Start(t.Context(), conformance.SourceContextFor(t, c.Spec(), nil, cfg), cfg))
	return task, marker
}

// TestCrashFailsOnlyTheTask: a panic that ends the plugin process fails the task's Poll with
// an error naming the process, the call and the panic; a new task (what the engine's restart
// does) runs in a new process, and another task of the same plugin is untouched.
func TestCrashFailsOnlyTheTask(t *testing.T) {
	m, reg, _ := newManager(t, external.Options{}, "faulty")
	healthy, _ := startFaulty(t, reg, "none")
	_, err := healthy.Poll(t.Context())
	require.NoError(t, err)

	task, marker := startFaulty(t, reg, "crash")
	_, err = task.Poll(t.Context())
	require.ErrorIs(t, err, external.ErrProcessFailed)
	require.False(t, plugins.IsRetriable(err), "a crash fails the task")
	require.Contains(t, err.Error(), "exited (exit status 2) during Poll")
	require.Contains(t, err.Error(), "faulty plugin crashes on purpose", "the panic is in the trace")
	require.NoError(t, task.Stop(t.Context()), "Stop after a crash has nothing to release")

	recs, err := healthy.Poll(t.Context())
	require.NoError(t, err, "the other task's process is unaffected")
	require.Len(t, recs, 1)

	restarted, _ := startFaulty(t, reg, "crash")
	// Its marker is new: share the crashed one so this process works.
	_ = restarted.Stop(t.Context())
	cfg := map[string]string{"fault": "crash", "marker": marker}
	c, err := reg.NewSource("faulty-source")
	require.NoError(t, err)
	again := c.NewSourceTask()
	require.NoError(t, again.Start(t.Context(), conformance.SourceContextFor(t, c.Spec(), nil, cfg), cfg))
	recs, err = again.Poll(t.Context())
	require.NoError(t, err, "a new process serves the restarted task")
	require.Len(t, recs, 1)
	require.NoError(t, again.Stop(t.Context()))
	require.NoError(t, healthy.Stop(t.Context()))
	require.Empty(t, m.Processes(), "every process of a stopped instance is gone")
}

// TestHangKillsTheProcess: a call without an answer within CallTimeout kills the process and
// fails the task, saying it hung. The process, killed with SIGKILL, leaves its socket behind,
// in the worker's directory of plugin sockets (not the temporary directory itself), which
// Close removes if the kill did not.
func TestHangKillsTheProcess(t *testing.T) {
	tmp := shortTMPDIR(t)
	m, reg, _ := newManager(t, external.Options{CallTimeout: 2 * time.Second}, "faulty")
	task, marker := startFaulty(t, reg, "hang")
	_, err := task.Poll(t.Context())
	require.ErrorIs(t, err, external.ErrProcessFailed)
	require.Contains(t, err.Error(), "no answer within 2s (hung)")
	require.False(t, markedAlive(t, marker), "the hung process was killed")
	require.NoError(t, task.Stop(t.Context()))
	require.Empty(t, m.Processes())
	m.Close()
	require.Empty(t, dirNames(t, tmp), "what the plugin processes left is removed")
}

// shortTMPDIR sets TMPDIR, the worker's and its plugins', to a new directory short enough
// for the sockets of a process to nest in the worker's socket directory, as they do under
// /tmp (t.TempDir's path, which holds the test's name, may be too long: see
// TestSocketsUnderALongTempDir), and returns it. t.TempDir's directories stay where they were.
func shortTMPDIR(t *testing.T) string {
	t.Helper()
	_ = t.TempDir() // t.TempDir makes its parent directory at its first call, in TMPDIR
	dir, err := os.MkdirTemp("", "rmqc")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	t.Setenv("TMPDIR", dir)
	return dir
}

// dirNames lists the names in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names
}

// TestKilledProcessFailsTheTask: a plugin process killed from outside (OOM killer, an
// operator) fails its task with the signal in the error.
func TestKilledProcessFailsTheTask(t *testing.T) {
	m, reg, _ := newManager(t, external.Options{}, "faulty")
	task, _ := startFaulty(t, reg, "none")
	_, err := task.Poll(t.Context())
	require.NoError(t, err)
	procs := m.Processes()
	require.Len(t, procs, 1)
	proc, err := os.FindProcess(procs[0].PID)
	require.NoError(t, err)
	require.NoError(t, proc.Kill())
	// The worker side reads one batch ahead: a batch fetched before the kill may still be
	// handed out once; the poll after it reports the dead process.
	for range 2 {
		if _, err = task.Poll(t.Context()); err != nil {
			break
		}
	}
	require.ErrorIs(t, err, external.ErrProcessFailed)
	require.Contains(t, err.Error(), "exited (signal: killed) during Poll")
	require.NoError(t, task.Stop(t.Context()))
}

// markedAlive reports whether the process whose pid a faulty task wrote to marker is alive.
func markedAlive(t *testing.T, marker string) bool {
	t.Helper()
	pid, err := os.ReadFile(marker)
	require.NoError(t, err)
	return alive(t, string(pid))
}

// alive reports whether the process pid exists (and is not a zombie).
func alive(t *testing.T, pid string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == ')' && i+2 < len(b) {
			return b[i+2] != 'Z'
		}
	}
	return true
}

// TestVersionMismatchRefused: a binary that speaks another protocol version is not
// registered, and the scan says why in words that tell the operator what to do.
func TestVersionMismatchRefused(t *testing.T) {
	dir := t.TempDir()
	copyBinary(t, filepath.Join(binDir, "oldproto"), filepath.Join(dir, "oldproto"))
	copyBinary(t, filepath.Join(binDir, "lines"), filepath.Join(dir, "lines"))
	reg := plugins.NewRegistry()
	m := external.New(reg, external.Options{Dirs: []string{dir}, Logger: discard()})
	defer m.Close()
	rep, err := m.Reload(t.Context())
	require.NoError(t, err)
	require.Len(t, rep.Refused, 1)
	require.Equal(t, filepath.Join(dir, "oldproto"), rep.Refused[0].Path)
	require.ErrorIs(t, rep.Refused[0].Err, external.ErrProtocolVersion)
	require.Contains(t, rep.Refused[0].Err.Error(), "it speaks protocol version 99 and this worker speaks version 1")
	_, err = reg.Lookup("example-line-source")
	require.NoError(t, err, "the good binary next to it is loaded")
	require.Empty(t, m.Processes(), "no process stays after a scan")
}

// TestReloadPicksUpNewBinary: a binary copied in after the first scan is registered by a
// reload, with its version and location, while a running task keeps its process.
func TestReloadPicksUpNewBinary(t *testing.T) {
	m, reg, dir := newManager(t, external.Options{}, "faulty")
	_, err := reg.Lookup("example-line-source")
	require.ErrorIs(t, err, plugins.ErrUnknownPlugin)
	task, _ := startFaulty(t, reg, "none")
	before := m.Processes()

	copyBinary(t, filepath.Join(binDir, "lines"), filepath.Join(dir, "lines"))
	rep, err := m.Reload(t.Context())
	require.NoError(t, err)
	require.Empty(t, rep.Refused)
	info, err := reg.Lookup("example-line-source")
	require.NoError(t, err)
	require.Equal(t, "1.0.0", info.Version)
	require.Equal(t, filepath.Join(dir, "lines"), info.Location)
	require.Equal(t, before, m.Processes(), "the running task's process is untouched")
	_, err = task.Poll(t.Context())
	require.NoError(t, err)

	require.NoError(t, os.Remove(filepath.Join(dir, "lines")))
	_, err = m.Reload(t.Context())
	require.NoError(t, err)
	_, err = reg.Lookup("example-line-source")
	require.ErrorIs(t, err, plugins.ErrUnknownPlugin, "a removed binary is dropped")
	require.NoError(t, task.Stop(t.Context()))
}

// TestValidateInPlugin: Validate runs the plugin's own validators (they do not run in the
// worker) and reports the keys.
func TestValidateInPlugin(t *testing.T) {
	_, reg, _ := newManager(t, external.Options{}, "lines")
	c, err := reg.New("example-line-source")
	require.NoError(t, err)
	_, err = conformance.Validate(c, map[string]string{"file": "/x", "batch.size": "0"})
	require.ErrorIs(t, err, plugins.ErrInvalidValue)
	fes := cfgerr.Flatten(err)
	require.Len(t, fes, 1)
	require.Equal(t, "batch.size", fes[0].Key)
	require.Contains(t, fes[0].Reason, "between 1 and 10000")
	_, err = conformance.Validate(c, map[string]string{"file": "/x"})
	require.NoError(t, err)
}

// TestValidateProcessReplacedWhenItDied: the shared Validate process, killed while idle, is
// replaced at the next Validate and no longer listed.
func TestValidateProcessReplacedWhenItDied(t *testing.T) {
	m, reg, _ := newManager(t, external.Options{}, "lines")
	c, err := reg.New("example-line-source")
	require.NoError(t, err)
	_, err = conformance.Validate(c, map[string]string{"file": "/x"})
	require.NoError(t, err)
	procs := m.Processes()
	require.Len(t, procs, 1)
	require.Equal(t, external.RoleValidate, procs[0].Role)
	first := procs[0].PID
	proc, err := os.FindProcess(first)
	require.NoError(t, err)
	require.NoError(t, proc.Kill())
	// Reaped (go-plugin waits for it in the background), so the worker knows it exited.
	require.Eventually(t, func() bool {
		_, err := os.Stat("/proc/" + strconv.Itoa(first))
		return os.IsNotExist(err)
	}, 10*time.Second, 10*time.Millisecond)
	time.Sleep(100 * time.Millisecond) // go-plugin marks it exited just after
	_, err = conformance.Validate(c, map[string]string{"file": "/x"})
	require.NoError(t, err)
	procs = m.Processes()
	require.Len(t, procs, 1, "the dead process is not listed: %v", procs)
	require.NotEqual(t, first, procs[0].PID)
}

func discard() *slogLogger { return slogDiscard }

// startFaultySink is startFaulty for a faulty-sink task.
func startFaultySink(t *testing.T, reg *plugins.Registry, fault string) (plugins.SinkTask, string) {
	t.Helper()
	cfg, marker := faultyConfig(t, fault)
	c, err := reg.NewSink("faulty-sink")
	require.NoError(t, err)
	task := c.NewSinkTask()
	require.NoError(t, task.Start(t.Context(), conformance.SinkContextFor(t, c.Spec(), cfg), cfg))
	return task, marker
}

// TestSinkPutFaults: Puts travel on one stream (the Puts call), and a fault in one is told as
// a Poll's is: a crash names the process's end and the panic, a hang kills the process after
// CallTimeout, the worker's cancellation of a Put returns at once with its reason (the
// process lives on, and the next Put works on a new stream), and a Stop during a Put ends it
// as a stop, not as the process's failure.
func TestSinkPutFaults(t *testing.T) {
	m, reg, _ := newManager(t, external.Options{CallTimeout: 2 * time.Second}, "faulty")
	recs := textRecords("a")

	t.Run("crash", func(t *testing.T) {
		task, _ := startFaultySink(t, reg, "crash")
		err := task.Put(t.Context(), recs)
		require.ErrorIs(t, err, external.ErrProcessFailed)
		require.Contains(t, err.Error(), "exited (exit status 2) during Put")
		require.Contains(t, err.Error(), "faulty plugin crashes on purpose")
		require.NoError(t, task.Stop(t.Context()))
	})
	t.Run("hang", func(t *testing.T) {
		task, marker := startFaultySink(t, reg, "hang")
		err := task.Put(t.Context(), recs)
		require.ErrorIs(t, err, external.ErrProcessFailed)
		require.Contains(t, err.Error(), "no answer within 2s (hung)")
		require.False(t, markedAlive(t, marker), "the hung process was killed")
		require.NoError(t, task.Stop(t.Context()))
	})
	t.Run("cancelled", func(t *testing.T) {
		task, marker := startFaultySink(t, reg, "hang")
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		err := task.Put(ctx, recs)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.NotErrorIs(t, err, external.ErrProcessFailed)
		require.True(t, markedAlive(t, marker), "a Put the worker gave up on leaves the process alone")
		// This Put ignores the end of its context. The task's Stop runs after the calls
		// under way, as in the worker's own process, so it gets no answer and the process
		// is killed as hung.
		err = task.Stop(t.Context())
		require.ErrorIs(t, err, external.ErrProcessFailed)
		require.Contains(t, err.Error(), "no answer within 2s (hung)")
		require.False(t, markedAlive(t, marker), "the hung process was killed")
	})
	t.Run("stopped", func(t *testing.T) {
		// Stop while a Put is in flight ends the Put's stream: the Put says the task was
		// stopped, not that the process failed (which would have it killed, not stopped).
		task, _ := startFaultySink(t, reg, "block")
		putErr := make(chan error, 1)
		go func() { putErr <- task.Put(t.Context(), recs) }()
		time.Sleep(300 * time.Millisecond)
		select {
		case err := <-putErr:
			t.Fatalf("the Put returned before Stop: %v", err)
		default:
		}
		require.NoError(t, task.Stop(t.Context()))
		var err error
		select {
		case err = <-putErr:
		case <-time.After(5 * time.Second):
			t.Fatal("the Put did not return after Stop")
		}
		require.ErrorIs(t, err, external.ErrNotRunning)
		require.NotErrorIs(t, err, external.ErrProcessFailed)
		require.Contains(t, err.Error(), "stopped while the call ran")
	})
	t.Run("healthy", func(t *testing.T) {
		task, _ := startFaultySink(t, reg, "none")
		for range 3 {
			require.NoError(t, task.Put(t.Context(), recs))
		}
		pf := task.(plugins.PutFlusher)
		require.True(t, pf.PutFlushes())
		res := pf.PutFlush(t.Context(), recs, nil)
		require.NoError(t, res.PutErr)
		require.NoError(t, res.FlushErr)
		require.NoError(t, task.Put(t.Context(), recs))
		require.NoError(t, task.Stop(t.Context()))
	})
	require.Empty(t, m.Processes(), "every process of a stopped instance is gone")
}
