package faults

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// mountTmpfs mounts a tmpfs of size bytes on dir (created) and unmounts it at the end.
func mountTmpfs(t *testing.T, dir string, size string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, sh("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir))
	t.Cleanup(func() { _ = sh("umount", "-l", dir) })
}

// fill writes a file into dir until the file system is full and returns its path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	require.NoError(t, err)
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			require.True(t, errors.Is(err, syscall.ENOSPC), "filling %s: %v", dir, err)
			return p
		}
	}
}

// TestDiskFull: the file system under a file sink's output, or under a worker's store
// directory, fills up during flow (a small tmpfs) and gets space back later: the errors are
// clear, no output is torn, and the flow recovers with nothing lost.
func TestDiskFull(t *testing.T) {
	suite(t)
	fullFor := 20 * time.Second
	t.Run("sink", func(t *testing.T) {
		if !*full {
			t.Skip("full suite only (-faults.full)")
		}
		began := time.Now()
		dir := filepath.Join(t.TempDir(), "small")
		mountTmpfs(t, dir, "4m")
		c := newCluster(t, 3)
		c.addPipes(1, dir)
		c.addPipes(2, "")
		m := c.watch(t)
		time.Sleep(5 * time.Second)
		filler := fill(t, dir)
		time.Sleep(fullFor)
		var st struct {
			Tasks []struct{ State, Trace string }
		}
		require.Equal(t, http.StatusOK, c.observer().Call(t, "GET", "/connectors/p1-sink/status", nil, &st))
		require.NotEmpty(t, st.Tasks)
		seen := st.Tasks[0].State
		if tr := st.Tasks[0].Trace; tr != "" {
			seen += ": " + firstLine(tr)
		}
		t.Logf("p1-sink-0 with its disk full for %v: %s", fullFor, seen)
		size := c.outputSize()
		require.NoError(t, os.Remove(filler))
		freed := time.Now()
		require.Eventually(t, func() bool { return c.outputSize() > size && c.running() }, 3*time.Minute, 100*time.Millisecond,
			"the sink never recovered once space returned")
		recovered := time.Since(freed)
		time.Sleep(5 * time.Second)
		tl := c.finish(3 * time.Minute)
		un, unit := m.longest()
		record(t, result{Scenario: "disk full under a file sink (tmpfs)", Trials: 1, tally: tl, Unavail: un, UnavailUnit: unit,
			Offered: rate * len(c.pipes), Took: time.Since(began),
			Notes: "full for " + secs(fullFor) + "; the sink task then: " + seen + "; records flowed again " + secs(recovered) + " after space returned"})
	})
	t.Run("store", func(t *testing.T) {
		if !*full {
			t.Skip("full suite only (-faults.full)")
		}
		began := time.Now()
		c := newClusterWith(t, 3, func(c *cluster) { mountTmpfs(t, c.StoreDir("worker-1"), "8m") })
		c.addPipes(3, "")
		m := c.watch(t)
		time.Sleep(5 * time.Second)
		filler := fill(t, c.StoreDir("worker-1"))
		time.Sleep(fullFor)
		healthy := c.Workers["worker-1"].Healthy()
		require.NoError(t, os.Remove(filler))
		c.waitRunning(2 * time.Minute)
		time.Sleep(5 * time.Second)
		tl := c.finish(3 * time.Minute)
		un, unit := m.longest()
		logged := "no error logged"
		for _, l := range strings.Split(clusterLog(c, "worker-1"), "\n") {
			if strings.Contains(l, "no space left") {
				logged = "logged: " + strings.TrimSpace(l)
				if len(logged) > 200 {
					logged = logged[:200] + "…"
				}
				break
			}
		}
		record(t, result{Scenario: "disk full under a worker's store directory (tmpfs)", Trials: 1, tally: tl, Unavail: un,
			UnavailUnit: unit, Offered: rate * len(c.pipes), Took: time.Since(began),
			Notes: "full for " + secs(fullFor) + map[bool]string{true: "; the worker stayed healthy; ", false: "; the worker was not healthy; "}[healthy] + logged})
	})
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// TestSuspend: a worker is suspended (SIGSTOP) mid-send and resumed (SIGCONT) — briefly,
// just before its lease runs out (a GC-pause-like stall), and past it: duplicates stay within
// what was in flight, nothing is lost or reordered.
func TestSuspend(t *testing.T) {
	suite(t)
	for _, pause := range []time.Duration{3 * time.Second, 13 * time.Second, 25 * time.Second} {
		t.Run(pause.String(), func(t *testing.T) {
			if !*full {
				t.Skip("full suite only (-faults.full)")
			}
			began := time.Now()
			c := newCluster(t, 3)
			c.addPipes(3, "")
			m := c.watch(t)
			time.Sleep(5 * time.Second)
			id, units := c.victim(rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5)))
			w := c.Workers[id]
			require.NoError(t, w.Signal(syscall.SIGSTOP))
			m.impair(id, true)
			time.Sleep(pause)
			require.NoError(t, w.Signal(syscall.SIGCONT))
			m.impair(id, false)
			at := time.Now()
			c.waitRunning(3 * time.Minute)
			time.Sleep(10 * time.Second)
			tl := c.finish(3 * time.Minute)
			un, unit := m.longest()
			record(t, result{Scenario: "SIGSTOP " + secs(pause) + ", SIGCONT", Trials: 1, tally: tl, Unavail: un, UnavailUnit: unit,
				Offered: rate * len(c.pipes), Took: time.Since(began),
				Notes: "3 workers; " + id + " suspended (running " + strings.Join(units, " ") + "); all RUNNING " + secs(time.Since(at)) +
					" after SIGCONT (lease 15 s, broker expiry 60 s)"})
		})
	}
}
