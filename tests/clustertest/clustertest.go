package clustertest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/scheduler"
)

// Build compiles cmd/rmqconnect into dir and returns the binary's path. It is built without
// -race: rocketmq-client-go v2.1.2 races on its own close flag when a consumer shuts down
// (see the Makefile), which would make every clean stop exit 66.
func Build(dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "rmqconnect")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/rmqconnect")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build rmqconnect: %w\n%s", err, out)
	}
	return bin, nil
}

// moduleRoot walks up from the working directory to the directory holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Proc is one running rmqconnect process.
type Proc struct {
	Cmd    *exec.Cmd
	URL    string        // base URL of its REST API
	exited chan struct{} // closed once the process has exited and err is set
	err    error         // the result of Wait
}

// Exited is closed once the process has exited.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Err is the process's exit error; valid once Exited is closed.
func (p *Proc) Err() error { <-p.exited; return p.err }

// Alive reports whether the process has not exited yet.
func (p *Proc) Alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig syscall.Signal) error { return p.Cmd.Process.Signal(sig) }

// Kill sends SIGKILL (to a process still running) and waits up to 10 s for it to exit.
func (p *Proc) Kill() {
	if p.Alive() {
		resume(p.Cmd.Process) // a stopped process dies only once resumed
		_ = p.Cmd.Process.Signal(syscall.SIGKILL)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
		}
	}
}

// Stop sends SIGTERM and fails t unless the process exits cleanly within timeout.
func (p *Proc) Stop(t testing.TB, timeout time.Duration) {
	t.Helper()
	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.exited:
		require.NoError(t, p.err, "worker exited uncleanly")
	case <-time.After(timeout):
		t.Fatalf("worker did not stop within %v of SIGTERM", timeout)
	}
}

// Healthy reports whether GET /health answers 200 within a second.
func (p *Proc) Healthy() bool {
	cl := http.Client{Timeout: time.Second}
	resp, err := cl.Get(p.URL + "/health")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Do does one REST request with a JSON body (if non-nil), decodes a JSON answer into out
// (if non-nil) and returns the status code.
func (p *Proc) Do(method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, p.URL+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	cl := http.Client{Timeout: 10 * time.Second}
	resp, err := cl.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w: %s", method, path, err, data)
		}
	}
	return resp.StatusCode, nil
}

// Call is Do that fails t on a transport or decoding error.
func (p *Proc) Call(t testing.TB, method, path string, body, out any) int {
	t.Helper()
	code, err := p.Do(method, path, body, out)
	require.NoError(t, err)
	return code
}

// ReadTail returns the last 4000 bytes of a file ("" if it cannot be read).
func ReadTail(p string) string {
	b, _ := os.ReadFile(p)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Cluster is a set of `rmqconnect distributed` processes sharing store topics of their own.
type Cluster struct {
	T          testing.TB
	Binary     string
	Dir        string
	ID         string
	Topics     [4]string // config, position, status, cluster
	NameServer string
	Workers    map[string]*Proc
	Ports      map[string]int
	// Stores overrides StoreDir for the worker ids it has: a second process of a live
	// worker's id (as on another host) needs a directory of its own, since a worker locks its
	// storePathRootDir and another on it fails to start.
	Stores map[string]string
	// Extra is appended to every worker's config (lines of key=value).
	Extra string
	// Place, when set, says where worker id runs: a command prefix (such as `ip netns exec NS`)
	// and the address its REST API listens on and is reached at. Unset: 127.0.0.1, no prefix.
	Place func(id string) (prefix []string, host string)
}

// New returns a cluster of no workers whose store topics are named after id.
func New(t testing.TB, binary, dir, id, namesrv string) *Cluster {
	return &Cluster{T: t, Binary: binary, Dir: dir, ID: id, NameServer: namesrv,
		Topics:  [4]string{id + "-config", id + "-position", id + "-status", id + "-cluster"},
		Workers: map[string]*Proc{}, Ports: map[string]int{}, Stores: map[string]string{}}
}

// LogPath is the file worker id logs to.
func (c *Cluster) LogPath(id string) string { return filepath.Join(c.Dir, id+".log") }

// StoreDir is worker id's storePathRootDir.
func (c *Cluster) StoreDir(id string) string {
	if d, ok := c.Stores[id]; ok {
		return d
	}
	return filepath.Join(c.Dir, id, "store")
}

// Launch starts worker id (again, with its store dir kept) without waiting for it.
func (c *Cluster) Launch(id string) (*Proc, error) {
	t := c.T
	var prefix []string
	host := "127.0.0.1"
	if c.Place != nil {
		prefix, host = c.Place(id)
	}
	port, ok := c.Ports[id]
	if !ok {
		port = FreePort(t)
		c.Ports[id] = port
	}
	cfg := filepath.Join(c.Dir, id+".properties")
	body := fmt.Sprintf("workerId=%s\nconnectClusterId=%s\nnamesrvAddr=%s\nhttpPort=%d\nhttpBindAddress=%s\nstorePathRootDir=%s\n"+
		"offsetCommitIntervalMsConfig=500\nlogLevel=info\nconfigStoreTopic=%s\npositionStoreTopic=%s\n"+
		"connectStatusTopic=%s\nclusterStoreTopic=%s\ngracefulShutdownTimeoutMillis=10000\n",
		id, c.ID, c.NameServer, port, host, c.StoreDir(id), c.Topics[0], c.Topics[1], c.Topics[2], c.Topics[3]) + c.Extra
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		return nil, err
	}
	args := append(slices.Clone(prefix), c.Binary, "distributed", "-c", cfg)
	w, err := StartProc(t, exec.Command(args[0], args[1:]...), fmt.Sprintf("http://%s:%d", host, port), c.LogPath(id))
	if err != nil {
		return nil, err
	}
	c.Workers[id] = w
	return w, nil
}

// StartProc starts cmd with its output appended to logPath; url is where its REST API will
// answer. The process is killed when t ends, if it still runs.
func StartProc(t testing.TB, cmd *exec.Cmd, url, logPath string) (*Proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	w := &Proc{Cmd: cmd, URL: url, exited: make(chan struct{})}
	go func() { w.err = cmd.Wait(); logf.Close(); close(w.exited) }()
	t.Cleanup(w.Kill)
	return w, nil
}

// Start launches worker id and waits up to a minute for /health.
func (c *Cluster) Start(id string) *Proc {
	t := c.T
	t.Helper()
	w, err := c.Launch(id)
	require.NoError(t, err)
	require.Eventually(t, w.Healthy, 60*time.Second, 50*time.Millisecond,
		"worker %s never became healthy; log: %s", id, ReadTail(c.LogPath(id)))
	return w
}

// IDs lists the workers whose process runs, sorted.
func (c *Cluster) IDs() []string {
	var out []string
	for id, w := range c.Workers {
		if w.Alive() {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// UnitState is where a connector or task runs, from a worker's status route.
type UnitState struct {
	Unit   scheduler.Unit
	State  string
	Worker string
}

// States asks w for the status of the named connectors; a connector it cannot answer for is
// left out.
func States(w *Proc, names ...string) []UnitState {
	var out []UnitState
	for _, n := range names {
		var st struct {
			Connector struct {
				State    string
				WorkerID string `json:"worker_id"`
			}
			Tasks []struct {
				ID       int
				State    string
				WorkerID string `json:"worker_id"`
			}
		}
		if code, err := w.Do("GET", "/connectors/"+n+"/status", nil, &st); err != nil || code != http.StatusOK {
			continue
		}
		out = append(out, UnitState{scheduler.Unit{Connector: n, Task: scheduler.ConnectorTask}, st.Connector.State, st.Connector.WorkerID})
		for _, ts := range st.Tasks {
			out = append(out, UnitState{scheduler.Unit{Connector: n, Task: ts.ID}, ts.State, ts.WorkerID})
		}
	}
	return out
}

// AllRunning reports whether there are want units, each RUNNING on one of live.
func AllRunning(states []UnitState, want int, live []string) bool {
	if len(states) != want {
		return false
	}
	for _, s := range states {
		if s.State != "RUNNING" || !slices.Contains(live, s.Worker) {
			return false
		}
	}
	return true
}

// SafeName turns a test name into a string usable in topic and group names.
func SafeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}
