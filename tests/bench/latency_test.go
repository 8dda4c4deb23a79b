package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/file"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// Figure 3's load: lines written at latencyRate per second for latencyFor, each about
// latencyLine bytes. file-source polls the file every latencyPoll when it has nothing new.
const (
	latencyRate = 5000
	latencyFor  = 10 * time.Second
	latencyLine = 100
	latencyPoll = 10 * time.Millisecond
)

// BenchmarkEndToEndLatency is figure 3: file-source → RocketMQ → file-sink through one
// worker. The benchmark appends lines at a fixed rate, each carrying its write time in ns;
// a tailer reads the sink's file every millisecond and takes, for each line, the time from
// its write to its first appearance there (the sink's write, after its flush).
//
// To tell the halves apart, a raw consumer in its own group reads the same topic and stamps
// each line when the client hands it over: "topic-" metrics are write → file-source →
// RocketMQ → a consumer, without the worker's sink side.
func BenchmarkEndToEndLatency(b *testing.B) {
	var lats, mid []time.Duration
	var offered float64
	for i := range b.N {
		b.StopTimer()
		l, m, rate := latencyRun(b, i)
		lats = append(lats, l...)
		mid = append(mid, m...)
		offered += rate
	}
	for _, x := range []struct {
		prefix string
		v      []time.Duration
	}{{"", lats}, {"topic-", mid}} {
		slices.Sort(x.v)
		pct := func(p float64) float64 { return float64(x.v[min(len(x.v)-1, int(p*float64(len(x.v))))]) / 1e6 }
		b.ReportMetric(pct(0.50), x.prefix+"p50-ms")
		b.ReportMetric(pct(0.99), x.prefix+"p99-ms")
		b.ReportMetric(float64(x.v[len(x.v)-1])/1e6, x.prefix+"max-ms")
	}
	b.ReportMetric(offered/float64(b.N), "offered-records/s")
	b.ReportMetric(float64(len(lats)), "records")
	reportLoad(b)
}

// latencyRun runs one pipeline and returns every line's latency to the sink's file and to the
// raw consumer, and the rate achieved by the writer.
func latencyRun(b *testing.B, run int) ([]time.Duration, []time.Duration, float64) {
	dir := b.TempDir()
	in, out := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
	f, err := os.Create(in)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	topic := rmqtest.Topic(b, 4)
	h := startHerder(b, nil)
	defer h.stop()
	conv := map[string]string{"key.converter": "string", "value.converter": "string"}
	sink := map[string]string{"connector.class": file.SinkName, file.KeyFilename: out, "connect.topicnames": topic,
		"task.group.id": rmqtest.Group(b)}
	source := map[string]string{"connector.class": file.SourceName, file.KeyFilename: in, file.KeyTopic: topic,
		file.KeyPollInterval: strconv.FormatInt(latencyPoll.Milliseconds(), 10)}
	for k, v := range conv {
		sink[k], source[k] = v, v
	}
	h.create(b, fmt.Sprintf("lat-sink-%d", run), sink)
	h.create(b, fmt.Sprintf("lat-source-%d", run), source)

	total := int(latencyRate * latencyFor.Seconds())
	t := &tailer{path: out, seen: make([]time.Duration, total), stop: make(chan struct{})}
	mid := &tailer{seen: make([]time.Duration, total)}
	cons, err := rmqtest.Client(b).NewConsumer("bench-latency", rmqclient.ConsumerOptions{
		Group: rmqtest.Group(b), Topics: []string{topic}, From: rmqclient.FromFirst, BatchSize: 32,
	}, func(_ context.Context, msgs []*rmqclient.ReceivedMessage) error {
		now := time.Now()
		for _, m := range msgs {
			mid.line(m.Body, now)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	defer cons.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); t.run() }()
	defer func() { close(t.stop); wg.Wait() }()

	// Warm up: the pipeline is ready once a first line has gone all the way through.
	if _, err := fmt.Fprintf(f, "warm %d\n", time.Now().UnixNano()); err != nil {
		b.Fatal(err)
	}
	waitFor(b, 2*time.Minute, 10*time.Millisecond, "warm-up line reached the sink", t.warm)

	b.StartTimer()
	start := time.Now()
	var buf bytes.Buffer
	for written := 0; written < total; {
		due := min(total, int(time.Since(start).Seconds()*latencyRate)+1)
		if due > written {
			buf.Reset()
			now := time.Now().UnixNano()
			for seq := written; seq < due; seq++ {
				line := strconv.Itoa(seq) + " " + strconv.FormatInt(now, 10) + " "
				buf.WriteString(line)
				buf.Write(bytes.Repeat([]byte{'x'}, max(0, latencyLine-1-len(line))))
				buf.WriteByte('\n')
			}
			if _, err := f.Write(buf.Bytes()); err != nil {
				b.Fatal(err)
			}
			written = due
		}
		time.Sleep(time.Millisecond)
	}
	rate := float64(total) / time.Since(start).Seconds()
	waitFor(b, 2*time.Minute, 10*time.Millisecond, "every line reached the sink", func() bool { return t.count() >= total })
	b.StopTimer()
	waitFor(b, time.Minute, 10*time.Millisecond, "every line reached the raw consumer", func() bool { return mid.count() >= total })
	t.mu.Lock()
	defer t.mu.Unlock()
	mid.mu.Lock()
	defer mid.mu.Unlock()
	return slices.Clone(t.seen), slices.Clone(mid.seen), rate
}

// tailer follows the sink's output file and stamps each line's latency when it first sees it
// (line is also fed by the raw consumer, without a file).
type tailer struct {
	path string
	stop chan struct{}

	mu     sync.Mutex
	seen   []time.Duration // by seq; 0 until seen
	n      int
	warmed bool
}

func (t *tailer) warm() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.warmed
}

func (t *tailer) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

func (t *tailer) run() {
	var f *os.File
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	var r *bufio.Reader
	var partial []byte
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
		}
		if f == nil {
			var err error
			if f, err = os.Open(t.path); err != nil {
				continue
			}
			r = bufio.NewReaderSize(f, 1<<20)
		}
		for {
			chunk, err := r.ReadSlice('\n')
			if len(chunk) > 0 {
				partial = append(partial, chunk...)
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if err != nil {
				break // keep partial; the rest of the line comes later
			}
			t.line(partial[:len(partial)-1], time.Now())
			partial = partial[:0]
		}
	}
}

// line records one output line: "<seq> <write ns> x…" or the warm-up line "warm <ns>".
func (t *tailer) line(l []byte, now time.Time) {
	fields := bytes.Fields(l)
	if len(fields) < 2 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if string(fields[0]) == "warm" {
		t.warmed = true
		return
	}
	seq, err1 := strconv.Atoi(string(fields[0]))
	ns, err2 := strconv.ParseInt(string(fields[1]), 10, 64)
	if err1 != nil || err2 != nil || seq < 0 || seq >= len(t.seen) || t.seen[seq] != 0 {
		return // not ours, or a duplicate (delivery is at least once): the first sighting counts
	}
	t.seen[seq] = max(now.Sub(time.Unix(0, ns)), time.Nanosecond)
	t.n++
}
