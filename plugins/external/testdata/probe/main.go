// Command probe is a test plugin that exercises every context of the SPI through the
// protocol: its connector asks for a task reconfiguration and raises an error, its source
// task is a RecordCommitter that writes what it is told to a file, and its sink task is a
// PreCommitter and QueueListener that reports records valued "bad", pauses and resumes its
// queues and writes what it sees to a file. Every instance logs one record with attributes.
package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"sync"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/sdk"
	"github.com/rmqconnect/rmqconnect/schema"
)

// spec also declares defaults of the types whose text form is not fmt's (the worker shows
// them as it shows a built-in connector's): they are never read.
var spec = plugins.MustConfigSpec(
	plugins.Field{Name: "out", Type: plugins.TypeString, Required: true},
	plugins.Field{Name: "probe.interval", Type: plugins.TypeDuration, Default: 30 * time.Second},
	plugins.Field{Name: "probe.linger", Type: plugins.TypeDuration, Default: 1500 * time.Microsecond},
	plugins.Field{Name: "probe.tags", Type: plugins.TypeList, Default: []string{"a", "b"}},
)

type connector struct{ cfg map[string]string }

func (c *connector) Spec() *plugins.ConfigSpec        { return spec }
func (c *connector) Validate(map[string]string) error { return nil }
func (c *connector) Start(_ context.Context, cctx plugins.ConnectorContext, cfg map[string]string) error {
	c.cfg = maps.Clone(cfg)
	cctx.Logger().Info("probe connector started", "probe.attr", "v1", "probe.id", int64(1)<<60+1, "probe.ratio", 0.25)
	cctx.RequestTaskReconfiguration()
	cctx.RaiseError(plugins.Retriable(errors.New("probe raised")))
	return nil
}
func (c *connector) TaskConfigs(n int) ([]map[string]string, error) {
	out := make([]map[string]string, n)
	for i := range out {
		out[i] = maps.Clone(c.cfg)
	}
	return out, nil
}
func (c *connector) Stop(context.Context) error        { return nil }
func (c *connector) NewSourceTask() plugins.SourceTask { return &source{} }
func (c *connector) NewSinkTask() plugins.SinkTask     { return &sink{} }

type sinkConnector struct{ connector }

type writer struct {
	mu  sync.Mutex
	out string
}

func (w *writer) write(format string, args ...any) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	f, err := os.OpenFile(w.out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, format+"\n", args...)
	return err
}

type source struct {
	writer
	n int64
}

func (s *source) Start(ctx context.Context, tctx plugins.SourceTaskContext, _ map[string]string) error {
	s.out = tctx.Config().String("out")
	off, err := tctx.Positions().Position(ctx, map[string]any{"p": "probe"})
	if err != nil {
		return err
	}
	if off != nil {
		s.n = off["n"].(int64)
	}
	// A partition of an int: the engine answers with the task's own map, as in its process.
	typed, err := tctx.Positions().Positions(ctx, []map[string]any{{"p": "none"}, {"p": "typed", "n": 7}})
	if err != nil {
		return err
	}
	for _, pp := range typed {
		if err := s.write("typed position %T %v", pp.Partition["n"], pp.Offset["at"]); err != nil {
			return err
		}
	}
	tctx.Logger().Debug("probe source started", "from", s.n)
	return s.write("env %q", os.Getenv("RMQCONNECT_PROBE_SECRET"))
}

func (s *source) Poll(context.Context) ([]*schema.Record, error) {
	s.n++
	r := schema.NewRecord("probe", nil, nil, schema.Int64Schema, s.n)
	r.SourcePartition = map[string]any{"p": "probe"}
	r.SourceOffset = map[string]any{"n": s.n}
	return []*schema.Record{r}, nil
}

func (s *source) CommitRecord(_ context.Context, r *schema.Record, md *plugins.RecordMetadata) error {
	if md == nil {
		return s.write("commit %v dropped", r.Value)
	}
	return s.write("commit %v %s/%d@%d", r.Value, md.Topic, md.QueueID, md.QueueOffset)
}

func (s *source) Commit(context.Context) error { return nil }
func (s *source) Stop(context.Context) error   { return nil }

type sink struct {
	writer
	tctx plugins.SinkTaskContext
}

func (s *sink) Start(_ context.Context, tctx plugins.SinkTaskContext, _ map[string]string) error {
	s.out, s.tctx = tctx.Config().String("out"), tctx
	return s.write("assignment %v", tctx.Assignment())
}

func (s *sink) Put(ctx context.Context, records []*schema.Record) error {
	for _, r := range records {
		if r.Value == "bad" {
			if err := s.tctx.ErrantRecordReporter().Report(ctx, r, errors.New("probe rejects bad")); err != nil {
				return err
			}
			continue
		}
		if err := s.write("put %v", r.Value); err != nil {
			return err
		}
	}
	q := s.tctx.Assignment()
	s.tctx.Pause(q...)
	s.tctx.Resume(q...)
	s.tctx.ResetOffsets(map[plugins.Queue]int64{q[0]: 5})
	return nil
}

func (s *sink) Flush(context.Context, map[plugins.Queue]int64) error {
	return errors.New("PreCommit replaces Flush")
}

func (s *sink) PreCommit(_ context.Context, offsets map[plugins.Queue]int64) (map[plugins.Queue]int64, error) {
	out := map[plugins.Queue]int64{}
	for q, o := range offsets {
		out[q] = o - 1
	}
	return out, nil
}

func (s *sink) Open(_ context.Context, qs []plugins.Queue) error  { return s.write("open %v", qs) }
func (s *sink) Close(_ context.Context, qs []plugins.Queue) error { return s.write("close %v", qs) }
func (s *sink) Stop(context.Context) error                        { return nil }

func main() {
	sdk.Serve(sdk.Plugin{Version: "0.0.1-test", Connectors: []sdk.Connector{
		{Kind: plugins.KindSource, Name: "probe-source", New: func() plugins.Connector { return &connector{} }},
		{Kind: plugins.KindSink, Name: "probe-sink", New: func() plugins.Connector { return &sinkConnector{} }},
	}})
}
