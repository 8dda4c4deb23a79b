// Command faulty is a test plugin whose source and sink fail on purpose: the source's first Poll
// and the sink's first Put (while the file named by "marker" does not exist) crash the process,
// hang, or work ("none"), as "fault" says; later polls emit a record numbered from 0 each, later
// Puts succeed. Its source task logs one record at Start.
package main

import (
	"context"
	"maps"
	"os"
	"strconv"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/sdk"
	"github.com/rmqconnect/rmqconnect/schema"
)

var spec = plugins.MustConfigSpec(
	plugins.Field{Name: "fault", Type: plugins.TypeString, Default: "none", Validators: []plugins.Validator{plugins.OneOf("none", "crash", "hang", "block")}},
	plugins.Field{Name: "marker", Type: plugins.TypeString, Required: true},
)

type connector struct{ cfg map[string]string }

func (c *connector) Spec() *plugins.ConfigSpec        { return spec }
func (c *connector) Validate(map[string]string) error { return nil }
func (c *connector) Start(_ context.Context, _ plugins.ConnectorContext, cfg map[string]string) error {
	c.cfg = maps.Clone(cfg)
	return nil
}
func (c *connector) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{maps.Clone(c.cfg)}, nil
}
func (c *connector) Stop(context.Context) error        { return nil }
func (c *connector) NewSourceTask() plugins.SourceTask { return &task{} }

type sinkConnector struct{ connector }

var _ plugins.SinkConnector = (*sinkConnector)(nil)

func (c *sinkConnector) NewSinkTask() plugins.SinkTask { return &sinkTask{} }

type task struct {
	fault, marker string
	n             int64
}

func (t *task) Start(_ context.Context, tctx plugins.SourceTaskContext, _ map[string]string) error {
	t.fault, t.marker = tctx.Config().String("fault"), tctx.Config().String("marker")
	tctx.Logger().Info("faulty task started", "fault", t.fault, "pid", os.Getpid())
	return nil
}

// fail does what fault says the first time (while marker does not exist).
func fail(fault, marker string) error {
	if _, err := os.Stat(marker); os.IsNotExist(err) {
		if err := os.WriteFile(marker, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			return err
		}
		switch fault {
		case "crash":
			// A panic on a goroutine of its own ends the process (the SDK recovers the
			// ones of calls).
			go func() { panic("faulty plugin crashes on purpose") }()
			select {}
		case "hang":
			select {} // ignores ctx: a hung plugin
		}
	}
	return nil
}

func (t *task) Poll(ctx context.Context) ([]*schema.Record, error) {
	if err := fail(t.fault, t.marker); err != nil {
		return nil, err
	}
	t.n++
	r := schema.NewRecord("faulty", nil, nil, schema.Int64Schema, t.n)
	r.SourcePartition = map[string]any{"p": "faulty"}
	r.SourceOffset = map[string]any{"n": t.n}
	return []*schema.Record{r}, ctx.Err()
}

func (t *task) Commit(context.Context) error { return nil }
func (t *task) Stop(context.Context) error   { return nil }

type sinkTask struct{ fault, marker string }

func (t *sinkTask) Start(_ context.Context, tctx plugins.SinkTaskContext, _ map[string]string) error {
	t.fault, t.marker = tctx.Config().String("fault"), tctx.Config().String("marker")
	return nil
}

func (t *sinkTask) Put(ctx context.Context, _ []*schema.Record) error {
	if t.fault == "block" {
		// A Put that waits for as long as the worker lets it (a slow write that honours ctx).
		<-ctx.Done()
		return ctx.Err()
	}
	if err := fail(t.fault, t.marker); err != nil {
		return err
	}
	return ctx.Err()
}

func (t *sinkTask) Flush(context.Context, map[plugins.Queue]int64) error { return nil }
func (t *sinkTask) Stop(context.Context) error                           { return nil }

func main() {
	sdk.Serve(sdk.Plugin{Version: "0.0.1-test", Connectors: []sdk.Connector{
		{Kind: plugins.KindSource, Name: "faulty-source", New: func() plugins.Connector { return &connector{} }},
		{Kind: plugins.KindSink, Name: "faulty-sink", New: func() plugins.Connector { return &sinkConnector{} }},
	}})
}
