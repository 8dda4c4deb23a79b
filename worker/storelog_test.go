package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// testRecord is a store record of a toy fold: a list of values, or a snapshot of it.
type testRecord struct {
	Add     string   `json:"add,omitempty"`
	Snap    []string `json:"snap,omitempty"`
	Through int64    `json:"through,omitempty"`
}

type testFold struct {
	mu   sync.Mutex
	vals []string
}

func (f *testFold) apply(_ int64, b []byte) error {
	var r testRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Snap == nil {
		f.vals = append(f.vals, r.Add)
	}
	return nil
}

func (f *testFold) snapshotter() *snapshotter {
	return &snapshotter{
		through: func(b []byte) (int64, bool) {
			var r testRecord
			if json.Unmarshal(b, &r) != nil || r.Snap == nil {
				return 0, false
			}
			return r.Through, true
		},
		adopt: func(b []byte) error {
			var r testRecord
			if err := json.Unmarshal(b, &r); err != nil {
				return err
			}
			f.mu.Lock()
			f.vals = slices.Clone(r.Snap)
			f.mu.Unlock()
			return nil
		},
	}
}

func (f *testFold) get() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.vals)
}

// TestStoreLogRebasesFromSnapshot: a reader that lost the start of a store topic (the
// broker's retention) rebuilds the fold from the first snapshot after it, applying the
// records the snapshot does not cover; a complete reader ignores snapshots.
// TestStoreLogRebasesFromSnapshot runs over a store queue in memory (so it runs under the race
// detector) and, unless -short, over a store topic on the broker.
func TestStoreLogRebasesFromSnapshot(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		q := &memQueue{}
		testStoreLogRebases(t, func() *storeLog { return newStoreLog("store", q, slog.Default()) })
	})
	t.Run("broker", func(t *testing.T) {
		if testing.Short() {
			t.Skip("needs the broker")
		}
		client := rmqtest.Client(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		p, err := client.NewProducer("storelog-test", rmqclient.ProducerOptions{})
		require.NoError(t, err)
		defer p.Close()
		topic := rmqtest.Name(t, "store")
		testStoreLogRebases(t, func() *storeLog {
			l, err := openStoreLog(ctx, client, p, topic, slog.Default())
			require.NoError(t, err)
			return l
		})
	})
}

// testStoreLogRebases writes records and a snapshot through one log of open, then reads them
// back through fresh ones as if the queue's start had been deleted.
func testStoreLogRebases(t *testing.T, open func() *storeLog) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l := open()
	defer l.close()
	put := func(r testRecord) int64 {
		b, _ := json.Marshal(r)
		off, err := l.append(ctx, "", b)
		require.NoError(t, err)
		return off
	}
	// a b c, then a snapshot written while "d" was not yet applied by its writer
	// (through = 3), then d (offset 3, before the snapshot) and e.
	put(testRecord{Add: "a"})
	put(testRecord{Add: "b"})
	put(testRecord{Add: "c"})
	put(testRecord{Add: "d"})
	put(testRecord{Snap: []string{"a", "b", "c"}, Through: 3})
	put(testRecord{Add: "e"})

	run := func(from, minOff int64) []string {
		f := &testFold{}
		r := open()
		defer r.close()
		rctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); r.run(rctx, from, minOff, f.snapshotter(), f.apply) }()
		require.NoError(t, r.sync(ctx))
		stop()
		<-done
		return f.get()
	}
	// Complete replay: the snapshot changes nothing.
	require.Equal(t, []string{"a", "b", "c", "d", "e"}, run(0, 0))
	// The start is gone (first retained offset 2): records before the snapshot are held
	// back; the snapshot is adopted and d (offset 3 >= through) applied again after it.
	require.Equal(t, []string{"a", "b", "c", "d", "e"}, run(0, 2))
	// A snapshot whose coverage ends before the records held back: those are applied too.
	require.Equal(t, []string{"a", "b", "c", "d", "e"}, run(0, 4))
}

// A store write the broker failed (unreachable, timed out) is retryable: it wraps ErrUnavailable,
// which the REST API answers with 503 instead of 500. A message the broker could never take stays a
// plain failure, and so does a cancelled request.
func TestStoreWriteErrorsSayWhetherToRetry(t *testing.T) {
	timeout := fmt.Errorf("send failed: %w", errors.New("request timeout"))
	require.ErrorIs(t, storeWriteErr("cfg", timeout), restapi.ErrUnavailable)
	require.ErrorContains(t, storeWriteErr("cfg", timeout), "request timeout")
	for _, err := range []error{rmqclient.ErrTooLarge, rmqclient.ErrInvalid, context.Canceled} {
		require.NotErrorIs(t, storeWriteErr("cfg", err), restapi.ErrUnavailable, "%v", err)
		require.ErrorIs(t, storeWriteErr("cfg", err), err)
	}
}
