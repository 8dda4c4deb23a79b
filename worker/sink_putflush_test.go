package worker

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
)

// pfSink is a gcSink that can carry a Flush in a Put (plugins.PutFlusher) when able, and
// notes its calls in order; failPut and failFlush are returned once each by the next Put or
// Flush.
type pfSink struct {
	gcSink
	able bool

	opMu      sync.Mutex
	ops       []string
	failPut   error
	failFlush error
}

func (s *pfSink) PutFlushes() bool { return s.able }

func (s *pfSink) note(op string) {
	s.opMu.Lock()
	s.ops = append(s.ops, op)
	s.opMu.Unlock()
}

func (s *pfSink) takeFail(f *error) error {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	err := *f
	*f = nil
	return err
}

func (s *pfSink) Put(ctx context.Context, recs []*schema.Record) error {
	s.note("put")
	return s.put(ctx, recs)
}

func (s *pfSink) put(ctx context.Context, recs []*schema.Record) error {
	if err := s.takeFail(&s.failPut); err != nil {
		return err
	}
	return s.gcSink.Put(ctx, recs)
}

func (s *pfSink) Flush(ctx context.Context, offs map[plugins.Queue]int64) error {
	s.note("flush")
	return s.flush(ctx, offs)
}

func (s *pfSink) flush(ctx context.Context, offs map[plugins.Queue]int64) error {
	if err := s.takeFail(&s.failFlush); err != nil {
		return err
	}
	return s.gcSink.Flush(ctx, offs)
}

func (s *pfSink) PutFlush(ctx context.Context, recs []*schema.Record, offs map[plugins.Queue]int64) plugins.PutFlushResult {
	s.note("put+flush")
	if err := s.put(ctx, recs); err != nil {
		return plugins.PutFlushResult{PutErr: err}
	}
	return plugins.PutFlushResult{FlushErr: s.flush(ctx, offs)}
}

func (s *pfSink) calls() []string {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	return append([]string(nil), s.ops...)
}

// TestSinkPutCarriesDueFlush: a Put after which a Flush is due carries it when the task can
// (one call instead of two), with the offsets after the Put; a Put that makes no Flush due is
// a plain Put, and a task that cannot gets a Put and a Flush.
func TestSinkPutCarriesDueFlush(t *testing.T) {
	q := toPluginQueue(gcQueue(0))
	for _, able := range []bool{true, false} {
		task := &pfSink{gcSink: gcSink{concurrent: true}, able: able}
		s := unitSinkRunner(t, task, 4)
		s.flushAfter = time.Hour // only the batch size makes a Flush due here
		p0 := newQueueProgress(gcQueue(0), 0, true)
		in := make(chan sinkBatch)
		runProcessors(t, s, in, 1)
		in <- gcBatch(p0, 0, 2)
		require.Eventually(t, func() bool { return task.records() == 2 }, 30*time.Second, 5*time.Millisecond)
		require.Equal(t, int64(0), durable(p0), "no Flush is due after 2 records")
		in <- gcBatch(p0, 2, 4)
		require.Eventually(t, func() bool { return durable(p0) == 4 }, 30*time.Second, 5*time.Millisecond)
		want := []string{"put", "put+flush"}
		if !able {
			want = []string{"put", "put", "flush"}
		}
		require.Equal(t, want, task.calls(), "able=%v", able)
		puts, flushes, _ := task.state()
		require.Equal(t, [][]string{{"q0@0", "q0@1"}, {"q0@2", "q0@3"}}, puts)
		require.Equal(t, []map[plugins.Queue]int64{{q: 4}}, flushes)
	}
}

// TestSinkCarriedFlushFails: a Flush carried by a Put that fails is handled as a Flush that
// failed: a retriable one is retried as a Flush (the records are not put again) and nothing is
// committed before it succeeds; any other fails the task with nothing committed. A Put that
// fails is retried with its Flush.
func TestSinkCarriedFlushFails(t *testing.T) {
	retriable := plugins.Retriable(errors.New("flush unavailable"))
	for _, tc := range []struct {
		name     string
		failPut  error
		failFlsh error
		calls    []string
		fails    bool
	}{
		{name: "retriable flush", failFlsh: retriable, calls: []string{"put+flush", "flush"}},
		{name: "fatal flush", failFlsh: errors.New("flush broken"), calls: []string{"put+flush"}, fails: true},
		{name: "retriable put", failPut: plugins.Retriable(errors.New("put unavailable")),
			calls: []string{"put+flush", "put+flush"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task := &pfSink{gcSink: gcSink{concurrent: true}, able: true, failPut: tc.failPut, failFlush: tc.failFlsh}
			s := unitSinkRunner(t, task, 2)
			s.policy = errorPolicy{retryTimeout: time.Minute, retryDelayMax: time.Millisecond}
			s.work = context.Background()
			p0 := newQueueProgress(gcQueue(0), 0, true)
			in := make(chan sinkBatch, 1)
			in <- gcBatch(p0, 0, 2)
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			done := make(chan error, 1)
			go func() { done <- s.processBatches(ctx, in) }()
			if tc.fails {
				select {
				case err := <-done:
					require.ErrorIs(t, err, tc.failFlsh)
				case <-time.After(30 * time.Second):
					t.Fatal("the task did not fail")
				}
				require.Equal(t, int64(0), durable(p0), "nothing committed after a failed Flush")
			} else {
				require.Eventually(t, func() bool { return durable(p0) == 2 }, 30*time.Second, 5*time.Millisecond)
				stop()
				require.NoError(t, <-done)
			}
			require.Equal(t, tc.calls, task.calls())
			puts, _, _ := task.state()
			require.Equal(t, [][]string{{"q0@0", "q0@1"}}, puts, "the records were put once")
		})
	}
}
