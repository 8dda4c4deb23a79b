package bench

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/kafka"
	"github.com/rmqconnect/rmqconnect/tests/kafkatest"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// kafkaLoad is the Kafka bridges' workload: keyed 512-byte records over 3 partitions.
var kafkaLoad = workload{"512B", 512, 60_000}

const kafkaPartitions = 3

// kafkaHerder runs an in-process standalone worker with the Kafka connectors.
func kafkaHerder(b *testing.B) *herder {
	b.Helper()
	r := plugins.NewRegistry()
	if err := r.Register(plugins.KindSource, kafka.SourceName, nil, func() plugins.Connector { return kafka.NewSourceConnector() }); err != nil {
		b.Fatal(err)
	}
	if err := r.Register(plugins.KindSink, kafka.SinkName, nil, func() plugins.Connector { return kafka.NewSinkConnector() }); err != nil {
		b.Fatal(err)
	}
	h, err := worker.NewStandalone(worker.StandaloneConfig{
		WorkerID: fmt.Sprintf("bench-kafka-%d", herderSeq.Add(1)), StoreDir: b.TempDir(),
		KeyConverter: "bytearray", ValueConverter: "bytearray", StopTimeout: 30 * time.Second, AutoCreate: true,
	}, rmqtest.Client(b), r, quiet())
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

// kafkaValue is record i's value: size bytes.
func kafkaValue(i, size int) []byte {
	v := []byte(strings.Repeat("v", size))
	copy(v, strconv.Itoa(i))
	return v
}

// filledKafkaTopic writes the workload to a new Kafka topic.
func filledKafkaTopic(b *testing.B, br *kafkatest.Broker) string {
	b.Helper()
	topic := kafkatest.Name(b, "bench")
	br.CreateTopic(b, topic, kafkaPartitions)
	cl := br.Client(b, kgo.ProducerLinger(5*time.Millisecond))
	recs := make([]*kgo.Record, kafkaLoad.n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf("key-%d", i%1000)), Value: kafkaValue(i, kafkaLoad.size)}
	}
	br.Produce(b, cl, recs...)
	return topic
}

// kafkaCount sums the end offsets of topic's partitions.
func kafkaCount(b *testing.B, adm *kadm.Client, topic string) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offs, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0
	}
	var n int64
	offs.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			n += o.Offset
		}
	})
	return n
}

// reportSteal reports the CPU steal since steal started (startSteal), when it is known.
func reportSteal(b *testing.B, steal func() float64) {
	if v := steal(); v >= 0 {
		b.ReportMetric(v, "steal-%")
	}
}

// BenchmarkKafkaSourceThroughput: a filled Kafka topic → kafka-source → RocketMQ through the worker,
// next to a raw pipe (franz-go consumer → RocketMQ producer with the worker's batching; the limit) and
// to the raw franz-go consumer alone. The figure is worker/raw.
func BenchmarkKafkaSourceThroughput(b *testing.B) {
	br := kafkatest.Shared(b)
	b.Run(kafkaLoad.name, func(b *testing.B) {
		b.StopTimer()
		defer reportSteal(b, startSteal())
		warmUp(b)
		in := filledKafkaTopic(b, br)
		n := kafkaLoad.n
		consumer := func() *kgo.Client {
			return br.Client(b, kgo.ConsumeTopics(in), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
				kgo.FetchMaxBytes(16<<20), kgo.FetchMaxWait(500*time.Millisecond))
		}
		run := 0
		steals := sideSteal{}
		defer steals.report(b)
		compare(b, kafkaLoad.size, steals.wrap(runner{"raw-consume", func() float64 {
			settle()
			b.StartTimer()
			start := time.Now()
			cl := consumer()
			for got := 0; got < n; {
				got += len(cl.PollRecords(context.Background(), 2000).Records())
			}
			d := time.Since(start)
			b.StopTimer()
			cl.Close()
			return float64(n) / d.Seconds()
		}}), steals.wrap(runner{"raw", func() float64 {
			topic := rmqtest.Topic(b, 4)
			settle()
			b.StartTimer()
			start := time.Now()
			p, err := rmqtest.Client(b).NewProducer("bench-raw-kafka", rmqclient.ProducerOptions{})
			if err != nil {
				b.Fatal(err)
			}
			cl := consumer()
			ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
			for got := 0; got < n; {
				recs := cl.PollRecords(context.Background(), 2000).Records()
				msgs := make([]*rmqclient.Message, len(recs))
				for i, r := range recs {
					msgs[i] = &rmqclient.Message{Topic: topic, Body: r.Value, Keys: []string{string(r.Key)}, ShardingKey: string(r.Key),
						Properties: map[string]string{"connect.timestamp": ts}}
				}
				if err := sendAll(context.Background(), p, msgs); err != nil {
					b.Fatal(err)
				}
				got += len(recs)
			}
			d := time.Since(start)
			b.StopTimer()
			cl.Close()
			_ = p.Close()
			return float64(n) / d.Seconds()
		}}), steals.wrap(runner{"worker", func() float64 {
			h := kafkaHerder(b)
			defer h.stop()
			topic := rmqtest.Topic(b, 4)
			run++
			settle()
			b.StartTimer()
			start := time.Now()
			h.create(b, fmt.Sprintf("kafka-in-%d", run), map[string]string{
				"connector.class": kafka.SourceName, kafka.KeyBootstrap: br.Addr, kafka.KeyTopics: in,
				kafka.KeyTopicRename: topic, "max.tasks": "1",
			})
			waitTopic(b, topic, int64(n), 5*time.Minute)
			d := time.Since(start)
			b.StopTimer()
			return float64(n) / d.Seconds()
		}}))
	})
}

// BenchmarkKafkaSinkThroughput: a filled RocketMQ topic → kafka-sink → Kafka through the worker, next to
// a raw pipe (RocketMQ consumer with the worker's batch size and goroutines → franz-go producer, each
// batch acknowledged before the next is produced, as the worker puts and flushes one batch at a time
// under its task lock; the limit) and to the raw franz-go producer
// alone. Pipes are timed from the first record in Kafka to the last. The figure is worker/raw.
func BenchmarkKafkaSinkThroughput(b *testing.B) {
	br := kafkatest.Shared(b)
	b.Run(kafkaLoad.name, func(b *testing.B) {
		b.StopTimer()
		defer reportSteal(b, startSteal())
		warmUp(b)
		n := kafkaLoad.n
		src := rmqtest.Topic(b, 4)
		fill(b, src, n, kafkaLoad.size)
		waitTopic(b, src, int64(n), time.Minute)
		adm := br.Admin(b)
		run := 0
		newOut := func() string {
			topic := kafkatest.Name(b, "out")
			br.CreateTopic(b, topic, kafkaPartitions)
			return topic
		}
		steals := sideSteal{}
		defer steals.report(b)
		compare(b, kafkaLoad.size, steals.wrap(runner{"raw-produce", func() float64 {
			out := newOut()
			recs := make([]*kgo.Record, n)
			for i := range recs {
				recs[i] = &kgo.Record{Topic: out, Key: []byte(fmt.Sprintf("key-%d", i%1000)), Value: kafkaValue(i, kafkaLoad.size)}
			}
			cl := br.Client(b, kgo.RequiredAcks(kgo.AllISRAcks()))
			settle()
			b.StartTimer()
			start := time.Now()
			for i := 0; i < n; i += sinkBatch * 4 {
				if err := cl.ProduceSync(context.Background(), recs[i:min(n, i+sinkBatch*4)]...).FirstErr(); err != nil {
					b.Fatal(err)
				}
			}
			d := time.Since(start)
			b.StopTimer()
			cl.Close()
			return float64(n) / d.Seconds()
		}}), steals.wrap(runner{"raw", func() float64 {
			out := newOut()
			cl := br.Client(b, kgo.RequiredAcks(kgo.AllISRAcks()))
			var got, first atomic.Int64
			var one sync.Mutex // one batch produced and acknowledged at a time, as the worker's Put and Flush
			settle()
			b.StartTimer()
			c, err := rmqtest.Client(b).NewConsumer("bench-raw-kafka", rmqclient.ConsumerOptions{
				Group: rmqtest.Group(b), Topics: []string{src}, From: rmqclient.FromFirst,
				BatchSize: sinkBatch, Goroutines: sinkGoroutines,
			}, func(ctx context.Context, msgs []*rmqclient.ReceivedMessage) error {
				recs := make([]*kgo.Record, len(msgs))
				for i, m := range msgs {
					recs[i] = &kgo.Record{Topic: out, Key: []byte(strings.Join(m.Keys, " ")), Value: m.Body}
				}
				one.Lock()
				err := cl.ProduceSync(ctx, recs...).FirstErr()
				one.Unlock()
				if err != nil {
					return err
				}
				first.CompareAndSwap(0, time.Now().UnixNano())
				got.Add(int64(len(msgs)))
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			waitFor(b, 5*time.Minute, 2*time.Millisecond, "raw pipe wrote the topic", func() bool { return got.Load() >= int64(n) })
			d := time.Since(time.Unix(0, first.Load()))
			b.StopTimer()
			_ = c.Close()
			cl.Close()
			return float64(n) / d.Seconds()
		}}), steals.wrap(runner{"worker", func() float64 {
			out := newOut()
			h := kafkaHerder(b)
			defer h.stop()
			run++
			settle()
			b.StartTimer()
			h.create(b, fmt.Sprintf("kafka-out-%d", run), map[string]string{
				"connector.class": kafka.SinkName, kafka.KeyBootstrap: br.Addr, "connect.topicnames": src,
				kafka.KeyTargetTopic: out, "max.tasks": "1", "task.group.id": rmqtest.Group(b),
			})
			// Each look is a request to the broker, which competes with the sink on this small machine: every
			// 10 ms (an error of at most 10 ms at each end of a run of seconds).
			waitFor(b, 5*time.Minute, 10*time.Millisecond, "kafka-sink wrote a first record", func() bool { return kafkaCount(b, adm, out) > 0 })
			start := time.Now()
			waitFor(b, 5*time.Minute, 10*time.Millisecond, "kafka-sink wrote the topic", func() bool { return kafkaCount(b, adm, out) >= int64(n) })
			d := time.Since(start)
			b.StopTimer()
			return float64(n) / d.Seconds()
		}}))
	})
}
