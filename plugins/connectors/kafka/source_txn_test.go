package kafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/kafka"
	"github.com/rmqconnect/rmqconnect/tests/kafkatest"
)

// txnProduce writes vals in one transaction of a transactional client and commits or aborts it.
func txnProduce(t *testing.T, b *kafkatest.Broker, txid, topic string, commit bool, vals ...string) {
	t.Helper()
	cl := b.Client(t, kgo.TransactionalID(txid), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, cl.BeginTransaction())
	for _, v := range vals {
		require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte(v)}).FirstErr())
	}
	require.NoError(t, cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)))
	cl.Close()
}

// TestSourceReadCommittedSkipsAbortedAcrossRestart: with read_committed, aborted transactional records
// are not copied, and a restart from the stored position neither loses nor repeats committed ones.
func TestSourceReadCommittedSkipsAbortedAcrossRestart(t *testing.T) {
	b := kafkatest.Shared(t)
	topic := kafkatest.Name(t, "txn")
	createTopic(t, b, topic, 1)
	txid := kafkatest.Name(t, "tx")
	txnProduce(t, b, txid, topic, true, "c1", "c2")
	txnProduce(t, b, txid, topic, false, "a1", "a2")
	txnProduce(t, b, txid, topic, true, "c3")
	c, _ := startSource(t, map[string]string{kafka.KeyBootstrap: b.Addr, kafka.KeyTopics: topic,
		kafka.KeyIsolation: "read_committed", kafka.KeyFetchMaxWait: "50ms"})
	tcs, err := c.TaskConfigs(1)
	require.NoError(t, err)
	store := conformance.NewPositions()
	task := startSourceTask(t, c, tcs[0], store, nil)
	got := pollValues(t, task, store, 30*time.Second, "c1", "c2", "c3")
	require.Equal(t, []string{"c1", "c2", "c3"}, got)
	require.NoError(t, task.Stop(context.Background()))

	txnProduce(t, b, txid, topic, false, "a3")
	txnProduce(t, b, txid, topic, true, "c4")
	again := startSourceTask(t, c, tcs[0], store, nil)
	got = pollValues(t, again, store, 30*time.Second, "c4")
	// Poll a little longer: nothing else may come.
	for range 3 {
		recs, err := again.Poll(context.Background())
		require.NoError(t, err)
		for _, r := range recs {
			got = append(got, string(r.Value.([]byte)))
		}
	}
	require.Equal(t, []string{"c4"}, got)
}

// TestSourceLatestReadCommittedCopiesTransactionOpenAtStart: latest with read_committed starts at the last
// stable offset: a transaction open when the connector starts and committed afterwards is copied.
func TestSourceLatestReadCommittedCopiesTransactionOpenAtStart(t *testing.T) {
	b := kafkatest.Shared(t)
	topic := kafkatest.Name(t, "txnopen")
	createTopic(t, b, topic, 1)
	toPartition(t, b, topic, 0, "old")
	txid := kafkatest.Name(t, "tx")
	cl := b.Client(t, kgo.TransactionalID(txid), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, cl.BeginTransaction())
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte("open")}).FirstErr())
	c, _ := startSource(t, map[string]string{kafka.KeyBootstrap: b.Addr, kafka.KeyTopics: topic, kafka.KeyStart: "latest",
		kafka.KeyIsolation: "read_committed", kafka.KeyFetchMaxWait: "50ms"})
	tcs, err := c.TaskConfigs(1)
	require.NoError(t, err)
	t.Logf("start offsets %s", tcs[0][kafka.KeyTaskStarts])
	require.NoError(t, cl.EndTransaction(ctx, kgo.TryCommit))
	task := startSourceTask(t, c, tcs[0], nil, nil)
	got := pollValues(t, task, nil, 30*time.Second, "open")
	require.Equal(t, []string{"open"}, got, fmt.Sprint(got))
}

// TestSourceReadsLogAppendTimeOfZstdBatch: a LogAppendTime topic's records carry the broker's time, not
// the producer's, and a zstd-compressed batch is read record by record.
func TestSourceReadsLogAppendTimeOfZstdBatch(t *testing.T) {
	b := kafkatest.Shared(t)
	topic := kafkatest.Name(t, "lat")
	createTopic(t, b, topic, 1, "message.timestamp.type", "LogAppendTime")
	cl := b.Client(t, kgo.ProducerBatchCompression(kgo.ZstdCompression()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	old := time.UnixMilli(1_000_000_000_000)
	before := time.Now().Add(-time.Second)
	b.Produce(t, cl, &kgo.Record{Topic: topic, Value: []byte("z1"), Timestamp: old}, &kgo.Record{Topic: topic, Value: []byte("z2"), Timestamp: old})
	c, _ := startSource(t, map[string]string{kafka.KeyBootstrap: b.Addr, kafka.KeyTopics: topic, kafka.KeyFetchMaxWait: "50ms"})
	tcs, err := c.TaskConfigs(1)
	require.NoError(t, err)
	task := startSourceTask(t, c, tcs[0], nil, nil)
	var n int
	for deadline := time.Now().Add(30 * time.Second); n < 2 && time.Now().Before(deadline); {
		recs, err := task.Poll(context.Background())
		require.NoError(t, err)
		for _, r := range recs {
			n++
			require.True(t, r.Timestamp.After(before), "timestamp %v is not the broker's append time", r.Timestamp)
		}
	}
	require.Equal(t, 2, n)
}
