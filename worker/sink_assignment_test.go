package worker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// The SPI lets a sink task call Assignment from Put, Flush and PreCommit, which may run
// while a processor holds the runner's lock: Assignment must not take that lock.
func TestAssignmentFromPutDoesNotDeadlock(t *testing.T) {
	s := &sinkRunner{offsets: map[plugins.Queue]int64{}}
	q := rmqclient.Queue{Topic: "t", BrokerName: "b", QueueID: 3}
	s.setPlan([]rmqclient.Queue{q}, nil)
	s.mu.Lock() // as a processor holds it while a Put runs
	defer s.mu.Unlock()
	got := make(chan []plugins.Queue, 1)
	go func() { got <- sinkTaskContext{s}.Assignment() }()
	select {
	case qs := <-got:
		require.Equal(t, []plugins.Queue{{Topic: "t", BrokerName: "b", QueueID: 3}}, qs)
	case <-time.After(10 * time.Second):
		t.Fatal("Assignment blocked on the lock held around Put")
	}
}
