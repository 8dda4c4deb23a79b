package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

// Figure 2's measures beyond the rate: CPU-seconds per 100k records of each side (from its
// first record to its last) and the host's CPU steal during each run (from /proc/stat).

// sideStats collects per-round CPU and steal of each side of one figure.
type sideStats struct {
	mu    sync.Mutex
	cpu   map[string][]float64 // CPU-seconds per 100k records
	steal map[string][]float64 // percent of all CPU time stolen during the run
}

func newSideStats() *sideStats {
	return &sideStats{cpu: map[string][]float64{}, steal: map[string][]float64{}}
}

func (s *sideStats) add(side string, rate, cpuSeconds float64, records int, steal float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cpu[side] = append(s.cpu[side], cpuSeconds/float64(records)*100_000)
	s.steal[side] = append(s.steal[side], steal)
	note(fmt.Sprintf("figure 2 round, %s", side), fmt.Sprintf("%.0f records/s, cpu-s/100k %.3f, steal %.1f%%",
		rate, cpuSeconds/float64(records)*100_000, steal))
}

func (s *sideStats) report(b *testing.B) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for side, v := range s.cpu {
		b.ReportMetric(median(v), side+"-cpu-s/100k")
	}
	for side, v := range s.steal {
		b.ReportMetric(median(v), side+"-steal%")
		b.ReportMetric(maxOf(v), side+"-steal%-max")
	}
}

func maxOf(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

// selfCPU is this process's user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// javaPull is RocketMQ's Java lite pull consumer (tests/bench/java/LitePullBench.java),
// compiled once with javac against the jars of the broker's distribution and kept running
// across rounds, so its JIT is warm after the first (untimed) read.
type javaPull struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

var (
	javaOnce sync.Once
	javaSide *javaPull
	javaErr  error
	javaDir  string // the compiled Java side, removed when the run ends
)

// rocketmqLib is the lib directory of the RocketMQ distribution rocketmq-local.sh fetched.
func rocketmqLib() string {
	if d := os.Getenv("RMQ_CACHE_DIR"); d != "" {
		return filepath.Join(d, "lib")
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "rmqconnect", "rocketmq-5.3.3", "lib")
}

// startJava compiles and starts the Java side reading topic, or says why it cannot.
func startJava(b *testing.B, topic string, n int) (*javaPull, error) {
	javaOnce.Do(func() {
		lib := rocketmqLib()
		if _, err := os.Stat(filepath.Join(lib, "rocketmq-client-5.3.3.jar")); err != nil {
			javaErr = fmt.Errorf("no RocketMQ client jar: %w", err)
			return
		}
		dir, err := os.MkdirTemp("", "rmqc-java-bench")
		if err != nil {
			javaErr = err
			return
		}
		javaDir = dir
		cp := filepath.Join(lib, "*")
		if out, err := exec.Command("javac", "-d", dir, "-cp", cp, "java/LitePullBench.java").CombinedOutput(); err != nil {
			javaErr = fmt.Errorf("javac: %v: %s", err, out)
			return
		}
		cmd := exec.Command("java", "-Xms256m", "-Xmx256m", "-Drocketmq.client.logUseSlf4j=false",
			"-Drocketmq.client.logRoot="+dir, "-cp", dir+":"+cp, "LitePullBench",
			rmqtest.NameServer(b), topic, strconv.Itoa(n), strconv.Itoa(sinkBatch))
		in, err := cmd.StdinPipe()
		if err != nil {
			javaErr = err
			return
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			javaErr = err
			return
		}
		cmd.Stderr = io.Discard
		if err := cmd.Start(); err != nil {
			javaErr = err
			return
		}
		javaSide = &javaPull{cmd: cmd, in: in, out: bufio.NewScanner(out)}
		// Warm up: one untimed read of the whole topic.
		if _, _, _, err := javaSide.read(rmqtest.Group(b)); err != nil {
			javaErr = fmt.Errorf("warm-up read: %w", err)
		}
	})
	return javaSide, javaErr
}

// read has the JVM read the topic with a fresh group and returns what it measured.
func (j *javaPull) read(group string) (records int, seconds, cpuSeconds float64, err error) {
	if _, err := fmt.Fprintln(j.in, group); err != nil {
		return 0, 0, 0, err
	}
	var line string
	for !strings.HasPrefix(line, "records=") { // the client's logging may write to stdout too
		if !j.out.Scan() {
			return 0, 0, 0, fmt.Errorf("java side ended: %v", j.out.Err())
		}
		line = j.out.Text()
	}
	for _, kv := range strings.Fields(line) {
		k, v, _ := strings.Cut(kv, "=")
		f, _ := strconv.ParseFloat(v, 64)
		switch k {
		case "records":
			records = int(f)
		case "seconds":
			seconds = f
		case "cpu_seconds":
			cpuSeconds = f
		}
	}
	if records == 0 || seconds <= 0 {
		return 0, 0, 0, fmt.Errorf("unexpected java output %q", line)
	}
	return records, seconds, cpuSeconds, nil
}

// stopJava ends the JVM (its stdin closes, it finishes its loop).
func stopJava() {
	if javaSide == nil {
		return
	}
	_ = javaSide.in.Close()
	done := make(chan struct{})
	go func() { _ = javaSide.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = javaSide.cmd.Process.Kill()
		<-done
	}
	javaSide = nil
}
