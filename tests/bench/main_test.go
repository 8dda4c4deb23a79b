package bench

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rmqconnect/rmqconnect/conf"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/file"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/generator"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/replicator"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker"
	"github.com/rmqconnect/rmqconnect/worker/gcfloor"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		// No benchmark selected: there is nothing to run, so no broker is needed.
		os.Exit(m.Run())
	}
	isolateBroker()
	// This process runs with the worker's default heap floor, as the worker's does (conf.Defaults,
	// docs/adr/20261204-gc-heap-floor.md): both sides of each figure measured in it run under it.
	gcfloor.Set(uint64(conf.Defaults().GCHeapFloorMB) << 20)
	// The machine is shared with the broker (and whatever else runs): the load before the
	// run is printed for benchreport's machine table. (Nothing may be printed while a
	// benchmark runs: it would split the benchmark's result line.)
	note("load average before the run", loadAvg())
	code := rmqtest.Run(m)
	for _, dir := range []string{pluginDir, javaDir} {
		if dir != "" {
			_ = os.RemoveAll(dir) // the builds of the run
		}
	}
	os.Exit(code)
}

// Benchmarks get a broker of their own (unless RMQ_NAMESRV or the RMQ_TEST_* knobs of
// rmqtest say otherwise): tests of other packages running at the same time, some of which
// restart or load the shared test broker, would otherwise show up in the figures.
const (
	benchNamesrvPort = "29876"
	benchBrokerPort  = "30911"
)

func isolateBroker() {
	if os.Getenv("RMQ_NAMESRV") != "" || os.Getenv("RMQ_TEST_NAMESRV_PORT") != "" {
		return
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	os.Setenv("RMQ_TEST_NAMESRV_PORT", benchNamesrvPort)
	os.Setenv("RMQ_TEST_BROKER_PORT", benchBrokerPort)
	os.Setenv("RMQ_TEST_DATA_DIR", filepath.Join(cache, "rmqconnect", "bench-broker"))
}

// note prints a line benchreport copies into the machine table ("rmqconnect-bench: k: v").
func note(k, v string) { fmt.Printf("rmqconnect-bench: %s: %s\n", k, v) }

// reportLoad reports the 1-minute load average as the benchmark ends: on a shared 2-core
// machine it says how much else competed with the run.
func reportLoad(b *testing.B) {
	if f := strings.Fields(loadAvg()); len(f) > 0 {
		if v, err := strconv.ParseFloat(f[0], 64); err == nil {
			b.ReportMetric(v, "load-1m")
		}
	}
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ") + " (1, 5, 15 min)"
}

// quiet logs warnings and errors of the in-process worker to stderr.
func quiet() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// registry holds the connectors the in-process benchmarks run; null-sink counts into c.
func registry(b *testing.B, c *generator.Counters) *plugins.Registry {
	b.Helper()
	r := plugins.NewRegistry()
	for _, e := range []struct {
		kind plugins.Kind
		name string
		f    plugins.Factory
	}{
		{plugins.KindSource, generator.SourceName, func() plugins.Connector { return generator.NewSourceConnector() }},
		{plugins.KindSink, generator.SinkName, func() plugins.Connector { return generator.NewSinkConnector(c) }},
		{plugins.KindSource, file.SourceName, func() plugins.Connector { return file.NewSourceConnector() }},
		{plugins.KindSink, file.SinkName, func() plugins.Connector { return file.NewSinkConnector() }},
		{plugins.KindSource, replicator.SourceName, func() plugins.Connector { return replicator.NewSourceConnector() }},
	} {
		if err := r.Register(e.kind, e.name, nil, e.f); err != nil {
			b.Fatal(err)
		}
	}
	return r
}

// herder is an in-process standalone worker.
type herder struct {
	h        *worker.Standalone
	cancel   context.CancelFunc
	done     chan error
	stopOnce sync.Once
	after    func() // run once the worker stopped, when set
}

var herderSeq atomic.Int64

// startHerder runs a standalone worker on the test broker with the benchmark registry. It
// is stopped by b.Cleanup (or earlier by stop).
func startHerder(b *testing.B, c *generator.Counters) *herder {
	b.Helper()
	h, err := worker.NewStandalone(worker.StandaloneConfig{
		WorkerID: fmt.Sprintf("bench-%d", herderSeq.Add(1)), StoreDir: b.TempDir(),
		KeyConverter: "string", ValueConverter: "bytearray",
		StopTimeout: 30 * time.Second, AutoCreate: true, // CommitInterval: the default, as offsetCommitIntervalMsConfig
	}, rmqtest.Client(b), registry(b, c), quiet())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &herder{h: h, cancel: cancel, done: make(chan error, 1)}
	go func() { w.done <- h.Run(ctx) }()
	<-h.Started()
	b.Cleanup(w.stop)
	return w
}

// stop cancels the worker and waits for it; it is idempotent.
func (w *herder) stop() {
	w.stopOnce.Do(func() {
		w.cancel()
		select {
		case <-w.done:
		case <-time.After(60 * time.Second):
		}
		if w.after != nil {
			w.after()
		}
	})
}

func (w *herder) create(b *testing.B, name string, cfg map[string]string) {
	b.Helper()
	if _, err := w.h.CreateConnector(context.Background(), name, cfg, ""); err != nil {
		b.Fatalf("create connector %s: %v", name, err)
	}
}

// waitFor polls cond every step until it holds or timeout passes (then the benchmark fails).
func waitFor(b *testing.B, timeout, step time.Duration, what string, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("%s: not reached within %s", what, timeout)
		}
		time.Sleep(step)
	}
}

// topicCount sums the messages stored in every queue of topic.
func topicCount(b *testing.B, topic string) int64 {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := rmqtest.Client(b)
	qs, err := c.TopicQueues(ctx, topic)
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for _, q := range qs {
		lo, hi, err := c.QueueOffsets(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		n += hi - lo
	}
	return n
}

// fill sends n records of size bytes to topic with a raw producer, in batches like the
// worker's (see sendAll), and returns how long the sends took.
func fill(b *testing.B, topic string, n, size int) time.Duration {
	b.Helper()
	msgs := records(topic, n, size)
	p, err := rmqtest.Client(b).NewProducer("bench-fill", rmqclient.ProducerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	start := time.Now()
	if err := sendAll(context.Background(), p, msgs); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}
