package generator_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/generator"
	"github.com/rmqconnect/rmqconnect/schema"
)

func TestGeneratorSourceConformance(t *testing.T) {
	conformance.TestSource(t, conformance.SourceHarness{
		NewConnector: func() plugins.SourceConnector { return generator.NewSourceConnector() },
		Setup: func(t *testing.T) map[string]string {
			return map[string]string{"name": "gen", "topic": "t", "record.size": "64", "keys": "7", "batch.size": "13"}
		},
		Check: func(t *testing.T, i int, r *schema.Record) {
			require.Equal(t, "t", r.Topic)
			require.Equal(t, generator.Key(int64(i), 7), r.Key)
			require.Equal(t, generator.Value(0, int64(i), 64), r.Value)
			require.Equal(t, map[string]any{"generator": "gen", "task": int64(0)}, r.SourcePartition)
			require.Equal(t, map[string]any{"seq": int64(i)}, r.SourceOffset)
		},
	})
}

func TestNullSinkConformance(t *testing.T) {
	var counters *generator.Counters // per subtest; the suite runs subtests sequentially
	value := func(i int) []byte { return generator.Value(0, int64(i), i%40) }
	conformance.TestSink(t, conformance.SinkHarness{
		NewConnector: func() plugins.SinkConnector { return generator.NewSinkConnector(counters) },
		Setup: func(t *testing.T) map[string]string {
			counters = &generator.Counters{}
			return map[string]string{}
		},
		Record: func(i int) *schema.Record {
			return schema.NewRecord("", nil, nil, schema.BytesSchema, value(i))
		},
		Verify: func(t *testing.T, _ map[string]string, n int) {
			var bytes int64
			for i := range n {
				bytes += int64(len(value(i)))
			}
			require.Equal(t, int64(n), counters.Records.Load())
			require.Equal(t, bytes, counters.Bytes.Load())
		},
	})
}

func TestKeyAndValue(t *testing.T) {
	tests := []struct {
		seq  int64
		keys int
		want string
	}{
		{0, 10, "key-0"}, {9, 10, "key-9"}, {10, 10, "key-0"}, {12345, 100, "key-45"}, {5, 0, ""}, {5, 1, "key-0"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, generator.Key(tt.seq, tt.keys), "Key(%d, %d)", tt.seq, tt.keys)
	}

	for _, size := range []int{0, 1, 5, 100, 4096} {
		v := generator.Value(3, 42, size)
		require.Len(t, v, size)
		require.Equal(t, v, generator.Value(3, 42, size), "deterministic")
		for _, c := range v {
			require.True(t, c >= 0x20 && c < 0x7f, "printable")
		}
	}
	require.Equal(t, "3/42;", string(generator.Value(3, 42, 100)[:5]))
	require.NotEqual(t, generator.Value(0, 1, 100), generator.Value(0, 2, 100))
	require.NotEqual(t, generator.Value(0, 1, 100), generator.Value(1, 1, 100))

	// The values are part of the connector's output: they must not change between versions.
	require.Equal(t, "3/42;jxdjepwaajkrfnfeaqmhkvpzgtjrokhueuf", string(generator.Value(3, 42, 40)))
	require.Equal(t, "12/1099511627776;crhhhpjhdybcc", string(generator.Value(12, 1<<40, 30)))
	require.Equal(t, "f6e6f69037400428a995f442565a55400e247c30d521a4e0e647f90cacbbe7d3",
		fmt.Sprintf("%x", sha256.Sum256(generator.Value(1, 123456789, 4096))))
	require.Equal(t, "3/4", string(generator.Value(3, 42, 3)))
}

// TestPollRecords: polled records carry Key and Value of their seq, and each value is a
// slice of its own (appending to one cannot overwrite the next), whatever the size.
func TestPollRecords(t *testing.T) {
	for _, tt := range []struct{ size, keys int }{{0, 3}, {7, 0}, {100, 3}, {300 << 10, 3}} {
		t.Run(fmt.Sprintf("size=%d,keys=%d", tt.size, tt.keys), func(t *testing.T) {
			tasks := startGenerator(t, map[string]string{"topic": "t", "record.size": strconv.Itoa(tt.size),
				"keys": strconv.Itoa(tt.keys), "batch.size": "5", "count": "12"}, 1, nil)
			recs := conformance.PollN(t, tasks[0], 12, 5*time.Second)
			require.Len(t, recs, 12)
			for i, r := range recs {
				v := r.Value.([]byte)
				require.NotNil(t, v)
				require.Equal(t, generator.Value(0, int64(i), tt.size), v, "record %d", i)
				require.Equal(t, len(v), cap(v), "record %d", i)
				require.Equal(t, int64(i), r.SourceOffset["seq"])
				if tt.keys == 0 {
					require.Nil(t, r.Key)
					require.Nil(t, r.KeySchema)
				} else {
					require.Equal(t, generator.Key(int64(i), tt.keys), r.Key)
					require.Equal(t, schema.StringSchema, r.KeySchema)
				}
				require.Equal(t, -1, r.QueueID)
			}
		})
	}
}

func TestTaskCount(t *testing.T) {
	tests := []struct {
		count int64
		tasks int
		want  []int64
	}{
		{0, 3, []int64{-1, -1, -1}},
		{10, 3, []int64{4, 3, 3}},
		{2, 3, []int64{1, 1, 0}},
		{9, 1, []int64{9}},
	}
	for _, tt := range tests {
		var got []int64
		var sum int64
		for i := range tt.tasks {
			n := generator.TaskCount(tt.count, i, tt.tasks)
			got = append(got, n)
			sum += max(n, 0)
		}
		require.Equal(t, tt.want, got, "count %d over %d tasks", tt.count, tt.tasks)
		if tt.count > 0 {
			require.Equal(t, tt.count, sum)
		}
	}
}

func startGenerator(t *testing.T, cfg map[string]string, maxTasks int, store *conformance.Positions) []plugins.SourceTask {
	t.Helper()
	ctx := context.Background()
	c := generator.NewSourceConnector()
	require.NoError(t, c.Start(ctx, conformance.ConnectorContextFor(t, c, cfg), cfg))
	tcs, err := c.TaskConfigs(maxTasks)
	require.NoError(t, err)
	require.Len(t, tcs, maxTasks)
	var tasks []plugins.SourceTask
	for _, tc := range tcs {
		task := c.NewSourceTask()
		require.NoError(t, task.Start(ctx, conformance.SourceContextFor(t, c.Spec(), store, tc), tc))
		t.Cleanup(func() { _ = task.Stop(ctx) })
		tasks = append(tasks, task)
	}
	return tasks
}

func TestGeneratorCountSplitOverTasks(t *testing.T) {
	tasks := startGenerator(t, map[string]string{"topic": "t", "count": "10", "record.size": "8"}, 3, nil)
	seen := map[string]bool{}
	for i, task := range tasks {
		recs := conformance.PollN(t, task, int(generator.TaskCount(10, i, 3)), 5*time.Second)
		require.Len(t, recs, int(generator.TaskCount(10, i, 3)), "task %d produces exactly its share", i)
		for j, r := range recs {
			require.Equal(t, int64(i), r.SourcePartition["task"])
			require.Equal(t, int64(j), r.SourceOffset["seq"])
			require.Len(t, r.Value, 8)
			seen[string(r.Value.([]byte))] = true
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		more, err := task.Poll(ctx)
		require.NoError(t, err)
		require.Empty(t, more, "nothing past the count")
	}
	require.Len(t, seen, 10, "values are distinct across tasks")
}

func TestGeneratorResumesAfterCommittedSeq(t *testing.T) {
	tests := []struct {
		name   string
		offset map[string]any
		next   int64
	}{
		{"int64", map[string]any{"seq": int64(41)}, 42},
		{"float64 after JSON", map[string]any{"seq": float64(9)}, 10},
		{"string", map[string]any{"seq": "0"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := conformance.NewPositions()
			store.Set(map[string]any{"generator": "g", "task": 1}, tt.offset)
			tasks := startGenerator(t, map[string]string{"name": "g", "topic": "t", "batch.size": "5"}, 2, store)
			recs := conformance.PollN(t, tasks[1], 1, 5*time.Second)
			require.Equal(t, tt.next, recs[0].SourceOffset["seq"])
			require.Equal(t, generator.Value(1, tt.next, 100), recs[0].Value)
			recs = conformance.PollN(t, tasks[0], 1, 5*time.Second)
			require.Equal(t, int64(0), recs[0].SourceOffset["seq"], "task 0 has no committed position")
		})
	}
}

func TestGeneratorBadPosition(t *testing.T) {
	store := conformance.NewPositions()
	store.Set(map[string]any{"generator": "generator", "task": 0}, map[string]any{"seq": "x"})
	c := generator.NewSourceConnector()
	cfg := map[string]string{"topic": "t"}
	require.NoError(t, c.Start(context.Background(), nil, cfg))
	tcs, err := c.TaskConfigs(1)
	require.NoError(t, err)
	err = c.NewSourceTask().Start(context.Background(), conformance.SourceContextFor(t, c.Spec(), store, tcs[0]), tcs[0])
	require.ErrorIs(t, err, generator.ErrBadPosition)
}

func TestGeneratorRate(t *testing.T) {
	// 200 records/s over 2 tasks: each task may emit its first record at once and then 1 per 10 ms; a poll
	// never returns more than the rate allows so far.
	// The clock starts before the tasks do, so the bound can only be exceeded by a limiter
	// that lets too much through, never by scheduling delays.
	start := time.Now()
	tasks := startGenerator(t, map[string]string{"topic": "t", "rate": "200"}, 2, nil)
	recs := conformance.PollN(t, tasks[0], 5, 5*time.Second)
	elapsed := time.Since(start)
	require.LessOrEqual(t, int64(len(recs)), int64(elapsed.Seconds()*100)+1, "rate respected")
}

func TestGeneratorConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  map[string]string
		key  string
	}{
		{"missing topic", map[string]string{}, "connect.topicname"},
		{"negative count", map[string]string{"topic": "t", "count": "-1"}, "count"},
		{"bad rate", map[string]string{"topic": "t", "rate": "fast"}, "rate"},
		{"infinite rate", map[string]string{"topic": "t", "rate": "Inf"}, "rate"},
		{"negative infinite rate", map[string]string{"topic": "t", "rate": "-Inf"}, "rate"},
		{"rate past int64", map[string]string{"topic": "t", "rate": "1e19"}, "rate"},
		{"rate above 1e9", map[string]string{"topic": "t", "rate": "1000000001"}, "rate"},
		{"rate below the minimum", map[string]string{"topic": "t", "rate": "1e-12"}, "rate"},
		{"negative rate", map[string]string{"topic": "t", "rate": "-1"}, "rate"},
		{"huge record", map[string]string{"topic": "t", "record.size": strconv.Itoa(5 << 20)}, "record.size"},
		{"record past a RocketMQ message", map[string]string{"topic": "t", "record.size": strconv.Itoa(4 << 20)}, "record.size"},
		{"task index past the count", map[string]string{"topic": "t", "generator.task": "2", "generator.tasks": "2"}, "generator.tasks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := conformance.Validate(generator.NewSourceConnector(), tt.cfg)
			require.ErrorIs(t, err, cfgerr.ErrInvalid)
			fes := cfgerr.Flatten(err)
			require.Len(t, fes, 1)
			require.Equal(t, tt.key, fes[0].Key)
		})
	}
}

func TestGeneratorRateBounds(t *testing.T) {
	for _, rate := range []string{"0", "0.001", "1", "1e9"} {
		_, err := conformance.Validate(generator.NewSourceConnector(), map[string]string{"topic": "t", "rate": rate})
		require.NoError(t, err, "rate=%s", rate)
	}
	_, err := conformance.Validate(generator.NewSourceConnector(), map[string]string{"topic": "t", "rate": "+Inf"})
	require.ErrorContains(t, err, "rate: not a finite number")
	_, err = conformance.Validate(generator.NewSourceConnector(), map[string]string{"topic": "t", "rate": "1e19"})
	require.ErrorContains(t, err, "rate: must be 0 (unthrottled) or between 0.001 and 1e+09 records per second")
}

// TestGeneratorPollBytesBounded: one poll allocates at most 64 MiB of records, whatever record.size ×
// batch.size; a record larger than that still comes, one a poll.
func TestGeneratorPollBytesBounded(t *testing.T) {
	const maxPollBytes = 64 << 20
	for _, tt := range []struct{ size, batch, want int }{
		{1 << 20, 100, maxPollBytes / (1<<20 + 512)},
		{4<<20 - 64<<10, 20, maxPollBytes / (4<<20 - 64<<10 + 512)},
		{100, 1000, 1000},
	} {
		t.Run(fmt.Sprintf("record.size=%d,batch.size=%d", tt.size, tt.batch), func(t *testing.T) {
			tasks := startGenerator(t, map[string]string{"topic": "t", "record.size": strconv.Itoa(tt.size),
				"batch.size": strconv.Itoa(tt.batch)}, 1, nil)
			recs, err := tasks[0].Poll(context.Background())
			require.NoError(t, err)
			require.Equal(t, tt.want, len(recs))
			require.LessOrEqual(t, len(recs)*tt.size, maxPollBytes)
			require.Equal(t, generator.Value(0, int64(len(recs)-1), tt.size), recs[len(recs)-1].Value)
			recs, err = tasks[0].Poll(context.Background())
			require.NoError(t, err)
			require.Equal(t, int64(tt.want), recs[0].SourceOffset["seq"], "the next poll goes on")
		})
	}
}

func TestNullSinkCounts(t *testing.T) {
	ctx := context.Background()
	c := generator.NewSinkConnector(nil)
	require.NoError(t, c.Start(ctx, nil, map[string]string{"x": "y"}))
	tcs, err := c.TaskConfigs(3)
	require.NoError(t, err)
	require.Len(t, tcs, 3)
	a, b := c.NewSinkTask(), c.NewSinkTask()
	require.ErrorIs(t, a.Put(ctx, nil), generator.ErrNotStarted)
	require.NoError(t, a.Start(ctx, conformance.NewSinkContext(), tcs[0]))
	require.NoError(t, b.Start(ctx, conformance.NewSinkContext(), tcs[1]))
	require.NoError(t, a.Put(ctx, []*schema.Record{
		schema.NewRecord("t", nil, nil, nil, []byte("abc")),
		schema.NewRecord("t", nil, nil, nil, "de"),
		schema.NewRecord("t", nil, nil, nil, nil),
	}))
	require.NoError(t, b.Put(ctx, []*schema.Record{schema.NewRecord("t", nil, nil, nil, int64(7))}))
	require.NoError(t, a.Flush(ctx, nil))
	require.Equal(t, int64(4), c.Counters().Records.Load())
	require.Equal(t, int64(5), c.Counters().Bytes.Load())
	require.Equal(t, int64(2), c.Counters().Batches.Load())
	require.Equal(t, int64(1), c.Counters().Flushes.Load())
	require.NoError(t, a.Stop(ctx))
	require.ErrorIs(t, a.Put(ctx, nil), generator.ErrStopped)
}

func BenchmarkGeneratorPoll(b *testing.B) {
	ctx := context.Background()
	c := generator.NewSourceConnector()
	require.NoError(b, c.Start(ctx, nil, map[string]string{"topic": "t", "record.size": "1024"}))
	tcs, err := c.TaskConfigs(1)
	require.NoError(b, err)
	task := c.NewSourceTask()
	require.NoError(b, task.Start(ctx, conformance.SourceContextFor(b, c.Spec(), nil, tcs[0]), tcs[0]))
	b.SetBytes(1024)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if n == 0 {
			recs, err := task.Poll(ctx)
			if err != nil {
				b.Fatal(err)
			}
			n = len(recs)
		}
		n--
	}
}

// BenchmarkValue is the cost of generating one record value.
func BenchmarkValue(b *testing.B) {
	for _, size := range []int{100, 1024} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			b.SetBytes(int64(size))
			var seq int64
			for b.Loop() {
				_ = generator.Value(1, seq, size)
				seq++
			}
		})
	}
}
