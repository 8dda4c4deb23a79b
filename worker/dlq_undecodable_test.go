package worker

import (
	"context"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// sendUndecodable writes to topic a message the worker cannot decode, as a foreign writer
// could: flagged as zlib-compressed, its body is not zlib. Its properties are readable.
func sendUndecodable(t *testing.T, topic string, props map[string]string) {
	t.Helper()
	p, err := rocketmq.NewProducer(producer.WithNameServer([]string{rmqtest.NameServer(t)}),
		producer.WithGroupName(rmqtest.Group(t)), producer.WithInstanceName(rmqtest.Name(t, "raw")))
	require.NoError(t, err)
	require.NoError(t, p.Start())
	defer func() { require.NoError(t, p.Shutdown()) }()
	m := primitive.NewMessage(topic, []byte("unused"))
	m.WithProperties(props)
	m.Compress, m.CompressedBody = true, []byte("not zlib at all")
	res, err := p.SendSync(context.Background(), m)
	require.NoError(t, err)
	require.Equal(t, primitive.SendOK, res.Status)
}

// undecodableDLQ makes a sink connector "s" whose one-queue DLQ holds a good record, one
// the worker cannot decode and another good record, in that order.
func undecodableDLQ(t *testing.T, env *herderEnv) (topic, dlq string) {
	t.Helper()
	topic = rmqtest.Topic(t, 1)
	dlq = rmqtest.Topic(t, 1)
	ctx := context.Background()
	client := rmqtest.Client(t)
	_, err := env.h.CreateConnector(ctx, "s", map[string]string{"connector.class": "mem-sink", "test.id": rmqtest.Name(t, "st"),
		"connect.topicnames": topic, "task.group.id": rmqtest.Group(t), "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq}, "")
	require.NoError(t, err)
	p, err := client.NewProducer("undecodable", rmqclient.ProducerOptions{})
	require.NoError(t, err)
	defer p.Close()
	send := func(body string) {
		_, err := p.Send(ctx, &rmqclient.Message{Topic: dlq, Body: []byte(body), Properties: map[string]string{ErrHeaderTopic: topic}})
		require.NoError(t, err)
	}
	send("before")
	sendUndecodable(t, dlq, map[string]string{ErrHeaderTopic: topic, ErrHeaderStage: StageConsume})
	send("after")
	qs, err := client.TopicQueues(ctx, dlq)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, end, err := client.QueueOffsets(ctx, qs[0])
		return err == nil && end >= 3
	}, 30*time.Second, 10*time.Millisecond)
	return topic, dlq
}

// TestDLQListShowsAnUndecodableRecord: a DLQ message the worker cannot decode does not fail
// the listing (it used to be a 500 for the whole page, the records after it out of reach):
// it is listed by its id, with what could be read, and marked undecodable; its GET answers
// the same, with its stored bytes.
func TestDLQListShowsAnUndecodableRecord(t *testing.T) {
	env := startHerder(t, t.TempDir())
	defer env.stop(t)
	ctx := context.Background()
	topic, dlq := undecodableDLQ(t, env)

	page, err := env.h.DLQList(ctx, "s", "", 10)
	require.NoError(t, err)
	require.Len(t, page.Records, 3)
	require.Equal(t, "before", page.Records[0].BodyPreview)
	bad := page.Records[1]
	require.Equal(t, brokerID(t, dlq, 0, 1), bad.ID)
	require.Equal(t, topic, bad.Topic, "its readable properties are shown")
	require.Equal(t, StageConsume, bad.Stage)
	require.Contains(t, bad.BodyPreview, "<undecodable: ")
	require.Contains(t, bad.BodyPreview, "zlib")
	require.Equal(t, "after", page.Records[2].BodyPreview)

	page, err = env.h.DLQList(ctx, "s", page.Records[0].ID, 1)
	require.NoError(t, err)
	require.Len(t, page.Records, 1)
	require.Equal(t, bad.ID, page.Records[0].ID, "a page may end on it")
	require.Equal(t, bad.ID, page.Next)

	rec, err := env.h.DLQGet(ctx, "s", bad.ID)
	require.NoError(t, err)
	require.Equal(t, bad.BodyPreview, rec.BodyPreview)
	require.Equal(t, "not zlib at all", string(rec.Body), "the bytes stored")
}

// TestDLQReplayRefusesAnUndecodableRecord: a replay of all refuses a DLQ message the worker
// cannot decode and sends the records before and after it (it used to fail, sending none of
// the records read with it); a replay naming it refuses it too.
func TestDLQReplayRefusesAnUndecodableRecord(t *testing.T) {
	env := startHerder(t, t.TempDir())
	defer env.stop(t)
	ctx := context.Background()
	topic, dlq := undecodableDLQ(t, env)

	res, err := env.h.DLQReplay(ctx, "s", nil, false)
	require.NoError(t, err)
	require.Equal(t, []string{brokerID(t, dlq, 0, 0), brokerID(t, dlq, 0, 2)}, res.Replayed)
	require.Len(t, res.Refused, 1)
	require.Equal(t, brokerID(t, dlq, 0, 1), res.Refused[0].ID)
	require.Equal(t, restapi.RefusedBodyUndecodable, res.Refused[0].Code)
	require.Contains(t, res.Refused[0].Reason, "cannot decode")

	res, err = env.h.DLQReplay(ctx, "s", []string{brokerID(t, dlq, 0, 1)}, true)
	require.NoError(t, err)
	require.Empty(t, res.Replayed)
	require.Len(t, res.Refused, 1)
	require.Equal(t, restapi.RefusedBodyUndecodable, res.Refused[0].Code)

	client := rmqtest.Client(t)
	qs, err := client.TopicQueues(ctx, topic)
	require.NoError(t, err)
	var sent int64
	for _, q := range qs {
		_, end, err := client.QueueOffsets(ctx, q)
		require.NoError(t, err)
		sent += end
	}
	require.Equal(t, int64(2), sent, "the two good records, once")
}
