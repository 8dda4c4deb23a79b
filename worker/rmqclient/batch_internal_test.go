package rmqclient

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/stretchr/testify/require"
)

// wireMsg is one message decoded from a batch body.
type wireMsg struct {
	body  string
	props map[string]string
}

// decodeBatch parses a batch body as the broker does (MessageDecoder.decodeMessages).
func decodeBatch(t *testing.T, b []byte) []wireMsg {
	t.Helper()
	var out []wireMsg
	for len(b) > 0 {
		require.GreaterOrEqual(t, len(b), fixedMsgLen, "truncated header")
		total := int(binary.BigEndian.Uint32(b))
		require.LessOrEqual(t, total, len(b), "total size past the end")
		require.Zero(t, binary.BigEndian.Uint32(b[4:]), "magic code")
		require.Zero(t, binary.BigEndian.Uint32(b[8:]), "body CRC")
		require.Zero(t, binary.BigEndian.Uint32(b[12:]), "flag")
		bl := int(binary.BigEndian.Uint32(b[16:]))
		m := wireMsg{body: string(b[20 : 20+bl]), props: map[string]string{}}
		pl := int(binary.BigEndian.Uint16(b[20+bl:]))
		require.Equal(t, total, fixedMsgLen+bl+pl, "sizes add up")
		for _, kv := range strings.Split(string(b[22+bl:22+bl+pl]), "\x02") {
			if kv == "" {
				continue
			}
			k, v, ok := strings.Cut(kv, "\x01")
			require.True(t, ok, "property %q", kv)
			_, dup := m.props[k]
			require.False(t, dup, "property %s twice", k)
			m.props[k] = v
		}
		out = append(out, m)
		b = b[total:]
	}
	return out
}

func randomMessage(r *rand.Rand, topic string) *Message {
	word := func() string {
		const alphabet = "abcXYZ09 _-.é"
		n := r.IntN(6)
		var sb strings.Builder
		for range n {
			sb.WriteString(string([]rune(alphabet)[r.IntN(len([]rune(alphabet)))]))
		}
		return sb.String()
	}
	m := &Message{Topic: topic, Body: []byte(word() + word())}
	for range r.IntN(3) {
		m.Keys = append(m.Keys, word())
	}
	if r.IntN(2) == 0 {
		m.Tag = word()
	}
	if r.IntN(2) == 0 {
		m.ShardingKey = word()
	}
	if n := r.IntN(4); n > 0 {
		m.Properties = map[string]string{}
		for range n {
			m.Properties[word()] = word()
		}
	}
	return m
}

// TestBatchEncodingMatchesTheClientLibrary encodes random messages with BatchBuilder and
// with the client library (toPrimitive + MarshalMessageBatch) and decodes both: the same
// bodies and properties.
func TestBatchEncodingMatchesTheClientLibrary(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 500 {
		msgs := make([]*Message, 1+r.IntN(8))
		for i := range msgs {
			msgs[i] = randomMessage(r, "t")
			if i > 0 && r.IntN(2) == 0 { // shared maps, as a source task's messages have
				msgs[i].Properties = msgs[i-1].Properties
			}
		}
		b, err := NewBatch(msgs...)
		require.NoError(t, err)
		require.Equal(t, len(msgs), b.Len())
		require.Equal(t, cap(b.body), len(b.body), "round %d: the buffer is sized exactly", round)
		var bb BatchBuilder
		for _, m := range msgs {
			require.NoError(t, bb.Add(m))
		}
		require.Equal(t, len(b.body), bb.Size(), "round %d: Size is the encoded size", round)
		ours := decodeBatch(t, b.body)

		pms := make([]*primitive.Message, len(msgs))
		for i, m := range msgs {
			pm, err := toPrimitive(m)
			require.NoError(t, err)
			pms[i] = pm
		}
		theirs := decodeBatch(t, producer.MarshalMessageBatch(pms...))
		require.Len(t, ours, len(msgs))
		for i := range ours {
			require.Equal(t, theirs[i], ours[i], "round %d message %d: %+v", round, i, msgs[i])
		}
		if k := msgs[0].ShardingKey; k != "" {
			require.Equal(t, keyHash(k), b.queue)
		} else {
			require.Equal(t, -1, b.queue)
		}
	}
}

func TestBatchBuilderRefusesAloneWhatTheBrokerCannotTake(t *testing.T) {
	var b BatchBuilder
	require.NoError(t, b.Add(&Message{Topic: "t", Body: []byte("a")}))
	for _, m := range []*Message{
		nil,
		{Body: []byte("no topic")},
		{Topic: "other"},
		{Topic: "t", Properties: map[string]string{"k": "a\x01b"}},
		{Topic: "t", Properties: map[string]string{"k\x02": "v"}},
		{Topic: "t", Keys: []string{"a\x02"}},
		{Topic: "t", Tag: "\x01"},
		{Topic: "t", Properties: map[string]string{"big": strings.Repeat("x", maxPropsLen)}},
	} {
		err := b.Add(m)
		require.ErrorIs(t, err, ErrInvalid, "%+v", m)
	}
	require.NoError(t, b.Add(&Message{Topic: "t", Body: []byte("b"), Properties: map[string]string{"ok": strings.Repeat("x", 1000)}}))
	require.ErrorContains(t, b.Add(&Message{Topic: "t", Properties: map[string]string{"TRAN_MSG": "true"}}), "TRAN_MSG")
	require.Equal(t, 2, b.Len())
	require.Equal(t, 2*fixedMsgLen+2+len("ok")+1000+2, b.Size(), "only the added messages count")
	batch := b.Finish()
	got := decodeBatch(t, batch.body)
	require.Equal(t, []string{"a", "b"}, []string{got[0].body, got[1].body})
	require.Zero(t, b.Len(), "Finish empties the builder")
	require.Nil(t, b.Finish())
	_, err := NewBatch()
	require.ErrorIs(t, err, ErrInvalid)
}

// TestSystemPropertiesAreRefused: a user property whose name RocketMQ reserves is refused by
// both send paths, naming it: as a property of the message it would change how the broker
// treats it (TRAN_MSG=true on a single message sets the transaction-prepared flag: the
// broker stores a half message and never delivers it, though the send answers SEND_OK;
// DELAY and the TIMER_ ones delay it; UNIQ_KEY replaces its id; KEYS its keys).
func TestSystemPropertiesAreRefused(t *testing.T) {
	for _, name := range []string{"TRAN_MSG", "DELAY", "__STARTDELIVERTIME", "TIMER_DELIVER_MS", "TIMER_DELAY_SEC",
		"UNIQ_KEY", "KEYS", "TAGS", "SHARDING_KEY", "WAIT", "MSG_TYPE", "INNER_MULTI_DISPATCH"} {
		m := &Message{Topic: "t", Body: []byte("b"), Properties: map[string]string{"ok": "1", name: "3"}}
		_, err := toPrimitive(m)
		require.ErrorIs(t, err, ErrInvalid, name)
		require.ErrorContains(t, err, name)
		var b BatchBuilder
		err = b.Add(m)
		require.ErrorIs(t, err, ErrInvalid, name)
		require.ErrorContains(t, err, name)
		require.Zero(t, b.Len())
		_, err = NewBatch(m)
		require.ErrorIs(t, err, ErrInvalid, name)
	}
	_, err := toPrimitive(&Message{Topic: "t", Body: []byte("b"), Properties: map[string]string{"connect.h.TRAN_MSG": "true"}})
	require.NoError(t, err, "an escaped name is a user property")
}

func BenchmarkBatchEncoding(b *testing.B) {
	msgs := make([]*Message, 128)
	props := map[string]string{"connect.timestamp": "1700000000000"}
	for i := range msgs {
		k := fmt.Sprintf("key-%d", i%100)
		msgs[i] = &Message{Topic: "t", Body: make([]byte, 100), Keys: []string{k}, ShardingKey: k, Properties: props}
	}
	b.Run("builder", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := NewBatch(msgs...); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("client-library", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			pms := make([]*primitive.Message, len(msgs))
			for i, m := range msgs {
				pms[i], _ = toPrimitive(m)
			}
			_ = producer.MarshalMessageBatch(pms...)
		}
	})
}
