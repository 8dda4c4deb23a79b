package worker

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// twoBrokerDLQ is a standalone herder (no broker) with connector c whose DLQ topic "dlq"
// has queues 0 and 1 on both broker-a and broker-b, as a multi-master cluster spreads it,
// holding a0/a1 (broker-a queue 0), a2 (broker-a queue 1), b0/b1 (broker-b queue 0) and b2
// (broker-b queue 1).
func twoBrokerDLQ(t *testing.T) (*Standalone, *memDLQ) {
	t.Helper()
	h, _ := gatedHerder(t)
	dlq := newMemDLQ()
	h.engine.dlq = dlq
	cfg := gatedConfig(t.Name(), "none", "1")
	cfg["errors.deadletterqueue.topic.name"] = "dlq"
	_, err := h.CreateConnector(context.Background(), "c", cfg, "")
	require.NoError(t, err)
	for _, b := range []string{"broker-a", "broker-b"} {
		p := b[len(b)-1:]
		dlq.put("dlq", b, 0, "t", p+"0")
		dlq.put("dlq", b, 0, "t", p+"1")
		dlq.put("dlq", b, 1, "t", p+"2")
	}
	return h, dlq
}

// TestDLQIDsNameTheBroker: on a DLQ topic whose queues are on two brokers, queue 0 of
// broker-a and queue 0 of broker-b are two queues: every record has its own id, naming its
// broker, which finds it again (GET /dlq/{id}), and a listing paged one record at a time
// lists each once. Ids used to be <queue>-<offset>, so the two brokers' records had the same
// ids, a lookup found broker-a's record for either, and a page cursor on queue 1 skipped
// broker-b's queue 0.
func TestDLQIDsNameTheBroker(t *testing.T) {
	h, _ := twoBrokerDLQ(t)
	ctx := context.Background()
	page, err := h.DLQList(ctx, "c", "", 100)
	require.NoError(t, err)
	var ids, bodies []string
	for _, r := range page.Records {
		ids = append(ids, r.ID)
		bodies = append(bodies, r.BodyPreview)
	}
	require.Equal(t, []string{"broker-a:0:0", "broker-a:0:1", "broker-a:1:0", "broker-b:0:0", "broker-b:0:1", "broker-b:1:0"}, ids)
	require.Equal(t, []string{"a0", "a1", "a2", "b0", "b1", "b2"}, bodies)
	for i, id := range ids {
		rec, err := h.DLQGet(ctx, "c", id)
		require.NoError(t, err, id)
		require.Equal(t, bodies[i], string(rec.Body), id)
		require.Equal(t, id, rec.ID)
	}

	var paged []string
	for after := ""; ; {
		p, err := h.DLQList(ctx, "c", after, 1)
		require.NoError(t, err)
		for _, r := range p.Records {
			paged = append(paged, r.BodyPreview)
		}
		if p.Next == "" {
			break
		}
		require.LessOrEqual(t, len(paged), len(bodies), "the pages go round: %v", paged)
		after = p.Next
	}
	require.Equal(t, bodies, paged, "paged one record at a time")
}

// TestDLQIDsOfTheEarlierForm: an id of the earlier form, <queue>-<offset>, is taken while
// one broker has queue <queue>; when several do, it is refused as the caller's mistake (400),
// naming the ids it may mean, wherever an id is taken (a record, a page cursor; a replay's ids in
// TestDLQReplayAcrossBrokers).
// Such an id used to name broker-a's record whichever broker the caller had in mind.
func TestDLQIDsOfTheEarlierForm(t *testing.T) {
	h, dlq := twoBrokerDLQ(t)
	ctx := context.Background()
	dlq.put("dlq", "broker-a", 2, "t", "a3") // only broker-a has a queue 2

	rec, err := h.DLQGet(ctx, "c", "2-0")
	require.NoError(t, err)
	require.Equal(t, "a3", string(rec.Body))
	require.Equal(t, "broker-a:2:0", rec.ID, "a record is shown with its id")
	_, err = h.DLQGet(ctx, "c", "7-0")
	require.ErrorIs(t, err, restapi.ErrNotFound, "no broker has a queue 7")
	_, err = h.DLQGet(ctx, "c", "broker-c:0:0")
	require.ErrorIs(t, err, restapi.ErrNotFound)

	for _, tc := range []struct {
		key string
		get func(id string) error
	}{
		{"id", func(id string) error { _, err := h.DLQGet(ctx, "c", id); return err }},
		{"after", func(id string) error { _, err := h.DLQList(ctx, "c", id, 10); return err }},
	} {
		err := tc.get("0-1")
		var ce *cfgerr.Error
		require.ErrorAs(t, err, &ce, tc.key)
		require.Equal(t, tc.key, ce.Key)
		require.Equal(t, "0-1", ce.Value)
		require.Contains(t, ce.Reason, "broker-a:0:1, broker-b:0:1", tc.key)
		require.NotErrorIs(t, err, restapi.ErrNotFound, tc.key)
	}

	page, err := h.DLQList(ctx, "c", "2-0", 10)
	require.NoError(t, err)
	require.Equal(t, "broker-b:0:0", page.Records[0].ID, "a cursor of the earlier form goes on after its record")
}

// brokerID is the id of the record at offset off of queue q of topic on the test broker.
func brokerID(t *testing.T, topic string, q int, off int64) string {
	t.Helper()
	qs, err := rmqtest.Client(t).ReadableQueues(context.Background(), topic)
	require.NoError(t, err)
	require.Greater(t, len(qs), q)
	return dlqRecordID(qs[q], off).String()
}

// TestDLQReplayAcrossBrokers: a replay by id sends the record of the broker its id names,
// and records the replay of that record only; an id of the earlier form that names a queue
// of both brokers is refused (400) with nothing sent.
func TestDLQReplayAcrossBrokers(t *testing.T) {
	topic := rmqtest.Topic(t, 1)
	dlqTopic := rmqtest.Name(t, "dlq")
	d, _ := newReplayCluster(t, topic, dlqTopic)
	dlq := newMemDLQ()
	d.engine.dlq = dlq
	for _, b := range []string{"broker-a", "broker-b"} {
		dlq.put(dlqTopic, b, 0, topic, b+" 0")
		dlq.put(dlqTopic, b, 0, topic, b+" 1")
	}
	ctx := context.Background()

	_, err := d.DLQReplay(ctx, "s", []string{"0-1"}, false)
	var ce *cfgerr.Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "ids", ce.Key)
	require.Contains(t, ce.Reason, "broker-a:0:1, broker-b:0:1")
	require.Zero(t, sentTo(t, topic))

	res, err := d.DLQReplay(ctx, "s", []string{"broker-b:0:1"}, false)
	require.NoError(t, err)
	require.Equal(t, []string{"broker-b:0:1"}, res.Replayed)
	page, err := d.DLQList(ctx, "s", "", 10)
	require.NoError(t, err)
	replayed := map[string]bool{}
	for _, r := range page.Records {
		replayed[r.ID] = r.Replayed != nil
	}
	require.Equal(t, map[string]bool{"broker-a:0:0": false, "broker-a:0:1": false, "broker-b:0:0": false, "broker-b:0:1": true}, replayed)

	client := rmqtest.Client(t)
	qs, err := client.ReadableQueues(ctx, topic)
	require.NoError(t, err)
	r := client.NewReader(rmqtest.Name(t, "r"))
	defer r.Close()
	msgs, _, err := r.Read(ctx, qs[0], 0, 10)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.Equal(t, "broker-b 1", string(msgs[0].Body))
}
