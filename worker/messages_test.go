package worker

import (
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/schema/converter"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

func TestToMessage(t *testing.T) {
	ts := time.UnixMilli(1700000000123)
	rec := func(key any, headers ...schema.Header) *schema.Record {
		r := schema.NewRecord("t", schema.OptionalStringSchema, key, schema.BytesSchema, []byte("v"))
		r.Timestamp, r.Headers = ts, headers
		return r
	}
	conv := converters{converter.NewStringConverter(), converter.NewByteArrayConverter()}
	keySchema := schema.StructBuilder().Name("k").Field("id", schema.Int32Schema).Field("region", schema.StringSchema).MustBuild()
	newKey := schema.NewStruct(keySchema).MustPut("id", int32(4)).MustPut("region", "eu")
	for _, tt := range []struct {
		name string
		r    *schema.Record
		want *rmqclient.Message
	}{
		{"plain key", rec("k-1"), &rmqclient.Message{Topic: "out", Body: []byte("v"), Keys: []string{"k-1"}, ShardingKey: "k-1",
			Properties: map[string]string{PropTimestamp: "1700000000123"}}},
		{"no key", rec(nil), &rmqclient.Message{Topic: "out", Body: []byte("v"),
			Properties: map[string]string{PropTimestamp: "1700000000123"}}},
		{"key with a space", rec("a b"), &rmqclient.Message{Topic: "out", Body: []byte("v"), ShardingKey: "YSBi",
			Properties: map[string]string{PropTimestamp: "1700000000123", PropKeyBase64: "YSBi"}}},
		{"empty key", rec(""), &rmqclient.Message{Topic: "out", Body: []byte("v"),
			Properties: map[string]string{PropTimestamp: "1700000000123", PropKeyEmpty: "true"}}},
		{"headers", rec("k", schema.Header{Key: "h", Value: int32(7)}, schema.Header{Key: "empty", Value: ""}),
			&rmqclient.Message{Topic: "out", Body: []byte("v"), Keys: []string{"k"}, ShardingKey: "k",
				Properties: map[string]string{PropTimestamp: "1700000000123", "h": "7"}}},
		{"structured headers", rec("k", schema.Header{Key: "__debezium.newkey", Schema: keySchema, Value: newKey},
			schema.Header{Key: "amount", Schema: schema.DecimalSchema(2), Value: schema.NewDecimal(1234, 2)},
			schema.Header{Key: "tags", Schema: schema.ArrayOf(schema.StringSchema).MustBuild(), Value: []any{"a", "b"}}),
			&rmqclient.Message{Topic: "out", Body: []byte("v"), Keys: []string{"k"}, ShardingKey: "k",
				Properties: map[string]string{PropTimestamp: "1700000000123", "__debezium.newkey": `{"id":4,"region":"eu"}`,
					"amount": "12.34", "tags": `["a","b"]`}}},
		{"reserved header names", rec("k", schema.Header{Key: "TRAN_MSG", Value: "true"}, schema.Header{Key: "DELAY", Value: int32(3)},
			schema.Header{Key: "UNIQ_KEY", Value: "mine"}, schema.Header{Key: "KEYS", Value: "not the key"},
			schema.Header{Key: "connect.h.x", Value: "1"}),
			&rmqclient.Message{Topic: "out", Body: []byte("v"), Keys: []string{"k"}, ShardingKey: "k",
				Properties: map[string]string{PropTimestamp: "1700000000123", "connect.h.TRAN_MSG": "true", "connect.h.DELAY": "3",
					"connect.h.UNIQ_KEY": "mine", "connect.h.KEYS": "not the key", "connect.h.x": "1"}}},
		{"keys and tag headers of a record without a key", rec(nil, schema.Header{Key: "KEYS", Value: "k1 k2"},
			schema.Header{Key: "TAGS", Value: "t"}),
			&rmqclient.Message{Topic: "out", Body: []byte("v"), Keys: []string{"k1 k2"}, Tag: "t",
				Properties: map[string]string{PropTimestamp: "1700000000123"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var sc stampCache
			m, stage, err := conv.toMessage(tt.r, "out", &sc)
			require.NoError(t, err)
			require.Empty(t, stage)
			require.Equal(t, tt.want, m)
		})
	}

	t.Run("stamps follow the record time", func(t *testing.T) {
		var sc stampCache
		a, _, err := conv.toMessage(rec("k"), "out", &sc)
		require.NoError(t, err)
		later := rec("k")
		later.Timestamp = ts.Add(time.Millisecond)
		b, _, err := conv.toMessage(later, "out", &sc)
		require.NoError(t, err)
		c, _, err := conv.toMessage(rec("k"), "out", &sc)
		require.NoError(t, err)
		require.Equal(t, "1700000000123", a.Properties[PropTimestamp])
		require.Equal(t, "1700000000124", b.Properties[PropTimestamp])
		require.Equal(t, "1700000000123", c.Properties[PropTimestamp])
	})

	t.Run("header with a control character", func(t *testing.T) {
		var sc stampCache
		_, stage, err := conv.toMessage(rec("k", schema.Header{Key: "h", Value: "a\x01"}), "out", &sc)
		require.Error(t, err)
		require.Equal(t, StageHeader, stage)
	})
}

// TestFromMessage: a received message becomes a sink record with where it was stored, its
// key (plain or base64), its time from the worker's timestamp property, and the other
// properties as headers in name order.
func TestFromMessage(t *testing.T) {
	conv := converters{converter.NewStringConverter(), converter.NewByteArrayConverter()}
	m := &rmqclient.ReceivedMessage{
		Queue: rmqclient.Queue{Topic: "in", BrokerName: "broker-a", QueueID: 2}, Offset: 41, MsgID: "ID-1",
		Keys: []string{"k-1"}, Body: []byte("v"), BornTime: time.UnixMilli(5),
		Properties: map[string]string{PropTimestamp: "1700000000123", "z": "1", "a": "2"},
	}
	r, stage, err := conv.fromMessage(m, nil)
	require.NoError(t, err)
	require.Empty(t, stage)
	want := &schema.Record{Topic: "in", OriginalTopic: "in", QueueID: 2, QueueOffset: 41, BrokerName: "broker-a", MsgID: "ID-1",
		KeySchema: schema.OptionalStringSchema, Key: "k-1", ValueSchema: schema.OptionalBytesSchema, Value: []byte("v"),
		Timestamp: time.UnixMilli(1700000000123),
		Headers: schema.Headers{{Key: "a", Schema: schema.OptionalStringSchema, Value: "2"},
			{Key: "z", Schema: schema.OptionalStringSchema, Value: "1"}}}
	require.Equal(t, want, r)

	m.Keys, m.Properties = nil, map[string]string{PropKeyBase64: "YSBi"}
	r, _, err = conv.fromMessage(m, nil)
	require.NoError(t, err)
	require.Equal(t, "a b", r.Key)
	require.Equal(t, time.UnixMilli(5), r.Timestamp, "no timestamp property: the born time")
	require.Empty(t, r.Headers)

	m.Properties = map[string]string{"connect.h.DELAY": "3", "connect.h.TRAN_MSG": "true", "connect.h.x": "1"}
	r, _, err = conv.fromMessage(m, nil)
	require.NoError(t, err)
	require.Equal(t, schema.Headers{{Key: "DELAY", Schema: schema.OptionalStringSchema, Value: "3"},
		{Key: "TRAN_MSG", Schema: schema.OptionalStringSchema, Value: "true"},
		{Key: "connect.h.x", Schema: schema.OptionalStringSchema, Value: "1"}}, r.Headers,
		"escaped reserved names come back as they were; other names are left alone")
}

// TestReservedHeaderNamesRoundTripThroughTheBroker: record headers named as RocketMQ's own
// properties (TRAN_MSG, DELAY, UNIQ_KEY, KEYS, __STARTDELIVERTIME, TIMER_DELIVER_MS) reach a
// sink as headers of those names and change nothing about the message: sent alone (as a
// single-record batch is), TRAN_MSG=true made the broker store a transaction's half message,
// never delivered although the send answered SEND_OK; DELAY=3 and the timer properties
// delayed it; UNIQ_KEY replaced its id and KEYS its key.
func TestReservedHeaderNamesRoundTripThroughTheBroker(t *testing.T) {
	conv := converters{converter.NewStringConverter(), converter.NewByteArrayConverter()}
	topic := rmqtest.Topic(t, 1)
	p, err := rmqtest.Client(t).NewProducer(t.Name(), rmqclient.ProducerOptions{})
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Close()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	later := strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)
	headers := map[string]string{"TRAN_MSG": "true", "DELAY": "3", "UNIQ_KEY": "mine", "KEYS": "not-the-key",
		"__STARTDELIVERTIME": later, "TIMER_DELIVER_MS": later, "plain": "1"}
	r := schema.NewRecord("t", schema.OptionalStringSchema, "k", schema.BytesSchema, []byte("v"))
	for k, v := range headers {
		r.Headers.Add(k, nil, v)
	}
	var sc stampCache
	m, _, err := conv.toMessage(r, topic, &sc)
	require.NoError(t, err)
	b, err := rmqclient.NewBatch(m)
	require.NoError(t, err)
	res, err := p.SendBatch(ctx, b)
	require.NoError(t, err)

	reader := rmqtest.Client(t).NewReader("test")
	defer func() { require.NoError(t, reader.Close()) }()
	var got []*rmqclient.ReceivedMessage
	var readErr error
	// Stored at once, it is readable as soon as the broker's dispatch has indexed it; the bound
	// is well under DELAY level 3 (10 s), and a half message never comes.
	require.Eventually(t, func() bool {
		got, _, readErr = reader.Read(ctx, res.Queue, res.Offset, 1)
		return readErr == nil && len(got) == 1
	}, 5*time.Second, 20*time.Millisecond, "the message is delivered at once")
	require.Equal(t, res.MsgID, got[0].MsgID, "the message keeps the id it was sent with")
	require.Equal(t, []string{"k"}, got[0].Keys)
	rec, _, err := conv.fromMessage(got[0], nil)
	require.NoError(t, err)
	require.Equal(t, "k", rec.Key)
	back := map[string]string{}
	for _, h := range rec.Headers {
		back[h.Key] = h.Value.(string)
	}
	require.Equal(t, headers, back)
}

// TestKeysRoundTripThroughTheBroker: a record's key comes back from a real broker as it was sent
// (through toMessage, a batch send, a read and fromMessage): a null key null, an empty key empty, and
// plain, spaced and binary keys byte for byte.
func TestKeysRoundTripThroughTheBroker(t *testing.T) {
	conv := converters{converter.NewByteArrayConverter(), converter.NewByteArrayConverter()}
	keys := [][]byte{nil, {}, []byte("k-1"), []byte("a b"), {0, 0xff}}
	topic := rmqtest.Topic(t, 1)
	p, err := rmqtest.Client(t).NewProducer(t.Name(), rmqclient.ProducerOptions{})
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Close()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var sc stampCache
	var b rmqclient.BatchBuilder
	for _, k := range keys {
		r := schema.NewRecord("t", schema.OptionalBytesSchema, k, schema.BytesSchema, []byte("v"))
		if k == nil {
			r.KeySchema = nil
		}
		m, _, err := conv.toMessage(r, topic, &sc)
		require.NoError(t, err)
		m.ShardingKey = "" // one queue for all, so they are read back in order
		require.NoError(t, b.Add(m))
	}
	res, err := p.SendBatch(ctx, b.Finish())
	require.NoError(t, err)

	r := rmqtest.Client(t).NewReader("test")
	defer func() { require.NoError(t, r.Close()) }()
	var got []*rmqclient.ReceivedMessage
	require.Eventually(t, func() bool {
		msgs, _, err := r.Read(ctx, res.Queue, res.Offset+int64(len(got)), 32)
		require.NoError(t, err)
		got = append(got, msgs...)
		return len(got) >= len(keys)
	}, 20*time.Second, 20*time.Millisecond)
	for i, m := range got[:len(keys)] {
		rec, _, err := conv.fromMessage(m, nil)
		require.NoError(t, err)
		if keys[i] == nil {
			require.Nil(t, rec.Key, "a null key stays null")
			continue
		}
		require.Equal(t, keys[i], rec.Key, "key %d", i)
		require.Empty(t, rec.Headers, "the key's properties are not headers")
	}
}

// TestStampCacheReleaseLetsBodiesGo: messages are cut from slabs; once released, a slab
// no longer keeps the bodies of the messages cut from it alive.
func TestStampCacheReleaseLetsBodiesGo(t *testing.T) {
	conv := converters{converter.NewStringConverter(), converter.NewByteArrayConverter()}
	var sc stampCache
	var freed atomic.Int32
	for range 10 {
		body := make([]byte, 1<<20)
		runtime.AddCleanup(&body[0], func(struct{}) { freed.Add(1) }, struct{}{})
		_, _, err := conv.toMessage(schema.NewRecord("t", nil, nil, schema.BytesSchema, body), "out", &sc)
		require.NoError(t, err)
	}
	sc.release()
	require.Eventually(t, func() bool { runtime.GC(); return freed.Load() == 10 }, 5*time.Second, 10*time.Millisecond,
		"bodies still held after release: %d of 10 freed", freed.Load())
	runtime.KeepAlive(&sc) // the cache lives on, as a source runner's does
}
