package console

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
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

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

var (
	binary      string // set by build
	updateShots = flag.Bool("update-screenshots", false, "write the pages' screenshots into docs/console/")
)

func TestMain(m *testing.M) { rmqtest.Main(m) }

// build compiles rmqconnect for the test's worker processes, without -race: rocketmq-client-go
// v2.1.2 races on its own close flag when a consumer shuts down (see the Makefile), which would
// make every clean stop exit 66.
func build(t *testing.T) {
	t.Helper()
	binary = filepath.Join(t.TempDir(), "rmqconnect")
	out, err := exec.Command("go", "build", "-o", binary, "../../cmd/rmqconnect").CombinedOutput()
	require.NoError(t, err, "build rmqconnect: %s", out)
}

// chromiumPath is the browser the tests drive: $CHROMIUM, else Debian's.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// browser starts a headless Chromium for the test and returns its tab's context.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath()
	_, err := os.Stat(path)
	require.NoError(t, err, "the console tests need Chromium (Debian package chromium, or set CHROMIUM)")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // the tests run as root, where Chromium's sandbox refuses to start
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1366, 900),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); acancel() })
	require.NoError(t, chromedp.Do(ctx)) // start it now, so a failure to start is reported here
	return ctx
}

// do runs browser actions with a deadline, failing the test with what the page shows.
func do(t *testing.T, ctx context.Context, timeout time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := chromedp.Do(tctx, steps...); err != nil {
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
		t.Fatalf("browser: %v\npage text:\n%s", err, text)
	}
}

// waitJS waits until the JavaScript expression is truthy.
func waitJS(t *testing.T, ctx context.Context, timeout time.Duration, expr string) {
	t.Helper()
	do(t, ctx, timeout+5*time.Second, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(100*time.Millisecond),
			chromedp.WithPollingTimeout(timeout))(ctx, tg)
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", expr, err)
		}
		return nil
	}))
}

// screenshot saves the viewport as docs/console/<name>.png with -update-screenshots, else in
// the test's temporary directory (so the capture itself is always exercised).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(png, []byte("\x89PNG")), "a screenshot is a PNG")
	dir := t.TempDir()
	if *updateShots {
		dir = filepath.Join("..", "..", "docs", "console")
		require.NoError(t, os.MkdirAll(dir, 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
}

// workerProc is one running rmqconnect process.
type workerProc struct {
	id   string
	cmd  *exec.Cmd
	url  string
	done chan error
}

// cluster is a set of `rmqconnect distributed` processes with store topics of their own.
type cluster struct {
	t   *testing.T
	dir string
	id  string
}

func newCluster(t *testing.T) *cluster {
	base := strings.ReplaceAll(rmqtest.Name(t, "c"), ".", "_")
	if len(base) > 60 {
		base = base[len(base)-60:]
	}
	c := &cluster{t: t, dir: t.TempDir(), id: base}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		keep := filepath.Join(os.TempDir(), "rmqconnect-console-failed", strings.ReplaceAll(t.Name(), "/", "_"))
		_ = os.MkdirAll(keep, 0o755)
		logs, _ := filepath.Glob(filepath.Join(c.dir, "*.log"))
		for _, l := range logs {
			if b, err := os.ReadFile(l); err == nil {
				_ = os.WriteFile(filepath.Join(keep, filepath.Base(l)), b, 0o644)
			}
		}
		t.Logf("worker logs kept in %s", keep)
	})
	return c
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// start runs worker id and waits for /health.
func (c *cluster) start(id string) *workerProc {
	t := c.t
	t.Helper()
	port := freePort(t)
	cfg := filepath.Join(c.dir, id+".properties")
	body := fmt.Sprintf("workerId=%s\nconnectClusterId=%s\nnamesrvAddr=%s\nhttpPort=%d\nstorePathRootDir=%s\n"+
		"offsetCommitIntervalMsConfig=500\nlogLevel=info\nconfigStoreTopic=%[2]s-config\npositionStoreTopic=%[2]s-position\n"+
		"connectStatusTopic=%[2]s-status\nclusterStoreTopic=%[2]s-cluster\ngracefulShutdownTimeoutMillis=10000\n",
		id, c.id, rmqtest.NameServer(t), port, filepath.Join(c.dir, id, "store"))
	require.NoError(t, os.WriteFile(cfg, []byte(body), 0o644))
	cmd := exec.Command(binary, "distributed", "-c", cfg)
	logPath := filepath.Join(c.dir, id+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(t, cmd.Start())
	w := &workerProc{id: id, cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d", port), done: make(chan error, 1)}
	go func() { w.done <- cmd.Wait(); logf.Close() }()
	t.Cleanup(w.kill)
	require.Eventually(t, func() bool {
		resp, err := http.Get(w.url + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 100*time.Millisecond, "worker %s never became healthy; log: %s", id, tail(logPath))
	return w
}

func tail(p string) string {
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

// call does one REST request and decodes a JSON answer into out (if non-nil).
func (w *workerProc) call(t *testing.T, method, path string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, w.url+path, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
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

// status is GET /connectors/{name}/status, decoded.
type status struct {
	Connector struct {
		State    string `json:"state"`
		WorkerID string `json:"worker_id"`
	} `json:"connector"`
	Tasks []struct {
		ID       int    `json:"id"`
		State    string `json:"state"`
		WorkerID string `json:"worker_id"`
	} `json:"tasks"`
}

func (w *workerProc) status(t *testing.T, name string) status {
	t.Helper()
	var st status
	w.call(t, "GET", "/connectors/"+name+"/status", nil, &st)
	return st
}
