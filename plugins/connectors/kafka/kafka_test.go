package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/kafka"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/tests/kafkatest"
)

// createTopic creates topic as kafkatest's CreateTopic does, then waits until the broker's metadata
// shows it with every partition led: a listing right after the creation may not see it yet, and a
// kafka-source connector refuses a listed topic it does not see.
func createTopic(t *testing.T, b *kafkatest.Broker, topic string, partitions int32, configs ...string) {
	t.Helper()
	b.CreateTopic(t, topic, partitions, configs...)
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(b.Addr, ",")...))
	require.NoError(t, err)
	defer cl.Close() // now, not at cleanup: a test checking for leaked goroutines sees none of this one's
	adm := kadm.NewClient(cl)
	require.Eventually(t, func() bool {
		_, ok := ledTopic(adm, topic, partitions)
		return ok
	}, 30*time.Second, 20*time.Millisecond, "topic %s never showed in the metadata", topic)
}

// ledTopic returns topic's metadata and whether it shows the topic with its partitions, every one led.
func ledTopic(adm *kadm.Client, topic string, partitions int32) (kadm.TopicDetail, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	td, err := adm.ListTopics(ctx, topic)
	if err != nil || td[topic].Err != nil || len(td[topic].Partitions) != int(partitions) {
		return kadm.TopicDetail{}, false
	}
	for _, p := range td[topic].Partitions {
		if p.Err != nil || p.Leader < 0 {
			return kadm.TopicDetail{}, false
		}
	}
	return td[topic], true
}

// startSink starts a kafka-sink task on cfg with a tolerant reporter.
func startSink(t *testing.T, cfg map[string]string) (*kafka.SinkTask, *conformance.SinkContext) {
	t.Helper()
	c := kafka.NewSinkConnector()
	require.NoError(t, c.Validate(cfg))
	vals, err := c.Spec().Parse(cfg)
	require.NoError(t, err)
	tctx := conformance.NewSinkContext(conformance.Queue)
	tctx.Values = vals
	task := c.NewSinkTask().(*kafka.SinkTask)
	require.NoError(t, task.Start(context.Background(), tctx, cfg))
	t.Cleanup(func() { _ = task.Stop(context.Background()) })
	return task, tctx
}

// TestSinkTooLargeRecordGoesToErrorPolicy: a record larger than its Kafka topic's max.message.bytes is
// handed to the errant-record reporter alone; every other record of the batch, before and after it,
// is in Kafka in order after Flush.
func TestSinkTooLargeRecordGoesToErrorPolicy(t *testing.T) {
	b := kafkatest.Shared(t)
	topic := kafkatest.Name(t, "big")
	b.CreateTopic(t, topic, 1, "max.message.bytes", "20000")
	task, tctx := startSink(t, map[string]string{kafka.KeyBootstrap: b.Addr, kafka.KeyTargetTopic: topic, kafka.KeyLinger: "50ms"})
	var recs []*schema.Record
	for i := range 30 {
		size := 100
		if i == 7 || i == 21 {
			size = 50000
		}
		r := schema.NewRecord("rmq", schema.OptionalBytesSchema, []byte(fmt.Sprint(i)), schema.OptionalBytesSchema, []byte(strings.Repeat("x", size)))
		recs = append(recs, r)
	}
	ctx := context.Background()
	require.NoError(t, task.Put(ctx, recs[:15]))
	require.NoError(t, task.Put(ctx, recs[15:]))
	require.NoError(t, task.Flush(ctx, nil))
	bad, errs := tctx.Reporter.Reported()
	require.Len(t, bad, 2)
	require.Equal(t, []byte("7"), bad[0].Key)
	require.Equal(t, []byte("21"), bad[1].Key)
	require.ErrorIs(t, errs[0], kerr.MessageTooLarge)
	got := b.ReadAll(t, topic, 28, 30*time.Second)
	require.Len(t, got, 28)
	want := 0
	for _, r := range got {
		if want == 7 || want == 21 {
			want++
		}
		require.Equal(t, fmt.Sprint(want), string(r.Key))
		want++
	}
}

// TestSinkRefusedBatchReportsOnlyTheBadRecord: Kafka refuses a record with a null key on a compacted
// topic by refusing its whole batch; only that record goes to the errant-record reporter, and the 29
// others, batched with it, are in Kafka in order after Flush.
func TestSinkRefusedBatchReportsOnlyTheBadRecord(t *testing.T) {
	b := kafkatest.Shared(t)
	topic := kafkatest.Name(t, "compact")
	b.CreateTopic(t, topic, 1, "cleanup.policy", "compact")
	task, tctx := startSink(t, map[string]string{kafka.KeyBootstrap: b.Addr, kafka.KeyTargetTopic: topic, kafka.KeyLinger: "50ms"})
	var recs []*schema.Record
	for i := range 30 {
		var key any = []byte(fmt.Sprint(i))
		if i == 7 {
			key = nil
		}
		recs = append(recs, schema.NewRecord("rmq", schema.OptionalBytesSchema, key, schema.OptionalBytesSchema, []byte(fmt.Sprint(i))))
	}
	ctx := context.Background()
	require.NoError(t, task.Put(ctx, recs))
	require.NoError(t, task.Flush(ctx, nil))
	bad, errs := tctx.Reporter.Reported()
	require.Equal(t, 1, len(bad), "only the record with the null key is reported")
	require.Equal(t, []byte("7"), bad[0].Value)
	require.ErrorIs(t, errs[0], kerr.InvalidRecord)
	got := b.ReadAll(t, topic, 29, 30*time.Second)
	require.Len(t, got, 29)
	want := 0
	for _, r := range got {
		if want == 7 {
			want++
		}
		require.Equal(t, fmt.Sprint(want), string(r.Value))
		want++
	}
}

// TestSinkTooLargeWithoutToleranceFails: with errors.tolerance=none the reporter refuses, and Flush fails.
func TestSinkTooLargeWithoutToleranceFails(t *testing.T) {
	b := kafkatest.Shared(t)
	topic := kafkatest.Name(t, "big")
	b.CreateTopic(t, topic, 1, "max.message.bytes", "20000")
	task, tctx := startSink(t, map[string]string{kafka.KeyBootstrap: b.Addr, kafka.KeyTargetTopic: topic})
	tctx.Reporter.Fail = true
	r := schema.NewRecord("rmq", nil, nil, schema.OptionalBytesSchema, make([]byte, 50000))
	require.NoError(t, task.Put(context.Background(), []*schema.Record{r}))
	err := task.Flush(context.Background(), nil)
	require.ErrorIs(t, err, kerr.MessageTooLarge)
}

// TestSourceDeletedTopicFailsTask: a topic deleted while a task reads it fails Poll with ErrTopicDeleted
// naming the topic, and the connector's watcher raises an error naming it too.
func TestSourceDeletedTopicFailsTask(t *testing.T) {
	b := kafkatest.Shared(t)
	topic := kafkatest.Name(t, "gone")
	createTopic(t, b, topic, 2)
	cfg := map[string]string{kafka.KeyBootstrap: b.Addr, kafka.KeyTopics: topic, kafka.KeyFetchMaxWait: "50ms",
		kafka.KeyTopicsInterval: "200ms"}
	c := kafka.NewSourceConnector()
	cctx := conformance.NewConnectorContext()
	vals, err := c.Spec().Parse(cfg)
	require.NoError(t, err)
	cctx.Values = vals
	require.NoError(t, c.Start(context.Background(), cctx, cfg))
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	tcs, err := c.TaskConfigs(1)
	require.NoError(t, err)
	require.Len(t, tcs, 1)
	require.Equal(t, topic+":0,"+topic+":1", tcs[0][kafka.KeyTaskPartitions])

	tctx := conformance.NewSourceContext(nil)
	tctx.Values, err = c.Spec().Parse(tcs[0])
	require.NoError(t, err)
	task := c.NewSourceTask()
	require.NoError(t, task.Start(context.Background(), tctx, tcs[0]))
	t.Cleanup(func() { _ = task.Stop(context.Background()) })
	cl := b.Client(t)
	b.Produce(t, cl, &kgo.Record{Topic: topic, Value: []byte("one")})
	got := 0
	for got == 0 {
		recs, err := task.Poll(context.Background())
		require.NoError(t, err)
		got += len(recs)
	}
	b.DeleteTopic(t, topic)
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := task.Poll(context.Background())
		if err != nil {
			require.ErrorIs(t, err, kafka.ErrTopicDeleted)
			require.Contains(t, err.Error(), topic)
			break
		}
		require.True(t, time.Now().Before(deadline), "Poll never reported the deleted topic")
	}
	require.Eventually(t, func() bool {
		for _, e := range cctx.Raised() {
			if errors.Is(e, kafka.ErrTopicMissing) && strings.Contains(e.Error(), topic) {
				return true
			}
		}
		return false
	}, 30*time.Second, 50*time.Millisecond, "the connector reports the missing topic")
}

// TestSourceMissingTopicFailsStart: a listed topic that does not exist fails the connector's start with
// an error naming it and the key.
func TestSourceMissingTopicFailsStart(t *testing.T) {
	b := kafkatest.Shared(t)
	cfg := map[string]string{kafka.KeyBootstrap: b.Addr, kafka.KeyTopics: "no-such-topic-" + kafkatest.Name(t, "x")}
	c := kafka.NewSourceConnector()
	cctx := conformance.NewConnectorContext()
	vals, err := c.Spec().Parse(cfg)
	require.NoError(t, err)
	cctx.Values = vals
	err = c.Start(context.Background(), cctx, cfg)
	require.ErrorIs(t, err, kafka.ErrTopicMissing)
	require.False(t, plugins.IsRetriable(err))
	require.Contains(t, err.Error(), kafka.KeyTopics)
	require.NoError(t, c.Stop(context.Background()))
}
