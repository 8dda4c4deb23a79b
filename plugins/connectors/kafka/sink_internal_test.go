package kafka

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/tests/kafkatest"
)

// TestSinkReadsTopicLimitOnce: the producer asks for a topic's batch limit for every partition at every
// metadata refresh; the topic's config is read from Kafka once all the same.
func TestSinkReadsTopicLimitOnce(t *testing.T) {
	b := kafkatest.Shared(t)
	topic := kafkatest.Name(t, "limit")
	b.CreateTopic(t, topic, 3, "max.message.bytes", "20000")
	cfg := map[string]string{KeyBootstrap: b.Addr, KeyTargetTopic: topic}
	vals, err := sinkSpec.Parse(cfg)
	require.NoError(t, err)
	tctx := conformance.NewSinkContext(conformance.Queue)
	tctx.Values = vals
	task := &SinkTask{}
	require.NoError(t, task.Start(context.Background(), tctx, cfg))
	defer func() { require.NoError(t, task.Stop(context.Background())) }()
	ctx := context.Background()
	for round := range 4 {
		var recs []*schema.Record
		for i := range 30 {
			recs = append(recs, schema.NewRecord("rmq", schema.OptionalBytesSchema, []byte(fmt.Sprint(round, i)), schema.OptionalBytesSchema, []byte("v")))
		}
		require.NoError(t, task.Put(ctx, recs))
		require.NoError(t, task.Flush(ctx, nil))
		task.client.ForceMetadataRefresh()
		time.Sleep(200 * time.Millisecond) // let the refresh run: it is what asks for the limits again
	}
	require.EqualValues(t, 1, task.limits.reads.Load())
	require.EqualValues(t, 20000, task.limits.of(topic))
	bad, _ := tctx.Reporter.Reported()
	require.Empty(t, bad)
}
