package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/replicator"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// The replicator benchmark copies one topic from a second cluster (A, rmqtest.Second) into
// the bench broker (B) in rounds, alternating the sides as compare does: a raw pipe (one
// goroutine pulling 32 messages per request round robin over the queues up to the
// replicator's poll batch, a second one sending each queue's messages in the worker's
// batches to the same queue index on B while the next batch is read, as the worker
// overlaps polling and sending; the same client library) and one rocketmq-replicator task
// of a fresh worker, each into a topic of its own. Both sides are timed alike, by watching
// their target topic from the first message to the last (timeCopy); the replicator's start
// (create to first message) is reported apart as repl-start-s. Two rounds of each side run
// first, unreported (the second cluster's broker warms up). Then it measures replication lag
// at a fixed rate.
const (
	replBenchMessages = 100_000
	replBenchSize     = 256
	replPollBatch     = 2048 // the replicator's poll.batch.size default
	replLagRate       = 2000 // messages per second
	replLagSeconds    = 10
	replWarmRounds    = 2 // unreported rounds of each side before the measured ones
)

// sideSteal keeps the CPU steal of every run of each side of a comparison, so that a
// figure can be read next to the share of the machine each side had.
type sideSteal map[string][]float64

// wrap measures the steal over each run of r.
func (s sideSteal) wrap(r runner) runner {
	return runner{r.name, func() float64 {
		steal := startSteal()
		v := r.run()
		if st := steal(); st >= 0 {
			s[r.name] = append(s[r.name], st)
		}
		return v
	}}
}

// report reports the median steal of each side's runs as <side>-steal-%.
func (s sideSteal) report(b *testing.B) {
	for name, v := range s {
		if len(v) > 0 {
			b.ReportMetric(median(v), name+"-steal-%")
		}
	}
}

func BenchmarkReplicator(b *testing.B) {
	a := rmqtest.SecondClient(b)
	dst := rmqtest.Client(b)
	ctx := context.Background()
	src := rmqtest.SecondTopic(b, 4)
	steal0, total0 := cpuTimes()
	fillSource(b, a, src, 0, replBenchMessages)
	b.StopTimer()
	b.ResetTimer()
	// The copies read up to the queues' ends as the broker reports them, which may lag the
	// last sends while its dispatcher indexes them.
	waitFor(b, time.Minute, 20*time.Millisecond, "the source topic indexed", func() bool {
		return countOn(a, src) >= replBenchMessages
	})

	cfg := map[string]string{"connector.class": replicator.SourceName, "src.endpoint": rmqtest.Second(b),
		"target.cluster.alias": "B", "dest.endpoint": rmqtest.NameServer(b), "max.tasks": "1"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range cfg {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	steals := sideSteal{}
	run := 0
	var starts []float64 // the replicator's seconds from create to a first record on B
	raw := runner{"raw", func() float64 {
		topic := rmqtest.Name(b, "raw")
		if err := dst.CreateTopic(ctx, rmqclient.TopicSpec{Name: topic, Queues: 4}); err != nil {
			b.Fatal(err)
		}
		settle()
		b.StartTimer()
		var g errgroup.Group
		g.Go(func() error { return rawPipe(a, dst, src, topic, replBenchMessages) })
		_, d := timeCopy(b, dst, topic)
		b.StopTimer()
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
		return float64(replBenchMessages) / d.Seconds()
	}}
	repl := runner{"repl", func() float64 {
		// Each round replicates under an alias of its own, so into a topic of its own, which
		// exists before the clock starts (as the raw side's does).
		run++
		alias := "A" + strconv.Itoa(run)
		target := alias + "_" + src
		if err := dst.CreateTopic(ctx, rmqclient.TopicSpec{Name: target, Queues: 4}); err != nil {
			b.Fatal(err)
		}
		w := startHerder(b, nil)
		defer w.stop()
		settle()
		b.StartTimer()
		w.create(b, "repl-"+alias, with("source.topics", src, "source.cluster.alias", alias))
		first, d := timeCopy(b, dst, target)
		b.StopTimer()
		starts = append(starts, first.Seconds())
		return float64(replBenchMessages) / d.Seconds()
	}}
	// Rounds of each side before the measured ones, unreported: the second cluster has just
	// started, and the JIT warm-up of its broker would otherwise fall on the first measured
	// rounds. Measured per round from /proc: the source broker spent 2-4 times the CPU a
	// message of the later rounds in the first two rounds of each side, and a side's own
	// requests warm up apart (after four raw copies, the first replicator round still cost the
	// source broker 13-20 µs a message against 5-6 later).
	for range replWarmRounds {
		raw.run()
		repl.run()
	}
	starts = nil
	b.ResetTimer()
	compare(b, replBenchSize, steals.wrap(raw), steals.wrap(repl))
	b.ReportMetric(median(starts), "repl-start-s")
	steals.report(b)

	// Lag at a fixed rate: a topic written at replLagRate while its replicator runs.
	w := startHerder(b, nil)
	lagTopic := rmqtest.SecondTopic(b, 4)
	fillSource(b, a, lagTopic, 0, 1)
	w.create(b, "repl-lag", with("source.topics", lagTopic, "source.cluster.alias", "A"))
	waitFor(b, time.Minute, 20*time.Millisecond, "lag replicator running", func() bool { return countOn(dst, "A_"+lagTopic) >= 1 })
	total := replLagRate * replLagSeconds
	tick := time.NewTicker(10 * time.Millisecond)
	for i := 1; i <= total; i += replLagRate / 100 {
		<-tick.C
		fillSource(b, a, lagTopic, i, min(i+replLagRate/100, total+1))
	}
	tick.Stop()
	waitFor(b, 2*time.Minute, 20*time.Millisecond, "lag topic replicated", func() bool {
		return countOn(dst, "A_"+lagTopic) >= int64(total+1)
	})
	lags := replLags(b, dst, "A_"+lagTopic)
	steal := stealPercent(steal0, total0)

	b.ReportMetric(percentile(lags, 50), "lag-p50-ms")
	b.ReportMetric(percentile(lags, 99), "lag-p99-ms")
	b.ReportMetric(steal, "steal-%")
}

// timeCopy watches topic on c fill up to replBenchMessages (looking every 20 ms, on both
// sides alike) and returns how long it took until the first message arrived and from there
// until the last: the throughput of a copy, without what each side does before it sends
// (the replicator's start, reported apart).
func timeCopy(b *testing.B, c *rmqclient.Client, topic string) (first, copying time.Duration) {
	b.Helper()
	start := time.Now()
	waitFor(b, 10*time.Minute, 20*time.Millisecond, "a first message copied", func() bool { return countOn(c, topic) > 0 })
	t1 := time.Now()
	waitFor(b, 10*time.Minute, 20*time.Millisecond, "every message copied", func() bool {
		return countOn(c, topic) >= replBenchMessages
	})
	return t1.Sub(start), time.Since(t1)
}

// fillSource sends messages [from, to) of replBenchSize bytes with a key, a tag and a
// property to topic on the cluster of c.
func fillSource(b *testing.B, c *rmqclient.Client, topic string, from, to int) {
	b.Helper()
	p, err := c.NewProducer("bench-repl-fill", rmqclient.ProducerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	msgs := make([]*rmqclient.Message, 0, to-from)
	body := strings.Repeat("r", replBenchSize)
	for i := from; i < to; i++ {
		msgs = append(msgs, &rmqclient.Message{Topic: topic, Body: []byte(body), Keys: []string{"k" + strconv.Itoa(i)}, Tag: "t",
			Properties: map[string]string{"i": strconv.Itoa(i)}})
	}
	if err := sendAll(context.Background(), p, msgs); err != nil {
		b.Fatal(err)
	}
}

// rawPipe copies n messages of topic src on a to dst on b with the same library calls the
// replicator makes, without the worker: one goroutine reads batches of up to
// replPollBatch messages (32 per pull, round robin over the queues) while the other sends
// the batch before, each queue's messages in the worker's batches to the same queue index.
func rawPipe(a, dst *rmqclient.Client, src, topic string, n int) error {
	ctx := context.Background()
	qs, err := a.TopicQueues(ctx, src)
	if err != nil {
		return err
	}
	r := a.NewReader("bench-raw")
	defer r.Close()
	p, err := dst.NewProducer("bench-raw", rmqclient.ProducerOptions{HashByKey: true})
	if err != nil {
		return err
	}
	defer p.Close()
	next := make([]int64, len(qs))
	ends := make([]int64, len(qs))
	for i, q := range qs {
		if next[i], ends[i], err = a.QueueOffsets(ctx, q); err != nil {
			return err
		}
	}
	batches := make(chan [][]*rmqclient.Message, 1)
	var g errgroup.Group
	g.Go(func() error {
		for per := range batches {
			for _, msgs := range per {
				if len(msgs) > 0 {
					if err := sendAll(ctx, p, msgs); err != nil {
						for range batches {
						}
						return err
					}
				}
			}
		}
		return nil
	})
	readErr := func() error {
		defer close(batches)
		for copied := 0; copied < n; {
			per := make([][]*rmqclient.Message, len(qs))
			polled := 0
			for polled < replPollBatch {
				progressed := false
				for i, q := range qs {
					if next[i] >= ends[i] || polled >= replPollBatch {
						continue
					}
					msgs, nx, err := r.ReadBelow(ctx, q, next[i], ends[i], 32)
					if err != nil {
						return err
					}
					next[i] = nx
					for _, m := range msgs {
						per[i] = append(per[i], &rmqclient.Message{Topic: topic, Body: m.Body, Keys: m.Keys, Tag: m.Tag,
							Properties: m.Properties, QueueHint: i + 1})
					}
					polled += len(msgs)
					progressed = progressed || len(msgs) > 0
				}
				if !progressed {
					break
				}
			}
			if polled == 0 {
				return fmt.Errorf("raw pipe stalled at %d of %d", copied, n)
			}
			batches <- per
			copied += polled
		}
		return nil
	}()
	return errors.Join(readErr, g.Wait())
}

func countOn(c *rmqclient.Client, topic string) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	qs, err := c.TopicQueues(ctx, topic)
	if err != nil {
		return 0
	}
	var n int64
	for _, q := range qs {
		lo, hi, err := c.QueueOffsets(ctx, q)
		if err != nil {
			return 0
		}
		n += hi - lo
	}
	return n
}

// replLags returns, in milliseconds, how long after its birth on the source each message of
// topic was stored on the target (the copy's connect.timestamp is the source's birth time).
func replLags(b *testing.B, c *rmqclient.Client, topic string) []float64 {
	b.Helper()
	ctx := context.Background()
	qs, err := c.TopicQueues(ctx, topic)
	if err != nil {
		b.Fatal(err)
	}
	r := c.NewReader("bench-lag")
	defer r.Close()
	var out []float64
	for _, q := range qs {
		lo, hi, err := c.QueueOffsets(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		for off := lo; off < hi; {
			msgs, nx, err := r.ReadBelow(ctx, q, off, hi, 32)
			if err != nil {
				b.Fatal(err)
			}
			for _, m := range msgs {
				if ms, err := strconv.ParseInt(m.Properties["connect.timestamp"], 10, 64); err == nil {
					out = append(out, float64(m.StoreTime.UnixMilli()-ms))
				}
			}
			if nx <= off {
				break
			}
			off = nx
		}
	}
	slices.Sort(out)
	return out
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p/100))]
}

// cpuTimes returns the stolen and the total CPU time since boot in jiffies (/proc/stat's
// first line); stealPercent turns two readings into the share the hypervisor took from the
// machine between them.
func cpuTimes() (steal, total float64) {
	s, t, _ := readStealTotal()
	return float64(s), float64(t)
}

func stealPercent(steal0, total0 float64) float64 {
	steal, total := cpuTimes()
	if total <= total0 {
		return 0
	}
	return 100 * (steal - steal0) / (total - total0)
}
