package external_test

import (
	"context"
	"testing"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/generator"
	"github.com/rmqconnect/rmqconnect/plugins/external"
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
