package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rmqconnect-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "rmqconnect")
	// Built without -race: rocketmq-client-go v2.1.2 races on its own close flag when a
	// consumer shuts down (see the Makefile), which would make every clean stop exit 66.
	out, err := exec.Command("go", "build", "-o", binary, "../../cmd/rmqconnect").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build rmqconnect: %v\n%s", err, out)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	rmqtest.Main(m)
}

// workerProc is one running rmqconnect process.
type workerProc struct {
	cmd  *exec.Cmd
	url  string
	done chan error
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

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
	cmd := exec.Command(binary, args...)
	logf, err := os.OpenFile(filepath.Join(dir, "worker.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(t, cmd.Start())
	w := &workerProc{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d", port), done: make(chan error, 1)}
	go func() { w.done <- cmd.Wait(); logf.Close() }()
	t.Cleanup(func() { w.kill() })
	require.Eventually(t, func() bool {
		resp, err := http.Get(w.url + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 100*time.Millisecond, "worker never became healthy; log: %s", readFile(filepath.Join(dir, "worker.log")))
	return w
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func (w *workerProc) kill() {
	if w.cmd.ProcessState == nil {
		_ = w.cmd.Process.Signal(syscall.SIGKILL)
		select {
		case <-w.done:
		case <-time.After(10 * time.Second):
		}
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (w *workerProc) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, w.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-w.done:
		require.NoError(t, err, "worker exited uncleanly")
	case <-time.After(90 * time.Second):
		t.Fatal("worker did not stop within 90s of SIGTERM")
	}
}

// call does one REST request and decodes a JSON answer into out (if non-nil).
func (w *workerProc) call(t *testing.T, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, w.url+path, rd)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil && len(data) > 0 {
		require.NoError(t, json.Unmarshal(data, out), string(data))
	}
	return resp.StatusCode
}

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
