package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"sync"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
)

// Connector names.
const (
	SourceName = "example-line-source"
	SinkName   = "example-line-sink"
)

// Config keys.
const (
	KeyFile  = "file"
	KeyTopic = "topic"
	KeyBatch = "batch.size"
)

var sourceSpec = plugins.MustConfigSpec(
	plugins.Field{Name: KeyFile, Type: plugins.TypeString, Required: true, Validators: []plugins.Validator{plugins.NonEmpty()},
		Doc: "File whose lines become records, one per line, in order."},
	plugins.Field{Name: KeyTopic, Type: plugins.TypeString, Default: "lines", Doc: "Topic of the records."},
	plugins.Field{Name: KeyBatch, Type: plugins.TypeInt, Default: 100, Validators: []plugins.Validator{plugins.Between(1, 10000)},
		Doc: "Most records one poll returns."},
)

var sinkSpec = plugins.MustConfigSpec(
	plugins.Field{Name: KeyFile, Type: plugins.TypeString, Required: true, Validators: []plugins.Validator{plugins.NonEmpty()},
		Doc: "File the record values are appended to, one per line."},
)

type sourceConnector struct{ cfg map[string]string }

func (c *sourceConnector) Spec() *plugins.ConfigSpec { return sourceSpec }
func (c *sourceConnector) Validate(map[string]string) error {
	return nil
}
func (c *sourceConnector) Start(_ context.Context, _ plugins.ConnectorContext, cfg map[string]string) error {
	c.cfg = maps.Clone(cfg)
	return nil
}

// TaskConfigs gives one task: a file is read in order by one reader.
func (c *sourceConnector) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{maps.Clone(c.cfg)}, nil
}
func (c *sourceConnector) Stop(context.Context) error        { return nil }
func (c *sourceConnector) NewSourceTask() plugins.SourceTask { return &sourceTask{} }

// sourceTask emits the lines of a file; the position is the number of lines read.
type sourceTask struct {
	path, topic string
	batch       int
	f           *os.File
	r           *bufio.Reader
	line        int64
	partial     string
	// held are the records of lines read by a Poll that then failed: the engine drops records
	// returned with an error, and the reader cannot give the lines again, so the next Poll
	// returns them first.
	held []*schema.Record
}

func (t *sourceTask) Start(ctx context.Context, tctx plugins.SourceTaskContext, _ map[string]string) error {
	vals := tctx.Config()
	t.path, t.topic, t.batch = vals.String(KeyFile), vals.String(KeyTopic), vals.Int(KeyBatch)
	off, err := tctx.Positions().Position(ctx, map[string]any{"file": t.path})
	if err != nil {
		return err
	}
	var skip int64
	if off != nil {
		switch n := off["line"].(type) {
		case int64:
			skip = n
		case float64:
			skip = int64(n)
		}
	}
	f, err := os.Open(t.path)
	if err != nil {
		return plugins.Retriable(fmt.Errorf("open %s: %w", t.path, err))
	}
	t.f, t.r = f, bufio.NewReader(f)
	for t.line < skip {
		if _, err := t.r.ReadString('\n'); err != nil {
			return fmt.Errorf("skip to line %d of %s: %w", skip, t.path, err)
		}
		t.line++
	}
	tctx.Logger().Info("reading", "file", t.path, "from_line", t.line)
	return nil
}

func (t *sourceTask) Poll(ctx context.Context) ([]*schema.Record, error) {
	if t.r == nil {
		return nil, errors.New("task not started")
	}
	out := t.held
	t.held = nil
	for len(out) < t.batch {
		s, err := t.r.ReadString('\n')
		if errors.Is(err, io.EOF) {
			t.partial += s // an unterminated last line waits for its end
			break
		}
		if err != nil {
			t.partial += s // what was read of the line before the error
			t.held = out
			return nil, plugins.Retriable(err)
		}
		text := t.partial + s[:len(s)-1]
		t.partial = ""
		t.line++
		r := schema.NewRecord(t.topic, nil, nil, schema.StringSchema, text)
		r.SourcePartition = map[string]any{"file": t.path}
		r.SourceOffset = map[string]any{"line": t.line}
		out = append(out, r)
	}
	if len(out) == 0 {
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	return out, nil
}

func (t *sourceTask) Commit(context.Context) error { return nil }

func (t *sourceTask) Stop(context.Context) error {
	if t.f != nil {
		err := t.f.Close()
		t.f, t.r = nil, nil
		return err
	}
	return nil
}

type sinkConnector struct{ cfg map[string]string }

func (c *sinkConnector) Spec() *plugins.ConfigSpec { return sinkSpec }
func (c *sinkConnector) Validate(map[string]string) error {
	return nil
}
func (c *sinkConnector) Start(_ context.Context, _ plugins.ConnectorContext, cfg map[string]string) error {
	c.cfg = maps.Clone(cfg)
	return nil
}
func (c *sinkConnector) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{maps.Clone(c.cfg)}, nil
}
func (c *sinkConnector) Stop(context.Context) error    { return nil }
func (c *sinkConnector) NewSinkTask() plugins.SinkTask { return &sinkTask{} }

// sinkTask buffers values and appends them to the file on Flush.
type sinkTask struct {
	mu      sync.Mutex
	f       *os.File
	pending []byte
}

func (t *sinkTask) Start(_ context.Context, tctx plugins.SinkTaskContext, _ map[string]string) error {
	f, err := os.OpenFile(tctx.Config().String(KeyFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return plugins.Retriable(err)
	}
	t.f = f
	return nil
}

func (t *sinkTask) Put(_ context.Context, records []*schema.Record) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f == nil {
		return errors.New("task not running")
	}
	for _, r := range records {
		t.pending = fmt.Appendf(t.pending, "%v\n", r.Value)
	}
	return nil
}

func (t *sinkTask) Flush(context.Context, map[plugins.Queue]int64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f == nil {
		return errors.New("task not running")
	}
	if _, err := t.f.Write(t.pending); err != nil {
		return plugins.Retriable(err)
	}
	t.pending = t.pending[:0]
	return t.f.Sync()
}

func (t *sinkTask) Stop(context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f == nil {
		return nil
	}
	_, err := t.f.Write(t.pending)
	t.pending = nil
	err = errors.Join(err, t.f.Close())
	t.f = nil
	return err
}
