package rmqclient

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/worker/rmqclient/internal/remoting"
)

func rawProps(kv ...string) []byte {
	var b []byte
	for i := 0; i < len(kv); i += 2 {
		b = append(b, kv[i]...)
		b = append(b, 1)
		b = append(b, kv[i+1]...)
		b = append(b, 2)
	}
	return b
}

// TestReceivedMessagesSplitsProperties: what a pull's conversion makes of the stored
// properties, each message on its own although they share their batch's allocations.
func TestReceivedMessagesSplitsProperties(t *testing.T) {
	q := Queue{Topic: "t", BrokerName: "b", QueueID: 2}
	host := []byte{127, 0, 0, 1, 0, 0, 0x2a, 0x9f}
	msgs := []remoting.Message{
		{QueueOffset: 7, StoreHost: host, PhysicalOffset: 0x309, Body: []byte("a"),
			Properties: rawProps("KEYS", "k1", "user", "u1", "TAGS", "tg", "WAIT", "true", "user", "u2")},
		{QueueOffset: 8, StoreHost: host, PhysicalOffset: 0x30a, Body: []byte("b"),
			Properties: rawProps("UNIQ_KEY", "ID8", "KEYS", "k1 k2", "x", "y")},
		{QueueOffset: 9, StoreHost: host, PhysicalOffset: 0x30b, Properties: rawProps("KEYS", "k\u00a0k")},
		{QueueOffset: 10, StoreHost: host, PhysicalOffset: 0x30c},
	}
	out := receivedMessages(new(msgSlab), q, msgs, 11)
	require.Len(t, out, 4)

	m := out[0]
	require.Equal(t, q, m.Queue)
	require.Equal(t, int64(7), m.Offset)
	require.Equal(t, int64(11), m.MaxOffset)
	require.Equal(t, map[string]string{"user": "u2"}, m.Properties) // the last one wins
	require.Equal(t, []string{"k1"}, m.Keys)
	require.Equal(t, "tg", m.Tag)
	require.Equal(t, "7F00000100002A9F0000000000000309", m.MsgID)
	v, ok := m.SysProperty("WAIT")
	require.True(t, ok)
	require.Equal(t, "true", v)
	_, ok = m.SysProperty("user")
	require.False(t, ok, "a user property is not a system one")
	_, ok = m.SysProperty("UNIQ_KEY")
	require.False(t, ok)

	m = out[1]
	require.Equal(t, "ID8", m.MsgID)
	require.Equal(t, []string{"k1", "k2"}, m.Keys)
	require.Equal(t, map[string]string{"x": "y"}, m.Properties)
	v, _ = m.SysProperty("UNIQ_KEY")
	require.Equal(t, "ID8", v)

	m = out[2]
	require.Equal(t, []string{"k", "k"}, m.Keys, "keys are split at any white space, as strings.Fields does")
	require.Equal(t, "7F00000100002A9F000000000000030B", m.MsgID)
	require.NotNil(t, m.Properties)
	require.Empty(t, m.Properties)

	m = out[3]
	require.Nil(t, m.Keys)
	require.Equal(t, fmt.Sprintf("%X", append(append([]byte{}, host...), 0, 0, 0, 0, 0, 0, 0x3, 0xc)), m.MsgID)

	// One message's keys do not reach into the next one's.
	out[0].Keys = append(out[0].Keys, "more")
	require.Equal(t, "ID8", out[1].MsgID)
	require.Equal(t, []string{"k1", "k2"}, out[1].Keys)
	require.Equal(t, []string{"k", "k"}, out[2].Keys)
}

// TestReleasedMessagesAreReused: after Release, the next conversion reuses the values,
// and what a released message pointed to (body, properties, keys) is left as it was.
func TestReleasedMessagesAreReused(t *testing.T) {
	q := Queue{Topic: "t", BrokerName: "b"}
	host := []byte{127, 0, 0, 1, 0, 0, 0x2a, 0x9f}
	first := Pulled{slab: new(msgSlab)}
	first.Messages = receivedMessages(first.slab, q, []remoting.Message{
		{QueueOffset: 1, StoreHost: host, Body: []byte("one"), Properties: rawProps("KEYS", "k1", "p", "1")}}, 2)
	body, props, keys := first.Messages[0].Body, first.Messages[0].Properties, first.Messages[0].Keys
	slab := first.slab
	first.Release()
	first.Release() // a second call does nothing
	require.Nil(t, first.Messages)

	second := Pulled{slab: slab}
	second.Messages = receivedMessages(second.slab, q, []remoting.Message{
		{QueueOffset: 2, StoreHost: host, Body: []byte("two"), Properties: rawProps("KEYS", "k2", "p", "2")}}, 3)
	require.Same(t, &slab.msgs[0], second.Messages[0], "the slab is reused")
	require.Equal(t, int64(2), second.Messages[0].Offset)
	require.Equal(t, map[string]string{"p": "2"}, second.Messages[0].Properties)
	require.Equal(t, []byte("one"), body)
	require.Equal(t, map[string]string{"p": "1"}, props)
	require.Equal(t, []string{"k1"}, keys)
}
