package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// sentTo counts the messages topic holds (the replays sent to it).
func sentTo(t *testing.T, topic string) int64 {
	t.Helper()
	ctx := context.Background()
	client := rmqtest.Client(t)
	qs, err := client.ReadableQueues(ctx, topic)
	require.NoError(t, err)
	var n int64
	for _, q := range qs {
		minOff, maxOff, err := client.QueueOffsets(ctx, q)
		require.NoError(t, err)
		n += maxOff - minOff
	}
	return n
}

// fillMemDLQ puts n records of the connector's topic target into dlq's topic, queue 0 and
// 1 of broker-a and broker-b in turn, and returns their ids.
func fillMemDLQ(dlq *memDLQ, topic, target string, n int) []string {
	var ids []string
	for i := range n {
		broker := []string{"broker-a", "broker-b"}[i%2]
		m := dlq.put(topic, broker, (i/2)%2, target, fmt.Sprint("record ", i))
		ids = append(ids, dlqRecordID(m.Queue, m.Offset).String())
	}
	return ids
}

// TestClusterDLQReplayOfManyRecordsSendsEachOnce: in a cluster, replaying every record of a
// DLQ of more records than a connector's replay records used to keep (1000) sends each
// once, however often it is replayed; once the broker's retention has deleted records,
// their replay records go, and only theirs. The config fold used to keep the latest 1000
// replays, so a second replay of 1,500 records sent the pruned ones again.
func TestClusterDLQReplayOfManyRecordsSendsEachOnce(t *testing.T) {
	topic := rmqtest.Topic(t, 1)
	dlqTopic := rmqtest.Name(t, "dlq")
	d, _ := newReplayCluster(t, topic, dlqTopic)
	dlq := newMemDLQ()
	d.engine.dlq = dlq
	const n = 1500
	fillMemDLQ(dlq, dlqTopic, topic, n)
	ctx := context.Background()

	res, err := d.DLQReplay(ctx, "s", nil, false)
	require.NoError(t, err)
	require.Len(t, res.Replayed, n)
	require.Empty(t, res.Refused)
	res, err = d.DLQReplay(ctx, "s", nil, false)
	require.NoError(t, err)
	require.Zero(t, len(res.Replayed), "replayed again")
	require.Len(t, res.Skipped, n)
	require.Equal(t, int64(n), sentTo(t, topic), "each record was sent once")

	// Retention deletes broker-a's records and half of broker-b's queue 0.
	dlq.expire(dlqTopic, "broker-a", 0, 1000)
	dlq.expire(dlqTopic, "broker-a", 1, 1000)
	dlq.expire(dlqTopic, "broker-b", 0, 200)
	res, err = d.DLQReplay(ctx, "s", nil, false)
	require.NoError(t, err)
	require.Empty(t, res.Replayed)
	require.Len(t, res.Skipped, n/4+n/4-200, "the records still held are still replayed ones")
	require.NoError(t, d.configLog.sync(ctx))
	d.mu.Lock()
	fold, err := json.Marshal(d.config.Connectors["s"])
	d.mu.Unlock()
	require.NoError(t, err)
	require.False(t, strings.Contains(string(fold), "broker-a"), "the replay records of deleted records are dropped: %.300s", fold)
	require.Equal(t, int64(n), sentTo(t, topic))
}

// TestDLQReplayRecordsGoWithTheRecords: in standalone mode, replaying every record twice
// sends each once, and the replay records of records the broker's retention deleted are
// dropped from dlq-replays.json (which used to keep every replay ever made).
func TestDLQReplayRecordsGoWithTheRecords(t *testing.T) {
	topic := rmqtest.Topic(t, 1)
	dlqTopic := rmqtest.Topic(t, 1)
	dir := t.TempDir()
	env := startHerder(t, dir)
	defer env.stop(t)
	dlq := newMemDLQ()
	env.h.engine.dlq = dlq
	ctx := context.Background()
	_, err := env.h.CreateConnector(ctx, "s", map[string]string{"connector.class": "mem-sink", "test.id": rmqtest.Name(t, "st"),
		"connect.topicnames": topic, "task.group.id": rmqtest.Group(t), "errors.tolerance": "all",
		"errors.deadletterqueue.topic.name": dlqTopic}, restapi.TargetStopped)
	require.NoError(t, err)
	const n = 1200
	fillMemDLQ(dlq, dlqTopic, topic, n)

	res, err := env.h.DLQReplay(ctx, "s", nil, false)
	require.NoError(t, err)
	require.Len(t, res.Replayed, n)
	res, err = env.h.DLQReplay(ctx, "s", nil, false)
	require.NoError(t, err)
	require.Zero(t, len(res.Replayed), "replayed again")
	require.Len(t, res.Skipped, n)
	require.Equal(t, int64(n), sentTo(t, topic))
	stored := func() string { // the replay records, in this release's file and the former one's
		var all []byte
		for _, f := range []string{"dlq-replays.json", "dlq-replayed.json"} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if !errors.Is(err, os.ErrNotExist) {
				require.NoError(t, err)
			}
			all = append(all, b...)
		}
		return string(all)
	}
	require.Contains(t, stored(), "broker-a")

	for q := range 2 {
		dlq.expire(dlqTopic, "broker-a", q, n)
	}
	res, err = env.h.DLQReplay(ctx, "s", nil, false)
	require.NoError(t, err)
	require.Empty(t, res.Replayed)
	require.Len(t, res.Skipped, n/2)
	require.False(t, strings.Contains(stored(), "broker-a"), "the replay records of deleted records are dropped: %.300s", stored())
	require.Contains(t, stored(), "broker-b")
	require.Equal(t, int64(n), sentTo(t, topic))
}

// TestDLQReplayRecordsOfEarlierReleasesStillCount: a record replayed by an earlier release,
// whose replay record names it by an id of the earlier form (<queue>-<offset>), is still
// shown as replayed and skipped, in standalone mode (dlq-replayed.json, taken over into
// dlq-replays.json) and in a cluster (the config fold), until the broker deletes it.
func TestDLQReplayRecordsOfEarlierReleasesStillCount(t *testing.T) {
	topic := rmqtest.Topic(t, 1)
	ctx := context.Background()
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	check := func(t *testing.T, h interface {
		DLQList(context.Context, string, string, int) (restapi.DLQPage, error)
		DLQReplay(context.Context, string, []string, bool) (restapi.DLQReplayResult, error)
	}, dlq *memDLQ, dlqTopic string) {
		page, err := h.DLQList(ctx, "s", "", 10)
		require.NoError(t, err)
		require.Len(t, page.Records, 2)
		require.Equal(t, &restapi.ReplayInfo{At: at, MsgID: "old"}, page.Records[0].Replayed)
		require.Nil(t, page.Records[1].Replayed)
		res, err := h.DLQReplay(ctx, "s", nil, false)
		require.NoError(t, err)
		require.Equal(t, []string{"broker-a:0:0"}, res.Skipped)
		require.Equal(t, []string{"broker-a:0:1"}, res.Replayed)
		dlq.expire(dlqTopic, "broker-a", 0, 1)
		_, err = h.DLQReplay(ctx, "s", nil, false)
		require.NoError(t, err)
	}

	t.Run("standalone", func(t *testing.T) {
		dlqTopic := rmqtest.Topic(t, 1)
		dir := t.TempDir()
		env := startHerder(t, dir)
		defer env.stop(t)
		dlq := newMemDLQ()
		env.h.engine.dlq = dlq
		_, err := env.h.CreateConnector(ctx, "s", map[string]string{"connector.class": "mem-sink", "test.id": rmqtest.Name(t, "st"),
			"connect.topicnames": topic, "task.group.id": rmqtest.Group(t), "errors.tolerance": "all",
			"errors.deadletterqueue.topic.name": dlqTopic}, restapi.TargetStopped)
		require.NoError(t, err)
		m := dlq.put(dlqTopic, "broker-a", 0, topic, "r0")
		dlq.put(dlqTopic, "broker-a", 0, topic, "r1")
		legacy, err := json.Marshal(map[string]map[string]restapi.ReplayInfo{"s": {dlqTopic + "/0-0/" + m.MsgID: {At: at, MsgID: "old"}}})
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "dlq-replayed.json"), legacy, 0o600))
		check(t, env.h, dlq, dlqTopic)
		_, err = os.Stat(filepath.Join(dir, "dlq-replayed.json"))
		require.ErrorIs(t, err, os.ErrNotExist, "taken over")
		b, err := os.ReadFile(filepath.Join(dir, "dlq-replays.json"))
		require.NoError(t, err)
		require.NotContains(t, string(b), "/0-0/", "gone with its record")
	})
	t.Run("cluster", func(t *testing.T) {
		dlqTopic := rmqtest.Name(t, "dlq")
		d, inc := newReplayCluster(t, topic, dlqTopic)
		dlq := newMemDLQ()
		d.engine.dlq = dlq
		m := dlq.put(dlqTopic, "broker-a", 0, topic, "r0")
		dlq.put(dlqTopic, "broker-a", 0, topic, "r1")
		require.NoError(t, d.writeConfig(ctx, configRecord{Type: recReplay, Name: "s", Inc: inc, ReplayID: dlqTopic + "/0-0/" + m.MsgID,
			Replay: &restapi.ReplayInfo{At: at, MsgID: "old"}}))
		check(t, d, dlq, dlqTopic)
		require.NoError(t, d.configLog.sync(ctx))
		d.mu.Lock()
		defer d.mu.Unlock()
		require.Empty(t, d.config.Connectors["s"].Replays, "gone with its record")
	})
}
