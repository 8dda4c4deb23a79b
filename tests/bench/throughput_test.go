package bench

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/generator"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// The worker's produce batches (worker/source.go): at most this many messages and bytes.
const (
	batchMessages = 128
	batchBytes    = 1 << 20
)

// genKeys is generator-source's default number of distinct keys.
const genKeys = 100

type workload struct {
	name string
	size int // value bytes
	n    int // records per run
}

var sourceLoads = []workload{{"100B", 100, 200_000}, {"1KiB", 1024, 50_000}}

// records are what generator-source task 0 produces for seq 0..n-1 after the worker's
// string key and bytearray value converters: same body, key and timestamp property.
func records(topic string, n, size int) []*rmqclient.Message {
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	out := make([]*rmqclient.Message, n)
	for i := range out {
		k := generator.Key(int64(i), genKeys)
		out[i] = &rmqclient.Message{Topic: topic, Body: generator.Value(0, int64(i), size), Keys: []string{k},
			ShardingKey: k, Properties: map[string]string{"connect.timestamp": ts}}
	}
	return out
}

// sendAll sends msgs in order from one goroutine with synchronous sends, in batches of at
// most batchMessages messages and batchBytes body bytes, retrying a retriable failure for up
// to 30 s: what the worker's source loop does.
func sendAll(ctx context.Context, p *rmqclient.Producer, msgs []*rmqclient.Message) error {
	for start := 0; start < len(msgs); {
		end, size := start+1, len(msgs[start].Body)
		for end < len(msgs) && end-start < batchMessages && size+len(msgs[end].Body) <= batchBytes {
			size += len(msgs[end].Body)
			end++
		}
		if err := sendRetrying(ctx, p, msgs[start:end]); err != nil {
			return err
		}
		start = end
	}
	return nil
}

func sendRetrying(ctx context.Context, p *rmqclient.Producer, batch []*rmqclient.Message) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := p.Send(ctx, batch...)
		if err == nil || !rmqclient.IsRetriable(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sendGenerated is sendAll with the records generated batch by batch inside the timed loop,
// as generator-source makes them: the limit for the runtime alone, connector cost included.
func sendGenerated(ctx context.Context, p *rmqclient.Producer, topic string, n, size int) error {
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	batch := make([]*rmqclient.Message, 0, batchMessages)
	for seq := 0; seq < n; {
		batch = batch[:0]
		for bytes := 0; seq < n && len(batch) < batchMessages && bytes+size <= batchBytes; seq++ {
			k := generator.Key(int64(seq), genKeys)
			batch = append(batch, &rmqclient.Message{Topic: topic, Body: generator.Value(0, int64(seq), size),
				Keys: []string{k}, ShardingKey: k, Properties: map[string]string{"connect.timestamp": ts}})
			bytes += size
		}
		if err := sendRetrying(ctx, p, batch); err != nil {
			return err
		}
	}
	return nil
}

// settle starts every timed run from the same state: no garbage of the run before (the
// process holds both sides, and the pre-generated records are ~100 MB) and a broker that
// has had a moment to write back the run before. Without it a run was up to 40% faster
// after a run of its own kind than after one of another (seen in per-round rates). It then
// waits for the host to be quiet (waitQuiet), as a broker's write-back can take longer.
func settle() {
	runtime.GC()
	time.Sleep(settleTime)
	waitQuiet()
}

const settleTime = time.Second

var warmOnce sync.Once

// warmUp sends some traffic first so that neither side of a comparison pays for the
// broker's JIT warm-up.
func warmUp(b *testing.B) {
	warmOnce.Do(func() {
		topic := rmqtest.Topic(b, 4)
		fill(b, topic, 100_000, 100)
		fill(b, topic, 20_000, 1024)
	})
}

// rounds is how many raw and worker runs a throughput figure pairs; the figure is their
// median, which keeps a burst of load from the shared machine out of it. The order of the
// sides reverses from round to round, and the count is even: a run that follows a run of
// its own kind was seen to be faster, and an odd count gave that to one side once more.
const rounds = 6

var side = flag.String("side", "", "throughput figures: run only the side of this name (raw, raw-gen or "+
	"worker), e.g. to profile it with -cpuprofile; empty runs every side")

// runner is one side of a throughput comparison: a run returning records per second.
type runner struct {
	name string
	run  func() float64
}

// compare runs rounds of every side (the first is the limit, the last the worker; their
// order reverses from round to round) and reports each side's median records/s and MB/s
// for records of size bytes, the ratio of the worker's median to each other side's (metric
// "worker/<side>"), and the min and max of the per-round ratios.
func compare(b *testing.B, size int, sides ...runner) { compareRounds(b, rounds, size, sides...) }

// compareRounds is compare with n rounds (even, as rounds is).
func compareRounds(b *testing.B, n, size int, sides ...runner) {
	defer reportLoad(b)
	rates := make([][]float64, len(sides))
	ratios := make([][]float64, len(sides))
	work := len(sides) - 1
	for i := range n * b.N {
		got := make([]float64, len(sides))
		for j := range sides {
			k := j
			if i%2 == 1 {
				k = len(sides) - 1 - j
			}
			if *side == "" || *side == sides[k].name {
				got[k] = sides[k].run()
				rates[k] = append(rates[k], got[k])
			}
		}
		for k := range work {
			if got[k] > 0 && got[work] > 0 {
				ratios[k] = append(ratios[k], got[work]/got[k])
			}
		}
	}
	for k, sd := range sides {
		if len(rates[k]) > 0 {
			b.ReportMetric(median(rates[k]), sd.name+"-records/s")
			b.ReportMetric(median(rates[k])*float64(size)/1e6, sd.name+"-MB/s")
		}
		if len(ratios[k]) > 0 {
			// The headline ratio is that of the medians, so that it agrees with the two
			// rates reported; the per-round ratios give its spread.
			unit := sides[work].name + "/" + sd.name
			b.ReportMetric(median(rates[work])/median(rates[k]), unit)
			b.ReportMetric(slices.Min(ratios[k]), unit+"-min")
			b.ReportMetric(slices.Max(ratios[k]), unit+"-max")
		}
	}
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// BenchmarkSourceThroughput is figure 1: generator-source → RocketMQ through the worker
// next to a raw producer sending the same records with the same batching (the limit).
// Profile the worker side alone with: -bench SourceThroughput -cpuprofile cpu.out -args -side worker
func BenchmarkSourceThroughput(b *testing.B) {
	for _, w := range sourceLoads {
		b.Run(w.name, func(b *testing.B) {
			b.StopTimer()
			warmUp(b)
			run := 0
			rawRun := func(generate bool) float64 {
				topic := rmqtest.Topic(b, 4)
				var msgs []*rmqclient.Message
				if !generate {
					msgs = records(topic, w.n, w.size)
				}
				settle()
				b.StartTimer()
				start := time.Now()
				p, err := rmqtest.Client(b).NewProducer("bench-raw", rmqclient.ProducerOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if generate {
					err = sendGenerated(context.Background(), p, topic, w.n, w.size)
				} else {
					err = sendAll(context.Background(), p, msgs)
				}
				if err != nil {
					b.Fatal(err)
				}
				d := time.Since(start)
				b.StopTimer()
				_ = p.Close()
				waitTopic(b, topic, int64(w.n), time.Minute)
				return float64(w.n) / d.Seconds()
			}
			compare(b, w.size, runner{"raw", func() float64 { return rawRun(false) }},
				runner{"raw-gen", func() float64 { return rawRun(true) }}, runner{"worker", func() float64 {
					h := startHerder(b, nil)
					defer h.stop()
					topic := rmqtest.Topic(b, 4)
					run++
					settle()
					b.StartTimer()
					start := time.Now()
					h.create(b, fmt.Sprintf("gen-%d", run), map[string]string{
						"connector.class": generator.SourceName, "connect.topicname": topic, "max.tasks": "1",
						"record.size": strconv.Itoa(w.size), "count": strconv.Itoa(w.n),
					})
					waitTopic(b, topic, int64(w.n), 5*time.Minute)
					d := time.Since(start)
					b.StopTimer()
					return float64(w.n) / d.Seconds()
				}})
		})
	}
}

// waitTopic waits until topic stores want messages: it polls the broker every 100 ms and,
// once 90% are there, every 5 ms, so the finish is seen within a few ms for few queries.
func waitTopic(b *testing.B, topic string, want int64, timeout time.Duration) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := topicCount(b, topic)
		if got >= want {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("topic %s holds %d of %d messages after %s", topic, got, want, timeout)
		}
		if got*10 >= want*9 {
			time.Sleep(5 * time.Millisecond)
		} else {
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// sinkLoad is the pre-filled topic of figure 2.
var sinkLoad = workload{"100B", 100, 200_000}

// Consumer settings of a worker sink task (worker/sink.go, worker/connconfig.go defaults).
const (
	sinkBatch      = 32
	sinkGoroutines = 4
)

var (
	sinkTopicOnce sync.Once
	sinkTopic     string
)

// filledTopic is one topic pre-filled with sinkLoad, shared by the raw and worker runs.
func filledTopic(b *testing.B) string {
	sinkTopicOnce.Do(func() {
		warmUp(b)
		sinkTopic = rmqtest.Topic(b, 4)
		fill(b, sinkTopic, sinkLoad.n, sinkLoad.size)
		waitTopic(b, sinkTopic, int64(sinkLoad.n), time.Minute)
	})
	if sinkTopic == "" {
		b.Fatal("the sink topic could not be pre-filled (see the first failure)")
	}
	return sinkTopic
}

// BenchmarkSinkThroughput is figure 2: a pre-filled topic → null-sink through the worker
// (which reads by explicit pulls) next to the push consumer the sink used before (an
// rmqclient push consumer with the same batch size and goroutines) and RocketMQ's Java lite
// pull consumer, each reading the same topic with a fresh group. All are timed from the
// first record delivered to the last, so consumer start and first rebalance (noisy) stay
// out; the CPU of each side is counted over the same span, and the host's steal over the
// whole run.
func BenchmarkSinkThroughput(b *testing.B) {
	w := sinkLoad
	b.Run(w.name, func(b *testing.B) {
		b.StopTimer()
		topic := filledTopic(b)
		stats := newSideStats()
		defer stats.report(b)
		run := 0
		sides := []runner{{"push", func() float64 {
			var got, first atomic.Int64
			var cpu0 atomic.Int64
			settle()
			steal := startSteal()
			b.StartTimer()
			c, err := rmqtest.Client(b).NewConsumer("bench-raw", rmqclient.ConsumerOptions{
				Group: rmqtest.Group(b), Topics: []string{topic}, From: rmqclient.FromFirst,
				BatchSize: sinkBatch, Goroutines: sinkGoroutines,
			}, func(_ context.Context, msgs []*rmqclient.ReceivedMessage) error {
				if first.CompareAndSwap(0, time.Now().UnixNano()) {
					cpu0.Store(int64(selfCPU()))
				}
				got.Add(int64(len(msgs)))
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			waitFor(b, 5*time.Minute, 2*time.Millisecond, "push consumer read the topic", func() bool {
				return got.Load() >= int64(w.n)
			})
			d := time.Since(time.Unix(0, first.Load()))
			cpu := selfCPU() - time.Duration(cpu0.Load())
			b.StopTimer()
			_ = c.Close()
			rate := float64(w.n) / d.Seconds()
			stats.add("push", rate, cpu.Seconds(), w.n, steal())
			return rate
		}}}
		if j, err := startJava(b, topic, w.n); err != nil {
			note("figure 2 java side skipped", err.Error())
		} else {
			defer stopJava()
			sides = append(sides, runner{"java", func() float64 {
				settle()
				steal := startSteal()
				b.StartTimer()
				n, secs, cpu, err := j.read(rmqtest.Group(b))
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				stats.add("java", float64(n)/secs, cpu, n, steal())
				return float64(n) / secs
			}})
		}
		sides = append(sides, runner{"worker", func() float64 {
			var c generator.Counters
			h := startHerder(b, &c)
			defer h.stop()
			run++
			settle()
			steal := startSteal()
			b.StartTimer()
			h.create(b, fmt.Sprintf("null-%d", run), map[string]string{
				"connector.class": generator.SinkName, "connect.topicnames": topic, "max.tasks": "1",
				"task.group.id": rmqtest.Group(b),
			})
			waitFor(b, 5*time.Minute, time.Millisecond, "null-sink got a first record", func() bool {
				return c.Records.Load() > 0
			})
			start, cpu0 := time.Now(), selfCPU()
			waitFor(b, 5*time.Minute, 2*time.Millisecond, "null-sink read the topic", func() bool {
				return c.Records.Load() >= int64(w.n)
			})
			d, cpu := time.Since(start), selfCPU()-cpu0
			b.StopTimer()
			rate := float64(w.n) / d.Seconds()
			stats.add("worker", rate, cpu.Seconds(), w.n, steal())
			return rate
		}})
		compare(b, w.size, sides...)
	})
}
