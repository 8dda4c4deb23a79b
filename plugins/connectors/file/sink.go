package file

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"os"
	"sync"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/schema/converter"
)

var sinkSpec = plugins.MustConfigSpec(
	plugins.Field{Name: KeyFilename, Type: plugins.TypeString, Required: true, Aliases: []string{"file"}, Path: true,
		Validators: []plugins.Validator{plugins.NonEmpty()},
		Doc:        "Path of the file records are appended to, one line per record; created when missing."},
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

// Validate checks cfg against Spec.
func (c *SinkConnector) Validate(cfg map[string]string) error {
	_, err := sinkSpec.Parse(cfg)
	return err
}

// Start keeps cfg for TaskConfigs.
func (c *SinkConnector) Start(_ context.Context, _ plugins.ConnectorContext, cfg map[string]string) error {
	if err := c.Validate(cfg); err != nil {
		return err
	}
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
type SinkTask struct {
	mu      sync.Mutex
	tctx    plugins.SinkTaskContext
	path    string
	f       *os.File
	w       *bufio.Writer
	json    *converter.JSONConverter
	stopped bool
}

// NewSinkTask returns an unstarted file-sink task.
func NewSinkTask() *SinkTask { return &SinkTask{} }

var _ plugins.SinkTask = (*SinkTask)(nil)

// Start opens (creating it when missing) the file for appending.
func (t *SinkTask) Start(_ context.Context, tctx plugins.SinkTaskContext, cfg map[string]string) error {
	vals, err := sinkSpec.Parse(cfg)
	if err != nil {
		return err
	}
	path := vals.String(KeyFilename)
	jc := converter.NewJSONConverter()
	if err := jc.Configure(map[string]string{"schemas.enable": "false"}, false); err != nil {
		return fmt.Errorf("file-sink: configure json: %w", err)
	}
	f, err := openFile(tctx, path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
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
	t.w = bufio.NewWriterSize(f, 256<<10)
	return nil
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
			return err
		}
	}
	return nil
}

func (t *SinkTask) usable(op string) error {
	if t.stopped {
		return fmt.Errorf("file-sink: %s: %w", op, ErrStopped)
	}
	if t.f == nil {
		return fmt.Errorf("file-sink: %s: %w", op, ErrNotStarted)
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
		return fmt.Errorf("file-sink: write %s: %w", t.path, err)
	}
	if err := t.f.Sync(); err != nil {
		return fmt.Errorf("file-sink: fsync %s: %w", t.path, err)
	}
	return nil
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
