package bench

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
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/generator"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

// Figure 4's load: footprintConns generator-source connectors sending footprintRate records
// per second each to one topic, and as many null-sink connectors reading it, one task each.
const (
	footprintConns  = 100
	footprintRate   = "0.1"
	footprintStarts = 3                // process starts timed for the ready figure
	footprintSettle = 5 * time.Second  // wait before reading the idle RSS
	footprintLoaded = 10 * time.Second // wait after every task runs before reading the loaded RSS
)

// BenchmarkFootprint is figure 4: the size of the binary as `make build` makes it, the time
// from process start to /health 200 (broker already up; median of footprintStarts starts),
// the RSS of the idle worker, and its RSS running 2×footprintConns connectors (one task each)
// created through REST.
func BenchmarkFootprint(b *testing.B) {
	// The timer runs throughout, so that without -benchtime 1x the framework does not repeat it.
	for range b.N {
		dir := b.TempDir()
		bin := buildBinary(b, dir)
		st, err := os.Stat(bin)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(st.Size())/(1<<20), "binary-MiB")

		var readies []time.Duration
		for i := range footprintStarts {
			p := startProc(b, bin, filepath.Join(dir, fmt.Sprintf("start-%d", i)))
			readies = append(readies, p.ready)
			if i < footprintStarts-1 {
				p.stop(b)
				continue
			}
			time.Sleep(footprintSettle)
			rss, threads := procStatus(b, p.cmd.Process.Pid)
			b.ReportMetric(rss, "idle-RSS-MiB")
			b.ReportMetric(threads, "idle-threads")

			topic := rmqtest.Topic(b, 4)
			start := time.Now()
			for c := range footprintConns {
				p.post(b, fmt.Sprintf("gen-%d", c), map[string]string{"connector.class": generator.SourceName,
					"connect.topicname": topic, "rate": footprintRate, "max.tasks": "1"})
				p.post(b, fmt.Sprintf("null-%d", c), map[string]string{"connector.class": generator.SinkName,
					"connect.topicnames": topic, "max.tasks": "1"})
			}
			waitFor(b, 5*time.Minute, 200*time.Millisecond, "every task RUNNING", func() bool {
				return p.runningTasks(b) >= 2*footprintConns
			})
			b.ReportMetric(time.Since(start).Seconds(), "create-200-tasks-s")
			time.Sleep(footprintLoaded)
			rss, threads = procStatus(b, p.cmd.Process.Pid)
			b.ReportMetric(rss, "200-tasks-RSS-MiB")
			b.ReportMetric(threads, "200-tasks-threads")
			p.stop(b)
		}
		slices.Sort(readies)
		b.ReportMetric(float64(readies[len(readies)/2])/1e6, "ready-ms")
		b.ReportMetric(float64(readies[len(readies)-1])/1e6, "ready-max-ms")
	}
	reportLoad(b)
}

// proc is one running rmqconnect standalone process.
type proc struct {
	cmd   *exec.Cmd
	url   string
	dir   string
	ready time.Duration
	done  chan error
}

// buildBinary builds rmqconnect into dir as `make build` does and returns its path.
func buildBinary(b *testing.B, dir string) string {
	b.Helper()
	bin := filepath.Join(dir, "rmqconnect")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "../../cmd/rmqconnect")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build rmqconnect: %v\n%s", err, out)
	}
	return bin
}

// startProc writes a standalone worker config into dir, starts the binary, and waits for
// /health 200 (see spawn).
func startProc(b *testing.B, bin, dir string) *proc {
	b.Helper()
	port := freePort(b)
	return spawn(b, bin, "standalone", dir, port, fmt.Sprintf("workerId=bench-%d\nnamesrvAddr=%s\nhttpPort=%d\n"+
		"storePathRootDir=%s\nlogLevel=warn\n", port, rmqtest.NameServer(b), port, filepath.Join(dir, "store")))
}

// spawn writes config into dir/worker.properties, runs `bin mode -c` on it with its output
// appended to dir/worker.log, and waits for /health 200 on port, polling every 2 ms; ready is
// the time from just before the fork to that answer. The process is killed by b.Cleanup if
// it still runs.
func spawn(b *testing.B, bin, mode, dir string, port int, config string) *proc {
	b.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	cfg := filepath.Join(dir, "worker.properties")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		b.Fatal(err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, "worker.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, mode, "-c", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	p := &proc{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d", port), dir: dir, done: make(chan error, 1)}
	client := &http.Client{Timeout: time.Second}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() { p.done <- cmd.Wait(); logf.Close() }()
	b.Cleanup(func() { p.kill() })
	for {
		resp, err := client.Get(p.url + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.ready = time.Since(start)
				return p
			}
		}
		if time.Since(start) > time.Minute {
			b.Fatalf("worker not healthy after a minute; log:\n%s", tail(filepath.Join(dir, "worker.log")))
		}
		select {
		case err := <-p.done:
			b.Fatalf("worker exited (%v); log:\n%s", err, tail(filepath.Join(dir, "worker.log")))
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func freePort(b *testing.B) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func tail(path string) string {
	data, _ := os.ReadFile(path)
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(data)
}

// stop sends SIGTERM and waits up to two minutes for the exit, then kills.
func (p *proc) stop(b *testing.B) {
	b.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			b.Logf("worker exit: %v", err)
		}
	case <-time.After(2 * time.Minute):
		b.Logf("worker did not stop within 2m of SIGTERM; killing it")
		p.kill()
	}
}

// kill ends the process if it still runs (a cleanup; idempotent).
func (p *proc) kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// post creates a connector through POST /connectors.
func (p *proc) post(b *testing.B, name string, cfg map[string]string) {
	b.Helper()
	body, _ := json.Marshal(map[string]any{"name": name, "config": cfg})
	resp, err := http.Post(p.url+"/connectors", "application/json", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		msg, _ := io.ReadAll(resp.Body)
		b.Fatalf("POST /connectors %s: %s: %s", name, resp.Status, msg)
	}
}

// runningTasks counts the RUNNING tasks over every connector (GET /connectors?expand=status).
func (p *proc) runningTasks(b *testing.B) int {
	b.Helper()
	resp, err := http.Get(p.url + "/connectors?expand=status")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var all map[string]struct {
		Status struct {
			Tasks []struct {
				State string `json:"state"`
			} `json:"tasks"`
		} `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&all); err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, c := range all {
		for _, t := range c.Status.Tasks {
			if t.State == "RUNNING" {
				n++
			}
		}
	}
	return n
}

// procStatus reads VmRSS (in MiB) and Threads from /proc/<pid>/status.
func procStatus(b *testing.B, pid int) (rssMiB, threads float64) {
	b.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			rssMiB = n / 1024 // kB
		case "Threads":
			threads = n
		}
	}
	return rssMiB, threads
}
