package kafka_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/kafka"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/tests/kafkatest"
)

func TestSourceConformance(t *testing.T) {
	b := kafkatest.Shared(t)
	conformance.TestSource(t, conformance.SourceHarness{
		NewConnector: func() plugins.SourceConnector { return kafka.NewSourceConnector() },
		Setup: func(t *testing.T) map[string]string {
			topic := kafkatest.Name(t, "conf")
			createTopic(t, b, topic, 1)
			return map[string]string{kafka.KeyBootstrap: b.Addr, kafka.KeyTopics: topic, kafka.KeyFetchMaxWait: "50ms"}
		},
		Append: func(t *testing.T, cfg map[string]string, first, n int) {
			cl := b.Client(t)
			recs := make([]*kgo.Record, n)
			for i := range recs {
				recs[i] = &kgo.Record{Topic: cfg[kafka.KeyTopics], Key: []byte(fmt.Sprintf("k%d", first+i)),
					Value: []byte(fmt.Sprintf("v%d", first+i)), Headers: []kgo.RecordHeader{{Key: "i", Value: []byte(fmt.Sprint(first + i))}}}
			}
			b.Produce(t, cl, recs...)
			cl.Close()
		},
		Check: func(t *testing.T, i int, rec *schema.Record) {
			require.Equal(t, []byte(fmt.Sprintf("k%d", i)), rec.Key)
			require.Equal(t, []byte(fmt.Sprintf("v%d", i)), rec.Value)
			h, ok := rec.Headers.Get("i")
			require.True(t, ok)
			require.Equal(t, fmt.Sprint(i), h.Value)
			require.EqualValues(t, i, rec.SourceOffset[kafka.OffsetKey])
			require.False(t, rec.Timestamp.IsZero())
		},
		Timeout: 30 * time.Second,
	})
}

func TestSinkConformance(t *testing.T) {
	b := kafkatest.Shared(t)
	conformance.TestSink(t, conformance.SinkHarness{
		NewConnector: func() plugins.SinkConnector { return kafka.NewSinkConnector() },
		Setup: func(t *testing.T) map[string]string {
			topic := kafkatest.Name(t, "conf")
			b.CreateTopic(t, topic, 1)
			return map[string]string{kafka.KeyBootstrap: b.Addr, kafka.KeyTargetTopic: topic}
		},
		Record: func(i int) *schema.Record {
			r := schema.NewRecord("", schema.OptionalBytesSchema, []byte(fmt.Sprintf("k%d", i)), schema.OptionalBytesSchema, []byte(fmt.Sprintf("v%d", i)))
			r.Headers.Add("i", schema.OptionalStringSchema, fmt.Sprint(i))
			return r
		},
		Verify: func(t *testing.T, cfg map[string]string, n int) {
			got := b.ReadAll(t, cfg[kafka.KeyTargetTopic], n, 30*time.Second)
			require.Len(t, got, n)
			for i, r := range got {
				require.Equal(t, fmt.Sprintf("k%d", i), string(r.Key))
				require.Equal(t, fmt.Sprintf("v%d", i), string(r.Value))
				require.Equal(t, []kgo.RecordHeader{{Key: "i", Value: []byte(fmt.Sprint(i))}}, r.Headers)
			}
		},
		Timeout: 30 * time.Second,
	})
}
