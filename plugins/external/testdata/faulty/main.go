// Command faulty is a test plugin whose source fails on purpose: its first Poll (while the
// file named by "marker" does not exist) crashes the process, hangs, or works ("none"), as
// "fault" says; later polls emit a record numbered from 0 each. It logs one record at Start.
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
	plugins.Field{Name: "fault", Type: plugins.TypeString, Default: "none", Validators: []plugins.Validator{plugins.OneOf("none", "crash", "hang")}},
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

type task struct {
	fault, marker string
	n             int64
}

func (t *task) Start(_ context.Context, tctx plugins.SourceTaskContext, _ map[string]string) error {
	t.fault, t.marker = tctx.Config().String("fault"), tctx.Config().String("marker")
	tctx.Logger().Info("faulty task started", "fault", t.fault, "pid", os.Getpid())
	return nil
}

func (t *task) Poll(ctx context.Context) ([]*schema.Record, error) {
	if _, err := os.Stat(t.marker); os.IsNotExist(err) {
		if err := os.WriteFile(t.marker, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			return nil, err
		}
		switch t.fault {
		case "crash":
			// A panic on a goroutine of its own ends the process (the SDK recovers the
			// ones of calls).
			go func() { panic("faulty plugin crashes on purpose") }()
			select {}
		case "hang":
			select {} // ignores ctx: a hung plugin
		}
	}
	t.n++
	r := schema.NewRecord("faulty", nil, nil, schema.Int64Schema, t.n)
	r.SourcePartition = map[string]any{"p": "faulty"}
	r.SourceOffset = map[string]any{"n": t.n}
	return []*schema.Record{r}, ctx.Err()
}

func (t *task) Commit(context.Context) error { return nil }
func (t *task) Stop(context.Context) error   { return nil }

func main() {
	sdk.Serve(sdk.Plugin{Version: "0.0.1-test", Connectors: []sdk.Connector{
		{Kind: plugins.KindSource, Name: "faulty-source", New: func() plugins.Connector { return &connector{} }},
	}})
}
