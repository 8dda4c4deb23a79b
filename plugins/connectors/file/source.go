package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/internal/position"
	"github.com/rmqconnect/rmqconnect/schema"
)

// Names and aliases of the file connectors, as registered by plugins/builtin.
const (
	SourceName = "file-source"
	SinkName   = "file-sink"
)

// SourceAliases are the Java class names accepted for file-source.
var SourceAliases = []string{
	"org.apache.rocketmq.connect.file.FileSourceConnector",
	"org.apache.kafka.connect.file.FileStreamSourceConnector",
}

// SinkAliases are the Java class names accepted for file-sink.
var SinkAliases = []string{
	"org.apache.rocketmq.connect.file.FileSinkConnector",
	"org.apache.kafka.connect.file.FileStreamSinkConnector",
}

// Configuration keys of file-source (file-sink uses KeyFilename only).
const (
	KeyFilename         = "filename"
	KeyTopic            = "connect.topicname"
	KeyBatchSize        = "batch.size"
	KeyMaxLineBytes     = "max.line.bytes"
	KeyPollInterval     = "poll.interval.ms"
	KeyPartialLineFlush = "partial.line.flush.ms"
	defaultMaxLineBytes = 1 << 20
	// maxLineBytesLimit keeps a line's message under RocketMQ's default 4 MiB message
	// limit, with room for its terminator, properties (at most 32 KiB) and framing.
	maxLineBytesLimit    = 4<<20 - 64<<10
	readChunk            = 64 << 10
	defaultBatchSize     = 2000
	defaultPollInterval  = 200 * time.Millisecond
	maxPollIntervalValue = time.Minute
)

var sourceSpec = plugins.MustConfigSpec(
	plugins.Field{Name: KeyFilename, Type: plugins.TypeString, Required: true, Aliases: []string{"file"}, Path: true,
		Validators: []plugins.Validator{plugins.NonEmpty()},
		Doc:        "Path of the file to stream, one record per line."},
	plugins.Field{Name: KeyTopic, Type: plugins.TypeString, Required: true, Aliases: []string{"topic"},
		Validators: []plugins.Validator{plugins.NonEmpty()},
		Doc:        "Topic the records are sent to."},
	plugins.Field{Name: KeyBatchSize, Type: plugins.TypeInt, Default: defaultBatchSize,
		Validators: []plugins.Validator{plugins.Between(1, 1<<20)},
		Doc:        "Maximum number of records returned by one poll."},
	plugins.Field{Name: KeyMaxLineBytes, Type: plugins.TypeInt, Default: defaultMaxLineBytes,
		Validators: []plugins.Validator{plugins.Between(1, maxLineBytesLimit)},
		Doc: "Longest line (terminator excluded) emitted as data; a longer line becomes an error record " +
			"(routed per errors.tolerance) and is skipped."},
	plugins.Field{Name: KeyPollInterval, Type: plugins.TypeDuration, Default: defaultPollInterval,
		Validators: []plugins.Validator{plugins.DurationBetween(time.Millisecond, maxPollIntervalValue)},
		Doc:        "How long a poll waits for the file to grow when it has no new complete line."},
	plugins.Field{Name: KeyPartialLineFlush, Type: plugins.TypeDuration, Default: time.Duration(0),
		Validators: []plugins.Validator{plugins.DurationBetween(0, 24*time.Hour)},
		Doc: "When > 0, an unterminated last line that has not grown for this long is emitted with terminator " +
			"NONE; 0 keeps it until its terminator arrives."},
	orderingField,
)

// orderingField makes the file connectors keep line order by default: the file (one source
// partition) goes to one queue, and the sink consumes each queue in order, so a file copied
// through file-source → topic → file-sink comes out with its lines in order.
var orderingField = plugins.Field{Name: plugins.KeyOrdering, Type: plugins.TypeBoolean, Default: true,
	Doc: "Keep the file's line order: the source sends the file's lines to one queue and the sink consumes each " +
		"queue in order. false spreads the lines over the topic's queues and consumes them concurrently " +
		"(faster, but lines come out reordered)."}

// SourceConnector is file-source. It runs exactly one task.
type SourceConnector struct {
	cfg map[string]string
}

// NewSourceConnector returns an unstarted file-source connector.
func NewSourceConnector() *SourceConnector { return &SourceConnector{} }

var _ plugins.SourceConnector = (*SourceConnector)(nil)

// Spec declares filename, connect.topicname, batch.size, max.line.bytes, poll.interval.ms and
// partial.line.flush.ms.
func (c *SourceConnector) Spec() *plugins.ConfigSpec { return sourceSpec }

// Validate has no cross-field rule to check: the engine has checked cfg against Spec.
func (c *SourceConnector) Validate(map[string]string) error { return nil }

// Start keeps cfg for TaskConfigs.
func (c *SourceConnector) Start(_ context.Context, _ plugins.ConnectorContext, cfg map[string]string) error {
	c.cfg = maps.Clone(cfg)
	return nil
}

// TaskConfigs returns one task config whatever maxTasks is: a file is read by a single reader.
func (c *SourceConnector) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{maps.Clone(c.cfg)}, nil
}

// Stop does nothing; a file-source connector holds no resources.
func (c *SourceConnector) Stop(context.Context) error { return nil }

// NewSourceTask returns an unstarted SourceTask.
func (c *SourceConnector) NewSourceTask() plugins.SourceTask { return NewSourceTask() }

// SourceTask streams the lines of one file. Poll and Stop may run concurrently: Stop makes a blocked Poll
// return at once.
type SourceTask struct {
	stopped  chan struct{}
	stopOnce sync.Once

	mu           sync.Mutex // guards everything below
	log          *slog.Logger
	f            *os.File
	path         string
	topic        string
	batch        int
	maxLine      int
	interval     time.Duration
	partialFlush time.Duration
	partition    map[string]any
	id           string // fileID of the open file, stored in every offset under FileIDKey; "" when unknown

	data      []byte // read buffer; data[lo:hi] are bytes read but not yet consumed
	lo, hi    int
	scanned   int       // data[lo:lo+scanned] holds no '\n'
	lineStart int64     // file offset of the current (incomplete) line
	dropped   int64     // bytes of an over-long current line already discarded from data
	prefix    []byte    // first max.line.bytes bytes of an over-long current line
	lastData  time.Time // when the file last yielded bytes

	recSlab []schema.Record // preallocated records handed out by lineRecord
	hdrSlab []schema.Header
}

// NewSourceTask returns an unstarted file-source task.
func NewSourceTask() *SourceTask { return &SourceTask{stopped: make(chan struct{})} }

var _ plugins.SourceTask = (*SourceTask)(nil)

// Start opens the file and seeks to the committed position of its partition (0 when none). When the
// position was stored for another file than the one now at the path (a rotation replaced it), the file is
// read from its start and a warning is logged. A missing file is an error wrapping fs.ErrNotExist that
// names the path.
func (t *SourceTask) Start(ctx context.Context, tctx plugins.SourceTaskContext, _ map[string]string) error {
	vals := tctx.Config()
	path, err := filepath.Abs(vals.String(KeyFilename))
	if err != nil {
		return fmt.Errorf("file-source: resolve %q: %w", vals.String(KeyFilename), err)
	}
	partition := map[string]any{PartitionKey: path}
	var pos int64
	var posID string
	if tctx.Positions() != nil {
		off, err := tctx.Positions().Position(ctx, partition)
		if err != nil {
			return fmt.Errorf("file-source: read position of %s: %w", path, err)
		}
		if pos, _, err = position.Int64(off, OffsetKey); err != nil {
			return fmt.Errorf("file-source: %s: %w", path, err)
		}
		if posID, err = storedFileID(off); err != nil {
			return fmt.Errorf("file-source: %s: %w", path, err)
		}
	}
	log := slog.New(slog.DiscardHandler)
	if tctx.Logger() != nil {
		log = tctx.Logger()
	}
	f, err := openFile(tctx, path, os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("file-source: %w", err) // *fs.PathError: names the path, wraps fs.ErrNotExist etc.
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("file-source: %w", err)
	}
	id := fileID(st)
	if pos > 0 && posID != "" && id != "" && posID != id {
		log.Warn("file replaced since its position was stored, reading it from the start", "file", path,
			"position", pos, "stored_file_id", posID, "file_id", id)
		pos = 0
	}
	if _, err := f.Seek(pos, io.SeekStart); err != nil {
		_ = f.Close()
		return fmt.Errorf("file-source: seek %s to %d: %w", path, pos, err)
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f != nil {
		_ = f.Close()
		return fmt.Errorf("file-source: %s: task already started", path)
	}
	t.log, t.f, t.path, t.partition, t.id = log, f, path, partition, id
	t.topic = vals.String(KeyTopic)
	t.batch = vals.Int(KeyBatchSize)
	t.maxLine = vals.Int(KeyMaxLineBytes)
	t.interval = vals.Duration(KeyPollInterval)
	t.partialFlush = vals.Duration(KeyPartialLineFlush)
	t.data = make([]byte, readChunk)
	t.lineStart = pos
	t.lastData = time.Now()
	return nil
}

// Poll returns up to batch.size complete lines. When none is available it waits poll.interval.ms (or until
// ctx is cancelled or the task stopped, then it returns no records and no error) and looks once more.
func (t *SourceTask) Poll(ctx context.Context) ([]*schema.Record, error) {
	recs, err := t.read()
	if err != nil || len(recs) > 0 {
		return recs, err
	}
	timer := time.NewTimer(t.pollInterval())
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return nil, nil
	case <-t.stopped:
		return nil, nil
	case <-timer.C:
	}
	return t.read()
}

func (t *SourceTask) pollInterval() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.interval <= 0 {
		return defaultPollInterval
	}
	return t.interval
}

// read consumes what the file holds now, up to batch.size records.
func (t *SourceTask) read() ([]*schema.Record, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	select {
	case <-t.stopped:
		return nil, nil
	default:
	}
	if t.f == nil {
		return nil, fmt.Errorf("file-source: poll: %w", ErrNotStarted)
	}
	var out []*schema.Record
	eof := false
	for len(out) < t.batch {
		if rec, ok := t.nextLine(); ok {
			out = append(out, rec)
			continue
		}
		if eof {
			break
		}
		n, err := t.fill()
		if err != nil {
			if len(out) > 0 {
				return out, nil // the lines read are delivered; the error comes back on the next Poll
			}
			return nil, err
		}
		if n == 0 {
			eof = true
			if len(out) == 0 {
				truncated, err := t.checkTruncated()
				if err != nil {
					return nil, err
				}
				if truncated {
					eof = false
					continue
				}
				if rec := t.flushPartial(); rec != nil {
					out = append(out, rec)
				}
			}
			break
		}
	}
	return out, nil
}

// nextLine cuts the next complete line out of the buffer. With none complete it leaves the buffer holding the
// incomplete line, or, for a line already longer than max.line.bytes, only its last byte (a '\r' that may
// start its CRLF) while counting the rest in dropped.
func (t *SourceTask) nextLine() (*schema.Record, bool) {
	i := bytes.IndexByte(t.data[t.lo+t.scanned:t.hi], '\n')
	if i < 0 {
		t.scanned = t.hi - t.lo
		if pending := t.hi - t.lo; t.dropped > 0 || pending > t.maxLine+1 {
			t.discard(pending - 1)
		}
		return nil, false
	}
	end := t.lo + t.scanned + i // index of '\n'
	content := t.data[t.lo:end]
	term := TerminatorLF
	if len(content) > 0 && content[len(content)-1] == '\r' {
		content, term = content[:len(content)-1], TerminatorCRLF
	}
	next := t.lineStart + t.dropped + int64(end+1-t.lo)
	var rec *schema.Record
	if length := t.dropped + int64(len(content)); length > int64(t.maxLine) {
		t.keepPrefix(content)
		rec = t.errorRecord(length, next)
	} else {
		rec = t.lineRecord(string(content), term, next)
	}
	t.lo, t.scanned, t.lineStart, t.dropped, t.prefix = end+1, 0, next, 0, nil
	return rec, true
}

// discard drops the first n unconsumed bytes of an over-long line, keeping its max.line.bytes prefix.
func (t *SourceTask) discard(n int) {
	if n <= 0 {
		return
	}
	t.keepPrefix(t.data[t.lo : t.lo+n])
	t.lo += n
	t.dropped += int64(n)
	t.scanned = t.hi - t.lo
}

func (t *SourceTask) keepPrefix(b []byte) {
	if room := t.maxLine - len(t.prefix); room > 0 {
		t.prefix = append(t.prefix, b[:min(room, len(b))]...)
	}
}

// fill reads more of the file into the buffer and returns how many bytes it read (0 at end of file).
func (t *SourceTask) fill() (int, error) {
	if t.lo > 0 {
		copy(t.data, t.data[t.lo:t.hi])
		t.hi -= t.lo
		t.lo = 0
	}
	if t.hi == len(t.data) {
		t.data = append(t.data, make([]byte, len(t.data))...)
	}
	n, err := t.f.Read(t.data[t.hi:])
	t.hi += n
	if n > 0 {
		t.lastData = time.Now()
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return n, fmt.Errorf("file-source: read %s: %w", t.path, err)
	}
	return n, nil
}

// checkTruncated restarts from the beginning of the file when it became shorter than what was read (a
// truncation in place, as copytruncate log rotation does) and reports whether it did.
func (t *SourceTask) checkTruncated() (bool, error) {
	st, err := t.f.Stat()
	if err != nil {
		return false, fmt.Errorf("file-source: stat %s: %w", t.path, err)
	}
	readOff := t.lineStart + t.dropped + int64(t.hi-t.lo)
	if st.Size() >= readOff {
		return false, nil
	}
	t.log.Warn("file truncated, reading it again from the start", "file", t.path, "size", st.Size(),
		"position", readOff)
	if _, err := t.f.Seek(0, io.SeekStart); err != nil {
		return false, fmt.Errorf("file-source: seek %s: %w", t.path, err)
	}
	t.lo, t.hi, t.scanned, t.lineStart, t.dropped, t.prefix = 0, 0, 0, 0, 0, nil
	return true, nil
}

// flushPartial emits the unterminated tail as a line with terminator NONE once it has not grown for
// partial.line.flush.ms (never when that is 0).
func (t *SourceTask) flushPartial() *schema.Record {
	pending := t.hi - t.lo
	if t.partialFlush <= 0 || (pending == 0 && t.dropped == 0) || time.Since(t.lastData) < t.partialFlush {
		return nil
	}
	content := t.data[t.lo:t.hi]
	next := t.lineStart + t.dropped + int64(pending)
	var rec *schema.Record
	if length := t.dropped + int64(pending); length > int64(t.maxLine) {
		t.keepPrefix(content)
		rec = t.errorRecord(length, next)
	} else {
		rec = t.lineRecord(string(content), TerminatorNone, next)
	}
	t.lo, t.scanned, t.lineStart, t.dropped, t.prefix = t.hi, 0, next, 0, nil
	return rec
}

// slabSize is how many records (and headers) lineRecord allocates at once.
const slabSize = 128

func (t *SourceTask) lineRecord(line, term string, next int64) *schema.Record {
	if len(t.recSlab) == 0 {
		t.recSlab = make([]schema.Record, slabSize)
		t.hdrSlab = make([]schema.Header, slabSize)
	}
	r := &t.recSlab[0]
	h := t.hdrSlab[0:1:1] // capacity 1: appending to a record's headers never touches its neighbour's
	t.recSlab, t.hdrSlab = t.recSlab[1:], t.hdrSlab[1:]
	h[0] = schema.Header{Key: HeaderTerminator, Schema: schema.StringSchema, Value: term}
	*r = schema.Record{
		SourcePartition: t.partition,
		SourceOffset:    t.offset(next),
		Topic:           t.topic,
		QueueID:         -1,
		ValueSchema:     schema.StringSchema,
		Value:           line,
		Headers:         h,
	}
	return r
}

// errorRecord describes an over-long line ending just before next: its value is the raw first
// max.line.bytes bytes, its extensions mark it as an error (see doc.go).
func (t *SourceTask) errorRecord(length, next int64) *schema.Record {
	raw := append([]byte(nil), t.prefix...)
	r := schema.NewRecord(t.topic, nil, nil, schema.BytesSchema, raw)
	r.SourcePartition = t.partition
	r.SourceOffset = t.offset(next)
	r.Extensions = map[string]string{
		ExtError: fmt.Sprintf("%v: the line of %s at byte %d is %d bytes, max.line.bytes is %d",
			ErrLineTooLong, t.path, t.lineStart, length, t.maxLine),
		ExtErrorClass:     ErrorClassLineTooLong,
		ExtErrorTruncated: strconv.FormatBool(int64(len(raw)) < length),
		ExtLineBytes:      strconv.FormatInt(length, 10),
	}
	return r
}

// offset is the source offset of a record ending just before next.
func (t *SourceTask) offset(next int64) map[string]any {
	if t.id == "" {
		return map[string]any{OffsetKey: next}
	}
	return map[string]any{OffsetKey: next, FileIDKey: t.id}
}

// storedFileID returns the FileIDKey of a committed offset, "" when it has none (nothing committed, or an
// offset stored by an earlier version or by hand).
func storedFileID(off map[string]any) (string, error) {
	v, ok := off[FileIDKey]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%w: %s=%v (%T)", ErrBadPosition, FileIDKey, v, v)
	}
	return s, nil
}

// Commit does nothing: the file is left as it is.
func (t *SourceTask) Commit(context.Context) error { return nil }

// Stop makes a blocked Poll return and closes the file. It is idempotent and safe without Start.
func (t *SourceTask) Stop(context.Context) error {
	t.stopOnce.Do(func() { close(t.stopped) })
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f == nil {
		return nil
	}
	err := t.f.Close()
	t.f = nil
	if err != nil {
		return fmt.Errorf("file-source: close %s: %w", t.path, err)
	}
	return nil
}
