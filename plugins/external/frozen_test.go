//go:build linux

package external_test

import (
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/external"
)

// TestFrozenProcessIsKilled: a process that cannot answer at all (stopped by SIGSTOP, as a
// cgroup freezer or a wedged runtime would leave it) fails the call after CallTimeout and is
// killed; asking it to stop first (go-plugin's Shutdown call, which has no deadline) held the
// worker's call, and every later kill and Stop of it, forever.
func TestFrozenProcessIsKilled(t *testing.T) {
	m, reg, _ := newManager(t, external.Options{CallTimeout: 2 * time.Second}, "faulty")
	task, _ := startFaulty(t, reg, "none")
	_, err := task.Poll(t.Context())
	require.NoError(t, err)
	procs := m.Processes()
	require.Len(t, procs, 1)
	pid := procs[0].PID
	require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	done := make(chan error, 1)
	go func() {
		// The worker side reads one batch ahead: a batch fetched before the stop may come first.
		for range 3 {
			if _, err := task.Poll(t.Context()); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		t.Fatal("Poll of a frozen plugin process did not return")
	}
	require.ErrorIs(t, err, external.ErrProcessFailed)
	require.Contains(t, err.Error(), "no answer within 2s (hung)")
	require.False(t, alive(t, strconv.Itoa(pid)), "the frozen process was killed")
	require.NoError(t, task.Stop(t.Context()))
	require.Empty(t, m.Processes())
}
