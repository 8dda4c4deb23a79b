package external_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/generator"
	"github.com/rmqconnect/rmqconnect/plugins/external"
	"github.com/rmqconnect/rmqconnect/schema"
)

// BenchmarkPoll is the protocol's share of a source's cost without a broker: generator-source
// polled in process and through the example plugin (1000 records of 100 B a poll); records/s
// of each, ns/op per poll.
func BenchmarkPoll(b *testing.B) {
	cfg := map[string]string{"connect.topicname": "t", "record.size": "100"}
	run := func(b *testing.B, c plugins.SourceConnector) {
		task := c.NewSourceTask()
		if err := task.Start(context.Background(), conformance.SourceContextFor(b, c.Spec(), nil, cfg), cfg); err != nil {
			b.Fatal(err)
		}
		defer task.Stop(context.Background())
		n := 0
		for b.Loop() {
			recs, err := task.Poll(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			n += len(recs)
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
	}
	b.Run("builtin", func(b *testing.B) { run(b, generator.NewSourceConnector()) })
	b.Run("plugin", func(b *testing.B) {
		reg := plugins.NewRegistry()
		m := external.New(reg, external.Options{Dirs: []string{binDir}, Logger: discard()})
		defer m.Close()
		if _, err := m.Reload(context.Background()); err != nil {
			b.Fatal(err)
		}
		c, err := reg.NewSource("example-generator-source")
		if err != nil {
			b.Fatal(err)
		}
		run(b, c)
	})
}

// sinkBatch is n records as the worker's sink hands them to Put after the string key and
// bytearray value converters: a 100-byte value, a string key, queue coordinates, a
// message id and a timestamp.
func sinkBatch(n int) []*schema.Record {
	out := make([]*schema.Record, n)
	ts := time.UnixMilli(1_700_000_000_000)
	for i := range out {
		out[i] = &schema.Record{Topic: "bench-topic", QueueID: i % 4, QueueOffset: int64(i), BrokerName: "broker-a",
			MsgID: fmt.Sprintf("7F0000010001%020X", i), KeySchema: schema.StringSchema, Key: fmt.Sprintf("key-%d", i%1000),
			ValueSchema: schema.BytesSchema, Value: make([]byte, 100), Timestamp: ts}
	}
	return out
}

// BenchmarkPut is the protocol's share of a sink's cost without a broker: null-sink put in
// process and through the example plugin, one Put at a time (ns/op per Put), for batches of
// the sizes the worker's group commit makes, with the CPU time each process spends per record
// (on 2 cores shared with a broker, CPU rather than the round trip bounds a sink's rate).
func BenchmarkPut(b *testing.B) {
	run := func(b *testing.B, c plugins.SinkConnector, n int) {
		task := c.NewSinkTask()
		if err := task.Start(context.Background(), conformance.SinkContextFor(b, c.Spec(), nil), nil); err != nil {
			b.Fatal(err)
		}
		recs := sinkBatch(n)
		self, children := cpuTime(cpuSelf), cpuTime(cpuChildren)
		for b.Loop() {
			if err := task.Put(context.Background(), recs); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if err := task.Stop(context.Background()); err != nil {
			b.Fatal(err)
		}
		// The plugin process was reaped by Stop: its CPU time is among the children's.
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
		b.ReportMetric(float64(cpuTime(cpuSelf)-self)/float64(n*b.N), "worker-cpu-ns/record")
		b.ReportMetric(float64(cpuTime(cpuChildren)-children)/float64(n*b.N), "plugin-cpu-ns/record")
	}
	for _, n := range []int{32, 256, 512} {
		b.Run(fmt.Sprintf("builtin/%d", n), func(b *testing.B) { run(b, generator.NewSinkConnector(nil), n) })
		b.Run(fmt.Sprintf("plugin/%d", n), func(b *testing.B) {
			reg := plugins.NewRegistry()
			m := external.New(reg, external.Options{Dirs: []string{binDir}, Logger: discard()})
			defer m.Close()
			if _, err := m.Reload(context.Background()); err != nil {
				b.Fatal(err)
			}
			c, err := reg.NewSink("example-null-sink")
			if err != nil {
				b.Fatal(err)
			}
			run(b, c, n)
		})
	}
}
