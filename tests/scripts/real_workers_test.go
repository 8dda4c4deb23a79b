package scripts

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

// The scripts and connectAdmin against real rmqconnect processes and the real broker (the
// tests in connect_scripts_test.go use a fake binary to reach the scripts' corner cases).

const connectAdmin = "../../distribution/bin/connectAdmin"

func TestMain(m *testing.M) {
	// The fake programs the script tests run are this test binary.
	if records := os.Getenv(fakeWorkerEnv); records != "" {
		os.Exit(fakeWorker(records))
	}
	if os.Getenv(fakeJavaEnv) != "" {
		os.Exit(fakeKafka())
	}
	rmqtest.Main(m)
}

// realEnv is one test's real binary and its pid and log directories.
type realEnv struct {
	t                  *testing.T
	dir, run, logs     string
	env                []string
	invoked            map[string]bool // connectAdmin commands run ("dlq list", "offsets get", ...)
	namesrv, clusterID string
}

func newRealEnv(t *testing.T) *realEnv {
	t.Helper()
	namesrv := rmqtest.NameServer(t)
	dir := t.TempDir()
	r := &realEnv{t: t, dir: dir, run: filepath.Join(dir, "run"), logs: filepath.Join(dir, "logs"),
		invoked: map[string]bool{}, namesrv: namesrv,
		clusterID: strings.ReplaceAll(rmqtest.Name(t, "c"), ".", "_")}
	bin := adminBinary(t)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RMQCONNECT_") {
			r.env = append(r.env, kv)
		}
	}
	r.env = append(r.env, "RMQCONNECT_BIN="+bin, "RMQCONNECT_PID_DIR="+r.run, "RMQCONNECT_LOG_DIR="+r.logs,
		"RMQCONNECT_STOP_TIMEOUT=90")
	t.Cleanup(func() {
		// Whatever a failed test left running.
		files, _ := filepath.Glob(filepath.Join(r.run, "*.pid"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			var pid int
			if _, err := fmt.Sscan(string(b), &pid); err == nil && pid > 0 && alive(pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if t.Failed() {
			logs, _ := filepath.Glob(filepath.Join(r.logs, "*"))
			for _, l := range logs {
				b, _ := os.ReadFile(l)
				if len(b) > 3000 {
					b = b[len(b)-3000:]
				}
				t.Logf("%s:\n%s", filepath.Base(l), b)
			}
		}
	})
	return r
}

// script runs a distribution script and returns its combined output and exit code.
func (r *realEnv) script(script string, args ...string) (string, int) {
	r.t.Helper()
	return runCmd(r.t, r.env, "bash", append([]string{script}, args...)...)
}

// admin runs connectAdmin against url and requires exit code 0.
func (r *realEnv) admin(url string, args ...string) string {
	r.t.Helper()
	out, code := r.adminCode(url, args...)
	require.Equal(r.t, 0, code, "connectAdmin %s: %s", strings.Join(args, " "), out)
	return out
}

func (r *realEnv) adminCode(url string, args ...string) (string, int) {
	r.t.Helper()
	name := args[0]
	if (name == "dlq" || name == "offsets" || name == "allocated") && len(args) > 1 && !strings.HasPrefix(args[1], "-") {
		name += " " + args[1]
	}
	r.invoked[name] = true
	return r.script(connectAdmin, append([]string{"--url", url}, args...)...)
}

// adminJSON runs connectAdmin -o json and decodes its output into out.
func (r *realEnv) adminJSON(url string, out any, args ...string) {
	r.t.Helper()
	raw := r.admin(url, append(args, "-o", "json")...)
	require.NoError(r.t, json.Unmarshal([]byte(raw), out), "connectAdmin %s: %s", strings.Join(args, " "), raw)
}

// tryJSON is adminJSON for conditions polled until they hold: a failing command or an
// undecodable answer is false, not a test failure.
func (r *realEnv) tryJSON(url string, out any, args ...string) bool {
	r.t.Helper()
	raw, code := r.adminCode(url, append(args, "-o", "json")...)
	return code == 0 && json.Unmarshal([]byte(raw), out) == nil
}

func (r *realEnv) waitHealthy(url string) {
	r.t.Helper()
	require.Eventually(r.t, func() bool {
		out, code := r.adminCode(url, "health")
		return code == 0 && strings.Contains(out, "healthy")
	}, 90*time.Second, 250*time.Millisecond, "worker at %s never became healthy", url)
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func pidOf(t *testing.T, file string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	var pid int
	_, err = fmt.Sscan(string(b), &pid)
	require.NoError(t, err)
	return pid
}

func lines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "\n")
}

func appendNumbered(t *testing.T, path string, from, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	defer f.Close()
	for i := from; i < from+n; i++ {
		_, err := fmt.Fprintf(f, "line-%05d\n", i)
		require.NoError(t, err)
	}
}

// TestStandaloneScriptsRealWorker: connect-standalone.sh --daemon starts a real worker with
// connector files that copy a file through the broker; connectAdmin sees it; connect-shutdown.sh
// stops it gracefully (positions committed: a restart sends nothing again).
func TestStandaloneScriptsRealWorker(t *testing.T) {
	r := newRealEnv(t)
	port := freeTCPPort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	in, out := filepath.Join(r.dir, "in.txt"), filepath.Join(r.dir, "out.txt")
	appendNumbered(t, in, 0, 1000)
	topic := rmqtest.Name(t, "t")
	cfg := writeFile(t, r.dir, "worker.properties", fmt.Sprintf("workerId=%s\nnamesrvAddr=%s\nhttpPort=%d\nstorePathRootDir=%s\n"+
		"offsetCommitIntervalMsConfig=500\n", r.clusterID, r.namesrv, port, filepath.Join(r.dir, "store")))
	src := writeFile(t, r.dir, "source.json", fmt.Sprintf(`{"name":"copy-src","config":{"connector.class":"file-source",`+
		`"filename":%q,"connect.topicname":%q}}`, in, topic))
	sink := writeFile(t, r.dir, "sink.properties", fmt.Sprintf("name=copy-sink\nconnector.class=file-sink\nfilename=%s\n"+
		"connect.topicnames=%s\ntask.group.id=%s\n", out, topic, rmqtest.Name(t, "g")))

	msg, code := r.script(standaloneScript, "--daemon", "-c", cfg, src, sink)
	require.Equal(t, 0, code, msg)
	// The script found the REST API by the worker's `admin REST listening` line.
	require.Contains(t, msg, "REST "+url+" (")
	pidFile := filepath.Join(r.run, "connect-standalone.pid")
	pid := pidOf(t, pidFile)
	r.waitHealthy(url)
	msg, code = r.script(standaloneScript, "--daemon", "-c", cfg)
	require.Equal(t, 1, code, "a second start is refused: %s", msg)
	require.Contains(t, msg, "already running")
	require.Eventually(t, func() bool { return lines(out) >= 1000 }, 2*time.Minute, 100*time.Millisecond)
	var list map[string]any
	r.adminJSON(url, &list, "list")
	require.Len(t, list, 2)

	msg, code = r.script(shutdownScript, "standalone")
	require.Equal(t, 0, code, msg)
	require.False(t, alive(pid), "the worker stopped")
	require.NoFileExists(t, pidFile)
	b, err := os.ReadFile(filepath.Join(r.logs, "connect-standalone.out"))
	require.NoError(t, err)
	require.NotContains(t, string(b), "panic")

	// Started again (connectors from its store), it resumes after the committed positions.
	msg, code = r.script(standaloneScript, "--daemon", "-c", cfg)
	require.Equal(t, 0, code, msg)
	r.waitHealthy(url)
	appendNumbered(t, in, 1000, 10)
	require.Eventually(t, func() bool { return lines(out) >= 1010 }, 2*time.Minute, 100*time.Millisecond)
	time.Sleep(time.Second)
	require.Equal(t, 1010, lines(out), "a graceful stop committed everything: nothing is sent twice")
	msg, code = r.script(shutdownScript)
	require.Equal(t, 0, code, msg)
}

// TestDistributedScriptsAndEveryAdminCommandRealCluster: connect-distributed.sh --daemon starts
// three real workers of one cluster; every connectAdmin command (the list in `connectAdmin
// help`) runs against them, including dlq list/show/replay end to end; connect-shutdown.sh
// stops one worker, then the rest.
func TestDistributedScriptsAndEveryAdminCommandRealCluster(t *testing.T) {
	r := newRealEnv(t)
	ids := []string{"worker-1", "worker-2", "worker-3"}
	urls := map[string]string{}
	for _, id := range ids {
		port := freeTCPPort(t)
		urls[id] = fmt.Sprintf("http://127.0.0.1:%d", port)
		cfg := writeFile(t, r.dir, id+".yaml", fmt.Sprintf("workerId: %s\nconnectClusterId: %s\nnamesrvAddr: %s\nhttpPort: %d\n"+
			"storePathRootDir: %s\noffsetCommitIntervalMsConfig: 500\nconfigStoreTopic: %s-config\npositionStoreTopic: %s-position\n"+
			"connectStatusTopic: %s-status\nclusterStoreTopic: %s-cluster\ngracefulShutdownTimeoutMillis: 10000\n",
			id, r.clusterID, r.namesrv, port, filepath.Join(r.dir, id), r.clusterID, r.clusterID, r.clusterID, r.clusterID))
		msg, code := r.script(distributedScript, "--daemon", "-c", cfg)
		require.Equal(t, 0, code, msg)
		require.Contains(t, msg, "started worker "+id)
		require.Contains(t, msg, "REST "+urls[id]+" (")
	}
	for _, id := range ids {
		r.waitHealthy(urls[id])
	}
	u1, u2, u3 := urls["worker-1"], urls["worker-2"], urls["worker-3"]
	require.Eventually(t, func() bool {
		var members []string
		if !r.tryJSON(u2, &members, "cluster") {
			return false // a worker may not have caught up yet: ask again
		}
		return len(members) == 3
	}, time.Minute, 250*time.Millisecond, "the three workers form one cluster")

	// Plugins and validation.
	require.Contains(t, r.admin(u1, "plugins"), "file-source")
	require.Contains(t, r.admin(u1, "plugins", "--all"), "TimestampConverter")
	require.Contains(t, r.admin(u1, "plugin-config", "file-source"), "filename")
	in, out := filepath.Join(r.dir, "in.txt"), filepath.Join(r.dir, "out.txt")
	appendNumbered(t, in, 0, 300)
	topic := rmqtest.Name(t, "t")
	src := writeFile(t, r.dir, "src.json", fmt.Sprintf(`{"name":"copy-src","config":{"connector.class":"file-source",`+
		`"filename":%q,"connect.topicname":%q}}`, in, topic))
	sink := writeFile(t, r.dir, "sink.properties", fmt.Sprintf("connector.class=file-sink\nfilename=%s\n"+
		"connect.topicnames=%s\ntask.group.id=%s\n", out, topic, rmqtest.Name(t, "g")))
	bad := writeFile(t, r.dir, "bad.properties", "connector.class=file-sink\nfilename=/x\n")
	r.admin(u1, "validate", "-f", src)
	msg, code := r.adminCode(u1, "validate", "-f", bad, "--name", "bad")
	require.Equal(t, 1, code, "a sink without topics is invalid: %s", msg)
	require.Contains(t, msg, "connect.topicnames")

	// Create through one worker, read through the others.
	r.admin(u1, "create", "-f", src)
	r.admin(u2, "create", "-f", sink, "--name", "copy-sink")
	require.Eventually(t, func() bool { return lines(out) >= 300 }, 2*time.Minute, 100*time.Millisecond)
	require.Contains(t, r.admin(u3, "list"), "copy-sink")
	var st struct {
		Connector struct{ State string }
		Tasks     []struct{ State string }
	}
	r.adminJSON(u3, &st, "status", "copy-src")
	require.Equal(t, "RUNNING", st.Connector.State)
	var cfg map[string]string
	r.adminJSON(u2, &cfg, "config", "copy-src")
	require.Equal(t, topic, cfg["connect.topicname"])
	require.Contains(t, r.admin(u3, "tasks", "copy-src"), in)
	require.Contains(t, r.admin(u1, "task-status", "copy-src", "0"), "RUNNING")
	require.Contains(t, r.admin(u2, "topics", "copy-src"), topic)

	// Update, pause, resume, restart.
	upd := writeFile(t, r.dir, "src2.json", fmt.Sprintf(`{"name":"copy-src","config":{"connector.class":"file-source",`+
		`"filename":%q,"connect.topicname":%q,"batch.size":"100"}}`, in, topic))
	r.admin(u3, "update", "-f", upd)
	r.adminJSON(u3, &cfg, "config", "copy-src")
	require.Equal(t, "100", cfg["batch.size"], "read-your-writes on the worker asked")
	require.Eventually(t, func() bool {
		if !r.tryJSON(u1, &cfg, "config", "copy-src") {
			return false // a worker may not have caught up yet: ask again
		}
		return cfg["batch.size"] == "100"
	}, 30*time.Second, 200*time.Millisecond, "the other workers see the update")
	waitState := func(url, name, state string) {
		require.Eventually(t, func() bool {
			if !r.tryJSON(url, &st, "status", name) {
				return false // a worker may not have caught up yet: ask again
			}
			if st.Connector.State != state {
				return false
			}
			for _, ts := range st.Tasks {
				if ts.State != state {
					return false
				}
			}
			return len(st.Tasks) > 0 || state == "STOPPED" // a stopped connector has no tasks
		}, time.Minute, 200*time.Millisecond, "%s never %s", name, state)
	}
	r.admin(u1, "pause", "copy-sink")
	waitState(u2, "copy-sink", "PAUSED")
	r.admin(u2, "resume", "copy-sink")
	waitState(u3, "copy-sink", "RUNNING")
	r.admin(u1, "restart", "copy-sink")
	r.admin(u1, "restart", "copy-sink", "--include-tasks")
	r.admin(u3, "restart-task", "copy-sink", "0")
	waitState(u1, "copy-sink", "RUNNING")

	// Offsets: get, set and reset need the connector STOPPED.
	r.admin(u2, "stop", "copy-src")
	waitState(u2, "copy-src", "STOPPED")
	var offs struct {
		Offsets []struct {
			Partition map[string]any `json:"partition"`
			Offset    map[string]any `json:"offset"`
		} `json:"offsets"`
	}
	r.adminJSON(u2, &offs, "offsets", "get", "copy-src")
	require.Len(t, offs.Offsets, 1)
	offs.Offsets[0].Offset["position"] = float64(0)
	raw, err := json.Marshal(offs)
	require.NoError(t, err)
	r.admin(u2, "offsets", "set", "copy-src", "-f", writeFile(t, r.dir, "offsets.json", string(raw)))
	r.adminJSON(u2, &offs, "offsets", "get", "copy-src")
	require.EqualValues(t, 0, offs.Offsets[0].Offset["position"])
	r.admin(u2, "offsets", "reset", "copy-src")
	r.adminJSON(u2, &offs, "offsets", "get", "copy-src")
	require.Empty(t, offs.Offsets)

	// Where things run, and log levels.
	holders := 0
	for _, id := range ids {
		var conns map[string]any
		r.adminJSON(urls[id], &conns, "allocated", "connectors")
		if _, ok := conns["copy-sink"]; ok {
			holders++
		}
		r.admin(urls[id], "allocated", "tasks")
		r.admin(urls[id], "allocated")
	}
	require.Equal(t, 1, holders, "copy-sink's connector runs on one worker")
	require.Contains(t, r.admin(u1, "loggers"), "root")
	r.admin(u1, "logger", "connector.copy-sink", "DEBUG")
	require.Contains(t, r.admin(u1, "logger", "connector.copy-sink"), "DEBUG")
	r.admin(u2, "logger", "connector.audit", "WARN", "--cluster")
	for _, u := range []string{u1, u2, u3} {
		require.Eventually(t, func() bool {
			o, c := r.adminCode(u, "logger", "connector.audit")
			return c == 0 && strings.Contains(o, "WARN")
		}, 30*time.Second, 200*time.Millisecond, "cluster-scoped level on %s", u)
	}

	// The dead-letter queue end to end: the lines (JSON strings: the worker's default converter)
	// are not integers, so they fail a sink reading them with the integer converter, go to its
	// DLQ, are listed and shown, and a replay sends them back to the topic, where they fail again.
	dlqTopic := rmqtest.Topic(t, 1) // made beforehand, as an operator would
	badSink := writeFile(t, r.dir, "json-sink.properties", fmt.Sprintf("name=json-sink\nconnector.class=file-sink\n"+
		"filename=%s\nconnect.topicnames=%s\ntask.group.id=%s\nvalue.converter=integer\nerrors.tolerance=all\n"+
		"errors.deadletterqueue.topic.name=%s\n", filepath.Join(r.dir, "never.txt"), topic, rmqtest.Name(t, "g2"), dlqTopic))
	r.admin(u3, "create", "-f", badSink)
	var page struct {
		Topic   string `json:"dlq_topic"`
		Records []struct {
			ID    string `json:"id"`
			Topic string `json:"topic"`
		} `json:"records"`
	}
	require.Eventually(t, func() bool {
		if !r.tryJSON(u1, &page, "dlq", "list", "json-sink", "--limit", "1000") {
			return false // a worker may not have caught up yet: ask again
		}
		return len(page.Records) >= 300
	}, 2*time.Minute, 250*time.Millisecond, "the 300 lines reach the DLQ")
	require.Equal(t, dlqTopic, page.Topic)
	failed := len(page.Records) // 300, more if a restart above sent some lines twice
	require.Equal(t, topic, page.Records[0].Topic)
	shown := r.admin(u2, "dlq", "show", "json-sink", page.Records[0].ID)
	require.Contains(t, shown, "line-00")
	require.Contains(t, shown, "Error:")
	require.Contains(t, r.admin(u2, "dlq", "list", "json-sink", "--limit", "5"), "more: --after")
	ids3 := []string{page.Records[0].ID, page.Records[1].ID, page.Records[2].ID}
	var res struct {
		Replayed []string `json:"replayed"`
		Skipped  []string `json:"skipped"`
	}
	r.adminJSON(u3, &res, append([]string{"dlq", "replay", "json-sink"}, ids3...)...)
	require.ElementsMatch(t, ids3, res.Replayed)
	require.Eventually(t, func() bool {
		if !r.tryJSON(u1, &page, "dlq", "list", "json-sink", "--limit", "1000") {
			return false // a worker may not have caught up yet: ask again
		}
		return len(page.Records) >= failed+3
	}, time.Minute, 250*time.Millisecond, "the replayed records reach the topic, fail again and return to the DLQ")
	r.adminJSON(u1, &res, append([]string{"dlq", "replay", "json-sink"}, ids3...)...)
	require.ElementsMatch(t, ids3, res.Skipped, "replayed once only, whichever worker is asked")
	require.Contains(t, r.admin(u2, "dlq", "replay", "json-sink", ids3[0], "--force"), "replayed 1 record")

	r.admin(u1, "delete", "json-sink")
	require.Eventually(t, func() bool { // another worker reads the delete from the config topic within a second
		_, code = r.adminCode(u2, "status", "json-sink")
		return code == 1
	}, 30*time.Second, 100*time.Millisecond, "deleted everywhere")

	// Every command of `connectAdmin help` has run.
	help := r.admin(u1, "help")
	var want []string
	for _, m := range regexp.MustCompile(`(?m)^  ([a-z-]+)(?: (list|show|replay|get|set|reset)\b)?`).FindAllStringSubmatch(
		help[strings.Index(help, "commands:"):strings.Index(help, "exit codes:")], -1) {
		want = append(want, strings.TrimSpace(m[1]+" "+m[2]))
	}
	sort.Strings(want)
	var missed []string
	for _, c := range want {
		if !r.invoked[c] {
			missed = append(missed, c)
		}
	}
	require.Empty(t, missed, "connectAdmin commands not exercised (help lists %v)", want)

	// connect-shutdown.sh --worker stops that worker alone; the others take its work.
	pids := map[string]int{}
	for _, id := range ids {
		pids[id] = pidOf(t, filepath.Join(r.run, "connect-distributed-"+id+".pid"))
	}
	msg, code = r.script(shutdownScript, "--worker", "worker-3")
	require.Equal(t, 0, code, msg)
	require.False(t, alive(pids["worker-3"]))
	require.True(t, alive(pids["worker-1"]) && alive(pids["worker-2"]))
	require.Eventually(t, func() bool {
		var members []string
		if !r.tryJSON(u1, &members, "cluster") {
			return false // a worker may not have caught up yet: ask again
		}
		return len(members) == 2
	}, time.Minute, 250*time.Millisecond)
	r.admin(u2, "resume", "copy-src")
	appendNumbered(t, in, 300, 10)
	require.Eventually(t, func() bool { return lines(out) >= 310 }, 2*time.Minute, 100*time.Millisecond,
		"the two workers left run the pipeline")
	msg, code = r.script(shutdownScript)
	require.Equal(t, 0, code, msg)
	for _, id := range ids {
		require.False(t, alive(pids[id]), id)
		require.NoFileExists(t, filepath.Join(r.run, "connect-distributed-"+id+".pid"))
	}
}
