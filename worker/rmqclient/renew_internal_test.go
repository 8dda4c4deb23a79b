package rmqclient

import (
	"context"
	"sync/atomic"
	"testing"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	rmqerrors "github.com/apache/rocketmq-client-go/v2/errors"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/stretchr/testify/require"
)

// libProducer stands in for the client library's producer: each send answers with err (nil:
// SEND_OK), and Shutdown is counted.
type libProducer struct {
	rocketmq.Producer // methods the Producer never calls
	err               error
	sends, shutdowns  atomic.Int32
}

func (l *libProducer) SendSync(context.Context, ...*primitive.Message) (*primitive.SendResult, error) {
	l.sends.Add(1)
	if l.err != nil {
		return nil, l.err
	}
	return &primitive.SendResult{Status: primitive.SendOK, MsgID: "id"}, nil
}

func (l *libProducer) Shutdown() error { l.shutdowns.Add(1); return nil }

// TestProducerRenewsStalledConnections: after sends in a row that got no answer in time (a
// connection over which the broker's answers were lost stays stalled after the network heals),
// the producer replaces its client-library producer, whose fresh connections answer; a single
// timeout, or another failure, replaces nothing.
func TestProducerRenewsStalledConnections(t *testing.T) {
	stalled := &libProducer{err: rmqerrors.ErrRequestTimeout}
	fresh := &libProducer{}
	builds := 0
	p := &Producer{p: stalled, build: func() (rocketmq.Producer, error) { builds++; return fresh, nil }}
	ctx := context.Background()
	msg := &Message{Topic: "t", Body: []byte("x")}

	_, err := p.Send(ctx, msg)
	require.ErrorIs(t, err, ErrSend)
	require.Zero(t, builds, "one timeout renews nothing")
	_, err = p.Send(ctx, msg)
	require.ErrorIs(t, err, ErrSend)
	require.Equal(t, 1, builds, "the second timeout in a row renews the connections")
	require.Equal(t, int32(1), stalled.shutdowns.Load(), "the stalled producer is shut down")

	res, err := p.Send(ctx, msg)
	require.NoError(t, err)
	require.Equal(t, "id", res.MsgID)
	require.Equal(t, int32(2), stalled.sends.Load())
	require.Equal(t, int32(1), fresh.sends.Load())

	// Other failures are the broker's answers: the connection works.
	fresh.err = rmqerrors.ErrNotExisted
	for range 3 {
		_, err = p.Send(ctx, msg)
		require.Error(t, err)
	}
	require.Equal(t, 1, builds)
	require.NoError(t, p.Close())
	require.Equal(t, int32(1), fresh.shutdowns.Load())
}
