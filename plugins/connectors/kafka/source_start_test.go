package kafka_test

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/kafka"
	"github.com/rmqconnect/rmqconnect/tests/kafkatest"
)

// startSource starts a kafka-source connector on cfg; it is stopped when the test ends.
func startSource(t *testing.T, cfg map[string]string) (*kafka.SourceConnector, *conformance.ConnectorContext) {
	t.Helper()
	c := kafka.NewSourceConnector()
	require.NoError(t, c.Validate(cfg))
	cctx := conformance.NewConnectorContext()
	vals, err := c.Spec().Parse(cfg)
	require.NoError(t, err)
	cctx.Values = vals
	require.NoError(t, c.Start(context.Background(), cctx, cfg))
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	return c, cctx
}

// startSourceTask starts a task of c on cfg (one of its TaskConfigs) reading positions from store and
// logging to log (nowhere when nil).
func startSourceTask(t *testing.T, c *kafka.SourceConnector, cfg map[string]string, store *conformance.Positions, log *slog.Logger) plugins.SourceTask {
	t.Helper()
	tctx := conformance.NewSourceContext(store)
	if log != nil {
		tctx.Log = log
	}
	vals, err := c.Spec().Parse(cfg)
	require.NoError(t, err)
	tctx.Values = vals
	task := c.NewSourceTask()
	require.NoError(t, task.Start(context.Background(), tctx, cfg))
	t.Cleanup(func() { _ = task.Stop(context.Background()) })
	return task
}

// pollValues polls task until want (a set of values) arrived or timeout passed, and returns every value
// polled; with commit, each record's position goes to store as the engine would store it once acked.
func pollValues(t *testing.T, task plugins.SourceTask, store *conformance.Positions, timeout time.Duration, want ...string) []string {
	t.Helper()
	missing := map[string]bool{}
	for _, w := range want {
		missing[w] = true
	}
	var got []string
	for deadline := time.Now().Add(timeout); len(missing) > 0 && time.Now().Before(deadline); {
		recs, err := task.Poll(context.Background())
		require.NoError(t, err)
		for _, r := range recs {
			got = append(got, string(r.Value.([]byte)))
			delete(missing, string(r.Value.([]byte)))
			if store != nil {
				store.Commit(r)
			}
		}
	}
	require.Empty(t, missing, "records never polled; polled %q", got)
	return got
}

// toPartition produces records with values vals to one partition of topic.
func toPartition(t *testing.T, b *kafkatest.Broker, topic string, partition int32, vals ...string) {
	t.Helper()
	cl := b.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	recs := make([]*kgo.Record, len(vals))
	for i, v := range vals {
		recs[i] = &kgo.Record{Topic: topic, Partition: partition, Value: []byte(v)}
	}
	b.Produce(t, cl, recs...)
}

// TestSourceLatestRestartReadsIdlePartition: with kafka.offset.reset=latest, a partition that delivered
// nothing yet (so has no position) keeps the start the connector fixed: a record written to it while the
// task is stopped is read by the next task, and records written before the connector started are not.
func TestSourceLatestRestartReadsIdlePartition(t *testing.T) {
	b := kafkatest.Shared(t)
	topic := kafkatest.Name(t, "latest")
	createTopic(t, b, topic, 2)
	toPartition(t, b, topic, 0, "old-0")
	toPartition(t, b, topic, 1, "old-1")
	c, _ := startSource(t, map[string]string{kafka.KeyBootstrap: b.Addr, kafka.KeyTopics: topic, kafka.KeyStart: "latest",
		kafka.KeyFetchMaxWait: "50ms"})
	tcs, err := c.TaskConfigs(1)
	require.NoError(t, err)
	require.Len(t, tcs, 1)

	store := conformance.NewPositions()
	task := startSourceTask(t, c, tcs[0], store, nil)
	toPartition(t, b, topic, 0, "a")
	require.Equal(t, []string{"a"}, pollValues(t, task, store, 30*time.Second, "a"))
	require.NoError(t, task.Commit(context.Background()))
	require.NoError(t, task.Stop(context.Background()))

	toPartition(t, b, topic, 1, "x")
	toPartition(t, b, topic, 0, "b")
	again := startSourceTask(t, c, tcs[0], store, nil)
	got := pollValues(t, again, store, 30*time.Second, "x", "b")
	require.ElementsMatch(t, []string{"x", "b"}, got, "nothing from before the connector started, nothing twice")
}

// TestSourceLatestNewPartitionReadFromStart: with kafka.offset.reset=latest, a partition added after the
// connector started is read from its oldest record, so what was written to it before the connector's
// listing found it is not lost.
func TestSourceLatestNewPartitionReadFromStart(t *testing.T) {
	b := kafkatest.Shared(t)
	topic := kafkatest.Name(t, "grow")
	createTopic(t, b, topic, 1)
	c, cctx := startSource(t, map[string]string{kafka.KeyBootstrap: b.Addr, kafka.KeyTopics: topic, kafka.KeyStart: "latest",
		kafka.KeyFetchMaxWait: "50ms", kafka.KeyTopicsInterval: "200ms"})
	tcs, err := c.TaskConfigs(1)
	require.NoError(t, err)
	require.Equal(t, topic+":0", tcs[0][kafka.KeyTaskPartitions])

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := b.Admin(t).CreatePartitions(ctx, 1, topic)
	require.NoError(t, err)
	require.NoError(t, resp.Error())
	// Produced at once: before the connector's listing, or at least before the task for it starts.
	require.Eventually(t, func() bool {
		cl := b.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
		return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 1, Value: []byte("early")}).FirstErr() == nil
	}, 30*time.Second, 100*time.Millisecond)
	require.Eventually(t, func() bool { return cctx.Reconfigurations() > 0 }, 30*time.Second, 50*time.Millisecond)
	tcs, err = c.TaskConfigs(1)
	require.NoError(t, err)
	require.Equal(t, topic+":0,"+topic+":1", tcs[0][kafka.KeyTaskPartitions])

	task := startSourceTask(t, c, tcs[0], nil, nil)
	require.Equal(t, []string{"early"}, pollValues(t, task, nil, 30*time.Second, "early"))
}

// TestSourceWrongPasswordFails: credentials the cluster refuses fail the connector's start and a task's
// Poll with ErrUnauthorized, not retriable and naming the cause, instead of a task that runs reading
// nothing.
func TestSourceWrongPasswordFails(t *testing.T) {
	b := kafkatest.Shared(t)
	if b.SASLAddr == "" {
		t.Skip("the broker named by " + kafkatest.EnvBrokers + " has no SASL listener of the harness")
	}
	topic := kafkatest.Name(t, "auth")
	createTopic(t, b, topic, 1)
	cfg := map[string]string{kafka.KeyBootstrap: b.SASLAddr, kafka.KeySecurity: "SASL_PLAINTEXT", kafka.KeySASLMechanism: "PLAIN",
		kafka.KeySASLUsername: kafkatest.SASLUser, kafka.KeySASLPassword: "wrong", kafka.KeyRequestTimeout: "5s",
		kafka.KeyTopics: topic, kafka.KeyFetchMaxWait: "50ms"}

	c := kafka.NewSourceConnector()
	cctx := conformance.NewConnectorContext()
	vals, err := c.Spec().Parse(cfg)
	require.NoError(t, err)
	cctx.Values = vals
	err = c.Start(context.Background(), cctx, cfg)
	require.NoError(t, c.Stop(context.Background()))
	require.ErrorIs(t, err, kafka.ErrUnauthorized)
	require.False(t, plugins.IsRetriable(err))
	require.Contains(t, err.Error(), "SASL")

	cfg[kafka.KeyTaskPartitions] = topic + ":0"
	task := startSourceTask(t, kafka.NewSourceConnector(), cfg, nil, nil)
	deadline := time.Now().Add(time.Minute)
	for {
		recs, err := task.Poll(context.Background())
		if err != nil {
			require.ErrorIs(t, err, kafka.ErrUnauthorized)
			require.False(t, plugins.IsRetriable(err))
			require.Contains(t, err.Error(), "SASL")
			break
		}
		require.Empty(t, recs)
		require.True(t, time.Now().Before(deadline), "Poll never reported the refused credentials")
	}
}

// logRecorder keeps the messages logged at Info and above with their "topic" attribute.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string // "message|topic"
}

func (l *logRecorder) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelInfo }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	topic := ""
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "topic" {
			topic = a.Value.String()
		}
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Message+"|"+topic)
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// count is how many times msg was logged about topic.
func (l *logRecorder) count(msg, topic string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if m == msg+"|"+topic {
			n++
		}
	}
	return n
}

// startLogged starts a kafka-source connector on cfg logging to logs.
func startLogged(t *testing.T, cfg map[string]string, logs *logRecorder) (*kafka.SourceConnector, *conformance.ConnectorContext) {
	t.Helper()
	c := kafka.NewSourceConnector()
	require.NoError(t, c.Validate(cfg))
	cctx := conformance.NewConnectorContext()
	cctx.Log = slog.New(logs)
	vals, err := c.Spec().Parse(cfg)
	require.NoError(t, err)
	cctx.Values = vals
	require.NoError(t, c.Start(context.Background(), cctx, cfg))
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	return c, cctx
}

// TestSourceRegexSkipsUnmappableTopics: in regex mode a matching topic that cannot be written to a
// RocketMQ topic of its own (its name would be too long, or a topic already read has that name) is left
// out with one warning, and the other topics are read; a matching topic deleted while a task reads it is
// dropped by the task, which goes on reading the others.
func TestSourceRegexSkipsUnmappableTopics(t *testing.T) {
	b := kafkatest.Shared(t)
	prefix := kafkatest.Name(t, "rx")
	first, second, long, later := prefix+"_b", prefix+"_c", prefix+"_"+strings.Repeat("z", 140), prefix+"_a"
	for _, topic := range []string{first, second, long} {
		createTopic(t, b, topic, 1)
	}
	const skippedMsg = "kafka topic matches kafka.topics.regex but is not read"
	regex := regexp.QuoteMeta(prefix) + "_.*"

	// Every topic to one RocketMQ topic: the first by name is read, then a new topic sorting before it
	// does not take its place.
	oneLogs := &logRecorder{}
	one, oneCtx := startLogged(t, map[string]string{kafka.KeyBootstrap: b.Addr, kafka.KeyTopicsRegex: regex,
		kafka.KeyTopicRename: "rx-all", kafka.KeyTopicsInterval: "100ms"}, oneLogs)
	tcs, err := one.TaskConfigs(1)
	require.NoError(t, err)
	require.Equal(t, first+":0", tcs[0][kafka.KeyTaskPartitions])
	createTopic(t, b, later, 1)
	require.Eventually(t, func() bool { return oneLogs.count(skippedMsg, later) > 0 }, 30*time.Second, 20*time.Millisecond)
	tcs, err = one.TaskConfigs(1)
	require.NoError(t, err)
	require.Equal(t, first+":0", tcs[0][kafka.KeyTaskPartitions], "the topic read keeps its RocketMQ topic")

	// Names as they are: the one too long for RocketMQ is left out.
	logs := &logRecorder{}
	c, cctx := startLogged(t, map[string]string{kafka.KeyBootstrap: b.Addr, kafka.KeyTopicsRegex: regex,
		kafka.KeyFetchMaxWait: "50ms", kafka.KeyTopicsInterval: "100ms"}, logs)
	tcs, err = c.TaskConfigs(1)
	require.NoError(t, err)
	require.Len(t, tcs, 1)
	require.Equal(t, later+":0,"+first+":0,"+second+":0", tcs[0][kafka.KeyTaskPartitions])

	time.Sleep(500 * time.Millisecond) // several listings more
	for _, topic := range []string{second, long, later} {
		require.Equal(t, 1, oneLogs.count(skippedMsg, topic), "one warning about %s", topic)
	}
	require.Equal(t, 1, logs.count(skippedMsg, long), "one warning about the topic whose name is too long")
	require.Empty(t, oneCtx.Raised())
	require.Empty(t, cctx.Raised())

	taskLogs := &logRecorder{}
	task := startSourceTask(t, c, tcs[0], nil, slog.New(taskLogs))
	toPartition(t, b, second, 0, "c-1")
	pollValues(t, task, nil, 30*time.Second, "c-1")
	b.DeleteTopic(t, second)
	for deadline := time.Now().Add(time.Minute); taskLogs.count("kafka topic deleted; no longer read", second) == 0; {
		_, err := task.Poll(context.Background())
		require.NoError(t, err, "a deleted regex topic does not fail the task")
		require.True(t, time.Now().Before(deadline), "the task never met the deleted topic")
	}
	toPartition(t, b, first, 0, "b-1")
	pollValues(t, task, nil, 30*time.Second, "b-1")
	require.Empty(t, cctx.Raised())
}
