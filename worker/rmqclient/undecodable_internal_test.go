package rmqclient

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/worker/rmqclient/internal/remoting"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient/internal/remotingtest"
)

// storedMessage encodes a message as the broker stores it (MessageDecoder's layout, magic
// code v1), with its raw properties.
func storedMessage(offset int64, sysFlag int32, body []byte, props string) []byte {
	var b bytes.Buffer
	w := func(v any) { _ = binary.Write(&b, binary.BigEndian, v) }
	w(int32(0)) // total size, patched below
	w(int32(-626843481))
	w(int32(0)) // body crc
	w(int32(0)) // queue id
	w(int32(0)) // flag
	w(offset)
	w(int64(777)) // physical offset
	w(sysFlag)
	w(int64(1000)) // born timestamp
	b.Write([]byte{127, 0, 0, 1, 0, 0, 0x30, 0x39})
	w(int64(2000)) // store timestamp
	b.Write([]byte{127, 0, 0, 1, 0, 0, 0x2a, 0x9f})
	w(int32(0)) // reconsume times
	w(int64(0)) // prepared transaction offset
	w(int32(len(body)))
	b.Write(body)
	b.WriteByte(1)
	b.WriteString("t")
	w(int16(len(props)))
	b.WriteString(props)
	out := b.Bytes()
	binary.BigEndian.PutUint32(out, uint32(len(out)))
	return out
}

// bodyBroker answers every pull with the stored messages of body (found, next after them).
func bodyBroker(t *testing.T, body []byte, next int64) string {
	return remotingtest.Serve(t, func(*remoting.Command) *remoting.Command {
		return &remoting.Command{Body: body, ExtFields: map[string]string{
			"nextBeginOffset": strconv.FormatInt(next, 10), "minOffset": "0", "maxOffset": strconv.FormatInt(next, 10)}}
	})
}

// TestPullHandsOverTheMessagesBeforeAnUndecodableOne: a message the client cannot decode
// (here a compression type it does not know) does not fail the whole pull, which would be
// pulled again and fail again forever: the messages before it come back with an
// UndecodableError naming its queue and offset and carrying its stored body, properties and
// keys, and Next at its offset, so a caller can report it and read on from Offset+1.
func TestPullHandsOverTheMessagesBeforeAnUndecodableOne(t *testing.T) {
	body := storedMessage(100, 0, []byte("good"), "KEYS\x01k0\x02p\x010\x02")
	body = append(body, storedMessage(101, 1|6<<8, []byte("compressed?"), "KEYS\x01k1 k2\x02p\x011\x02UNIQ_KEY\x01ID\x02")...)
	body = append(body, storedMessage(102, 0, []byte("after"), "")...)
	addr := bodyBroker(t, body, 103)
	c, err := New(Config{NameServers: []string{"127.0.0.1:1"}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	pl, err := c.NewPuller("g")
	require.NoError(t, err)
	pl.addrs["b"] = brokerAddr{addr: addr, at: time.Now()}
	q := Queue{Topic: "t", BrokerName: "b", QueueID: 0}

	res, err := pl.Pull(context.Background(), q, 100, 32, 0)
	require.ErrorIs(t, err, ErrUndecodable)
	require.ErrorIs(t, err, remoting.ErrBadMessage)
	require.ErrorContains(t, err, "compression type 6")
	var ue *UndecodableError
	require.True(t, errors.As(err, &ue))
	require.Equal(t, q, ue.Queue)
	require.Equal(t, int64(101), ue.Offset)
	require.Equal(t, "compressed?", string(ue.Body))
	require.Equal(t, map[string]string{"p": "1"}, ue.Properties)
	require.Equal(t, []string{"k1", "k2"}, ue.Keys)
	require.False(t, IsRetriable(err), "pulling it again gives the same answer")
	require.Len(t, res.Messages, 1)
	require.Equal(t, "good", string(res.Messages[0].Body))
	require.Equal(t, int64(101), res.Next)
	res.Release()
	pl.mu.Lock()
	_, kept := pl.addrs["b"]
	pl.mu.Unlock()
	require.True(t, kept, "the broker answered well: its address is kept")

	r := c.NewReader("test")
	r.pulls["t"] = pl
	msgs, next, err := r.Read(context.Background(), q, 100, 32)
	require.ErrorIs(t, err, ErrUndecodable)
	require.Len(t, msgs, 1)
	require.Equal(t, int64(101), next)
}
