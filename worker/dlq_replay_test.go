package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// TestDLQReplayOnlyToTheConnectorsTopics: a DLQ record naming another topic (here, one
// standing in for a store topic) or keeping only part of its body is refused with a reason
// and nothing is written to that topic; the connector's own record is replayed.
func TestDLQReplayOnlyToTheConnectorsTopics(t *testing.T) {
	topic := rmqtest.Topic(t, 1)
	store := rmqtest.Topic(t, 1)
	dlq := rmqtest.Topic(t, 1)
	env := startHerder(t, t.TempDir())
	defer env.stop(t)
	ctx := context.Background()
	client := rmqtest.Client(t)
	_, err := env.h.CreateConnector(ctx, "s", map[string]string{"connector.class": "mem-sink", "test.id": rmqtest.Name(t, "st"),
		"connect.topicnames": topic, "task.group.id": rmqtest.Group(t), "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq}, "")
	require.NoError(t, err)
	p, err := client.NewProducer("crafted", rmqclient.ProducerOptions{})
	require.NoError(t, err)
	defer p.Close()
	for _, m := range []*rmqclient.Message{
		{Topic: dlq, Body: []byte("own"), Properties: map[string]string{ErrHeaderTopic: topic}},
		{Topic: dlq, Body: []byte("crafted"), Properties: map[string]string{ErrHeaderTopic: store}},
		{Topic: dlq, Body: []byte("head"), Properties: map[string]string{ErrHeaderTopic: topic, ErrHeaderBodyTruncated: "true", ErrHeaderBodySize: "9999999"}},
	} {
		_, err := p.Send(ctx, m)
		require.NoError(t, err)
	}
	res, err := env.h.DLQReplay(ctx, "s", nil, false)
	require.NoError(t, err)
	require.Equal(t, []string{brokerID(t, dlq, 0, 0)}, res.Replayed)
	require.Len(t, res.Refused, 2)
	require.Equal(t, brokerID(t, dlq, 0, 1), res.Refused[0].ID)
	require.Equal(t, restapi.RefusedForeignTopic, res.Refused[0].Code)
	require.Contains(t, res.Refused[0].Reason, "connect.topicnames")
	require.Equal(t, brokerID(t, dlq, 0, 2), res.Refused[1].ID)
	require.Equal(t, restapi.RefusedBodyTruncated, res.Refused[1].Code)
	require.Contains(t, res.Refused[1].Reason, "kept only")
	qs, err := client.TopicQueues(ctx, store)
	require.NoError(t, err)
	for _, q := range qs {
		_, maxOff, err := client.QueueOffsets(ctx, q)
		require.NoError(t, err)
		require.Zero(t, maxOff, "nothing was written to the foreign topic")
	}
}

// TestDLQReplayStreamsInBatches: a replay of more records than one batch sends and records
// them all, and a second replay skips them all (they were recorded durably).
func TestDLQReplayStreamsInBatches(t *testing.T) {
	topic := rmqtest.Topic(t, 1)
	dlq := rmqtest.Topic(t, 1)
	dir := t.TempDir()
	env := startHerder(t, dir)
	defer env.stop(t)
	ctx := context.Background()
	client := rmqtest.Client(t)
	_, err := env.h.CreateConnector(ctx, "s", map[string]string{"connector.class": "mem-sink", "test.id": rmqtest.Name(t, "st"),
		"connect.topicnames": topic, "task.group.id": rmqtest.Group(t), "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq}, "")
	require.NoError(t, err)
	p, err := client.NewProducer("many", rmqclient.ProducerOptions{})
	require.NoError(t, err)
	defer p.Close()
	const n = replayBatch + 44
	for i := 0; i < n; i += 50 {
		var batch []*rmqclient.Message
		for j := i; j < min(i+50, n); j++ {
			batch = append(batch, &rmqclient.Message{Topic: dlq, Body: []byte(fmt.Sprint(j)), Properties: map[string]string{ErrHeaderTopic: topic}})
		}
		_, err := p.Send(ctx, batch...)
		require.NoError(t, err)
	}
	// The consume queue lists a sent message a moment after the send returns (longer on a loaded
	// broker): the replay reads what the queue lists when it begins.
	dlqQueues, err := client.TopicQueues(ctx, dlq)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, end, err := client.QueueOffsets(ctx, dlqQueues[0])
		return err == nil && end >= n
	}, 30*time.Second, 10*time.Millisecond)
	res, err := env.h.DLQReplay(ctx, "s", nil, false)
	require.NoError(t, err)
	require.Len(t, res.Replayed, n)
	require.Empty(t, res.Refused)
	var stored map[string]*dlqReplays
	b, err := os.ReadFile(filepath.Join(dir, "dlq-replays.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &stored))
	require.Equal(t, dlq, stored["s"].Topic)
	id, err := parseDLQID(brokerID(t, dlq, 0, 0))
	require.NoError(t, err)
	require.Len(t, stored["s"].Queues[id.queueKey()].Runs, 1, "one run of offsets")
	require.Equal(t, int64(n), stored["s"].Queues[id.queueKey()].Runs[0].To)
	again, err := env.h.DLQReplay(ctx, "s", nil, false)
	require.NoError(t, err)
	require.Empty(t, again.Replayed)
	require.Len(t, again.Skipped, n)
}

// TestDLQReplayOfAnUnknownIDSendsNothing: a replay naming a record the DLQ does not hold
// fails before anything is sent, however many batches the ids fill. It used to send the
// batches before the unknown id and then fail, the call's answer (404) losing what was sent.
func TestDLQReplayOfAnUnknownIDSendsNothing(t *testing.T) {
	topic := rmqtest.Topic(t, 1)
	dlq := rmqtest.Topic(t, 1)
	dir := t.TempDir()
	env := startHerder(t, dir)
	defer env.stop(t)
	ctx := context.Background()
	client := rmqtest.Client(t)
	_, err := env.h.CreateConnector(ctx, "s", map[string]string{"connector.class": "mem-sink", "test.id": rmqtest.Name(t, "st"),
		"connect.topicnames": topic, "task.group.id": rmqtest.Group(t), "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq}, "")
	require.NoError(t, err)
	p, err := client.NewProducer("unknown", rmqclient.ProducerOptions{})
	require.NoError(t, err)
	defer p.Close()
	const n = replayBatch + 2
	var ids []string
	for i := 0; i < n; i += 50 {
		var batch []*rmqclient.Message
		for j := i; j < min(i+50, n); j++ {
			batch = append(batch, &rmqclient.Message{Topic: dlq, Body: []byte(fmt.Sprint(j)), Properties: map[string]string{ErrHeaderTopic: topic}})
			ids = append(ids, fmt.Sprintf("0-%d", j))
		}
		_, err := p.Send(ctx, batch...)
		require.NoError(t, err)
	}
	dlqQueues, err := client.TopicQueues(ctx, dlq)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, end, err := client.QueueOffsets(ctx, dlqQueues[0])
		return err == nil && end >= n
	}, 30*time.Second, 10*time.Millisecond)

	_, err = env.h.DLQReplay(ctx, "s", append(ids, "0-999999"), false)
	require.ErrorIs(t, err, restapi.ErrNotFound)
	require.ErrorContains(t, err, "0-999999")
	qs, err := client.TopicQueues(ctx, topic)
	require.NoError(t, err)
	for _, q := range qs {
		_, maxOff, err := client.QueueOffsets(ctx, q)
		require.NoError(t, err)
		require.Zero(t, maxOff, "records were replayed")
	}
	_, err = os.Stat(filepath.Join(dir, "dlq-replays.json"))
	require.ErrorIs(t, err, os.ErrNotExist, "replays were recorded")
}

// TestDLQListCursorIsABadArgument: a ?after= that is not a record id is the caller's
// mistake, named (400), not a missing record (it used to be ErrNotFound, 404).
func TestDLQListCursorIsABadArgument(t *testing.T) {
	h, _ := gatedHerder(t)
	ctx := context.Background()
	cfg := gatedConfig(t.Name(), "none", "1")
	cfg["errors.deadletterqueue.topic.name"] = "dlq"
	_, err := h.CreateConnector(ctx, "c", cfg, "")
	require.NoError(t, err)
	_, err = h.DLQList(ctx, "c", "garbage", 10)
	require.ErrorIs(t, err, cfgerr.ErrInvalid)
	require.NotErrorIs(t, err, restapi.ErrNotFound)
	var ce *cfgerr.Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "after", ce.Key)
	require.Equal(t, "garbage", ce.Value)
}
