package rmqclient_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

func TestMain(m *testing.M) { rmqtest.Main(m) }

// collector gathers delivered messages for assertions.
type collector struct {
	mu   sync.Mutex
	msgs []*rmqclient.ReceivedMessage
}

func (c *collector) add(ms []*rmqclient.ReceivedMessage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, ms...)
}

func (c *collector) snapshot() []*rmqclient.ReceivedMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*rmqclient.ReceivedMessage(nil), c.msgs...)
}

func (c *collector) waitFor(t *testing.T, n int, within time.Duration) []*rmqclient.ReceivedMessage {
	t.Helper()
	require.Eventually(t, func() bool { return len(c.snapshot()) >= n }, within, 50*time.Millisecond,
		"expected %d messages", n)
	return c.snapshot()
}

func newProducer(t *testing.T, opts rmqclient.ProducerOptions) *rmqclient.Producer {
	t.Helper()
	p, err := rmqtest.Client(t).NewProducer(t.Name(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	return p
}

func newConsumer(t *testing.T, opts rmqclient.ConsumerOptions, h rmqclient.Handler) *rmqclient.Consumer {
	t.Helper()
	c, err := rmqtest.Client(t).NewConsumer(t.Name(), opts, h)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c
}

func TestRoundTripKeysAndProperties(t *testing.T) {
	topic := rmqtest.Topic(t, 2)
	p := newProducer(t, rmqclient.ProducerOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	const n = 20
	sent := map[string]rmqclient.SendResult{}
	for i := 0; i < n; i++ {
		res, err := p.Send(ctx, &rmqclient.Message{
			Topic:      topic,
			Body:       []byte(fmt.Sprintf("body-%d", i)),
			Keys:       []string{fmt.Sprintf("k%d", i), "common"},
			Tag:        "tagA",
			Properties: map[string]string{"connect.timestamp": "1700000000000", "h1": fmt.Sprint(i)},
		})
		require.NoError(t, err)
		require.Equal(t, topic, res.Queue.Topic)
		sent[fmt.Sprintf("body-%d", i)] = res
	}

	var got collector
	newConsumer(t, rmqclient.ConsumerOptions{Group: rmqtest.Group(t), Topics: []string{topic}, From: rmqclient.FromFirst},
		func(_ context.Context, ms []*rmqclient.ReceivedMessage) error { got.add(ms); return nil })
	msgs := got.waitFor(t, n, 60*time.Second)

	seen := map[string]bool{}
	for _, m := range msgs {
		body := string(m.Body)
		res, ok := sent[body]
		require.True(t, ok, "unexpected body %q", body)
		seen[body] = true
		var i int
		_, err := fmt.Sscanf(body, "body-%d", &i)
		require.NoError(t, err)
		require.Equal(t, []string{fmt.Sprintf("k%d", i), "common"}, m.Keys)
		require.Equal(t, "tagA", m.Tag)
		require.Equal(t, "1700000000000", m.Properties["connect.timestamp"])
		require.Equal(t, fmt.Sprint(i), m.Properties["h1"])
		require.NotContains(t, m.Properties, "KEYS", "system properties are kept apart")
		require.Equal(t, res.Queue.QueueID, m.Queue.QueueID)
		require.Equal(t, res.Offset, m.Offset)
		require.Greater(t, m.MaxOffset, m.Offset)
	}
	require.Len(t, seen, n)
}

func TestBatchSendSharesOneQueue(t *testing.T) {
	topic := rmqtest.Topic(t, 4)
	p := newProducer(t, rmqclient.ProducerOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	batch := make([]*rmqclient.Message, 10)
	for i := range batch {
		batch[i] = &rmqclient.Message{Topic: topic, Body: []byte{byte(i)}}
	}
	res, err := p.Send(ctx, batch...)
	require.NoError(t, err)

	var got collector
	newConsumer(t, rmqclient.ConsumerOptions{Group: rmqtest.Group(t), Topics: []string{topic}, From: rmqclient.FromFirst, BatchSize: 32},
		func(_ context.Context, ms []*rmqclient.ReceivedMessage) error { got.add(ms); return nil })
	for _, m := range got.waitFor(t, 10, 60*time.Second) {
		require.Equal(t, res.Queue.QueueID, m.Queue.QueueID)
	}

	_, err = p.Send(ctx, &rmqclient.Message{Topic: topic}, &rmqclient.Message{Topic: topic + "x"})
	require.ErrorIs(t, err, rmqclient.ErrInvalid)
}

// TestSendBatchRoundTrip sends batches encoded by BatchBuilder and reads them back: every
// field arrives, in order, on the queue of the first message's sharding key, where the
// result says, with the IDs the result gives.
func TestSendBatchRoundTrip(t *testing.T) {
	topic := rmqtest.Topic(t, 4)
	p := newProducer(t, rmqclient.ProducerOptions{HashByKey: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := rmqtest.Client(t).NewReader("test")
	defer r.Close()
	queueOf := map[string]int{}
	for round, key := range []string{"k-a", "k-b", "k-a", ""} {
		var b rmqclient.BatchBuilder
		for i := range 50 {
			m := &rmqclient.Message{Topic: topic, Body: []byte(fmt.Sprintf("%d-%d", round, i)),
				Properties: map[string]string{"connect.timestamp": "1700000000000", "i": fmt.Sprint(i), "empty": ""}}
			if key != "" {
				m.Keys, m.ShardingKey, m.Tag = []string{key, fmt.Sprintf("n%d", i)}, key, "tagB"
			}
			require.NoError(t, b.Add(m))
		}
		batch := b.Finish()
		require.Equal(t, 50, batch.Len())
		res, err := p.SendBatch(ctx, batch)
		require.NoError(t, err)
		ids := res.MsgIDs()
		require.Len(t, ids, 50)
		if q, ok := queueOf[key]; ok && key != "" {
			require.Equal(t, q, res.Queue.QueueID, "one key, one queue")
		}
		queueOf[key] = res.Queue.QueueID

		var got []*rmqclient.ReceivedMessage
		require.Eventually(t, func() bool {
			msgs, _, err := r.Read(ctx, res.Queue, res.Offset+int64(len(got)), 32)
			require.NoError(t, err)
			got = append(got, msgs...)
			return len(got) >= 50
		}, 10*time.Second, 20*time.Millisecond)
		for i, m := range got[:50] {
			require.Equal(t, fmt.Sprintf("%d-%d", round, i), string(m.Body), "in order")
			require.Equal(t, res.Offset+int64(i), m.Offset)
			require.Equal(t, ids[i], m.MsgID)
			require.Equal(t, map[string]string{"connect.timestamp": "1700000000000", "i": fmt.Sprint(i)}, m.Properties)
			if key != "" {
				require.Equal(t, []string{key, fmt.Sprintf("n%d", i)}, m.Keys)
				require.Equal(t, "tagB", m.Tag)
			} else {
				require.Empty(t, m.Keys)
				require.Empty(t, m.Tag)
			}
		}
	}
	// A batch of one goes as a plain message: it gets the client-side ID consumers see.
	one, err := rmqclient.NewBatch(&rmqclient.Message{Topic: topic, Body: []byte("one"), Keys: []string{"k-1"}, ShardingKey: "k-1"})
	require.NoError(t, err)
	res, err := p.SendBatch(ctx, one)
	require.NoError(t, err)
	require.NotEmpty(t, res.MsgID)
	var got []*rmqclient.ReceivedMessage
	require.Eventually(t, func() bool {
		got, _, err = r.Read(ctx, res.Queue, res.Offset, 1)
		require.NoError(t, err)
		return len(got) == 1
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, "one", string(got[0].Body))
	require.Equal(t, res.MsgID, got[0].MsgID)
	require.Equal(t, []string{res.MsgID}, res.MsgIDs())
	require.Equal(t, []string{"k-1"}, got[0].Keys)

	_, err = p.SendBatch(ctx, nil)
	require.ErrorIs(t, err, rmqclient.ErrInvalid)
}

func TestOrderWithinQueue(t *testing.T) {
	topic := rmqtest.Topic(t, 4)
	p := newProducer(t, rmqclient.ProducerOptions{HashByKey: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	keys := []string{"alpha", "beta", "gamma", "delta", "epsilon"}
	const perKey = 40
	queueOf := map[string]int{}
	for i := 0; i < perKey; i++ {
		for _, k := range keys {
			res, err := p.Send(ctx, &rmqclient.Message{Topic: topic, Body: []byte(fmt.Sprintf("%s:%03d", k, i)), ShardingKey: k, Keys: []string{k}})
			require.NoError(t, err)
			if q, ok := queueOf[k]; ok {
				require.Equal(t, q, res.Queue.QueueID, "one key, one queue")
			}
			queueOf[k] = res.Queue.QueueID
		}
	}

	var got collector
	newConsumer(t, rmqclient.ConsumerOptions{Group: rmqtest.Group(t), Topics: []string{topic}, From: rmqclient.FromFirst, Orderly: true},
		func(_ context.Context, ms []*rmqclient.ReceivedMessage) error { got.add(ms); return nil })
	msgs := got.waitFor(t, perKey*len(keys), 60*time.Second)

	next := map[string]int{}
	lastOffset := map[int]int64{}
	for _, m := range msgs {
		var k string
		var i int
		_, err := fmt.Sscanf(string(m.Body), "%s", &k)
		require.NoError(t, err)
		k, idx, _ := cut(string(m.Body))
		_, err = fmt.Sscanf(idx, "%d", &i)
		require.NoError(t, err)
		require.Equal(t, next[k], i, "key %s out of order", k)
		next[k]++
		if prev, ok := lastOffset[m.Queue.QueueID]; ok {
			require.Greater(t, m.Offset, prev, "queue %d delivered out of offset order", m.Queue.QueueID)
		}
		lastOffset[m.Queue.QueueID] = m.Offset
	}
}

func cut(s string) (string, string, bool) {
	for i := range s {
		if s[i] == ':' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func TestCreateTopicIsRoutedBeforeReturn(t *testing.T) {
	c := rmqtest.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := rmqtest.Name(t, "t")
	_, err := c.TopicQueues(ctx, name)
	require.ErrorIs(t, err, rmqclient.ErrNoRoute)

	require.NoError(t, c.CreateTopic(ctx, rmqclient.TopicSpec{Name: name, Queues: 3}))
	qs, err := c.TopicQueues(ctx, name)
	require.NoError(t, err)
	require.Len(t, qs, 3)
	for i, q := range qs {
		require.Equal(t, i, q.QueueID)
		minOff, maxOff, err := c.QueueOffsets(ctx, q)
		require.NoError(t, err)
		require.Zero(t, minOff)
		require.Zero(t, maxOff)
	}

	// Creating again with more queues widens the route.
	require.NoError(t, c.CreateTopic(ctx, rmqclient.TopicSpec{Name: name, Queues: 5}))
	qs, err = c.TopicQueues(ctx, name)
	require.NoError(t, err)
	require.Len(t, qs, 5)

	err = c.CreateTopic(ctx, rmqclient.TopicSpec{Name: "bad topic!", Queues: 1})
	require.ErrorIs(t, err, rmqclient.ErrInvalid)

	p := newProducer(t, rmqclient.ProducerOptions{})
	res, err := p.Send(ctx, &rmqclient.Message{Topic: name, Body: []byte("x")})
	require.NoError(t, err)
	// The broker dispatches to its consume queue asynchronously, so the max offset may lag
	// the send's acknowledgement for a moment.
	require.Eventually(t, func() bool {
		_, maxOff, err := c.QueueOffsets(ctx, res.Queue)
		require.NoError(t, err)
		return maxOff == res.Offset+1
	}, 10*time.Second, 20*time.Millisecond)
}

func TestPanickingHandlerKeepsConsuming(t *testing.T) {
	topic := rmqtest.Topic(t, 1)
	p := newProducer(t, rmqclient.ProducerOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 10
	for i := 0; i < n; i++ {
		_, err := p.Send(ctx, &rmqclient.Message{Topic: topic, Body: []byte(fmt.Sprint(i))})
		require.NoError(t, err)
	}

	var got collector
	var mu sync.Mutex
	panicked := map[string]int{}
	newConsumer(t, rmqclient.ConsumerOptions{Group: rmqtest.Group(t), Topics: []string{topic}, From: rmqclient.FromFirst, RetryDelayLevel: 1},
		func(_ context.Context, ms []*rmqclient.ReceivedMessage) error {
			for _, m := range ms {
				b := string(m.Body)
				mu.Lock()
				first := panicked[b] == 0 && (b == "3" || b == "7")
				if first {
					panicked[b]++
				}
				mu.Unlock()
				if first {
					panic("handler bug on " + b)
				}
			}
			got.add(ms)
			return nil
		})
	msgs := got.waitFor(t, n, 90*time.Second)
	bodies := map[string]int32{}
	for _, m := range msgs {
		bodies[string(m.Body)] = m.ReconsumeTimes
	}
	require.Len(t, bodies, n, "every message delivered despite the panics")
	require.Equal(t, int32(1), bodies["3"], "the message whose handler panicked came back once")
	require.Equal(t, int32(1), bodies["7"])
	require.Equal(t, int32(0), bodies["5"])
}

func TestErrorRedelivers(t *testing.T) {
	topic := rmqtest.Topic(t, 1)
	p := newProducer(t, rmqclient.ProducerOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := p.Send(ctx, &rmqclient.Message{Topic: topic, Body: []byte("retry-me")})
	require.NoError(t, err)

	var got collector
	var mu sync.Mutex
	attempts := 0
	newConsumer(t, rmqclient.ConsumerOptions{Group: rmqtest.Group(t), Topics: []string{topic}, From: rmqclient.FromFirst, RetryDelayLevel: 1},
		func(_ context.Context, ms []*rmqclient.ReceivedMessage) error {
			mu.Lock()
			attempts++
			a := attempts
			mu.Unlock()
			if a < 3 {
				return errors.New("sink not ready")
			}
			got.add(ms)
			return nil
		})
	msgs := got.waitFor(t, 1, 90*time.Second)
	require.Equal(t, "retry-me", string(msgs[0].Body))
	require.Equal(t, int32(2), msgs[0].ReconsumeTimes)
}

func TestUnreachableGivesClearErrorInTime(t *testing.T) {
	rmqtest.Require(t)
	// Port 1 on loopback: nothing listens, so connections are refused at once.
	c, err := rmqclient.New(rmqclient.Config{NameServers: []string{"127.0.0.1:1"}, Instance: "unreachable", RouteTimeout: 2 * time.Second})
	require.NoError(t, err)
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	err = c.Ping(ctx)
	require.ErrorIs(t, err, rmqclient.ErrUnreachable)
	require.Contains(t, err.Error(), "127.0.0.1:1")
	require.Less(t, time.Since(start), 3*time.Second+2*time.Second, "the error comes by the deadline, not after the client's own retries")

	err = c.CreateTopic(ctx, rmqclient.TopicSpec{Name: "never", Queues: 1})
	require.ErrorIs(t, err, rmqclient.ErrUnreachable)

	p, err := c.NewProducer("unreachable", rmqclient.ProducerOptions{})
	require.NoError(t, err)
	defer p.Close()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	_, err = p.Send(sctx, &rmqclient.Message{Topic: "never", Body: []byte("x")})
	require.ErrorIs(t, err, rmqclient.ErrSend)
	require.True(t, rmqclient.IsRetriable(err))

	_, err = rmqclient.New(rmqclient.Config{})
	require.ErrorIs(t, err, rmqclient.ErrNoNameServer)
	_, err = rmqclient.New(rmqclient.Config{NameServers: []string{"http://x"}})
	require.ErrorIs(t, err, rmqclient.ErrInvalid)
}

func TestConsumerRejectsBadOptions(t *testing.T) {
	c := rmqtest.Client(t)
	h := func(context.Context, []*rmqclient.ReceivedMessage) error { return nil }
	_, err := c.NewConsumer("x", rmqclient.ConsumerOptions{Group: "bad group", Topics: []string{"t"}}, h)
	require.ErrorIs(t, err, rmqclient.ErrInvalid)
	_, err = c.NewConsumer("x", rmqclient.ConsumerOptions{Group: "g"}, h)
	require.ErrorIs(t, err, rmqclient.ErrInvalid)
	_, err = c.NewConsumer("x", rmqclient.ConsumerOptions{Group: "g", Topics: []string{"t"}}, nil)
	require.ErrorIs(t, err, rmqclient.ErrInvalid)
	// A topic without a route cannot be consumed: the client refuses to start.
	_, err = c.NewConsumer("x", rmqclient.ConsumerOptions{Group: rmqtest.Group(t), Topics: []string{rmqtest.Name(t, "missing")}}, h)
	require.Error(t, err)
}

func TestReaderReadsAtOffsets(t *testing.T) {
	topic := rmqtest.Topic(t, 1)
	p := newProducer(t, rmqclient.ProducerOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var q rmqclient.Queue
	for i := 0; i < 50; i++ {
		res, err := p.Send(ctx, &rmqclient.Message{Topic: topic, Body: []byte(fmt.Sprint(i)), Keys: []string{fmt.Sprintf("k%d", i)}})
		require.NoError(t, err)
		q = res.Queue
	}
	r := rmqtest.Client(t).NewReader("test")
	defer r.Close()
	require.Eventually(t, func() bool {
		_, maxOff, err := rmqtest.Client(t).QueueOffsets(ctx, q)
		return err == nil && maxOff == 50
	}, 10*time.Second, 20*time.Millisecond)

	var got []string
	off := int64(10)
	for len(got) < 40 {
		msgs, next, err := r.Read(ctx, q, off, 7)
		require.NoError(t, err)
		require.NotEmpty(t, msgs)
		require.LessOrEqual(t, len(msgs), 32)
		for _, m := range msgs {
			require.Equal(t, off, m.Offset)
			got = append(got, string(m.Body))
			off++
		}
		require.Equal(t, off, next)
	}
	require.Equal(t, "10", got[0])
	require.Equal(t, "49", got[39])
	msgs, next, err := r.Read(ctx, q, 50, 10)
	require.NoError(t, err)
	require.Empty(t, msgs, "nothing past the end")
	require.Equal(t, int64(50), next)
}

func TestGroupOffsets(t *testing.T) {
	topic := rmqtest.Topic(t, 2)
	c := rmqtest.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	group := rmqtest.Group(t)
	qs, err := c.TopicQueues(ctx, topic)
	require.NoError(t, err)
	_, found, err := c.GroupOffset(ctx, group, qs[0])
	require.NoError(t, err)
	require.False(t, found, "a new group has no offset")

	p := newProducer(t, rmqclient.ProducerOptions{})
	for i := 0; i < 20; i++ {
		_, err := p.Send(ctx, &rmqclient.Message{Topic: topic, Body: []byte("x")})
		require.NoError(t, err)
	}
	// A broker answers a group that never committed in a queue holding messages from offset 0
	// with offset 0, unless asked not to: that would read as a committed offset.
	for _, q := range qs {
		_, found, err = c.GroupOffset(ctx, group, q)
		require.NoError(t, err)
		require.False(t, found, "a group that never committed in %s has no offset there", q)
	}
	require.NoError(t, c.SetGroupOffset(ctx, group, qs[1], 3))
	require.Eventually(t, func() bool {
		off, found, err := c.GroupOffset(ctx, group, qs[1])
		return err == nil && found && off == 3
	}, 10*time.Second, 50*time.Millisecond)
	_, found, err = c.GroupOffset(ctx, group, qs[0])
	require.NoError(t, err)
	require.False(t, found, "setting the offset in one queue sets none in another")
}

// watcher records the member lists one member saw.
type watcher struct {
	mu   sync.Mutex
	last []string
}

func (w *watcher) set(m []string) { w.mu.Lock(); w.last = m; w.mu.Unlock() }
func (w *watcher) get() []string  { w.mu.Lock(); defer w.mu.Unlock(); return w.last }

func TestMembershipByGroupNotifications(t *testing.T) {
	c := rmqtest.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	group, topic := rmqtest.Group(t), rmqtest.Name(t, "cluster")
	ws := map[string]*watcher{}
	members := map[string]*rmqclient.Consumer{}
	for _, id := range []string{"w1", "w2", "w3"} {
		w := &watcher{}
		m, err := c.Join(ctx, group, topic, id, w.set)
		require.NoError(t, err)
		ws[id], members[id] = w, m
	}
	for id, w := range ws {
		require.Eventually(t, func() bool { return fmt.Sprint(w.get()) == "[w1 w2 w3]" }, 40*time.Second, 50*time.Millisecond,
			"%s sees %v", id, w.get())
	}

	// A second process with a live member id is refused.
	_, err := c.Join(ctx, group, topic, "w2", func([]string) {})
	require.ErrorIs(t, err, rmqclient.ErrDuplicateMember)

	// A member that leaves is seen gone by the others.
	require.NoError(t, members["w2"].Close())
	for _, id := range []string{"w1", "w3"} {
		w := ws[id]
		require.Eventually(t, func() bool { return fmt.Sprint(w.get()) == "[w1 w3]" }, 40*time.Second, 50*time.Millisecond,
			"%s sees %v", id, w.get())
	}
	require.NoError(t, members["w1"].Close())
	require.NoError(t, members["w3"].Close())
}

// TestCloseStoresOffsets: once Close returns, the broker holds the offsets of everything
// the handler acknowledged (the client library alone persists them with a one-way request
// on shutdown, which can arrive late or not at all).
func TestCloseStoresOffsets(t *testing.T) {
	topic := rmqtest.Topic(t, 4)
	c := rmqtest.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := newProducer(t, rmqclient.ProducerOptions{})
	const n = 200
	for i := range n {
		_, err := p.Send(ctx, &rmqclient.Message{Topic: topic, Body: []byte(fmt.Sprint(i))})
		require.NoError(t, err)
	}
	for round := range 3 {
		group := rmqtest.Group(t)
		var got atomic.Int64
		cons, err := c.NewConsumer(fmt.Sprintf("%s-%d", t.Name(), round), rmqclient.ConsumerOptions{Group: group, Topics: []string{topic},
			From: rmqclient.FromFirst, BatchSize: 7, Goroutines: 4}, func(_ context.Context, ms []*rmqclient.ReceivedMessage) error {
			got.Add(int64(len(ms)))
			return nil
		})
		require.NoError(t, err)
		require.Eventually(t, func() bool { return got.Load() >= n }, 30*time.Second, 10*time.Millisecond)
		require.NoError(t, cons.Close())
		qs, err := c.TopicQueues(ctx, topic)
		require.NoError(t, err)
		var total int64
		for _, q := range qs {
			off, found, err := c.GroupOffset(ctx, group, q)
			require.NoError(t, err)
			require.True(t, found, "round %d: queue %d has an offset right after Close", round, q.QueueID)
			total += off
		}
		require.Equal(t, int64(n), total, "round %d: the stored offsets cover every message", round)
	}
}

// TestPullerLongPollsAndCommits: a pull at the tail is held by the broker until a message
// arrives (long polling), offsets committed with CommitOffset are the group's consumer
// offsets, and a pull below the stored range says where the range begins.
func TestPullerLongPollsAndCommits(t *testing.T) {
	topic := rmqtest.Topic(t, 1)
	c := rmqtest.Client(t)
	p := newProducer(t, rmqclient.ProducerOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	qs, err := c.TopicQueues(ctx, topic)
	require.NoError(t, err)
	q := qs[0]
	group := rmqtest.Group(t)
	pl, err := c.NewPuller(group)
	require.NoError(t, err)

	res, err := pl.Pull(ctx, q, 0, 32, 0)
	require.NoError(t, err)
	require.Empty(t, res.Messages)
	require.Equal(t, int64(0), res.Next)

	got := make(chan rmqclient.Pulled, 1)
	errs := make(chan error, 1)
	go func() {
		res, err := pl.Pull(ctx, q, 0, 32, 20*time.Second)
		errs <- err
		got <- res
	}()
	time.Sleep(300 * time.Millisecond) // let the pull reach the broker and be held
	_, err = p.Send(ctx, &rmqclient.Message{Topic: topic, Body: []byte("late"), Keys: []string{"a", "b"},
		Properties: map[string]string{"h": "v"}})
	require.NoError(t, err)
	require.NoError(t, <-errs)
	res = <-got
	require.Len(t, res.Messages, 1, "the held pull answers with the new message")
	m := res.Messages[0]
	require.Equal(t, "late", string(m.Body))
	require.Equal(t, []string{"a", "b"}, m.Keys)
	require.Equal(t, "v", m.Properties["h"])
	require.NotContains(t, m.Properties, "KEYS")
	require.NotEmpty(t, m.MsgID)
	require.Equal(t, q, m.Queue)
	require.Equal(t, int64(1), res.Next)
	require.Equal(t, int64(1), res.MaxOffset)

	require.NoError(t, pl.CommitOffset(ctx, q, 1))
	off, found, err := pl.CommittedOffset(ctx, q)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, int64(1), off)
	off, found, err = c.GroupOffset(ctx, group, q)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, int64(1), off, "the commit is the group's consumer offset on the broker")

	// A pull the caller gives up on ends at once; the connection stays usable.
	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err = pl.Pull(short, q, 1, 32, 20*time.Second)
	cancelShort()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	res, err = pl.Pull(ctx, q, 0, 32, 0)
	require.NoError(t, err)
	require.Len(t, res.Messages, 1)
}

// BenchmarkReader reads 32 messages of 100 B per op from a filled queue with Read (which
// finds the queue's range itself) and ReadBelow (given the max offset): both are one pull
// over a kept connection.
func BenchmarkReader(b *testing.B) {
	topic := rmqtest.Topic(b, 1)
	c := rmqtest.Client(b)
	ctx := context.Background()
	p, err := c.NewProducer("bench-reader", rmqclient.ProducerOptions{})
	require.NoError(b, err)
	defer p.Close()
	body := make([]byte, 100)
	var q rmqclient.Queue
	for i := 0; i < 1024; i++ {
		res, err := p.Send(ctx, &rmqclient.Message{Topic: topic, Body: body})
		require.NoError(b, err)
		q = res.Queue
	}
	r := c.NewReader("bench")
	defer r.Close()
	b.Run("Read", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, _, err := r.Read(ctx, q, int64(i*32%992), 32); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ReadBelow", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, _, err := r.ReadBelow(ctx, q, int64(i*32%992), 1024, 32); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestPullerEmptyLongPollEndsWithoutError: a held pull on an idle queue is answered at the
// broker's next hold check after the wait (every 5 s), so without a deadline of its own the call
// must allow for that instead of timing out (the sink logged "pull failed" for every idle queue).
func TestPullerEmptyLongPollEndsWithoutError(t *testing.T) {
	topic := rmqtest.Topic(t, 1)
	c := rmqtest.Client(t)
	qs, err := c.TopicQueues(context.Background(), topic)
	require.NoError(t, err)
	pl, err := c.NewPuller(rmqtest.Group(t))
	require.NoError(t, err)
	for range 2 {
		res, err := pl.Pull(context.Background(), qs[0], 0, 32, time.Second)
		require.NoError(t, err)
		require.Empty(t, res.Messages)
		require.Equal(t, int64(0), res.Next)
	}
}

// The broker refuses a lone message with an empty body ("message body length is zero") but
// takes one inside a batch: a tombstone or an empty line sent alone must not fail on every try.
func TestLoneEmptyBodyIsSent(t *testing.T) {
	topic := rmqtest.Topic(t, 2)
	p := newProducer(t, rmqclient.ProducerOptions{HashByKey: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := rmqtest.Client(t).NewReader("test")
	defer r.Close()
	read := func(res rmqclient.SendResult) *rmqclient.ReceivedMessage {
		t.Helper()
		var got []*rmqclient.ReceivedMessage
		require.Eventually(t, func() bool {
			var err error
			got, _, err = r.Read(ctx, res.Queue, res.Offset, 1)
			require.NoError(t, err)
			return len(got) == 1
		}, 10*time.Second, 20*time.Millisecond)
		return got[0]
	}
	msg := func() *rmqclient.Message {
		return &rmqclient.Message{Topic: topic, Keys: []string{"k-1"}, ShardingKey: "k-1",
			Properties: map[string]string{"p": "v"}}
	}

	one, err := rmqclient.NewBatch(msg())
	require.NoError(t, err)
	res, err := p.SendBatch(ctx, one)
	require.NoError(t, err, "a batch of one empty message")
	got := read(res)
	require.Empty(t, got.Body)
	require.Equal(t, []string{"k-1"}, got.Keys)
	require.Equal(t, "v", got.Properties["p"])
	require.Equal(t, []string{got.MsgID}, res.MsgIDs(), "the ID a consumer sees")

	res, err = p.Send(ctx, msg())
	require.NoError(t, err, "Send of a lone empty message")
	got = read(res)
	require.Empty(t, got.Body)
	require.Equal(t, "v", got.Properties["p"])
	require.Equal(t, res.MsgID, got.MsgID)
}
