package worker

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// okSender acks every send.
type okSender struct{}

func (okSender) SendBatch(context.Context, *rmqclient.Batch) (rmqclient.SendResult, error) {
	return rmqclient.SendResult{}, nil
}

// partitionSource returns a record of each of its partitions a Poll, and counts its Commits.
type partitionSource struct {
	parts   []map[string]any
	n       atomic.Int64
	commits atomic.Int32
}

func (c *partitionSource) Start(context.Context, plugins.SourceTaskContext, map[string]string) error {
	return nil
}

func (c *partitionSource) Poll(ctx context.Context) ([]*schema.Record, error) {
	select {
	case <-ctx.Done():
		return nil, nil
	case <-time.After(time.Millisecond):
	}
	n := c.n.Add(1)
	var out []*schema.Record
	for _, p := range c.parts {
		r := schema.NewRecord("", nil, nil, schema.StringSchema, "v")
		r.SourcePartition, r.SourceOffset = p, map[string]any{"n": n}
		out = append(out, r)
	}
	return out, nil
}

func (c *partitionSource) Commit(context.Context) error { c.commits.Add(1); return nil }
func (c *partitionSource) Stop(context.Context) error   { return nil }

// staleStore stores every position except those of partition stale, which it refuses as
// the position fold refuses an older generation's (errStale).
type staleStore struct {
	PositionStore
	stale string
	mu    sync.Mutex
	puts  int
}

func (s *staleStore) Put(name string, ps []plugins.PartitionPosition) error {
	s.mu.Lock()
	s.puts++
	s.mu.Unlock()
	var keep []plugins.PartitionPosition
	refused := 0
	for _, p := range ps {
		if k, _ := partitionKey(p.Partition); k == s.stale {
			refused++
			continue
		}
		keep = append(keep, p)
	}
	if err := s.PositionStore.Put(name, keep); err != nil {
		return err
	}
	if refused > 0 {
		return fmt.Errorf("positions of %s: %w: %d of %d were older", name, errStale, refused, len(ps))
	}
	return nil
}

func (s *staleStore) putCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.puts
}

func staleRunner(t *testing.T, task plugins.SourceTask, positions PositionStore) *sourceRunner {
	t.Helper()
	s := sendFailRunner(t, task, okSender{})
	s.positions, s.commitInterval = positions, 5*time.Millisecond
	return s
}

// runUntilDone runs s and returns its error, or fails the test when it has not returned
// long after its commits were refused.
func runUntilDone(t *testing.T, s *sourceRunner, why string) error {
	t.Helper()
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { done <- s.run(ctx, 5*time.Second) }()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		cancel()
		<-done
		t.Fatal(why)
		return nil
	}
}

// TestSourceStaleCommitFailsTheTask: a commit the position store refuses as stale (for one
// of its partitions) is not retried for ever with the task RUNNING and its Commit never
// called: the run fails with the refusal, having told the task nothing, and commits nothing
// more.
func TestSourceStaleCommitFailsTheTask(t *testing.T) {
	files := sendFailRunner(t, &partitionSource{}, okSender{}).positions
	store := &staleStore{PositionStore: files, stale: `{"file":"p"}`}
	task := &partitionSource{parts: []map[string]any{partP, {"file": "q"}}}
	s := staleRunner(t, task, store)
	err := runUntilDone(t, s, "the task kept running while its commits were refused")
	require.ErrorIs(t, err, errStale)
	require.Zero(t, task.commits.Load(), "the task was told positions were stored that were not")
	require.Equal(t, 1, store.putCount(), "commits went on after one was refused")
}

// TestSourceCommitBehindNewerGeneration: in a cluster, a run whose claim is in force but
// whose partition holds a position of a higher generation fails with errClaimBehind (its
// restart claims the task again), its trace naming the partition and both generations; a
// run whose claim was replaced fails as fenced.
func TestSourceCommitBehindNewerGeneration(t *testing.T) {
	t.Run("claim in force", func(t *testing.T) {
		h := newClaimHarnessOf(t, true)
		claimAt(t, h, 0, "w1", 5, 0)
		claimAt(t, h, 1, "w2", 7, 0)
		appendAndApply(t, h.d.positionLog, positionRecord{Cluster: "c1", Connector: "c", Inc: 1, Gen: 7,
			Positions: []positionEntry{{Partition: partP, Offset: map[string]any{"n": int64(9)}}}})
		task := &partitionSource{parts: []map[string]any{partP}}
		s := staleRunner(t, task, forTask(clusterPositions{d: h.d, inc: 1, gen: 5}, 0))
		s.id.Connector = "c"
		err := runUntilDone(t, s, "the task kept running while its commits were refused")
		require.ErrorIs(t, err, errClaimBehind)
		require.ErrorContains(t, err, `partition {"file":"p"} holds generation 7`)
		require.ErrorContains(t, err, "from generation 5")
		require.Zero(t, task.commits.Load())
	})
	t.Run("claim replaced", func(t *testing.T) {
		h := newClaimHarnessOf(t, true)
		claimAt(t, h, 0, "w1", 5, 0)
		claimAt(t, h, 0, "w2", 6, 5)
		task := &partitionSource{parts: []map[string]any{partP}}
		s := staleRunner(t, task, forTask(clusterPositions{d: h.d, inc: 1, gen: 5}, 0))
		s.id.Connector = "c"
		require.ErrorIs(t, runUntilDone(t, s, "the task kept running while its commits were fenced"), errPositionsFenced)
		require.Zero(t, task.commits.Load())
	})
}
