package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/generator"
	"github.com/rmqconnect/rmqconnect/plugins/external"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker"
)

// Out-of-process plugins (docs/plugins.md): the example plugin serves the generator source
// and the null sink as example-generator-source and example-null-sink, so the same code runs
// built in and through the plugin protocol.

// pluginRounds is how many rounds the plugin/builtin figures pair: twice rounds. A round of
// either takes about a second, and the rounds' ratios spread widely on this 2-core host
// (0.47–1.28 in one run of the sink figure's 6 rounds, the built-in side's rounds alone
// 193k–283k records/s): more of them narrow the medians' run-to-run spread.
const pluginRounds = 2 * rounds

var (
	pluginOnce sync.Once
	pluginDir  string
	pluginErr  error
)

// pluginManager builds the example plugin (once per run) and loads it into reg.
func pluginManager(b *testing.B, reg *plugins.Registry) *external.Manager {
	b.Helper()
	pluginOnce.Do(func() {
		if pluginDir, pluginErr = os.MkdirTemp("", "rmqc-bench-plugin-"); pluginErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(pluginDir, "lines"),
			"github.com/rmqconnect/rmqconnect/plugins/examples/lines").CombinedOutput()
		if err != nil {
			pluginErr = fmt.Errorf("build the example plugin: %v\n%s", err, out)
		}
	})
	if pluginErr != nil {
		b.Fatal(pluginErr)
	}
	m := external.New(reg, external.Options{Dirs: []string{pluginDir}, Logger: quiet()})
	b.Cleanup(m.Close)
	rep, err := m.Reload(context.Background())
	if err != nil || len(rep.Refused) > 0 {
		b.Fatalf("load the example plugin: %v %v", err, rep.Refused)
	}
	return m
}

// pluginHerder is startHerder with the example plugin's connectors registered too.
func pluginHerder(b *testing.B) *herder {
	b.Helper()
	reg := registry(b, nil)
	m := pluginManager(b, reg)
	h, err := worker.NewStandalone(worker.StandaloneConfig{
		WorkerID: fmt.Sprintf("bench-%d", herderSeq.Add(1)), StoreDir: b.TempDir(),
		KeyConverter: "string", ValueConverter: "bytearray", StopTimeout: 30 * time.Second, AutoCreate: true,
	}, rmqtest.Client(b), reg, quiet())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	// The manager goes with its worker: its Validate process would otherwise stay until the
	// benchmark ends, one more for every round.
	w := &herder{h: h, cancel: cancel, done: make(chan error, 1), after: m.Close}
	go func() { w.done <- h.Run(ctx) }()
	<-h.Started()
	b.Cleanup(w.stop)
	return w
}

// sinkSent reads the worker's rmqconnect_sink_record_send_total of a connector.
func sinkSent(b *testing.B, reg *prometheus.Registry, connector string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() != "rmqconnect_sink_record_send_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "connector" && l.GetValue() == connector {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

// histStats returns the count and sum of a connector's histogram of the worker's metrics.
func histStats(b *testing.B, reg *prometheus.Registry, name, connector string) (count, sum float64) {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "connector" && l.GetValue() == connector {
					count += float64(m.GetHistogram().GetSampleCount())
					sum += m.GetHistogram().GetSampleSum()
				}
			}
		}
	}
	return count, sum
}

// BenchmarkPluginSourceThroughput: generator-source → RocketMQ built in and as a plugin
// (metric plugin/builtin, target ≥ 0.8), with the host's CPU steal over the runs.
func BenchmarkPluginSourceThroughput(b *testing.B) {
	w := sourceLoads[0]
	b.StopTimer()
	warmUp(b)
	steal := startSteal()
	run := 0
	side := func(class string) func() float64 {
		return func() float64 {
			h := pluginHerder(b)
			defer h.stop()
			topic := rmqtest.Topic(b, 4)
			run++
			settle()
			b.StartTimer()
			start := time.Now()
			h.create(b, fmt.Sprintf("gen-%d", run), map[string]string{
				"connector.class": class, "connect.topicname": topic, "max.tasks": "1",
				"record.size": strconv.Itoa(w.size), "count": strconv.Itoa(w.n),
			})
			waitTopic(b, topic, int64(w.n), 5*time.Minute)
			d := time.Since(start)
			b.StopTimer()
			return float64(w.n) / d.Seconds()
		}
	}
	steals := sideSteal{}
	compareRounds(b, pluginRounds, w.size, steals.wrap(runner{"builtin", side(generator.SourceName)}), steals.wrap(runner{"plugin", side("example-generator-source")}))
	steals.report(b)
	b.ReportMetric(steal(), "cpu-steal-%")
}

// BenchmarkPluginSinkThroughput: a pre-filled topic → null-sink built in and as a plugin
// (metric plugin/builtin, target ≥ 0.8), both timed by the worker's sink send counter from
// the first record to the last.
func BenchmarkPluginSinkThroughput(b *testing.B) {
	w := sinkLoad
	b.StopTimer()
	topic := filledTopic(b)
	steal := startSteal()
	run := 0
	side := func(class string) func() float64 {
		return func() float64 {
			h := pluginHerder(b)
			defer h.stop()
			metrics := prometheus.NewRegistry()
			metrics.MustRegister(h.h.Collector())
			run++
			name := fmt.Sprintf("null-%d", run)
			settle()
			b.StartTimer()
			h.create(b, name, map[string]string{
				"connector.class": class, "connect.topicnames": topic, "max.tasks": "1",
				"task.group.id": rmqtest.Group(b),
			})
			waitFor(b, 5*time.Minute, time.Millisecond, "a first record", func() bool { return sinkSent(b, metrics, name) > 0 })
			start := time.Now()
			waitFor(b, 5*time.Minute, 5*time.Millisecond, "the topic read", func() bool {
				return sinkSent(b, metrics, name) >= float64(w.n)
			})
			d := time.Since(start)
			b.StopTimer()
			puts, putSecs := histStats(b, metrics, "rmqconnect_sink_put_batch_size", name)
			_, putTime := histStats(b, metrics, "rmqconnect_sink_put_batch_time_seconds", name)
			flushes, flushTime := histStats(b, metrics, "rmqconnect_offset_commit_time_seconds", name)
			note(fmt.Sprintf("plugin sink round, %s", class), fmt.Sprintf(
				"%.0f records/s, %.0f Puts of %.0f records in %.2f ms, %.0f flushes in %.2f ms", float64(w.n)/d.Seconds(),
				puts, putSecs/max(puts, 1), putTime/max(puts, 1)*1000, flushes, flushTime/max(flushes, 1)*1000))
			return float64(w.n) / d.Seconds()
		}
	}
	steals := sideSteal{}
	compareRounds(b, pluginRounds, w.size, steals.wrap(runner{"builtin", side(generator.SinkName)}), steals.wrap(runner{"plugin", side("example-null-sink")}))
	steals.report(b)
	b.ReportMetric(steal(), "cpu-steal-%")
}

// BenchmarkPluginProcess: the time from a task's Start call to its first Poll answer (a
// process start, the handshake and the task's Start), and the resident memory one plugin
// task process adds.
func BenchmarkPluginProcess(b *testing.B) {
	b.StopTimer()
	reg := plugins.NewRegistry()
	m := pluginManager(b, reg)
	steal := startSteal()
	c, err := reg.NewSource("example-generator-source")
	if err != nil {
		b.Fatal(err)
	}
	cfg := map[string]string{"connect.topicname": "t", "record.size": "100", "count": "1000"}
	var total time.Duration
	var rss []float64
	const n = 20
	for range n * b.N {
		task := c.NewSourceTask()
		tctx := conformance.SourceContextFor(b, c.Spec(), nil, cfg)
		start := time.Now()
		if err := task.Start(context.Background(), tctx, cfg); err != nil {
			b.Fatal(err)
		}
		if _, err := task.Poll(context.Background()); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		for _, p := range m.Processes() {
			rss = append(rss, rssMB(b, p.PID))
		}
		if err := task.Stop(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(n*b.N), "ms/start")
	b.ReportMetric(median(rss), "MB-rss/process")
	b.ReportMetric(steal(), "cpu-steal-%")
}

// rssMB reads VmRSS of a process.
func rssMB(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Fatalf("no VmRSS for pid %d", pid)
	return 0
}
