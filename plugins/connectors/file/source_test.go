package file_test

import (
	"bytes"
	"context"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/file"
	"github.com/rmqconnect/rmqconnect/schema"
)

const waitFor = 10 * time.Second

// sourceCtx is a task context carrying cfg parsed against file-source's Spec, as the engine
// hands it to Start.
func sourceCtx(t testing.TB, store *conformance.Positions, cfg map[string]string) *conformance.SourceContext {
	t.Helper()
	return conformance.SourceContextFor(t, file.NewSourceConnector().Spec(), store, cfg)
}

// startSource starts a file-source task on path with cfg added to the defaults.
func startSource(t testing.TB, path string, cfg map[string]string, store *conformance.Positions) *file.SourceTask {
	t.Helper()
	full := map[string]string{"filename": path, "connect.topicname": "t", "poll.interval.ms": "5"}
	maps.Copy(full, cfg)
	task := file.NewSourceTask()
	require.NoError(t, task.Start(context.Background(), sourceCtx(t, store, full), full))
	t.Cleanup(func() { _ = task.Stop(context.Background()) })
	return task
}

// pollOnce polls with an already-cancelled context: it returns what the file holds now without waiting.
func pollOnce(t testing.TB, task plugins.SourceTask) []*schema.Record {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out []*schema.Record
	for {
		recs, err := task.Poll(ctx)
		require.NoError(t, err)
		if len(recs) == 0 {
			return out
		}
		out = append(out, recs...)
	}
}

type line struct {
	value string
	term  string
	pos   int64
}

func linesOf(t *testing.T, recs []*schema.Record) []line {
	t.Helper()
	out := make([]line, 0, len(recs))
	for _, r := range recs {
		require.False(t, file.IsErrorRecord(r), "unexpected error record %v", r.Extensions)
		s, ok := r.Value.(string)
		require.True(t, ok, "value is a string")
		out = append(out, line{s, terminatorHeader(t, r), r.SourceOffset[file.OffsetKey].(int64)})
	}
	return out
}

func writeFile(t testing.TB, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.txt")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}

func TestFileSourceLines(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    []line
	}{
		{"empty file", "", []line{}},
		{"LF", "a\nbc\n", []line{{"a", "LF", 2}, {"bc", "LF", 5}}},
		{"CRLF", "a\r\nbc\r\n", []line{{"a", "CRLF", 3}, {"bc", "CRLF", 7}}},
		{"mixed", "a\r\nb\nc\r\n", []line{{"a", "CRLF", 3}, {"b", "LF", 5}, {"c", "CRLF", 8}}},
		{"empty lines", "\n\r\n\n", []line{{"", "LF", 1}, {"", "CRLF", 3}, {"", "LF", 4}}},
		{"UTF-8 multibyte", "héllo 日本語 🚀\nñ\n", []line{{"héllo 日本語 🚀", "LF", 22}, {"ñ", "LF", 25}}},
		{"lone CR kept", "a\rb\n\r\r\n", []line{{"a\rb", "LF", 4}, {"\r", "CRLF", 7}}},
		{"invalid UTF-8 kept", "\xff\xfe\n", []line{{"\xff\xfe", "LF", 3}}},
		{"unterminated tail held", "a\nb", []line{{"a", "LF", 2}}},
		{"unterminated CR held", "a\nb\r", []line{{"a", "LF", 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task := startSource(t, writeFile(t, tt.content), nil, nil)
			got := linesOf(t, pollOnce(t, task))
			require.Equal(t, tt.want, got)
		})
	}
}

func TestFileSourceRecordShape(t *testing.T) {
	path := writeFile(t, "x\n")
	task := startSource(t, path, map[string]string{"connect.topicname": "topic-a"}, nil)
	recs := pollOnce(t, task)
	require.Len(t, recs, 1)
	r := recs[0]
	abs, err := filepath.Abs(path)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"filename": abs}, r.SourcePartition)
	require.Equal(t, map[string]any{"position": int64(2), "file.id": fileIDOf(t, path)}, r.SourceOffset)
	require.Equal(t, "topic-a", r.Topic)
	require.Equal(t, schema.StringSchema, r.ValueSchema)
	require.Nil(t, r.Key)
	require.Equal(t, -1, r.QueueID)
}

func TestFileSourcePartialLineThenCompletion(t *testing.T) {
	path := writeFile(t, "first\nsec")
	task := startSource(t, path, nil, nil)
	require.Equal(t, []line{{"first", "LF", 6}}, linesOf(t, pollOnce(t, task)))

	appendFile(t, path, "ond\r")
	require.Empty(t, pollOnce(t, task), "a line ending in CR may still become CRLF")
	appendFile(t, path, "\nthird")
	require.Equal(t, []line{{"second", "CRLF", 14}}, linesOf(t, pollOnce(t, task)))
	appendFile(t, path, "\n")
	require.Equal(t, []line{{"third", "LF", 20}}, linesOf(t, pollOnce(t, task)))
}

func TestFileSourcePartialLineFlush(t *testing.T) {
	path := writeFile(t, "a\ntail")
	task := startSource(t, path, map[string]string{"partial.line.flush.ms": "1"}, nil)
	var got []line
	require.Eventually(t, func() bool {
		got = append(got, linesOf(t, pollOnce(t, task))...)
		return len(got) == 2
	}, waitFor, time.Millisecond)
	require.Equal(t, []line{{"a", "LF", 2}, {"tail", "NONE", 6}}, got)

	appendFile(t, path, "-rest\n")
	require.Equal(t, []line{{"-rest", "LF", 12}}, linesOf(t, pollOnce(t, task)),
		"the rest of a flushed line is the next record, so the bytes still concatenate exactly")
}

func TestFileSourceGrowthWhileReading(t *testing.T) {
	path := writeFile(t, "")
	task := startSource(t, path, map[string]string{"batch.size": "17"}, nil)
	const n = 2000
	var wg sync.WaitGroup
	wg.Go(func() {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		for i := range n {
			// Lines are written in two pieces so the reader sees partial lines.
			s := "line-" + strconv.Itoa(i) + " é\r\n"
			if _, err := f.WriteString(s[:4]); err != nil {
				t.Error(err)
				return
			}
			if _, err := f.WriteString(s[4:]); err != nil {
				t.Error(err)
				return
			}
		}
	})
	recs := conformance.PollN(t, task, n, waitFor)
	wg.Wait()
	require.Len(t, recs, n)
	for i, l := range linesOf(t, recs) {
		require.Equal(t, "line-"+strconv.Itoa(i)+" é", l.value)
		require.Equal(t, "CRLF", l.term)
	}
}

func TestFileSourceOverLongLine(t *testing.T) {
	long := strings.Repeat("x", 25)
	huge := strings.Repeat("y", 300<<10) // spans several reads of the 64 KiB buffer
	tests := []struct {
		name    string
		content string
		max     int
		want    []string // data lines, or "!<line bytes>:<raw prefix>" for an error record
		offsets []int64
	}{
		{"exactly max is data", "0123456789\n", 10, []string{"0123456789"}, []int64{11}},
		{"exactly max with CRLF is data", "0123456789\r\n", 10, []string{"0123456789"}, []int64{12}},
		{"max+1 is an error", "0123456789a\nok\n", 10, []string{"!11:0123456789", "ok"}, []int64{12, 15}},
		{"between data lines", "short\n" + long + "\r\nafter\n", 10,
			[]string{"short", "!25:xxxxxxxxxx", "after"}, []int64{6, 33, 39}},
		{"huge line", "a\n" + huge + "\nb\n", 1000,
			[]string{"a", "!" + strconv.Itoa(len(huge)) + ":" + huge[:1000], "b"},
			[]int64{2, int64(len(huge)) + 3, int64(len(huge)) + 5}},
		{"multibyte counted in bytes", "ééééé\néééééé\n", 10, []string{"ééééé", "!12:ééééé"}, []int64{11, 24}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.content)
			task := startSource(t, path, map[string]string{"max.line.bytes": strconv.Itoa(tt.max)}, nil)
			recs := pollOnce(t, task)
			var got []string
			var offsets []int64
			for _, r := range recs {
				offsets = append(offsets, r.SourceOffset[file.OffsetKey].(int64))
				if !file.IsErrorRecord(r) {
					got = append(got, r.Value.(string))
					continue
				}
				require.Equal(t, file.ErrorClassLineTooLong, r.Extensions[file.ExtErrorClass])
				require.Contains(t, r.Extensions[file.ExtError], file.ErrLineTooLong.Error())
				require.Equal(t, schema.BytesSchema, r.ValueSchema)
				require.Equal(t, "true", r.Extensions[file.ExtErrorTruncated])
				require.NotEmpty(t, r.SourcePartition)
				got = append(got, "!"+r.Extensions[file.ExtLineBytes]+":"+string(r.Value.([]byte)))
			}
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.offsets, offsets)
		})
	}
}

func TestFileSourceOverLongLineArrivingSlowly(t *testing.T) {
	path := writeFile(t, "")
	task := startSource(t, path, map[string]string{"max.line.bytes": "4"}, nil)
	for _, piece := range []string{"ab", "cdef", "gh\r", "ij\r", "\nok\n"} {
		appendFile(t, path, piece)
		if piece[len(piece)-1] != '\n' {
			require.Empty(t, pollOnce(t, task))
		}
	}
	recs := pollOnce(t, task)
	require.Len(t, recs, 2)
	require.True(t, file.IsErrorRecord(recs[0]))
	require.Equal(t, "11", recs[0].Extensions[file.ExtLineBytes], "abcdefgh\\rij, CRLF excluded")
	require.Equal(t, []byte("abcd"), recs[0].Value)
	require.Equal(t, int64(13), recs[0].SourceOffset[file.OffsetKey])
	require.Equal(t, []line{{"ok", "LF", 16}}, linesOf(t, recs[1:]))
}

func TestFileSourceMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.txt")
	task := file.NewSourceTask()
	cfg := map[string]string{"filename": path, "topic": "t"}
	err := task.Start(context.Background(), sourceCtx(t, nil, cfg), cfg)
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorContains(t, err, path)
	_, err = task.Poll(context.Background())
	require.ErrorIs(t, err, file.ErrNotStarted)
	require.NoError(t, task.Stop(context.Background()), "Stop after a failed Start")
}

func TestFileSourceRestartFromPosition(t *testing.T) {
	path := writeFile(t, "one\ntwo\r\nthree\n")
	abs, err := filepath.Abs(path)
	require.NoError(t, err)
	tests := []struct {
		name   string
		offset map[string]any
		want   []string
	}{
		{"int64", map[string]any{"position": int64(4)}, []string{"two", "three"}},
		{"float64 from JSON", map[string]any{"position": float64(9)}, []string{"three"}},
		{"at the end", map[string]any{"position": int64(15)}, nil},
		{"none committed", nil, []string{"one", "two", "three"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := conformance.NewPositions()
			if tt.offset != nil {
				store.Set(map[string]any{"filename": abs}, tt.offset)
			}
			task := startSource(t, path, nil, store)
			var got []string
			for _, l := range linesOf(t, pollOnce(t, task)) {
				got = append(got, l.value)
			}
			require.Equal(t, tt.want, got)
		})
	}
}

// TestFileSourceReplacedFileIsReadFromStart: a rotation that renames the file away and creates a new one
// at the path (logrotate's create mode) between a commit and a restart does not make the restarted task
// skip the new file's first bytes: the stored position names the old file, so the new one is read from
// its start, with a warning. The same file, grown, resumes at the position.
func TestFileSourceReplacedFileIsReadFromStart(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, path string)
		want   []string
		warned bool
	}{
		{"rotated", func(t *testing.T, path string) {
			require.NoError(t, os.Rename(path, path+".1"))
			require.NoError(t, os.WriteFile(path, []byte("new-1\nnew-2\nnew-3\n"), 0o644))
		}, []string{"new-1", "new-2", "new-3"}, true},
		{"grown", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			require.NoError(t, err)
			_, err = f.WriteString("old-3\n")
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}, []string{"old-3"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "old-1\nold-2\n")
			store := conformance.NewPositions()
			task := startSource(t, path, nil, store)
			recs := pollOnce(t, task)
			require.Len(t, recs, 2)
			store.Commit(recs[len(recs)-1])
			require.NoError(t, task.Stop(context.Background()))

			tt.change(t, path)
			var logs bytes.Buffer
			cfg := map[string]string{"filename": path, "connect.topicname": "t"}
			tctx := sourceCtx(t, store, cfg)
			tctx.Log = slog.New(slog.NewTextHandler(&logs, nil))
			task = file.NewSourceTask()
			require.NoError(t, task.Start(context.Background(), tctx, cfg))
			t.Cleanup(func() { _ = task.Stop(context.Background()) })
			var got []string
			for _, l := range linesOf(t, pollOnce(t, task)) {
				got = append(got, l.value)
			}
			require.Equal(t, tt.want, got)
			if tt.warned {
				require.Contains(t, logs.String(), "level=WARN")
				require.Contains(t, logs.String(), "file replaced since its position was stored, reading it from the start")
			} else {
				require.Empty(t, logs.String())
			}
		})
	}
}

func TestFileSourceStartErrors(t *testing.T) {
	path := writeFile(t, "x\n")
	abs, err := filepath.Abs(path)
	require.NoError(t, err)
	cfg := map[string]string{"filename": path, "topic": "t"}

	store := conformance.NewPositions()
	store.Set(map[string]any{"filename": abs}, map[string]any{"position": "nope"})
	err = file.NewSourceTask().Start(context.Background(), sourceCtx(t, store, cfg), cfg)
	require.ErrorIs(t, err, file.ErrBadPosition)

	store = conformance.NewPositions()
	store.Set(map[string]any{"filename": abs}, map[string]any{"position": int64(1), "file.id": 7})
	err = file.NewSourceTask().Start(context.Background(), sourceCtx(t, store, cfg), cfg)
	require.ErrorIs(t, err, file.ErrBadPosition, "a file.id that is not a string")

	store = conformance.NewPositions()
	store.Err = fs.ErrPermission
	err = file.NewSourceTask().Start(context.Background(), sourceCtx(t, store, cfg), cfg)
	require.ErrorIs(t, err, fs.ErrPermission, "an unavailable position store fails Start")
}

func TestFileSourceTruncatedFileIsReadAgain(t *testing.T) {
	path := writeFile(t, "aaaa\nbbbb\n")
	task := startSource(t, path, nil, nil)
	require.Len(t, pollOnce(t, task), 2)
	require.NoError(t, os.WriteFile(path, []byte("c\n"), 0o644))
	require.Equal(t, []line{{"c", "LF", 2}}, linesOf(t, pollOnce(t, task)))
}

func TestFileSourcePollReturnsOnCancelAndStop(t *testing.T) {
	path := writeFile(t, "")
	for _, how := range []string{"cancel", "stop"} {
		t.Run(how, func(t *testing.T) {
			task := startSource(t, path, map[string]string{"poll.interval.ms": "1m"}, nil)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				recs, err := task.Poll(ctx)
				if len(recs) > 0 {
					t.Errorf("unexpected records %v", recs)
				}
				done <- err
			}()
			if how == "cancel" {
				cancel()
			} else {
				require.NoError(t, task.Stop(context.Background()))
			}
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(waitFor):
				t.Fatal("Poll did not return")
			}
		})
	}
}

func TestFileSourceConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  map[string]string
		keys []string
	}{
		{"valid with aliases", map[string]string{"file": "f", "topic": "t"}, nil},
		{"missing everything", map[string]string{}, []string{"connect.topicname", "filename"}},
		{"bad batch", map[string]string{"file": "f", "topic": "t", "batch.size": "0"}, []string{"batch.size"}},
		{"bad max line", map[string]string{"file": "f", "topic": "t", "max.line.bytes": "x"}, []string{"max.line.bytes"}},
		{"bad interval", map[string]string{"file": "f", "topic": "t", "poll.interval.ms": "0"}, []string{"poll.interval.ms"}},
		{"conflicting alias", map[string]string{"file": "f", "filename": "g", "topic": "t"}, []string{"file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := conformance.Validate(file.NewSourceConnector(), tt.cfg)
			if tt.keys == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, cfgerr.ErrInvalid)
			var keys []string
			for _, fe := range cfgerr.Flatten(err) {
				keys = append(keys, fe.Key)
			}
			require.Equal(t, tt.keys, keys)
		})
	}

	c := file.NewSourceConnector()
	require.NoError(t, c.Start(context.Background(), nil, map[string]string{"file": "f", "topic": "t"}))
	tcs, err := c.TaskConfigs(8)
	require.NoError(t, err)
	require.Equal(t, []map[string]string{{"file": "f", "topic": "t"}}, tcs, "one task whatever max.tasks is")
}

// BenchmarkFileSourceRead measures read throughput: a 100k-line file (mixed lengths, LF and CRLF) read to
// the end by a fresh task per iteration.
func BenchmarkFileSourceRead(b *testing.B) {
	for _, batch := range []int{100, 2000} {
		b.Run("batch="+strconv.Itoa(batch), func(b *testing.B) {
			var sb strings.Builder
			const lines = 100_000
			for i := range lines {
				sb.WriteString(strings.Repeat("é", i%97))
				sb.WriteString(strconv.Itoa(i))
				if i%2 == 0 {
					sb.WriteString("\r\n")
				} else {
					sb.WriteString("\n")
				}
			}
			path := writeFile(b, sb.String())
			b.SetBytes(int64(sb.Len()))
			b.ReportAllocs()
			for b.Loop() {
				task := file.NewSourceTask()
				cfg := map[string]string{"filename": path, "topic": "t", "batch.size": strconv.Itoa(batch)}
				err := task.Start(context.Background(), sourceCtx(b, nil, cfg), cfg)
				if err != nil {
					b.Fatal(err)
				}
				got := 0
				for got < lines {
					recs, err := task.Poll(context.Background())
					if err != nil {
						b.Fatal(err)
					}
					got += len(recs)
				}
				_ = task.Stop(context.Background())
			}
			b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}
