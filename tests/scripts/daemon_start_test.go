package scripts

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// requireNothingLeft: no pid file, and every fake worker the test ran has exited.
func (w *workers) requireNothingLeft(t *testing.T) {
	t.Helper()
	require.Empty(t, w.pidFiles(t))
	for _, pid := range w.started(t) {
		require.Eventually(t, func() bool { return !alive(pid) }, 10*time.Second, 20*time.Millisecond, "pid %d still runs", pid)
	}
}

// daemonScripts are the two scripts that start a worker with --daemon, with the log each writes for
// worker id.
var daemonScripts = []struct {
	name, script string
	log          func(id string) string
}{
	{"standalone", standaloneScript, func(string) string { return "connect-standalone.out" }},
	{"distributed", distributedScript, func(id string) string { return "connect-distributed-" + id + ".out" }},
}

// A worker that dies at once — a bad config, its port taken — fails the start: the script prints
// what the worker logged, removes the pid file and exits 1 instead of reporting it started.
func TestDaemonStartFailsWhenTheWorkerExits(t *testing.T) {
	for _, s := range daemonScripts {
		t.Run(s.name+"/bad config", func(t *testing.T) {
			w := newWorkers(t)
			cfg := writeFile(t, t.TempDir(), "w.yaml", "workerId: w1\nhttpPrt: 8083\n")
			out, code := w.sh(t, nil, s.script, "--daemon", "-c", cfg)
			require.Equal(t, 1, code, out)
			require.Contains(t, out, "worker w1 (pid ")
			require.Contains(t, out, "did not start: it exited")
			require.Contains(t, out, "httpprt: unknown key", "the worker's own error is shown")
			require.NotContains(t, out, "started")
			w.requireNothingLeft(t)
		})

		// The port is held by another worker, which answers /health, while this one is still
		// starting: that answer is not taken for this worker's.
		for _, level := range []string{"info", "warn"} {
			t.Run(s.name+"/port taken, logLevel "+level, func(t *testing.T) {
				w := newWorkers(t)
				other := httptest.NewServer(healthHandler("w1-elsewhere", ""))
				defer other.Close()
				port := strings.TrimPrefix(other.URL, "http://127.0.0.1:")
				cfg := writeFile(t, t.TempDir(), "w.yaml", fmt.Sprintf("workerId: w1\nhttpPort: %s\nlogLevel: %s\n", port, level))
				out, code := w.sh(t, []string{"FAKE_LISTEN=config", "FAKE_LISTEN_DELAY=1s"}, s.script, "--daemon", "-c", cfg)
				require.Equal(t, 1, code, out)
				require.Contains(t, out, "did not start: it exited")
				require.Contains(t, out, "address already in use")
				w.requireNothingLeft(t)
			})
		}

		// A worker that runs but never serves its REST API is stopped after RMQCONNECT_START_TIMEOUT.
		// The `admin REST listening` line an earlier run left in the appended log, naming an address
		// that answers, does not count.
		t.Run(s.name+"/no REST API", func(t *testing.T) {
			w := newWorkers(t)
			earlier := httptest.NewServer(healthHandler("w1", ""))
			defer earlier.Close()
			require.NoError(t, os.MkdirAll(w.logs, 0o755))
			writeFile(t, w.logs, s.log("w1"), fmt.Sprintf("time=2024-01-01T00:00:00Z level=INFO msg=\"admin REST listening\" addr=%s\n",
				strings.TrimPrefix(earlier.URL, "http://")))
			cfg := writeFile(t, t.TempDir(), "w.yaml", "workerId: w1\n")
			out, code := w.sh(t, []string{"FAKE_NO_HTTP=1", "RMQCONNECT_START_TIMEOUT=1"}, s.script, "--daemon", "-c", cfg)
			require.Equal(t, 1, code, out)
			require.Contains(t, out, "did not start: it logged no 'admin REST listening' within 1s (RMQCONNECT_START_TIMEOUT)")
			require.Contains(t, out, "fake rmqconnect "+s.name, "its log is shown")
			started := w.started(t)
			require.Len(t, started, 1)
			require.Eventually(t, func() bool { return w.stoppedBySIGTERM(started[0]) }, 10*time.Second, 20*time.Millisecond,
				"the worker is stopped, not left running without a pid file")
			w.requireNothingLeft(t)
		})

		t.Run(s.name+"/bad RMQCONNECT_START_TIMEOUT", func(t *testing.T) {
			w := newWorkers(t)
			cfg := writeFile(t, t.TempDir(), "w.yaml", "workerId: w1\n")
			out, code := w.sh(t, []string{"RMQCONNECT_START_TIMEOUT=soon"}, s.script, "--daemon", "-c", cfg)
			require.Equal(t, 2, code, out)
			require.Contains(t, out, `RMQCONNECT_START_TIMEOUT="soon" must be a number of seconds`)
			require.Empty(t, w.started(t))
			require.Empty(t, w.pidFiles(t))
		})
	}
}

// The script returns once the worker's REST API answers, and says where it is and what /health said.
func TestDaemonStartWaitsForTheRESTAPI(t *testing.T) {
	port := func() string { return fmt.Sprint(freeTCPPort(t)) }
	p1, p2, p3, p4 := port(), port(), port(), port()
	cases := []struct {
		name, file, content string
		env                 []string
		want                string
	}{
		{name: "address from the log line, port 0", file: "w.yaml", content: "workerId: w1\nhttpPort: 0\n",
			want: "REST http://127.0.0.1:"},
		{name: "JSON log, wildcard bind address", file: "w.yaml",
			content: "workerId: w1\nlogFormat: json\nhttpBindAddress: 0.0.0.0\nhttpPort: " + p1 + "\n",
			env:     []string{"FAKE_LISTEN=config"}, want: "REST http://127.0.0.1:" + p1 + " (healthy)"},
		{name: "a starting worker counts as started", file: "w.yaml", content: "workerId: w1\n",
			env: []string{"FAKE_HEALTH=starting"}, want: "(starting)"},
		{name: "logLevel warn: the configured port", file: "w.properties",
			content: "workerId = w1\nlogLevel=WARN\nhttpPort=" + p2 + "\n",
			env:     []string{"FAKE_LISTEN=config", "FAKE_LISTEN_DELAY=500ms"}, want: "REST http://127.0.0.1:" + p2 + " (healthy)"},
		{name: "logLevel warn: the port from the environment", file: "w.json",
			content: "{\"workerId\": \"w1\", \"logLevel\": \"error\", \"httpPort\": " + p3 + "}\n",
			env:     []string{"FAKE_LISTEN=config", "RMQCONNECT_HTTPPORT=" + p4}, want: "REST http://127.0.0.1:" + p4 + " (healthy)"},
		{name: "RMQCONNECT_START_TIMEOUT=0: no wait", file: "w.yaml", content: "workerId: w1\n",
			env: []string{"FAKE_NO_HTTP=1", "RMQCONNECT_START_TIMEOUT=0"}, want: "(pid "},
	}
	for _, s := range daemonScripts {
		for _, tc := range cases {
			t.Run(s.name+"/"+tc.name, func(t *testing.T) {
				w := newWorkers(t)
				cfg := writeFile(t, t.TempDir(), tc.file, tc.content)
				out, code := w.sh(t, tc.env, s.script, "--daemon", "-c", cfg)
				require.Equal(t, 0, code, out)
				require.Contains(t, out, "started")
				require.Contains(t, out, tc.want)
				require.Contains(t, out, "log "+filepath.Join(w.logs, s.log("w1")))
				pidFile := "connect-standalone.pid"
				if s.name == "distributed" {
					pidFile = "connect-distributed-w1.pid"
				}
				pid := w.pid(t, pidFile)
				w.args(t, pid)
				require.True(t, alive(pid))
				if !strings.Contains(tc.name, "no wait") {
					require.NotContains(t, out, "REST http://127.0.0.1:0 ")
				} else {
					require.NotContains(t, out, "REST http")
				}
				out, code = w.sh(t, nil, shutdownScript)
				require.Equal(t, 0, code, out)
				require.True(t, w.stoppedBySIGTERM(pid))
			})
		}
	}
}
