package rmqclient

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/worker/rmqclient/internal/remoting"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient/internal/remotingtest"
)

// scriptedBroker answers every pull with the same response code, remark and offsets:
// broker answers a healthy broker gives only after it lost records (a commit log file
// deleted under a consume queue, a consume-queue file missing).
func scriptedBroker(t *testing.T, code int, remark string, next, minOff, maxOff int64) string {
	return remotingtest.Serve(t, func(*remoting.Command) *remoting.Command {
		return &remoting.Command{Code: code, Remark: remark, ExtFields: map[string]string{
			"nextBeginOffset": strconv.FormatInt(next, 10), "minOffset": strconv.FormatInt(minOff, 10),
			"maxOffset": strconv.FormatInt(maxOff, 10)}}
	})
}

// TestPullFollowsTheBrokersNextOffsetPastLostRecords: when the broker answers that the
// records at the offset are gone (PULL_RETRY_IMMEDIATELY with MESSAGE_WAS_REMOVING, or
// PULL_NOT_FOUND with OFFSET_FOUND_NULL) it names the offset to read on from, as RocketMQ's
// own consumers follow. Pull reports that as Moved to that offset: a reader that pulled the
// same offset again got the same answer at once, forever (a busy loop that delivers nothing).
// At the tail (nothing new yet, next == offset) nothing moves.
func TestPullFollowsTheBrokersNextOffsetPastLostRecords(t *testing.T) {
	cases := []struct {
		name      string
		code      int
		remark    string
		next      int64
		wantMoved bool
		wantNext  int64
	}{
		{"commit log deleted under the queue", remoting.CodePullRetryImmediately, "MESSAGE_WAS_REMOVING", 132, true, 132},
		{"consume queue file missing", remoting.CodePullNotFound, "OFFSET_FOUND_NULL", 30000, true, 30000},
		{"tail of the queue", remoting.CodePullNotFound, "OFFSET_OVERFLOW_ONE", 100, false, 100},
		{"retry at the same offset", remoting.CodePullRetryImmediately, "NO_MATCHED_MESSAGE", 100, false, 100},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := scriptedBroker(t, tc.code, tc.remark, tc.next, 0, 40000)
			c, err := New(Config{NameServers: []string{"127.0.0.1:1"}})
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })
			pl, err := c.NewPuller("g")
			require.NoError(t, err)
			pl.addrs["b"] = brokerAddr{addr: addr, at: time.Now()}
			q := Queue{Topic: "t", BrokerName: "b", QueueID: 0}

			res, err := pl.Pull(context.Background(), q, 100, 32, 0)
			require.NoError(t, err)
			require.Empty(t, res.Messages)
			require.Equal(t, tc.wantMoved, res.Moved, "Moved")
			require.Equal(t, tc.wantNext, res.Next, "Next")
			require.Contains(t, res.Status, tc.remark, "the broker's reason is kept for logs")
		})
	}
}
