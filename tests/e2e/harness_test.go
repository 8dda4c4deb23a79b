package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/clustertest"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rmqconnect-e2e-")
	if err != nil {
		panic(err)
	}
	if binary, err = clustertest.Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := rmqtest.Run(m) // not Main: its os.Exit would skip the removal (a 68 MB binary a run)
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// workerProc is one running rmqconnect process.
type workerProc = clustertest.Proc

// startWorker runs `rmqconnect standalone` with a worker config in dir and waits for /health.
func startWorker(t *testing.T, dir string, port int, connectorFiles ...string) *workerProc {
	t.Helper()
	return startWorkerWith(t, dir, port, "", connectorFiles...)
}

// startWorkerWith is startWorker with extra lines of worker config.
func startWorkerWith(t *testing.T, dir string, port int, extra string, connectorFiles ...string) *workerProc {
	t.Helper()
	cfg := filepath.Join(dir, "worker.properties")
	body := fmt.Sprintf("workerId=e2e-%s\nnamesrvAddr=%s\nhttpPort=%d\nstorePathRootDir=%s\noffsetCommitIntervalMsConfig=500\nlogLevel=warn\n",
		strings.ReplaceAll(filepath.Base(dir), ".", "_"), rmqtest.NameServer(t), port, filepath.Join(dir, "store")) + extra
	require.NoError(t, os.WriteFile(cfg, []byte(body), 0o644))
	args := append([]string{"standalone", "-c", cfg}, connectorFiles...)
	logPath := filepath.Join(dir, "worker.log")
	w, err := clustertest.StartProc(t, exec.Command(binary, args...), fmt.Sprintf("http://127.0.0.1:%d", port), logPath)
	require.NoError(t, err)
	require.Eventually(t, w.Healthy, 60*time.Second, 100*time.Millisecond, "worker never became healthy; log: %s", readFile(logPath))
	return w
}

// readFile returns the last 4000 bytes of a file.
func readFile(p string) string { return clustertest.ReadTail(p) }

// countLines counts complete lines in a file (0 if missing).
func countLines(p string) int {
	f, err := os.Open(p)
	if err != nil {
		return 0
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	n := 0
	for {
		_, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return n
		}
		n++
	}
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int { return clustertest.FreePort(t) }
