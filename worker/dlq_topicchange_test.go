package worker

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
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

// TestDLQReplayOfARecreatedTopicPastARun: the DLQ topic deleted and created again, the first
// of its new records replayed is the one at the end of a run of the former topic's replayed
// records; the new records at that run's offsets are still not replayed, and a replay of all
// sends them. That record used to join the run, which then held the new records at its
// offsets as replayed: they were listed so, and skipped. Replays of the records the topic
// receives next still extend the run, whether their predecessor is read in the same call or
// not.
func TestDLQReplayOfARecreatedTopicPastARun(t *testing.T) {
	type replayer interface {
		DLQList(ctx context.Context, name, after string, limit int) (restapi.DLQPage, error)
		DLQReplay(ctx context.Context, name string, ids []string, force bool) (restapi.DLQReplayResult, error)
	}
	for _, tc := range []struct {
		name  string
		start func(t *testing.T, topic, dlqTopic string, dlq *memDLQ) (replayer, *engine)
	}{
		{"standalone", func(t *testing.T, topic, dlqTopic string, dlq *memDLQ) (replayer, *engine) {
			env := startHerder(t, t.TempDir())
			t.Cleanup(func() { env.stop(t) })
			env.h.engine.dlq = dlq
			_, err := env.h.CreateConnector(context.Background(), "s", map[string]string{"connector.class": "mem-sink",
				"test.id": rmqtest.Name(t, "st"), "connect.topicnames": topic, "task.group.id": rmqtest.Group(t),
				"errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlqTopic}, restapi.TargetStopped)
			require.NoError(t, err)
			return env.h, env.h.engine
		}},
		{"cluster", func(t *testing.T, topic, dlqTopic string, dlq *memDLQ) (replayer, *engine) {
			d, _ := newReplayCluster(t, topic, dlqTopic)
			d.engine.dlq = dlq
			return d, d.engine
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic, dlqTopic := rmqtest.Topic(t, 1), rmqtest.Name(t, "dlq")
			dlq := newMemDLQ()
			h, e := tc.start(t, topic, dlqTopic, dlq)
			ctx := context.Background()
			replayed := func() map[string]bool {
				t.Helper()
				page, err := h.DLQList(ctx, "s", "", 10)
				require.NoError(t, err)
				out := map[string]bool{}
				for _, r := range page.Records {
					out[r.ID] = r.Replayed != nil
				}
				return out
			}
			replay := func(ids ...string) restapi.DLQReplayResult {
				t.Helper()
				res, err := h.DLQReplay(ctx, "s", ids, false)
				require.NoError(t, err)
				return res
			}
			runs := func() []replayRun {
				t.Helper()
				var out []replayRun
				for _, r := range e.replayedSet("s").Queues["b:0"].Runs {
					out = append(out, replayRun{From: r.From, To: r.To})
				}
				return out
			}
			dlq.put(dlqTopic, "b", 0, topic, "old 0")
			dlq.put(dlqTopic, "b", 0, topic, "old 1")
			require.Equal(t, []string{"b:0:0", "b:0:1"}, replay().Replayed)

			dlq.recreate(dlqTopic)
			for _, body := range []string{"new 0", "new 1", "new 2"} {
				dlq.put(dlqTopic, "b", 0, topic, body)
			}
			require.Equal(t, map[string]bool{"b:0:0": false, "b:0:1": false, "b:0:2": false}, replayed())
			require.Equal(t, []string{"b:0:2"}, replay("b:0:2").Replayed)
			require.Equal(t, map[string]bool{"b:0:0": false, "b:0:1": false, "b:0:2": true}, replayed())
			res := replay()
			require.Equal(t, []string{"b:0:0", "b:0:1"}, res.Replayed)
			require.Equal(t, []string{"b:0:2"}, res.Skipped)
			require.Equal(t, []replayRun{{From: 0, To: 3}}, runs())

			dlq.put(dlqTopic, "b", 0, topic, "new 3")
			require.Equal(t, []string{"b:0:3"}, replay().Replayed)
			dlq.put(dlqTopic, "b", 0, topic, "new 4")
			require.Equal(t, []string{"b:0:4"}, replay("b:0:4").Replayed)
			require.Equal(t, []replayRun{{From: 0, To: 5}}, runs(), "one run")
		})
	}
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

// blankReadsDLQ is a memDLQ whose first blank reads answer nothing, as a broker's pull can
// ("pull again", nothing found yet) for records the queue's offsets show stored.
type blankReadsDLQ struct {
	*memDLQ
	blank atomic.Int64
}

func (d *blankReadsDLQ) Read(ctx context.Context, q rmqclient.Queue, offset int64, n int) ([]*rmqclient.ReceivedMessage, int64, error) {
	if d.blank.Add(-1) >= 0 {
		return nil, offset, nil
	}
	return d.memDLQ.Read(ctx, q, offset, n)
}

// TestDLQReplayAsksAgainForRecordsItDidNotGet: a replay whose read of a DLQ queue answers nothing
// below the end the queue's offsets showed asks again, and replays the records; when it never
// gets them, it fails saying so. It used to end there, answering that nothing was replayed, as
// if the queue had been read (a CI run met such a pull).
func TestDLQReplayAsksAgainForRecordsItDidNotGet(t *testing.T) {
	prev := readBelowPatience
	readBelowPatience = time.Second
	t.Cleanup(func() { readBelowPatience = prev })
	topic, dlqTopic := rmqtest.Topic(t, 1), rmqtest.Name(t, "dlq")
	dlq := &blankReadsDLQ{memDLQ: newMemDLQ()}
	env := startHerder(t, t.TempDir())
	t.Cleanup(func() { env.stop(t) })
	env.h.engine.dlq = dlq
	ctx := context.Background()
	_, err := env.h.CreateConnector(ctx, "s", map[string]string{"connector.class": "mem-sink",
		"test.id": rmqtest.Name(t, "st"), "connect.topicnames": topic, "task.group.id": rmqtest.Group(t),
		"errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlqTopic}, restapi.TargetStopped)
	require.NoError(t, err)
	dlq.put(dlqTopic, "b", 0, topic, "one")
	dlq.put(dlqTopic, "b", 0, topic, "two")

	dlq.blank.Store(3)
	res, err := env.h.DLQReplay(ctx, "s", nil, false)
	require.NoError(t, err)
	require.Equal(t, []string{"b:0:0", "b:0:1"}, res.Replayed)

	dlq.put(dlqTopic, "b", 0, topic, "three")
	dlq.blank.Store(1 << 30)
	res, err = env.h.DLQReplay(ctx, "s", nil, false)
	require.ErrorContains(t, err, "answered no records below its end 3")
	require.Empty(t, res.Replayed)
}
