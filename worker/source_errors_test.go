package worker

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/builtin"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// readDLQ collects every message of a DLQ topic.
func readDLQ(t *testing.T, topic string, want int) []*rmqclient.ReceivedMessage {
	t.Helper()
	client := rmqtest.Client(t)
	require.Eventually(t, func() bool {
		_, err := client.TopicQueues(context.Background(), topic)
		return err == nil
	}, 30*time.Second, 100*time.Millisecond, "DLQ topic %s never appeared", topic)
	var got collectorMsgs
	cons, err := client.NewConsumer("dlq-reader", rmqclient.ConsumerOptions{Group: rmqtest.Group(t), Topics: []string{topic}, From: rmqclient.FromFirst},
		func(_ context.Context, ms []*rmqclient.ReceivedMessage) error { got.add(ms); return nil })
	require.NoError(t, err)
	t.Cleanup(func() { _ = cons.Close() })
	require.Eventually(t, func() bool { return len(got.all()) >= want }, 60*time.Second, 100*time.Millisecond)
	return got.all()
}

func TestSourceConversionFailureGoesToDLQ(t *testing.T) {
	topic := rmqtest.Topic(t, 1)
	dlq := rmqtest.Name(t, "dlq")
	env := startHerder(t, t.TempDir())
	defer env.stop(t)
	ctx := context.Background()
	_, err := env.h.CreateConnector(ctx, "src", map[string]string{
		"connector.class": "mem-source", "test.id": rmqtest.Name(t, "s"), "count": "20", "connect.topicname": topic,
		// The values are strings: the integer converter cannot encode them.
		"value.converter": "integer", "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
	}, "")
	require.NoError(t, err)
	msgs := readDLQ(t, dlq, 20)
	for _, m := range msgs {
		require.True(t, strings.HasPrefix(string(m.Body), "value-0-"), string(m.Body))
		require.Equal(t, StageValueConv, m.Properties[ErrHeaderStage])
		require.Equal(t, topic, m.Properties[ErrHeaderTopic])
		require.Equal(t, "src", m.Properties[ErrHeaderConnector])
		require.Equal(t, "v", m.Properties["h"], "the DLQ message keeps the record's headers")
	}
	// Skipped records still move the position on: nothing is retried forever.
	require.Eventually(t, func() bool {
		ps, _ := env.h.Positions("src")
		return len(ps) == 1 && ps[0].Offset["seq"] == int64(19)
	}, 10*time.Second, 50*time.Millisecond)
	waitState(t, env.h, "src", restapi.StateRunning, 1)
}

func TestOverlongFileLineGoesToDLQ(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	long := strings.Repeat("x", 300)
	require.NoError(t, os.WriteFile(in, []byte("short one\n"+long+"\nshort two\n"), 0o644))
	topic := rmqtest.Topic(t, 1)
	dlq := rmqtest.Name(t, "dlq")
	reg, err := builtin.Registry()
	require.NoError(t, err)
	h, err := NewStandalone(StandaloneConfig{WorkerID: "w", StoreDir: filepath.Join(dir, "store"), KeyConverter: "string",
		ValueConverter: "string", CommitInterval: 100 * time.Millisecond, AutoCreate: true}, rmqtest.Client(t), reg, quiet())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	defer func() { cancel(); require.NoError(t, <-done) }()
	<-h.Started()

	out := filepath.Join(dir, "out.txt")
	_, err = h.CreateConnector(context.Background(), "src", map[string]string{
		"connector.class": "file-source", "filename": in, "connect.topicname": topic, "max.line.bytes": "100",
		"errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
	}, "")
	require.NoError(t, err)
	_, err = h.CreateConnector(context.Background(), "snk", map[string]string{
		"connector.class": "file-sink", "filename": out, "connect.topicnames": topic, "task.group.id": rmqtest.Group(t),
	}, "")
	require.NoError(t, err)
	msgs := readDLQ(t, dlq, 1)
	require.Len(t, msgs, 1)
	require.Equal(t, StagePoll, msgs[0].Properties[ErrHeaderStage])
	require.Equal(t, strings.Repeat("x", 100), string(msgs[0].Body), "the DLQ keeps the raw bytes read (up to max.line.bytes)")
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(out)
		return string(b) == "short one\nshort two\n"
	}, 30*time.Second, 100*time.Millisecond)
}

// TestSourceRecordTooBigForRocketMQGoesToDLQ: a record whose properties RocketMQ cannot
// carry (over 32 KiB encoded) is refused alone before the send and handled per
// errors.tolerance, instead of failing its whole batch at the broker.
func TestSourceRecordTooBigForRocketMQGoesToDLQ(t *testing.T) {
	topic := rmqtest.Topic(t, 1)
	dlq := rmqtest.Name(t, "dlq")
	env := startHerder(t, t.TempDir())
	defer env.stop(t)
	ctx := context.Background()
	_, err := env.h.CreateConnector(ctx, "src", map[string]string{
		"connector.class": "mem-source", "test.id": rmqtest.Name(t, "s"), "count": "10", "connect.topicname": topic,
		"transforms": "big", "transforms.big.type": "InsertHeader", "transforms.big.header": "big",
		"transforms.big.value.literal": strings.Repeat("x", 40<<10),
		"errors.tolerance":             "all", "errors.deadletterqueue.topic.name": dlq,
	}, "")
	require.NoError(t, err)
	msgs := readDLQ(t, dlq, 10)
	for _, m := range msgs {
		require.True(t, strings.HasPrefix(string(m.Body), "value-0-"), string(m.Body))
		require.Equal(t, StageProduce, m.Properties[ErrHeaderStage])
		require.Contains(t, m.Properties[ErrHeaderExcMessage], "32767")
	}
	require.Eventually(t, func() bool {
		ps, _ := env.h.Positions("src")
		return len(ps) == 1 && ps[0].Offset["seq"] == int64(9)
	}, 10*time.Second, 50*time.Millisecond)
	waitState(t, env.h, "src", restapi.StateRunning, 1)
}

// TestSourceOffsetJSONCannotWriteFailsTheTask: a record whose source offset JSON cannot write
// (a NaN), and that is its partition's position (the last of its batch), fails its task,
// naming the offset, before the position is kept. The position store
// refused the whole commit for it, and every commit after: the task ran on with no position
// of any partition stored and its Commit never called.
func TestSourceOffsetJSONCannotWriteFailsTheTask(t *testing.T) {
	topic := rmqtest.Topic(t, 1)
	env := startHerder(t, t.TempDir())
	defer env.stop(t)
	_, err := env.h.CreateConnector(context.Background(), "src", map[string]string{
		"connector.class": "mem-source", "test.id": rmqtest.Name(t, "s"), "count": "10", "bad.offset.at": "9",
		"connect.topicname": topic,
	}, "")
	require.NoError(t, err)
	var last restapi.ConnectorStatus
	require.Eventually(t, func() bool {
		st, err := env.h.ConnectorStatus(context.Background(), "src")
		last = st
		return err == nil && len(st.Tasks) == 1 && st.Tasks[0].State == restapi.StateFailed &&
			strings.Contains(st.Tasks[0].Trace, "source offset is not JSON data")
	}, 30*time.Second, 50*time.Millisecond, "status: %+v", &last)
	ps, err := env.h.Positions("src")
	require.NoError(t, err)
	require.Empty(t, ps, "the batch's position is its last record's, which was refused")
}

// TestFailedSourceRecordKeepsItsHeaders: a failed source record's DLQ message carries its
// headers as a message of it would: text under their names, reserved names escaped, a KEYS
// header as the keys; headers that are not text are left out.
func TestFailedSourceRecordKeepsItsHeaders(t *testing.T) {
	r := schema.NewRecord("t", nil, nil, schema.BytesSchema, []byte("x"))
	r.Headers.Add("a", schema.StringSchema, "1")
	r.Headers.Add("DELAY", schema.StringSchema, "3")
	r.Headers.Add("TAGS", schema.StringSchema, "tag")
	r.Headers.Add("KEYS", schema.StringSchema, "k1 k2")
	r.Headers.Add("bad", schema.StringSchema, "x\x01y")
	r.Headers.Add("empty", schema.StringSchema, "")
	props, keys := failedProps(r)
	require.Equal(t, map[string]string{"a": "1", PropHeaderEscape + "DELAY": "3", PropHeaderEscape + "TAGS": "tag"}, props)
	require.Equal(t, []string{"k1", "k2"}, keys)
}
