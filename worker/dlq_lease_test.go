package worker

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// replayHarness is a Distributed whose config log is in memory (memQueue), read and folded
// as a worker does, with a stopped sink connector s whose DLQ topic, on the broker, holds
// records to replay.
type replayHarness struct {
	d          *Distributed
	inc        int64
	topic, dlq string
	// The DLQ's records (ids, as the API shows them): record i is on queue i mod the DLQ's queues.
	ids  []string
	msgs []*rmqclient.ReceivedMessage
}

func newReplayHarness(t *testing.T, records, queues int) *replayHarness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h := &replayHarness{topic: rmqtest.Topic(t, 1), dlq: rmqtest.Topic(t, queues)}
	h.d, h.inc = newReplayCluster(t, h.topic, h.dlq)
	d := h.d
	for i := range records {
		h.putDLQ(t, i%queues, fmt.Sprint("record ", i))
		h.ids = append(h.ids, fmt.Sprintf("%d-%d", i%queues, i/queues))
	}
	for i, id := range h.ids {
		m, err := d.engine.readDLQAt(ctx, "s", h.queues(t), "id", id)
		require.NoError(t, err)
		h.msgs = append(h.msgs, m)
		h.ids[i] = dlqRecordID(m.Queue, m.Offset).String()
	}
	return h
}

func (h *replayHarness) queues(t *testing.T) []rmqclient.Queue {
	t.Helper()
	qs, err := rmqtest.Client(t).ReadableQueues(context.Background(), h.dlq)
	require.NoError(t, err)
	return qs
}

// newReplayCluster is a Distributed whose config log is in memory (memQueue), read and
// folded as a worker does, with a stopped sink connector s consuming topic, whose DLQ topic
// is dlq; inc is the connector's incarnation.
func newReplayCluster(t *testing.T, topic, dlq string) (*Distributed, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := NewDistributed(DistributedConfig{ClusterID: "c1", StandaloneConfig: StandaloneConfig{
		WorkerID: "w1", StoreDir: t.TempDir(), StopTimeout: 5 * time.Second}, Lease: time.Hour}, rmqtest.Client(t), testRegistry(), quiet())
	require.NoError(t, err)
	d.engine.start(context.Background())
	d.members = []string{memberID("w1", d.proc), memberID("w2", "p2")}
	d.lastRenew = time.Now()
	d.configLog = newStoreLog("config", &memQueue{}, quiet())
	logCtx, stopLog := context.WithCancel(context.Background())
	logDone := make(chan struct{})
	go func() { defer close(logDone); d.configLog.run(logCtx, 0, 0, nil, d.applyConfig) }()
	t.Cleanup(func() {
		stopLog()
		<-logDone
		d.engine.stop(false)
		_ = d.Close()
	})

	cfg := map[string]string{"connector.class": "mem-sink", "errors.deadletterqueue.topic.name": dlq}
	off, err := d.writeConfigAt(ctx, configRecord{Type: recConnector, Name: "s", Config: cfg, Target: restapi.TargetStopped})
	require.NoError(t, err)
	rt := newConnRuntime(d.engine, "s", &parsedConfig{raw: cfg, st: connectorSettings{kind: plugins.KindSink, topics: []string{topic},
		policy: errorPolicy{tolerateAll: true, dlqTopic: dlq}}}, nil)
	rt.inc, rt.target = off+1, restapi.TargetStopped
	d.engine.adopt(rt)
	return d, off + 1
}

// putDLQ writes a record of the connector's topic to queue q of the DLQ, and waits until the
// queue lists it.
func (h *replayHarness) putDLQ(t *testing.T, q int, body string) {
	t.Helper()
	ctx := context.Background()
	client := rmqtest.Client(t)
	p, err := client.NewProducer("lease", rmqclient.ProducerOptions{HashByKey: true})
	require.NoError(t, err)
	defer p.Close()
	queue := h.queues(t)[q]
	_, before, err := client.QueueOffsets(ctx, queue)
	require.NoError(t, err)
	_, err = p.Send(ctx, &rmqclient.Message{Topic: h.dlq, Body: []byte(body), QueueHint: q + 1,
		Properties: map[string]string{ErrHeaderTopic: h.topic}})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, end, err := client.QueueOffsets(ctx, queue)
		return err == nil && end > before
	}, 30*time.Second, 10*time.Millisecond)
}

// key is the replay key of the DLQ's record i; id its record id.
func (h *replayHarness) key(i int) string { return replayKey(h.dlq, h.id(i), h.msgs[i]) }
func (h *replayHarness) id(i int) string  { return h.ids[i] }

// takeAs writes the take of record i's replay by member taker, as a begin of that worker does.
func (h *replayHarness) takeAs(t *testing.T, i int, taker string) {
	t.Helper()
	require.NoError(t, h.d.writeConfig(context.Background(), configRecord{Type: recReplay, Name: "s", Inc: h.inc, ReplayID: h.key(i),
		Taker: taker, Replay: &restapi.ReplayInfo{At: time.Now().UTC()}}))
}

func (h *replayHarness) replay(t *testing.T, i int) restapi.DLQReplayResult {
	t.Helper()
	res, err := h.d.DLQReplay(context.Background(), "s", []string{h.id(i)}, false)
	require.NoError(t, err)
	return res
}

// entry returns the fold's replay record of record i, once every record written to the
// config topic is folded.
func (h *replayHarness) entry(t *testing.T, i int) (restapi.ReplayInfo, bool) {
	t.Helper()
	require.NoError(t, h.d.configLog.sync(context.Background()))
	h.d.mu.Lock()
	defer h.d.mu.Unlock()
	ri, ok := h.d.config.Connectors["s"].Replays[h.key(i)]
	return ri, ok
}

// TestDLQReplayTakenAndNeverFinished: a replay taken in the config topic whose worker never
// finished it (it crashed before sending) is reported as in progress (in_progress, naming
// its worker; it used to be listed among the refused), not as replayed, while its taker may
// still be at it; once its lease has passed, or at once when its taker
// left the cluster or is this very process (from an earlier call), the record is replayed.
// Such a record used to be skipped as "already replayed" forever.
func TestDLQReplayTakenAndNeverFinished(t *testing.T) {
	h := newReplayHarness(t, 3, 1)
	lease := replayLease
	t.Cleanup(func() { replayLease = lease })

	// A live member took record 0 and went no further.
	h.takeAs(t, 0, memberID("w2", "p2"))
	res := h.replay(t, 0)
	require.Empty(t, res.Replayed)
	require.Empty(t, res.Skipped, "a replay in progress is not one done")
	require.Empty(t, res.Refused, "nor a record that must not be replayed")
	require.Len(t, res.InProgress, 1)
	in := res.InProgress[0]
	require.Equal(t, h.id(0), in.ID)
	require.Equal(t, memberID("w2", "p2"), in.Worker)
	require.False(t, in.Since.IsZero())
	require.Contains(t, in.Reason, "being replayed by worker "+memberID("w2", "p2"))
	replayLease = time.Nanosecond // its lease has passed
	res = h.replay(t, 0)
	require.Equal(t, []string{h.id(0)}, res.Replayed, "in progress: %v", res.InProgress)
	replayLease = lease
	res = h.replay(t, 0)
	require.Equal(t, []string{h.id(0)}, res.Skipped, "done now")

	// A worker that left the cluster took record 1: free at once.
	h.takeAs(t, 1, memberID("w3", "p3"))
	res = h.replay(t, 1)
	require.Equal(t, []string{h.id(1)}, res.Replayed, "refused: %v", res.Refused)

	// This process took record 2 in an earlier call that ended without giving it up.
	h.takeAs(t, 2, memberID("w1", h.d.proc))
	res = h.replay(t, 2)
	require.Equal(t, []string{h.id(2)}, res.Replayed, "refused: %v", res.Refused)

	qs, err := rmqtest.Client(t).ReadableQueues(context.Background(), h.topic)
	require.NoError(t, err)
	_, end, err := rmqtest.Client(t).QueueOffsets(context.Background(), qs[0])
	require.NoError(t, err)
	require.Equal(t, int64(3), end, "each record was sent once")
}

// lostAnswerReplays is the cluster's replay store whose begin loses its answer: the take is
// in the config topic, and the caller gets context.Canceled, as when its context ended while
// the take was on its way. (A begin given an ended context does not always fail: the in-memory
// config log may store and fold the take before the wait looks at the context.)
type lostAnswerReplays struct{ clusterReplays }

func (r lostAnswerReplays) begin(ctx context.Context, name string, ref replayRef, force bool) (replayTicket, error) {
	t, err := r.clusterReplays.begin(ctx, name, ref, force)
	if err != nil {
		return t, err
	}
	return t, context.Canceled
}

// TestDLQReplayWhoseTakeLostItsAnswerGivesItUp: a take appended to the config topic whose
// answer the replay did not get (its context ended) is given up, so that the record does not
// read as being replayed; and a give-up names its take, so that it frees no later one.
func TestDLQReplayWhoseTakeLostItsAnswerGivesItUp(t *testing.T) {
	h := newReplayHarness(t, 1, 1)
	h.d.engine.replays = lostAnswerReplays{clusterReplays{h.d}}
	_, err := h.d.DLQReplay(context.Background(), "s", []string{h.id(0)}, false)
	require.ErrorIs(t, err, context.Canceled)
	_, taken := h.entry(t, 0)
	require.False(t, taken, "the take was given up")

	// A give-up of another take (an older one of this process) leaves the record's take alone.
	h.d.engine.replays = clusterReplays{h.d}
	h.takeAs(t, 0, memberID("w2", "p2"))
	clusterReplays{h.d}.abandon("s", replayTicket{key: h.key(0), taker: memberID("w1", h.d.proc), at: time.Now().UTC()})
	ri, taken := h.entry(t, 0)
	require.True(t, taken)
	require.Empty(t, ri.MsgID)
}

// TestReplayTakeoverIsACompareAndSet: the fold lets a begin take over a replay in progress
// only when it names that take (its taker and time), so every worker's fold agrees on who
// holds it whatever their clocks and membership views; a finished replay is not taken over,
// and a give-up frees only its own take.
func TestReplayTakeoverIsACompareAndSet(t *testing.T) {
	s := newConfigState()
	require.NoError(t, s.apply(0, configRecord{Type: recConnector, Name: "a", Config: map[string]string{}}))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := func(taker string, at time.Time, over *replayTake) configRecord {
		return configRecord{Type: recReplay, Name: "a", Inc: 1, ReplayID: "k", Taker: taker, Takeover: over, Replay: &restapi.ReplayInfo{At: at}}
	}
	require.NoError(t, s.apply(1, rec("w2.p2", t0, nil)))
	var busy *replayBusyError
	err := s.apply(2, rec("w1.p1", t0.Add(time.Hour), nil))
	require.ErrorAs(t, err, &busy)
	require.ErrorIs(t, err, restapi.ErrAlreadyExists)
	require.ErrorAs(t, s.apply(3, rec("w1.p1", t0.Add(time.Hour), &replayTake{Taker: "w2.p2", At: t0.Add(time.Second)})), &busy,
		"a takeover naming another take")
	require.ErrorAs(t, s.apply(4, rec("w1.p1", t0.Add(time.Hour), &replayTake{Taker: "w9.p9", At: t0})), &busy)

	require.NoError(t, s.apply(5, rec("w1.p1", t0.Add(time.Hour), &replayTake{Taker: "w2.p2", At: t0})))
	require.Equal(t, "w1.p1", s.Connectors["a"].Takers["k"])
	require.ErrorAs(t, s.apply(6, rec("w3.p3", t0.Add(2*time.Hour), &replayTake{Taker: "w2.p2", At: t0})), &busy,
		"the take replaced is gone")

	// The first taker's late give-up leaves the new take alone; the new taker's frees it.
	require.NoError(t, s.apply(7, configRecord{Type: recReplay, Name: "a", Inc: 1, ReplayID: "k", Abandon: true, Taker: "w2.p2",
		Replay: &restapi.ReplayInfo{At: t0}}))
	require.Contains(t, s.Connectors["a"].Replays, "k")
	require.NoError(t, s.apply(8, configRecord{Type: recReplay, Name: "a", Inc: 1, ReplayID: "k", Abandon: true, Taker: "w1.p1",
		Replay: &restapi.ReplayInfo{At: t0.Add(time.Hour)}}))
	require.NotContains(t, s.Connectors["a"].Replays, "k")
	require.Empty(t, s.Connectors["a"].Takers)

	// Done: neither taken over nor given up.
	require.NoError(t, s.apply(9, rec("w1.p1", t0, nil)))
	require.NoError(t, s.apply(10, configRecord{Type: recReplay, Name: "a", Inc: 1, ReplayID: "k", Replay: &restapi.ReplayInfo{At: t0, MsgID: "m"}}))
	require.Empty(t, s.Connectors["a"].Takers)
	err = s.apply(11, rec("w2.p2", t0.Add(time.Hour), &replayTake{Taker: "w1.p1", At: t0}))
	require.ErrorIs(t, err, restapi.ErrAlreadyExists)
	require.False(t, errors.As(err, &busy), "done, not in progress")
	require.NoError(t, s.apply(12, configRecord{Type: recReplay, Name: "a", Inc: 1, ReplayID: "k", Abandon: true, Taker: "w1.p1",
		Replay: &restapi.ReplayInfo{At: t0}}))
	require.Equal(t, "m", s.Connectors["a"].Replays["k"].MsgID)
}

// echoReplays is the cluster's replay store where every record replayed fails again at once:
// as it is recorded, a record comes back to queue 1 of the DLQ.
type echoReplays struct {
	clusterReplays
	echo func()
}

func (r echoReplays) finish(ctx context.Context, name string, ref replayRef, info restapi.ReplayInfo) error {
	r.echo()
	return r.clusterReplays.finish(ctx, name, ref, info)
}

// TestDLQReplayAllSendsOnlyWhatTheDLQHeldWhenItBegan: a replay of every record sends the
// records the DLQ held when it began, on all its queues, once each, although the records it
// sends come back to the DLQ meanwhile. The range of each queue used to be read when its
// turn came, so records replayed from one queue that failed again onto a later one were
// replayed again by the same call.
func TestDLQReplayAllSendsOnlyWhatTheDLQHeldWhenItBegan(t *testing.T) {
	h := newReplayHarness(t, 2, 2)
	h.d.engine.replays = echoReplays{clusterReplays{h.d}, func() { h.putDLQ(t, 1, "failed again") }}
	res, err := h.d.DLQReplay(context.Background(), "s", nil, false)
	require.NoError(t, err)
	require.Equal(t, []string{h.id(0), h.id(1)}, res.Replayed)
}
