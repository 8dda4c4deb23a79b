package kafka

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/tests/kafkatest"
)

// startTask starts a kafka-sink task on cfg as the engine does, without the connector's Validate (a task
// may run a config stored before a check was added), and stops it when the test ends.
func startTask(t *testing.T, cfg map[string]string) (*SinkTask, *conformance.SinkContext) {
	t.Helper()
	vals, err := sinkSpec.Parse(cfg)
	require.NoError(t, err)
	tctx := conformance.NewSinkContext(conformance.Queue)
	tctx.Values = vals
	task := &SinkTask{}
	require.NoError(t, task.Start(context.Background(), tctx, cfg))
	t.Cleanup(func() { require.NoError(t, task.Stop(context.Background())) })
	return task, tctx
}

// TestSinkReadsTopicLimitOnce: the producer asks for a topic's batch limit for every partition at every
// metadata refresh; the topic's config is read from Kafka once all the same.
func TestSinkReadsTopicLimitOnce(t *testing.T) {
	b := kafkatest.Shared(t)
	topic := kafkatest.Name(t, "limit")
	b.CreateTopic(t, topic, 3, "max.message.bytes", "20000")
	cfg := map[string]string{KeyBootstrap: b.Addr, KeyTargetTopic: topic}
	task, tctx := startTask(t, cfg)
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

// TestSinkRereadsTopicLimitAfterOutage: a topic's max.message.bytes that cannot be read while Kafka is
// unreachable is read again once Kafka is back, not taken as Kafka's 1 MB default for the task's life:
// a 2 MB record to a topic whose max.message.bytes is 3 MB (kafka.batch.max.bytes 3 MB too) is written.
// While Kafka is down, Put does not read the config for every record.
func TestSinkRereadsTopicLimitAfterOutage(t *testing.T) {
	b := kafkatest.Own(t)
	topic := kafkatest.Name(t, "lim")
	b.CreateTopic(t, topic, 1, "max.message.bytes", "3000000")
	b.Stop(t)

	cfg := map[string]string{KeyBootstrap: b.Addr, KeyTargetTopic: topic, KeyBatchMaxBytes: "3000000", KeyRequestTimeout: "1s"}
	task, tctx := startTask(t, cfg)
	task.limits.retryEvery = time.Hour // Put reads once; the producer reads when Kafka is back
	ctx := context.Background()

	// Kafka is down: the first Put of the topic cannot read its config, and the next does not try.
	small := schema.NewRecord("rmq", schema.OptionalBytesSchema, []byte("k0"), schema.OptionalBytesSchema, []byte("small"))
	require.NoError(t, task.Put(ctx, []*schema.Record{small}))
	small2 := schema.NewRecord("rmq", schema.OptionalBytesSchema, []byte("k0"), schema.OptionalBytesSchema, []byte("small2"))
	require.NoError(t, task.Put(ctx, []*schema.Record{small2}))
	require.EqualValues(t, 1, task.limits.reads.Load())

	b.Start(t)
	fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	require.NoError(t, task.Flush(fctx, nil))

	big := schema.NewRecord("rmq", schema.OptionalBytesSchema, []byte("k1"), schema.OptionalBytesSchema, []byte(strings.Repeat("x", 2_000_000)))
	require.NoError(t, task.Put(ctx, []*schema.Record{big}))
	require.NoError(t, task.Flush(fctx, nil))
	bad, errs := tctx.Reporter.Reported()
	require.Empty(t, bad, "a record the topic accepts was refused: %v", errs)
	require.EqualValues(t, 3000000, task.limits.of(topic))
	require.Len(t, b.ReadAll(t, topic, 3, 30*time.Second), 3)
}

// TestSinkFlushWaitsForRecordsRefusedBeforeBuffering: the producer calls back a record it refuses before
// buffering it (here one without a topic) from a goroutine of its own, which its Flush does not wait for;
// the task's Flush waits for that callback too, so it never returns nil for a record written nowhere.
func TestSinkFlushWaitsForRecordsRefusedBeforeBuffering(t *testing.T) {
	b := kafkatest.Shared(t)
	cfg := map[string]string{KeyBootstrap: b.Addr}
	task, _ := startTask(t, cfg)
	ctx := context.Background()
	nilFlush := 0
	for i := range 200 {
		r := schema.NewRecord("rmq", schema.OptionalBytesSchema, []byte("k"), schema.OptionalBytesSchema, []byte(fmt.Sprint(i)))
		task.produce(ctx, r, &kgo.Record{Key: []byte("k"), Value: []byte(fmt.Sprint(i))}) // no topic
		if err := task.Flush(ctx, nil); err == nil {
			nilFlush++
		} else {
			require.ErrorIs(t, err, ErrProduce)
		}
	}
	require.Zero(t, nilFlush, "Flush returned nil for a record the producer refused, %d times of 200", nilFlush)
}

// TestSinkReportsRecordWithoutKafkaTopic: a record whose Kafka topic comes out empty goes to the error
// policy with ErrEmptyTopic before it reaches the producer, and the records around it are written. It
// comes out empty from a task config whose topic.rename.format is empty (which Validate refuses, but a
// config stored before it did reaches the task) or from a record a transform left without a topic.
func TestSinkReportsRecordWithoutKafkaTopic(t *testing.T) {
	b := kafkatest.Shared(t)
	topic := kafkatest.Name(t, "named")
	b.CreateTopic(t, topic, 1)
	rec := func(rmqTopic, v string) *schema.Record {
		return schema.NewRecord(rmqTopic, schema.OptionalBytesSchema, []byte("k"), schema.OptionalBytesSchema, []byte(v))
	}
	tests := []struct {
		name    string
		format  string
		records []*schema.Record
		bad     []string // values of the records reported
		written int      // records in topic afterwards
	}{
		{"empty format", "", []*schema.Record{rec(topic, "a"), rec(topic, "b")}, []string{"a", "b"}, 0},
		{"record without topic", topicPlaceholder, []*schema.Record{rec(topic, "a"), rec("", "b"), rec(topic, "c")}, []string{"b"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := map[string]string{KeyBootstrap: b.Addr, KeyTopicRename: tt.format}
			task, tctx := startTask(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			require.NoError(t, task.Put(ctx, tt.records))
			require.NoError(t, task.Flush(ctx, nil))
			bad, errs := tctx.Reporter.Reported()
			var got []string
			for i, r := range bad {
				got = append(got, string(r.Value.([]byte)))
				require.ErrorIs(t, errs[i], ErrEmptyTopic)
			}
			require.Equal(t, tt.bad, got)
			if tt.written > 0 {
				require.Len(t, b.ReadAll(t, topic, tt.written, 30*time.Second), tt.written)
			}
		})
	}
}
