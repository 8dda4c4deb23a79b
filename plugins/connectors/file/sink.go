package file

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/schema/converter"
)

var sinkSpec = plugins.MustConfigSpec(
	plugins.Field{Name: KeyFilename, Type: plugins.TypeString, Required: true, Aliases: []string{"file"}, Path: true,
		Validators: []plugins.Validator{plugins.NonEmpty()},
		Doc: "Path of the file records are appended to, one line per record; created when missing. The sink " +
			"keeps <filename>.durable-size beside it, so its directory must be writable."},
	orderingField,
)

// SinkConnector is file-sink. Every task appends to the same file, so it is meant to run with max.tasks=1.
type SinkConnector struct {
	cfg map[string]string
}

// NewSinkConnector returns an unstarted file-sink connector.
func NewSinkConnector() *SinkConnector { return &SinkConnector{} }

var _ plugins.SinkConnector = (*SinkConnector)(nil)

// Spec declares filename.
func (c *SinkConnector) Spec() *plugins.ConfigSpec { return sinkSpec }

// Validate has no cross-field rule to check: the engine has checked cfg against Spec.
func (c *SinkConnector) Validate(map[string]string) error { return nil }

// Start keeps cfg for TaskConfigs.
func (c *SinkConnector) Start(_ context.Context, _ plugins.ConnectorContext, cfg map[string]string) error {
	c.cfg = maps.Clone(cfg)
	return nil
}

// TaskConfigs returns one task config whatever maxTasks is: two writers appending to one file would
// interleave their lines.
func (c *SinkConnector) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{maps.Clone(c.cfg)}, nil
}

// Stop does nothing; a file-sink connector holds no resources.
func (c *SinkConnector) Stop(context.Context) error { return nil }

// NewSinkTask returns an unstarted SinkTask.
func (c *SinkConnector) NewSinkTask() plugins.SinkTask { return NewSinkTask() }

// SinkTask appends record values to a file. Put buffers, Flush writes the buffer and fsyncs the file. Its
// methods are safe to call concurrently (Stop may race a busy Put).
//
// The file only ever grows by whole records: it keeps the size it had after its last successful fsync
// (durable), and when a write, flush or fsync fails (a full disk) it discards what is buffered and truncates
// the file back to that size before returning the error, so the records the engine delivers again are not
// appended to a partial line. A crash can still leave a partial record at the end of the file; the side file
// (see durableSuffix) tells the next Start where the task's own writes began, so it cuts that record and
// never anything the task did not write.
type SinkTask struct {
	mu      sync.Mutex
	tctx    plugins.SinkTaskContext
	path    string
	id      string // fileID of the open file
	f       *os.File
	w       *bufio.Writer
	json    *converter.JSONConverter
	stopped bool
	// durable is the file's size after the last successful fsync (or at Start); endsLF says whether the
	// file then ended with a newline.
	durable int64
	endsLF  bool
	// dirty is set when a truncation back to durable failed: Put and Flush try it again first.
	dirty bool
	// exact is set while the side file records the durable size as the very point to cut at (see
	// durableSuffix); sideUnknown when a write of the side file failed, so that what it says is unknown
	// until one succeeds.
	exact, sideUnknown bool
	// wrap, when set (tests), wraps the file as the buffered writer's target.
	wrap func(io.Writer) io.Writer
}

// durableSuffix names the side file beside the sink's file, "<filename>.durable-size". While a task runs it
// holds "<size> <file ID>": every byte of the file after size was written by the task. Start records the
// file's size once it has repaired it, each Flush that leaves the file ending without a newline records the
// new size (so that record is kept), and Stop empties the side file. A value holding a newline (a
// multi-line event) makes the last newline no proof of a whole record: before such a value is written the
// side file records "<durable size> <file ID> exact", and the next Flush records the new size without the
// mark (left on an idle file, it would make a Start after a crash cut what someone else wrote there since).
// Start reads it first:
//
//   - a size for this file that the file still has means the task did not stop (a crash): after size the
//     file is cut after its last newline, or at size when there is none (always at size when marked
//     exact), which removes the partial record the crash left and nothing else;
//   - missing, empty (a clean stop), not a size, another file's ID or a size beyond the file's end (it was
//     replaced or cut since): the file is kept as it is.
//
// A side file of an earlier version holds only a size, and is trusted as it was then. The side file is
// opened through the same confinement as the file.
const durableSuffix = ".durable-size"

// exactMark is the side file's third field when its size is the point to cut at (see durableSuffix).
const exactMark = "exact"

// durableRecordLen is the length of the side file's content, padded with spaces: it is rewritten in place
// by one write of the same length, so a crash cannot leave it empty or half rewritten.
const durableRecordLen = 64

// NewSinkTask returns an unstarted file-sink task.
func NewSinkTask() *SinkTask { return &SinkTask{} }

var _ plugins.SinkTask = (*SinkTask)(nil)

// Start opens (creating it when missing) the file for appending, cuts a partial record a crash of the
// task left at its end, and records the file's size in the side file (see durableSuffix).
func (t *SinkTask) Start(_ context.Context, tctx plugins.SinkTaskContext, _ map[string]string) error {
	vals := tctx.Config()
	path := vals.String(KeyFilename)
	jc := converter.NewJSONConverter()
	if err := jc.Configure(map[string]string{"schemas.enable": "false"}, false); err != nil {
		return fmt.Errorf("file-sink: configure json: %w", err)
	}
	f, err := openFile(tctx, path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("file-sink: %w", err) // *fs.PathError names the path
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f != nil || t.stopped {
		_ = f.Close()
		return fmt.Errorf("file-sink: %s: task already started or stopped", path)
	}
	t.tctx, t.path, t.f, t.json = tctx, path, f, jc
	size, endsLF, err := t.repairTail()
	if err != nil {
		_ = f.Close()
		t.tctx, t.path, t.f, t.json = nil, "", nil, nil
		return err
	}
	t.durable, t.endsLF = size, endsLF
	var target io.Writer = f
	if t.wrap != nil {
		target = t.wrap(f)
	}
	t.w = bufio.NewWriterSize(target, 256<<10)
	return nil
}

// repairTail cuts what a crash of the task left after its last whole record (see durableSuffix), records
// the file's size in the side file and returns it, with whether the file ends with a newline.
func (t *SinkTask) repairTail() (int64, bool, error) {
	st, err := t.f.Stat()
	if err != nil {
		return 0, false, fmt.Errorf("file-sink: %w", err)
	}
	size := st.Size()
	t.id = fileID(st)
	from, exact, err := t.readDurable(size)
	if err != nil {
		return 0, false, err
	}
	cut := size
	if from >= 0 && from < size {
		if exact {
			cut = from
		} else if cut, err = t.afterLastLF(from, size); err != nil {
			return 0, false, err
		}
	}
	if cut < size {
		if err := t.f.Truncate(cut); err != nil {
			return 0, false, fmt.Errorf("file-sink: cut the partial last record of %s at byte %d: %w", t.path, cut, err)
		}
		if err := t.f.Sync(); err != nil {
			return 0, false, fmt.Errorf("file-sink: fsync %s: %w", t.path, err)
		}
	}
	if err := t.writeDurable(cut, false); err != nil {
		return 0, false, err
	}
	// The side file or the file may be new (a file moved away after a clean stop is made again
	// beside the side file it left): make their directory entries durable, or a power loss could
	// lose the file with records whose Flush returned. One fsync a Start.
	if err := syncDir(t.tctx, filepath.Dir(t.path)); err != nil {
		return 0, false, fmt.Errorf("file-sink: fsync the directory of %s: %w", t.path, err)
	}
	return cut, cut == 0 || endsWithLF(t.f, cut), nil
}

// readDurable returns the size the side file records for this file, or -1 when it records none that
// applies (see durableSuffix) and whether it is marked exact.
func (t *SinkTask) readDurable(size int64) (d int64, exact bool, err error) {
	side, err := openFile(t.tctx, t.path+durableSuffix, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return -1, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("file-sink: read the durable size of %s: %w", t.path, err)
	}
	b, err := io.ReadAll(io.LimitReader(side, durableRecordLen))
	_ = side.Close()
	if err != nil {
		return 0, false, fmt.Errorf("file-sink: read the durable size of %s: %w", t.path, err)
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return -1, false, nil
	}
	d, err = strconv.ParseInt(fields[0], 10, 64)
	if err != nil || d < 0 || d > size || (len(fields) > 1 && t.id != "" && fields[1] != t.id) {
		return -1, false, nil
	}
	return d, len(fields) > 2 && fields[2] == exactMark, nil
}

// afterLastLF returns the offset just after the last newline in the file's bytes [from, size), or from
// when there is none.
func (t *SinkTask) afterLastLF(from, size int64) (int64, error) {
	buf := make([]byte, min(size-from, 64<<10))
	for end := size; end > from; {
		start := max(end-int64(len(buf)), from)
		n, err := t.f.ReadAt(buf[:end-start], start)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("file-sink: read %s: %w", t.path, err)
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return from, nil
}

// writeDurable records size as the file's durable size in the side file, marked exact or not (see
// durableSuffix), and fsyncs it.
func (t *SinkTask) writeDurable(size int64, exact bool) error {
	rec := strconv.FormatInt(size, 10)
	switch {
	case exact && t.id == "":
		rec += " - " + exactMark // the ID's place holds "-" where the platform gives none
	case exact:
		rec += " " + t.id + " " + exactMark
	case t.id != "":
		rec += " " + t.id
	}
	if len(rec) >= durableRecordLen {
		// Not reached with 64-bit sizes and IDs; a longer record would be read back cut.
		return fmt.Errorf("file-sink: record the durable size of %s: %q is longer than %d bytes", t.path, rec, durableRecordLen-1)
	}
	rec = fmt.Sprintf("%-*s\n", durableRecordLen-1, rec)
	if err := t.rewriteSide(rec); err != nil {
		return fmt.Errorf("file-sink: record the durable size of %s: %w", t.path, err)
	}
	return nil
}

// rewriteSide replaces the side file's content with rec (durableRecordLen bytes, or "" to empty it) and
// fsyncs it.
func (t *SinkTask) rewriteSide(rec string) error {
	f, err := openFile(t.tctx, t.path+durableSuffix, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if rec == "" {
		err = f.Truncate(0)
	} else {
		_, err = f.WriteAt([]byte(rec), 0)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir fsyncs the directory dir, opened through the task's confinement.
func syncDir(tctx any, dir string) error {
	d, err := openFile(tctx, dir, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func endsWithLF(f *os.File, size int64) bool {
	var b [1]byte
	_, err := f.ReadAt(b[:], size-1)
	return err == nil && b[0] == '\n'
}

// Put appends each record's value followed by its terminator (TerminatorOf). A string or []byte value is
// written as is, a nil value (tombstone) is skipped, anything else is rendered as schemaless JSON; a value
// that cannot be rendered goes to the errant-record reporter.
func (t *SinkTask) Put(ctx context.Context, records []*schema.Record) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.usable("put"); err != nil {
		return err
	}
	for _, r := range records {
		if err := t.write(ctx, r); err != nil {
			return t.rollback(err)
		}
	}
	return nil
}

// rollback discards what is buffered and truncates the file back to its durable size after err (a failed
// write, flush or fsync), so no partial record stays in it; it returns err, joined with the truncation's
// error when that fails too (Put and Flush then try again first).
func (t *SinkTask) rollback(err error) error {
	t.w.Reset(t.target())
	if terr := t.f.Truncate(t.durable); terr != nil {
		t.dirty = true
		return errors.Join(err, fmt.Errorf("file-sink: truncate %s back to %d bytes: %w", t.path, t.durable, terr))
	}
	t.dirty = false
	return err
}

func (t *SinkTask) target() io.Writer {
	if t.wrap != nil {
		return t.wrap(t.f)
	}
	return t.f
}

func (t *SinkTask) usable(op string) error {
	if t.stopped {
		return fmt.Errorf("file-sink: %s: %w", op, ErrStopped)
	}
	if t.f == nil {
		return fmt.Errorf("file-sink: %s: %w", op, ErrNotStarted)
	}
	if t.dirty {
		if err := t.f.Truncate(t.durable); err != nil {
			return fmt.Errorf("file-sink: %s: truncate %s back to %d bytes: %w", op, t.path, t.durable, err)
		}
		t.dirty = false
	}
	return nil
}

func (t *SinkTask) write(ctx context.Context, r *schema.Record) error {
	var err error
	switch v := r.Value.(type) {
	case nil:
		return nil
	case string:
		if err = t.noteNewline(strings.IndexByte(v, '\n') >= 0); err == nil {
			_, err = t.w.WriteString(v)
		}
	case []byte:
		if err = t.noteNewline(bytes.IndexByte(v, '\n') >= 0); err == nil {
			_, err = t.w.Write(v)
		}
	default:
		b, cerr := t.json.FromConnect(r.Topic, r.ValueSchema, v)
		if cerr != nil {
			if t.tctx == nil {
				return fmt.Errorf("file-sink: render value as json: %w", cerr)
			}
			return t.tctx.ErrantRecordReporter().Report(ctx, r, fmt.Errorf("file-sink: render value as json: %w", cerr))
		}
		if err = t.noteNewline(bytes.IndexByte(b, '\n') >= 0); err == nil {
			_, err = t.w.Write(b)
		}
	}
	if err == nil {
		_, err = t.w.WriteString(TerminatorOf(r))
	}
	if err != nil {
		return fmt.Errorf("file-sink: write %s: %w", t.path, err)
	}
	return nil
}

// noteNewline is called before a value is written, with whether it holds a newline. Such a value makes
// the last newline in the file no proof of a whole record, so before any of its bytes can reach the file
// the side file must mark the durable size as the point a crash is cut at (see durableSuffix).
func (t *SinkTask) noteNewline(has bool) error {
	if !has {
		return nil
	}
	if !t.exact || t.sideUnknown {
		if err := t.writeDurable(t.durable, true); err != nil {
			t.sideUnknown = true // written but not fsynced, maybe
			return err
		}
		t.exact, t.sideUnknown = true, false
	}
	return nil
}

// Flush writes the buffered records and fsyncs the file; when it returns nil every record passed to Put is
// durable.
func (t *SinkTask) Flush(context.Context, map[plugins.Queue]int64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.usable("flush"); err != nil {
		return err
	}
	return t.sync()
}

func (t *SinkTask) sync() error {
	if err := t.w.Flush(); err != nil {
		return t.rollback(fmt.Errorf("file-sink: write %s: %w", t.path, err))
	}
	if err := t.f.Sync(); err != nil {
		return t.rollback(fmt.Errorf("file-sink: fsync %s: %w", t.path, err))
	}
	st, err := t.f.Stat()
	if err != nil {
		return t.rollback(fmt.Errorf("file-sink: %w", err))
	}
	size := st.Size()
	endsLF := size == 0 || endsWithLF(t.f, size)
	// The side file is rewritten when it says exact (every record up to size is whole now, and the
	// mark, left on an idle file, would cut what someone else wrote there before the next Start), when
	// what it says is unknown, and when the file ends with a record written without terminator (recorded
	// as whole, or the next Start after a crash would cut it). The next value with a newline marks it
	// exact again.
	if t.exact || t.sideUnknown || !endsLF {
		if err := t.writeDurable(size, false); err != nil {
			t.sideUnknown = true
			return t.rollback(err)
		}
		t.exact, t.sideUnknown = false, false
	}
	t.durable, t.endsLF = size, endsLF
	return nil
}

// Stop writes and fsyncs what is still buffered, closes the file and, when the file holds whole records
// only, empties the side file (see durableSuffix). It is idempotent and safe without Start; Put and Flush
// fail with ErrStopped afterwards.
func (t *SinkTask) Stop(context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	if t.f == nil {
		return nil
	}
	err := t.sync()
	if cerr := t.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("file-sink: close %s: %w", t.path, cerr)
	}
	t.f, t.w = nil, nil
	if !t.dirty {
		if serr := t.rewriteSide(""); serr != nil {
			err = errors.Join(err, fmt.Errorf("file-sink: clear the durable size of %s: %w", t.path, serr))
		}
	}
	return err
}
