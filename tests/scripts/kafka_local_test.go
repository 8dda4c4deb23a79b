package scripts

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const kafkaLocalScript = "../../distribution/bin/kafka-local.sh"

// fakeJavaEnv set makes the test binary a fake Kafka broker (TestMain).
const fakeJavaEnv = "RMQCONNECT_TEST_FAKE_JAVA"

// fakeJavaScript is the java kafka-local.sh finds on PATH: `java -version` says 17, anything else
// runs this test binary as fakeKafka (GORACE as for fakeWorkerScript).
const fakeJavaScript = `#!/bin/sh
case "$1" in -version) echo 'openjdk version "17.0.9" 2023-10-17' >&2; exit 0 ;; esac
export ` + fakeJavaEnv + `=1
export GORACE="${GORACE:+$GORACE }atexit_sleep_ms=0"
exec %q "$@"
`

// fakeKafka stands in for `java ... kafka.Kafka server.properties` as kafka-local.sh launches it:
// it listens on the PLAINTEXT port of server.properties and, after FAKE_KAFKA_READY_AFTER (a Go
// duration; "never": not at all), appends Kafka's "Kafka Server started" line to the log4j file
// -Dlog4j.configuration names. It runs until SIGTERM.
func fakeKafka() int {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	args := os.Args[1:]
	var log4j string
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "-Dlog4j.configuration=file:"); ok {
			log4j = v
		}
	}
	port := property(args[len(args)-1], "listeners")
	port = port[strings.Index(port, "PLAINTEXT://127.0.0.1:")+len("PLAINTEXT://127.0.0.1:"):]
	port, _, _ = strings.Cut(port, ",")
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer ln.Close()
	fmt.Println("fake kafka listening on", ln.Addr())
	ready := make(<-chan time.Time)
	if after := os.Getenv("FAKE_KAFKA_READY_AFTER"); after != "never" {
		d, _ := time.ParseDuration(after)
		ready = time.After(d)
	}
	for {
		select {
		case <-ready:
			f, err := os.OpenFile(property(log4j, "log4j.appender.file.File"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			fmt.Fprintf(f, "[%s] INFO [KafkaRaftServer nodeId=1] Kafka Server started (kafka.server.KafkaRaftServer)\n",
				time.Now().Format("2006-01-02 15:04:05,000"))
			f.Close()
		case <-term:
			return 0
		}
	}
}

// property returns key's value in the properties file path ("" when missing).
func property(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), "="); ok && k == key {
			return v
		}
	}
	return ""
}

// A server.log line from an earlier run does not make start report the broker ready: only a
// line this run writes does.
func TestKafkaLocalStartWaitsForThisRunsLogLine(t *testing.T) {
	dir := t.TempDir()
	self, err := os.Executable()
	require.NoError(t, err)
	bin := filepath.Join(dir, "bin")
	require.NoError(t, os.Mkdir(bin, 0o755))
	writeExec(t, bin, "java", fmt.Sprintf(fakeJavaScript, self))
	data, cache := filepath.Join(dir, "kafka"), filepath.Join(dir, "cache")
	require.NoError(t, os.MkdirAll(filepath.Join(data, "logs"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(data, "log"), 0o755))
	require.NoError(t, os.MkdirAll(cache, 0o755))
	writeFile(t, cache, ".complete", "3.9.1\n")                                // jars "fetched"
	writeFile(t, filepath.Join(data, "log"), "meta.properties", "node.id=1\n") // storage "formatted"
	serverLog := writeFile(t, filepath.Join(data, "logs"), "server.log",
		"[2024-01-01 00:00:00,000] INFO [KafkaRaftServer nodeId=1] Kafka Server started (kafka.server.KafkaRaftServer)\n"+
			"[2024-01-01 00:10:00,000] INFO [KafkaRaftServer nodeId=1] shut down completed (kafka.server.KafkaRaftServer)\n")
	env := []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "KAFKA_DATA_DIR=" + data, "KAFKA_CACHE_DIR=" + cache,
		fmt.Sprintf("KAFKA_PORT=%d", freeTCPPort(t)), fmt.Sprintf("KAFKA_CONTROLLER_PORT=%d", freeTCPPort(t)),
		"KAFKA_STOP_TIMEOUT=10"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KAFKA_") && !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	run := func(extra []string, arg string) (string, int) {
		t.Helper()
		return runCmd(t, append(append([]string{}, env...), extra...), "bash", kafkaLocalScript, arg)
	}
	pid := func() int {
		b, _ := os.ReadFile(filepath.Join(data, "run", "kafka.pid"))
		p, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return p
	}
	t.Cleanup(func() {
		if p := pid(); p > 0 && alive(p) {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	})
	started := func() int { return strings.Count(mustRead(t, serverLog), "Kafka Server started") }

	// The broker listens but never logs that it started: start times out.
	out, code := run([]string{"FAKE_KAFKA_READY_AFTER=never", "KAFKA_START_TIMEOUT=2"}, "start")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "kafka not ready on 127.0.0.1:")
	require.NotContains(t, out, "shut down completed", "the tail shown is this run's log")
	killed := pid()
	require.Eventually(t, func() bool { return !alive(killed) }, 10*time.Second, 20*time.Millisecond)

	// It logs it after a while: start returns once it has.
	out, code = run([]string{"FAKE_KAFKA_READY_AFTER=1s", "KAFKA_START_TIMEOUT=60"}, "start")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "ready in")
	require.Equal(t, 2, started(), "start returned before the broker said it started")
	out, code = run(nil, "stop")
	require.Equal(t, 0, code, out)
}
