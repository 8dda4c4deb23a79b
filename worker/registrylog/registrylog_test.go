package registrylog_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/registrylog"
)

func TestMain(m *testing.M) { rmqtest.Main(m) }

type applied struct {
	mu   sync.Mutex
	pos  []int64
	body []string
}

func (a *applied) apply(pos int64, ev []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pos = append(a.pos, pos)
	a.body = append(a.body, string(ev))
}

func (a *applied) snapshot() ([]int64, []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]int64(nil), a.pos...), append([]string(nil), a.body...)
}

func run(t *testing.T, topic string) (*registrylog.Log, *applied) {
	t.Helper()
	ctx := context.Background()
	l, err := registrylog.Open(ctx, registrylog.Config{Client: rmqtest.Client(t), Topic: topic})
	require.NoError(t, err)
	a := &applied{}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- l.Run(rctx, a.apply) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		require.NoError(t, l.Close())
	})
	return l, a
}

func TestAppendSyncReplay(t *testing.T) {
	topic := rmqtest.Name(t, "t")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	w, wa := run(t, topic)
	require.NoError(t, w.Sync(ctx))
	const n = 30
	for i := range n {
		require.NoError(t, w.Append(ctx, []byte(fmt.Sprintf("e%d", i))))
	}
	// Sync returns only once everything appended before it has been applied.
	require.NoError(t, w.Sync(ctx))
	pos, body := wa.snapshot()
	require.Len(t, body, n)
	for i := range n {
		require.Equal(t, fmt.Sprintf("e%d", i), body[i])
		require.EqualValues(t, i, pos[i])
	}

	// A new reader replays the whole topic from its first offset, with the same positions.
	r, ra := run(t, topic)
	require.NoError(t, r.Sync(ctx))
	pos2, body2 := ra.snapshot()
	require.Equal(t, pos, pos2)
	require.Equal(t, body, body2)

	// and follows what others append: once the writer has applied its event (as the registry server waits for before it
	// answers a write), the reader's Sync covers it.
	require.NoError(t, w.Append(ctx, []byte("late")))
	require.NoError(t, w.Sync(ctx))
	require.NoError(t, r.Sync(ctx))
	_, body2 = ra.snapshot()
	require.Equal(t, "late", body2[len(body2)-1])
}

func TestRejectsMultiQueueTopic(t *testing.T) {
	topic := rmqtest.Topic(t, 4)
	_, err := registrylog.Open(context.Background(), registrylog.Config{Client: rmqtest.Client(t), Topic: topic})
	require.ErrorIs(t, err, registrylog.ErrTopic)
}
