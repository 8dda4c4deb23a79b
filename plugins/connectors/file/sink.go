package file

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
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
		Doc:        "Path of the file records are appended to, one line per record; created when missing."},
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
// appended to a partial line. Start cuts a trailing partial line left by a crash (see repairTail).
type SinkTask struct {
	mu      sync.Mutex
	tctx    plugins.SinkTaskContext
	path    string
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
	// wrap, when set (tests), wraps the file as the buffered writer's target.
	wrap func(io.Writer) io.Writer
}

// tailSuffix names the file beside the sink's file that records the durable size when the file ended
// without a newline (a record with terminator NONE), so that Start keeps that tail.
const tailSuffix = ".durable-size"

// NewSinkTask returns an unstarted file-sink task.
func NewSinkTask() *SinkTask { return &SinkTask{} }

var _ plugins.SinkTask = (*SinkTask)(nil)

// Start opens (creating it when missing) the file for appending.
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
	size, endsLF, err := repairTail(f, path)
	if err != nil {
		_ = f.Close()
		return err
	}
	t.tctx, t.path, t.f, t.json = tctx, path, f, jc
	t.durable, t.endsLF = size, endsLF
	var target io.Writer = f
	if t.wrap != nil {
		target = t.wrap(f)
	}
	t.w = bufio.NewWriterSize(target, 256<<10)
	return nil
}

// repairTail cuts a partial line at the end of f (what a crash in the middle of a write leaves): the file
// is truncated after its last newline, unless the tail is a record written without terminator whose size
// the side file recorded as durable. It returns the file's size and whether it ends with a newline.
func repairTail(f *os.File, path string) (int64, bool, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, false, fmt.Errorf("file-sink: %w", err)
	}
	size := st.Size()
	if size == 0 {
		return 0, true, nil
	}
	// Find the last newline, reading backwards in chunks.
	buf := make([]byte, 64<<10)
	cut := int64(0)
	for end := size; end > 0 && cut == 0; {
		start := max(end-int64(len(buf)), 0)
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, false, fmt.Errorf("file-sink: read %s: %w", path, err)
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			cut = start + int64(i) + 1
		}
		end = start
	}
	if cut == size {
		return size, true, nil
	}
	if b, err := os.ReadFile(path + tailSuffix); err == nil {
		if d, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && d > cut && d <= size {
			cut = d
		}
	}
	if cut == size {
		return size, false, nil
	}
	if err := f.Truncate(cut); err != nil {
		return 0, false, fmt.Errorf("file-sink: cut the partial last line of %s at byte %d: %w", path, cut, err)
	}
	if err := f.Sync(); err != nil {
		return 0, false, fmt.Errorf("file-sink: fsync %s: %w", path, err)
	}
	return cut, cut == 0 || endsWithLF(f, cut), nil
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
		_, err = t.w.WriteString(v)
	case []byte:
		_, err = t.w.Write(v)
	default:
		b, cerr := t.json.FromConnect(r.Topic, r.ValueSchema, v)
		if cerr != nil {
			if t.tctx == nil {
				return fmt.Errorf("file-sink: render value as json: %w", cerr)
			}
			return t.tctx.ErrantRecordReporter().Report(ctx, r, fmt.Errorf("file-sink: render value as json: %w", cerr))
		}
		_, err = t.w.Write(b)
	}
	if err == nil {
		_, err = t.w.WriteString(TerminatorOf(r))
	}
	if err != nil {
		return fmt.Errorf("file-sink: write %s: %w", t.path, err)
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
	if !endsLF {
		// The file ends with a record written without terminator: record that it is whole.
		if err := writeSynced(t.path+tailSuffix, strconv.FormatInt(size, 10)); err != nil {
			return t.rollback(fmt.Errorf("file-sink: record the durable size of %s: %w", t.path, err))
		}
	}
	t.durable, t.endsLF = size, endsLF
	return nil
}

func writeSynced(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(content)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Stop writes and fsyncs what is still buffered, then closes the file. It is idempotent and safe without
// Start; Put and Flush fail with ErrStopped afterwards.
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
	return err
}
