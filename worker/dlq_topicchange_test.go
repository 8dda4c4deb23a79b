package worker

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// TestDLQReplayRecordsFollowTheDLQTopic: replay records belong to the DLQ topic, and the
// message, they were made for: after the connector's DLQ topic changes, or the topic is
// deleted and created again (its offsets start again at 0), a new record with the id of
// one replayed before is neither shown as replayed nor skipped; the records of a topic no
// longer the connector's are dropped. A new record used to be skipped as replayed whenever
// its id matched an old one.
func TestDLQReplayRecordsFollowTheDLQTopic(t *testing.T) {
	topic := rmqtest.Topic(t, 1)
	dlqA, dlqB := rmqtest.Topic(t, 1), rmqtest.Topic(t, 1)
	dir := t.TempDir()
	env := startHerder(t, dir)
	defer env.stop(t)
	ctx := context.Background()
	client := rmqtest.Client(t)
	p, err := client.NewProducer("topicchange", rmqclient.ProducerOptions{})
	require.NoError(t, err)
	defer p.Close()
	put := func(dlq string) {
		t.Helper()
		_, err := p.Send(ctx, &rmqclient.Message{Topic: dlq, Body: []byte("r"), Properties: map[string]string{ErrHeaderTopic: topic}})
		require.NoError(t, err)
	}
	cfg := map[string]string{"connector.class": "mem-sink", "test.id": rmqtest.Name(t, "st"), "connect.topicnames": topic,
		"task.group.id": rmqtest.Group(t), "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlqA}
	_, err = env.h.CreateConnector(ctx, "s", cfg, "")
	require.NoError(t, err)
	put(dlqA)
	require.Nil(t, waitDLQ(t, env.h, "s", 1)[0].Replayed)
	res, err := env.h.DLQReplay(ctx, "s", nil, false)
	require.NoError(t, err)
	require.Equal(t, []string{brokerID(t, dlqA, 0, 0)}, res.Replayed)

	// Another DLQ topic: its record 0-0 is another record.
	cfg["errors.deadletterqueue.topic.name"] = dlqB
	_, _, err = env.h.PutConnectorConfig(ctx, "s", cfg)
	require.NoError(t, err)
	put(dlqB)
	recs := waitDLQ(t, env.h, "s", 1)
	require.Equal(t, brokerID(t, dlqB, 0, 0), recs[0].ID)
	require.Nil(t, recs[0].Replayed, "not replayed: the replay was of dlqA's 0-0")
	res, err = env.h.DLQReplay(ctx, "s", nil, false)
	require.NoError(t, err)
	require.Equal(t, []string{brokerID(t, dlqB, 0, 0)}, res.Replayed)
	require.Empty(t, res.Skipped)
	b, err := os.ReadFile(filepath.Join(dir, "dlq-replays.json"))
	require.NoError(t, err)
	require.NotContains(t, string(b), dlqA, "the records of the former DLQ topic are dropped")

	// The same topic deleted and created again.
	require.NoError(t, client.DeleteTopic(ctx, dlqB))
	require.NoError(t, client.CreateTopic(ctx, rmqclient.TopicSpec{Name: dlqB, Queues: 1}))
	put(dlqB)
	var page restapi.DLQPage
	require.Eventually(t, func() bool {
		page, err = env.h.DLQList(ctx, "s", "", 10)
		return err == nil && len(page.Records) == 1
	}, 30*time.Second, 100*time.Millisecond)
	require.Equal(t, brokerID(t, dlqB, 0, 0), page.Records[0].ID)
	require.Nil(t, page.Records[0].Replayed, "not replayed: the replay was of the former topic's 0-0")
	res, err = env.h.DLQReplay(ctx, "s", nil, false)
	require.NoError(t, err)
	require.Equal(t, []string{brokerID(t, dlqB, 0, 0)}, res.Replayed)
}

// TestClusterReplayRecordsOfAFormerDLQTopicAreDropped: in the config fold, a config update
// that changes the connector's DLQ topic drops the replay records of the former topic (and
// those kept by id alone, which cannot be told apart), and one that keeps it keeps them.
func TestClusterReplayRecordsOfAFormerDLQTopicAreDropped(t *testing.T) {
	s := newConfigState()
	const key = "errors.deadletterqueue.topic.name"
	require.NoError(t, s.apply(0, configRecord{Type: recConnector, Name: "a", Config: map[string]string{key: "dlqA"}}))
	for i, id := range []string{"dlqA/0-0/m1", "0-1"} {
		require.NoError(t, s.apply(int64(i+1), configRecord{Type: recReplay, Name: "a", Inc: 1, ReplayID: id,
			Replay: &restapi.ReplayInfo{At: time.Now().UTC(), MsgID: "x"}}))
	}
	require.NoError(t, s.apply(3, configRecord{Type: recConnector, Name: "a", Base: 1, Config: map[string]string{key: "dlqA", "k": "v"}}))
	require.Len(t, s.Connectors["a"].Replays, 2)
	require.NoError(t, s.apply(4, configRecord{Type: recConnector, Name: "a", Base: 4, Config: map[string]string{key: "dlqB"}}))
	require.Empty(t, s.Connectors["a"].Replays)
}
