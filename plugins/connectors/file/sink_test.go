package file_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/file"
	"github.com/rmqconnect/rmqconnect/schema"
)

// sinkCtx is a task context carrying cfg parsed against file-sink's Spec, as the engine hands
// it to Start.
func sinkCtx(t testing.TB, cfg map[string]string) *conformance.SinkContext {
	t.Helper()
	return conformance.SinkContextFor(t, file.NewSinkConnector().Spec(), cfg, conformance.Queue)
}

// startSink starts a file-sink task on path; tctx, when given, gets the parsed config.
func startSink(t *testing.T, path string, tctx *conformance.SinkContext) *file.SinkTask {
	t.Helper()
	cfg := map[string]string{"file": path}
	if tctx == nil {
		tctx = sinkCtx(t, cfg)
	} else {
		tctx.Values = sinkCtx(t, cfg).Values
	}
	task := file.NewSinkTask()
	require.NoError(t, task.Start(context.Background(), tctx, cfg))
	t.Cleanup(func() { _ = task.Stop(context.Background()) })
	return task
}

// mixedFile returns n lines of random length (up to 3000 bytes) mixing ASCII, multibyte UTF-8, lone CRs,
// invalid UTF-8 and empty lines, ended by LF or CRLF at random; the last line has no terminator.
func mixedFile(seed uint64, n int) string {
	rng := rand.New(rand.NewPCG(seed, 0))
	alphabet := []string{"a", "Z", "0", " ", "\t", "é", "日本", "🚀", "\r", "\xff", ",", "\"", "{}"}
	var b strings.Builder
	for i := range n {
		for range rng.IntN(3000) / 2 {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		switch {
		case i == n-1:
			b.WriteString("tail")
		case rng.IntN(2) == 0:
			b.WriteString("\r\n")
		default:
			b.WriteString("\n")
		}
	}
	return b.String()
}

// readAll polls task until it has consumed size bytes of its file.
func readAll(t *testing.T, task plugins.SourceTask, size int64) []*schema.Record {
	t.Helper()
	var recs []*schema.Record
	require.Eventually(t, func() bool {
		recs = append(recs, pollOnce(t, task)...)
		return len(recs) > 0 && recs[len(recs)-1].SourceOffset[file.OffsetKey].(int64) == size
	}, waitFor, time.Millisecond)
	return recs
}

func TestFileRoundTripIsByteIdentical(t *testing.T) {
	tests := []struct {
		name    string
		deliver func(r *schema.Record) *schema.Record // what the sink receives for a source record
	}{
		{"string value, terminator header", func(r *schema.Record) *schema.Record { return r.Clone() }},
		{"bytes value, terminator extension", func(r *schema.Record) *schema.Record {
			h, _ := r.Headers.Get(file.HeaderTerminator)
			out := schema.NewRecord("t", nil, nil, schema.BytesSchema, []byte(r.Value.(string)))
			out.Extensions = map[string]string{file.HeaderTerminator: h.Value.(string)}
			return out
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := mixedFile(7, 3000)
			in := writeFile(t, input)
			src := startSource(t, in, map[string]string{"partial.line.flush.ms": "1", "batch.size": "250"}, nil)
			recs := readAll(t, src, int64(len(input)))
			require.Len(t, recs, 3000)

			out := filepath.Join(t.TempDir(), "out.txt")
			sink := startSink(t, out, nil)
			for i := 0; i < len(recs); i += 100 {
				batch := make([]*schema.Record, 0, 100)
				for _, r := range recs[i:min(i+100, len(recs))] {
					batch = append(batch, tt.deliver(r))
				}
				require.NoError(t, sink.Put(context.Background(), batch))
			}
			require.NoError(t, sink.Flush(context.Background(), map[plugins.Queue]int64{conformance.Queue: 3000}))
			got, err := os.ReadFile(out)
			require.NoError(t, err)
			require.True(t, input == string(got), "output differs from input (%d vs %d bytes)", len(got), len(input))
		})
	}
}

func TestFileSinkValues(t *testing.T) {
	st := schema.NewStruct(schema.StructBuilder().Name("p").Field("name", schema.StringSchema).Field("n", schema.Int32Schema).MustBuild())
	st.MustPut("name", "a\"b").MustPut("n", int32(3))
	withHeader := func(v any, term string) *schema.Record {
		r := schema.NewRecord("t", nil, nil, nil, v)
		r.Headers.Add(file.HeaderTerminator, schema.StringSchema, term)
		return r
	}
	withExt := func(v any, term string) *schema.Record {
		r := schema.NewRecord("t", nil, nil, nil, v)
		r.Extensions = map[string]string{file.HeaderTerminator: term}
		return r
	}
	tests := []struct {
		name string
		rec  *schema.Record
		want string
	}{
		{"string", schema.NewRecord("t", nil, nil, schema.StringSchema, "héllo"), "héllo\n"},
		{"bytes", schema.NewRecord("t", nil, nil, schema.BytesSchema, []byte{0xff, 'x'}), "\xffx\n"},
		{"tombstone skipped", schema.NewRecord("t", nil, nil, nil, nil), ""},
		{"int as JSON", schema.NewRecord("t", nil, nil, schema.Int64Schema, int64(7)), "7\n"},
		{"map as JSON", schema.NewRecord("t", nil, nil, nil, map[string]any{"k": "v"}), `{"k":"v"}` + "\n"},
		{"struct as JSON", schema.NewRecord("t", nil, nil, st.Schema(), st), `{"name":"a\"b","n":3}` + "\n"},
		{"CRLF header", withHeader("x", "CRLF"), "x\r\n"},
		{"NONE header", withHeader("x", "NONE"), "x"},
		{"literal CRLF header", withHeader("x", "\r\n"), "x\r\n"},
		{"unknown terminator is LF", withHeader("x", "weird"), "x\n"},
		{"CRLF extension", withExt("x", "CRLF"), "x\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.txt")
			sink := startSink(t, out, nil)
			require.NoError(t, sink.Put(context.Background(), []*schema.Record{tt.rec}))
			require.NoError(t, sink.Flush(context.Background(), nil))
			got, err := os.ReadFile(out)
			require.NoError(t, err)
			require.Equal(t, tt.want, string(got))
		})
	}
}

func TestFileSinkUnrenderableValue(t *testing.T) {
	bad := schema.NewRecord("t", nil, nil, nil, make(chan int))
	good := schema.NewRecord("t", nil, nil, nil, "ok")

	t.Run("tolerated", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.txt")
		tctx := conformance.NewSinkContext(conformance.Queue)
		sink := startSink(t, out, tctx)
		require.NoError(t, sink.Put(context.Background(), []*schema.Record{bad, good}))
		require.NoError(t, sink.Flush(context.Background(), nil))
		got, err := os.ReadFile(out)
		require.NoError(t, err)
		require.Equal(t, "ok\n", string(got))
		recs, errs := tctx.Reporter.Reported()
		require.Equal(t, []*schema.Record{bad}, recs)
		require.ErrorContains(t, errs[0], "json")
	})
	t.Run("not tolerated", func(t *testing.T) {
		tctx := conformance.NewSinkContext(conformance.Queue)
		tctx.Reporter.Fail = true
		sink := startSink(t, filepath.Join(t.TempDir(), "out.txt"), tctx)
		err := sink.Put(context.Background(), []*schema.Record{bad, good})
		require.Error(t, err)
	})
}

func TestFileSinkAppendsAndLifecycle(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.txt")
	require.NoError(t, os.WriteFile(out, []byte("existing\n"), 0o644))
	sink := startSink(t, out, nil)
	require.NoError(t, sink.Put(context.Background(), []*schema.Record{schema.NewRecord("t", nil, nil, nil, "new")}))
	require.NoError(t, sink.Stop(context.Background()), "Stop writes what is buffered")
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, "existing\nnew\n", string(got))
	require.ErrorIs(t, sink.Put(context.Background(), nil), file.ErrStopped)
	require.ErrorIs(t, sink.Flush(context.Background(), nil), file.ErrStopped)

	require.ErrorIs(t, file.NewSinkTask().Put(context.Background(), nil), file.ErrNotStarted)

	missing := map[string]string{"filename": filepath.Join(t.TempDir(), "no", "such", "dir", "out.txt")}
	err = file.NewSinkTask().Start(context.Background(), sinkCtx(t, missing), missing)
	require.Error(t, err)
	require.True(t, errors.Is(err, os.ErrNotExist), "%v", err)

	_, err = conformance.Validate(file.NewSinkConnector(), map[string]string{})
	require.ErrorIs(t, err, plugins.ErrMissingRequired)
	require.Equal(t, "filename", cfgerr.Flatten(err)[0].Key)
}

// BenchmarkFileSinkPut measures write throughput: batches of 500 lines of 100 bytes, fsynced every 20 batches.
func BenchmarkFileSinkPut(b *testing.B) {
	out := filepath.Join(b.TempDir(), "out.txt")
	sink := file.NewSinkTask()
	cfg := map[string]string{"filename": out}
	if err := sink.Start(context.Background(), sinkCtx(b, cfg), cfg); err != nil {
		b.Fatal(err)
	}
	defer sink.Stop(context.Background())
	batch := make([]*schema.Record, 500)
	for i := range batch {
		r := schema.NewRecord("t", nil, nil, schema.StringSchema, strings.Repeat("é", 49)+strconv.Itoa(i%10))
		r.Headers.Add(file.HeaderTerminator, schema.StringSchema, file.TerminatorLF)
		batch[i] = r
	}
	b.SetBytes(500 * 100)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if err := sink.Put(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
		if n++; n%20 == 0 {
			if err := sink.Flush(context.Background(), nil); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// failingWriter passes up to budget bytes through, then fails every write with ENOSPC (budget < 0: no limit).
type failingWriter struct {
	w      io.Writer
	budget *int
}

func (f failingWriter) Write(p []byte) (int, error) {
	if *f.budget < 0 {
		return f.w.Write(p)
	}
	n := min(len(p), *f.budget)
	n, err := f.w.Write(p[:n])
	*f.budget -= n
	if err == nil && n < len(p) {
		err = syscall.ENOSPC
	}
	return n, err
}

func lines(prefix string, from, to int) []*schema.Record {
	var out []*schema.Record
	for i := from; i < to; i++ {
		out = append(out, schema.NewRecord("t", nil, nil, schema.StringSchema, fmt.Sprintf("%s-%03d", prefix, i)))
	}
	return out
}

func wantLines(prefix string, from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "%s-%03d\n", prefix, i)
	}
	return b.String()
}

// TestFileSinkFullDiskLeavesNoPartialLine: a flush that fails half-way (ENOSPC) leaves the file as it was
// after the last durable flush, so the batch delivered again (to the same task or a restarted one) follows
// whole lines.
func TestFileSinkFullDiskLeavesNoPartialLine(t *testing.T) {
	ctx := context.Background()
	for _, restart := range []bool{false, true} {
		t.Run(fmt.Sprintf("restart=%v", restart), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.txt")
			budget := -1
			task := file.NewSinkTask()
			task.WrapWriterForTest(func(w io.Writer) io.Writer { return failingWriter{w: w, budget: &budget} })
			cfg := map[string]string{"file": out}
			require.NoError(t, task.Start(ctx, sinkCtx(t, cfg), cfg))
			defer task.Stop(ctx)
			require.NoError(t, task.Put(ctx, lines("r", 0, 3)))
			require.NoError(t, task.Flush(ctx, nil))

			budget = 7 // the disk fills in the middle of the next flush
			require.NoError(t, task.Put(ctx, lines("r", 3, 6)))
			err := task.Flush(ctx, nil)
			require.ErrorIs(t, err, syscall.ENOSPC)
			got, rerr := os.ReadFile(out)
			require.NoError(t, rerr)
			require.Equal(t, wantLines("r", 0, 3), string(got), "the partial write was cut")

			budget = -1 // space again; the engine delivers the failed batch again
			if restart {
				require.NoError(t, task.Stop(ctx))
				task = startSink(t, out, nil)
			}
			require.NoError(t, task.Put(ctx, lines("r", 3, 6)))
			require.NoError(t, task.Flush(ctx, nil))
			got, rerr = os.ReadFile(out)
			require.NoError(t, rerr)
			require.Equal(t, wantLines("r", 0, 6), string(got))
		})
	}
}

// appendRaw appends b to the file at path, as a write cut short by a crash leaves it.
func appendRaw(t *testing.T, path, b string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString(b)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func noneRecord(v string) *schema.Record {
	r := schema.NewRecord("t", nil, nil, schema.StringSchema, v)
	r.Headers.Add(file.HeaderTerminator, schema.StringSchema, file.TerminatorNone)
	return r
}

// TestFileSinkKeepsWhatItDidNotWrite: Start never removes bytes the sink did not write, whether the file
// ends with a newline or not, across restarts, and whatever a side file left beside it says about another
// file or a larger size.
func TestFileSinkKeepsWhatItDidNotWrite(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		content string
		// prepare runs on out before the task under test starts; nil writes content.
		prepare func(t *testing.T, out, content string)
	}{
		{"last line without newline", "a\nb", nil},
		{"no newline at all", "abc", nil},
		{"whole lines", "a\nb\n", nil},
		{"empty", "", nil},
		{"written after a clean stop", "r-000\nr-001\nx\ny", func(t *testing.T, out, _ string) {
			sink := startSink(t, out, nil)
			require.NoError(t, sink.Put(ctx, lines("r", 0, 2)))
			require.NoError(t, sink.Stop(ctx))
			appendRaw(t, out, "x\ny")
		}},
		{"replaced after a crash", "x\nyz", func(t *testing.T, out, content string) {
			sink := startSink(t, out, nil)
			require.NoError(t, sink.Put(ctx, lines("r", 0, 2)))
			require.NoError(t, sink.Flush(ctx, nil))
			sink.CrashForTest()
			fresh := out + ".new"
			require.NoError(t, os.WriteFile(fresh, []byte(content), 0o644))
			require.NoError(t, os.Rename(fresh, out))
		}},
		{"cut shorter after a crash", "z", func(t *testing.T, out, content string) {
			sink := startSink(t, out, nil)
			require.NoError(t, sink.Put(ctx, []*schema.Record{noneRecord("tail")}))
			require.NoError(t, sink.Flush(ctx, nil))
			sink.CrashForTest()
			require.NoError(t, os.WriteFile(out, []byte(content), 0o644))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.txt")
			if tt.prepare == nil {
				require.NoError(t, os.WriteFile(out, []byte(tt.content), 0o644))
			} else {
				tt.prepare(t, out, tt.content)
			}
			for range 2 {
				require.NoError(t, startSink(t, out, nil).Stop(ctx))
				requireContent(t, out, tt.content, "after a start and a stop")
			}
			sink := startSink(t, out, nil)
			requireContent(t, out, tt.content, "after a start")
			require.NoError(t, sink.Put(ctx, lines("c", 0, 1)))
			require.NoError(t, sink.Flush(ctx, nil))
			requireContent(t, out, tt.content+"c-000\n", "records are appended")
		})
	}
}

// TestFileSinkStartCutsWhatACrashLeft: a crash in the middle of a write leaves a partial record after what
// the task made durable; the next Start cuts it, and only it: whole lines the task wrote are kept (their
// records come again: at-least-once), and so are a record flushed without terminator (NONE) and the file's
// content from before the task, newline or not.
func TestFileSinkStartCutsWhatACrashLeft(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		before  string           // the file's content before the first task
		put     []*schema.Record // put and flushed by the task that crashes
		partial string           // what the crash left after them
		want    string
	}{
		{"right after start", "a\nb", nil, "r-0", "a\nb"},
		{"after flushed lines", "a\nb", lines("r", 0, 2), "r-002\nr-0", "a\nbr-000\nr-001\nr-002\n"},
		{"after a record without terminator", "", append(lines("c", 0, 1), noneRecord("tail")), "x-0", "c-000\ntail"},
		{"whole lines after a record without terminator", "old\n", []*schema.Record{noneRecord("tail")},
			"\nx-000\nx-0", "old\ntail\nx-000\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.txt")
			require.NoError(t, os.WriteFile(out, []byte(tt.before), 0o644))
			sink := startSink(t, out, nil)
			if tt.put != nil {
				require.NoError(t, sink.Put(ctx, tt.put))
				require.NoError(t, sink.Flush(ctx, nil))
			}
			sink.CrashForTest()
			appendRaw(t, out, tt.partial)

			sink = startSink(t, out, nil)
			requireContent(t, out, tt.want, "the partial record is cut")
			sink.CrashForTest()
			appendRaw(t, out, "y-0")
			sink = startSink(t, out, nil)
			requireContent(t, out, tt.want, "a crash of the repaired task is repaired too")

			require.NoError(t, sink.Put(ctx, lines("d", 0, 1)))
			require.NoError(t, sink.Stop(ctx))
			startSink(t, out, nil)
			requireContent(t, out, tt.want+"d-000\n", "redelivered records follow whole ones")
		})
	}
}

// TestFileSinkCrashCutsRecordWithNewlines: a record whose value holds newlines (a multi-line log event)
// is one record, not several lines. A crash in the middle of writing it leaves nothing of it after the
// next Start, so the redelivered record does not follow a fragment of itself; and records with newlines
// that were flushed are kept.
func TestFileSinkCrashCutsRecordWithNewlines(t *testing.T) {
	ctx := context.Background()
	str := func(v string) *schema.Record { return schema.NewRecord("t", nil, nil, schema.StringSchema, v) }
	tests := []struct {
		name    string
		flushed [][]*schema.Record // each put and flushed before the crash
		torn    *schema.Record     // put, and cut short by the crash
		written string             // what of torn reached the file
		want    string             // the file after the next Start
	}{
		{"right after start", nil, str("m1\nm2"), "m1\nm", "a\n"},
		{"after flushed lines", [][]*schema.Record{lines("r", 0, 2)}, str("m1\nm2"), "m1\nm",
			"a\nr-000\nr-001\n"},
		{"after a flushed record with newlines", [][]*schema.Record{{str("k1\nk2")}}, str("m1\nm2"), "m1\nm",
			"a\nk1\nk2\n"},
		{"without terminator", [][]*schema.Record{lines("r", 0, 1)}, noneRecord("m1\nm2"), "m1\nm", "a\nr-000\n"},
		{"line after a flushed record with newlines", [][]*schema.Record{{str("k1\nk2")}}, str("r-000"), "r-0",
			"a\nk1\nk2\n"},
		{"line after lines after a record with newlines", [][]*schema.Record{{str("k1\nk2")}, lines("r", 0, 2)},
			str("r-002"), "r-0", "a\nk1\nk2\nr-000\nr-001\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.txt")
			require.NoError(t, os.WriteFile(out, []byte("a\n"), 0o644))
			sink := startSink(t, out, nil)
			for _, batch := range tt.flushed {
				require.NoError(t, sink.Put(ctx, batch))
				require.NoError(t, sink.Flush(ctx, nil))
			}
			require.NoError(t, sink.Put(ctx, []*schema.Record{tt.torn}))
			sink.CrashForTest()
			appendRaw(t, out, tt.written)

			sink = startSink(t, out, nil)
			requireContent(t, out, tt.want, "the torn record is cut whole")
			require.NoError(t, sink.Put(ctx, []*schema.Record{tt.torn}))
			require.NoError(t, sink.Flush(ctx, nil))
			requireContent(t, out, tt.want+tt.torn.Value.(string)+file.TerminatorOf(tt.torn),
				"the redelivered record follows whole records")
		})
	}
}

// TestFileSinkIdleCrashKeepsWhatOthersWrote: a task that crashed with every record flushed leaves the
// side file behind; when the file is rewritten in place before the next Start (same inode: `cat other >
// out.txt`, a copytruncate rotation), that Start keeps what was written, also when the last Flush held a
// record with newlines (the side file's exact mark, kept after the Flush, cut the file at its old size).
func TestFileSinkIdleCrashKeepsWhatOthersWrote(t *testing.T) {
	ctx := context.Background()
	str := func(v string) *schema.Record { return schema.NewRecord("t", nil, nil, schema.StringSchema, v) }
	for _, last := range []*schema.Record{str("r-000"), str("k1\nk2")} {
		t.Run(fmt.Sprintf("%q", last.Value), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.txt")
			sink := startSink(t, out, nil)
			require.NoError(t, sink.Put(ctx, []*schema.Record{last}))
			require.NoError(t, sink.Flush(ctx, nil))
			sink.CrashForTest()
			const foreign = "someone else's line 1\nsomeone else's line 2\n"
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_TRUNC, 0)
			require.NoError(t, err)
			_, err = f.WriteString(foreign)
			require.NoError(t, err)
			require.NoError(t, f.Close())

			startSink(t, out, nil)
			requireContent(t, out, foreign, "Start removes nothing it did not write")
		})
	}
}

// TestFileSinkReadsSideFileOfEarlierVersion: a side file holding only a size, as earlier versions wrote
// it, still marks where the task's own writes began.
func TestFileSinkReadsSideFileOfEarlierVersion(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.txt")
	require.NoError(t, os.WriteFile(out, []byte("a\nb\ntail"+"par"), 0o644))
	require.NoError(t, os.WriteFile(out+".durable-size", []byte("8"), 0o644))
	startSink(t, out, nil)
	requireContent(t, out, "a\nb\ntail", "cut at the recorded size")
}

// confinedSinkCtx is a sink task context whose engine confines files (fileConnectorAllowedDirs).
type confinedSinkCtx struct {
	*conformance.SinkContext
	files *plugins.FileAccess
}

func (c confinedSinkCtx) FileAccess() *plugins.FileAccess { return c.files }

// TestFileSinkSideFileIsConfined: the side file is opened through the worker's confinement like the file
// itself, so a symlink in its place cannot make the sink write outside the allowed directories.
func TestFileSinkSideFileIsConfined(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	allowed, outside := filepath.Join(base, "allowed"), filepath.Join(base, "outside")
	require.NoError(t, os.Mkdir(allowed, 0o755))
	require.NoError(t, os.Mkdir(outside, 0o755))
	victim := filepath.Join(outside, "victim")
	files, err := plugins.NewFileAccess([]string{allowed}, "fileConnectorAllowedDirs")
	require.NoError(t, err)
	out := filepath.Join(allowed, "out.txt")
	cfg := map[string]string{"file": out}
	start := func() (*file.SinkTask, error) {
		task := file.NewSinkTask()
		t.Cleanup(func() { _ = task.Stop(ctx) })
		return task, task.Start(ctx, confinedSinkCtx{sinkCtx(t, cfg), files}, cfg)
	}
	link := func() {
		require.NoError(t, os.WriteFile(victim, []byte("victim\n"), 0o644))
		_ = os.Remove(out + ".durable-size")
		require.NoError(t, os.Symlink(victim, out+".durable-size"))
	}

	t.Run("at start", func(t *testing.T) {
		link()
		_, err := start()
		require.ErrorIs(t, err, plugins.ErrPathNotAllowed)
		requireContent(t, victim, "victim\n", "the victim is untouched")
	})
	t.Run("swapped in while running", func(t *testing.T) {
		require.NoError(t, os.Remove(out+".durable-size"))
		task, err := start()
		require.NoError(t, err, "a confined sink starts")
		link()
		require.NoError(t, task.Put(ctx, []*schema.Record{noneRecord("tail")}))
		require.ErrorIs(t, task.Flush(ctx, nil), plugins.ErrPathNotAllowed)
		require.ErrorIs(t, task.Stop(ctx), plugins.ErrPathNotAllowed)
		requireContent(t, victim, "victim\n", "the victim is untouched")
		requireContent(t, out, "", "the unrecorded record was taken back")
	})
}

// TestFileSinkFullTmpfs fills a real 64 KiB tmpfs: the file holds whole lines only, and once space is
// freed the redelivered batch completes it. Skipped where mount is refused (not root).
func TestFileSinkFullTmpfs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs refused: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	filler := filepath.Join(dir, "filler")
	require.NoError(t, os.WriteFile(filler, make([]byte, 48<<10), 0o644))
	out := filepath.Join(dir, "out.txt")
	task := startSink(t, out, nil)
	next := 0
	var ferr error
	for next < 10000 && ferr == nil { // 100 lines of 8 bytes per batch: the disk fills within a few
		ferr = task.Put(ctx, lines("x", next, next+100))
		if ferr == nil {
			ferr = task.Flush(ctx, nil)
		}
		if ferr == nil {
			next += 100
		}
	}
	require.ErrorIs(t, ferr, syscall.ENOSPC)
	requireContent(t, out, wantLines("x", 0, next), "only whole, durable batches are in the file")

	require.NoError(t, os.Remove(filler))
	require.NoError(t, task.Stop(ctx))
	task = startSink(t, out, nil)
	require.NoError(t, task.Put(ctx, lines("x", next, next+100)))
	require.NoError(t, task.Flush(ctx, nil))
	requireContent(t, out, wantLines("x", 0, next+100), "the redelivered batch follows whole lines")
}

// requireContent compares a large file with want, showing only the ends on a mismatch.
func requireContent(t *testing.T, path, want, msg string) {
	t.Helper()
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	if string(got) != want {
		tail := func(s string) string { return s[max(len(s)-40, 0):] }
		t.Fatalf("%s: the file has %d bytes ending %q, want %d bytes ending %q", msg, len(got), tail(string(got)), len(want), tail(want))
	}
}
