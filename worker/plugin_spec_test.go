package worker

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/builtin"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/generator"
	"github.com/rmqconnect/rmqconnect/plugins/external"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// pluginHerder is a standalone herder whose RocketMQ client reaches no broker (validation
// calls none), over the built-in plugins plus the connectors of the plugin binaries built
// from pkgs (name → package), served out of process; extra registers more in-process
// connectors first.
func pluginHerder(t *testing.T, pkgs map[string]string, extra func(*plugins.Registry)) (*Standalone, *plugins.Registry) {
	t.Helper()
	bin := t.TempDir()
	for name, pkg := range pkgs {
		out, err := exec.Command("go", "build", "-o", filepath.Join(bin, name), pkg).CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	reg, err := builtin.Registry()
	require.NoError(t, err)
	if extra != nil {
		extra(reg)
	}
	m := external.New(reg, external.Options{Dirs: []string{bin}, Logger: quiet()})
	t.Cleanup(m.Close)
	rep, err := m.Reload(context.Background())
	require.NoError(t, err)
	require.Empty(t, rep.Refused)
	c, err := rmqclient.New(rmqclient.Config{NameServers: []string{"127.0.0.1:1"}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	h, err := NewStandalone(StandaloneConfig{WorkerID: "w", StoreDir: t.TempDir(), KeyConverter: "string", ValueConverter: "string"}, c, reg, quiet())
	require.NoError(t, err)
	return h, reg
}

// TestValidatePluginNamesEveryKeyAsBuiltin: the generator source served by the example plugin
// is validated as the built-in one is. A mistyped value (batch.size) next to a value its
// validator refuses (an empty topic) is refused for both keys, by the validate route and by a
// create, although the worker's copy of the plugin's spec runs no validators.
func TestValidatePluginNamesEveryKeyAsBuiltin(t *testing.T) {
	h, reg := pluginHerder(t, map[string]string{"lines": "github.com/rmqconnect/rmqconnect/plugins/examples/lines"}, nil)
	const plugin = "example-generator-source"
	ctx := context.Background()

	for _, cfg := range []map[string]string{
		{"name": "g", generator.KeyTopic: "", generator.KeyBatchSize: "x"},
		{"name": "g", generator.KeyTopic: "", generator.KeyBatchSize: "x", generator.KeyRate: "fast"},
		{"name": "g", generator.KeyBatchSize: "x", generator.KeyRecordSize: "-1"},
		{"name": "g", generator.KeyTopic: "t", generator.KeyBatchSize: "0"},
		{"name": "g", generator.KeyTopic: "t"},
	} {
		errsOf := func(class string) map[string][]string {
			res, err := h.ValidateConfig(ctx, class, cfg)
			require.NoError(t, err)
			out := map[string][]string{}
			n := 0
			for _, ci := range res.Configs {
				if len(ci.Value.Errors) > 0 {
					out[ci.Definition.Name] = ci.Value.Errors
					n += len(ci.Value.Errors)
				}
			}
			require.Equal(t, n, res.ErrorCount)
			return out
		}
		want := errsOf(generator.SourceName)
		require.Equal(t, want, errsOf(plugin), "validate %v", cfg)

		// A create reports the same problems, each once, in the same order.
		created := func(class string) []string {
			c := copyMap(cfg)
			c["connector.class"] = class
			_, _, err := validateConnectorConfig(reg, "g", c, connectorDefaults{keyConverter: "string", valueConverter: "string"}, noSecrets{})
			var out []string
			for _, p := range cfgerr.Flatten(err) {
				out = append(out, p.Error())
			}
			return out
		}
		require.Equal(t, created(generator.SourceName), created(plugin), "create %v", cfg)
	}
	want := map[string]bool{generator.KeyTopic: true, generator.KeyBatchSize: true}
	res, err := h.ValidateConfig(ctx, plugin, map[string]string{"name": "g", generator.KeyTopic: "", generator.KeyBatchSize: "x"})
	require.NoError(t, err)
	got := map[string]bool{}
	for _, ci := range res.Configs {
		if len(ci.Value.Errors) > 0 {
			got[ci.Definition.Name] = true
			require.Len(t, ci.Value.Errors, 1, "%s: each problem once: %v", ci.Definition.Name, ci.Value.Errors)
		}
	}
	require.Equal(t, want, got)
}

// probeFields are the defaults the probe test plugin (plugins/external/testdata/probe)
// declares, whose text form is not fmt's.
var probeFields = []plugins.Field{
	{Name: "out", Type: plugins.TypeString, Required: true},
	{Name: "probe.interval", Type: plugins.TypeDuration, Default: 30 * time.Second},
	{Name: "probe.linger", Type: plugins.TypeDuration, Default: 1500 * time.Microsecond},
	{Name: "probe.tags", Type: plugins.TypeList, Default: []string{"a", "b"}},
}

type probeSpecConnector struct{ memConnector }

func (*probeSpecConnector) Spec() *plugins.ConfigSpec        { return plugins.MustConfigSpec(probeFields...) }
func (*probeSpecConnector) Validate(map[string]string) error { return nil }

// TestPluginConfigDefaultsAsBuiltin: GET /connector-plugins/{name}/config shows the defaults of
// a plugin connector as those of a built-in one with the same spec, and in the text a config
// accepts: a duration in Go syntax, sub-millisecond part kept, and a list comma separated (as
// Kafka Connect shows one). The validate answer shows them as the values of keys left unset.
func TestPluginConfigDefaultsAsBuiltin(t *testing.T) {
	h, _ := pluginHerder(t, map[string]string{"probe": "github.com/rmqconnect/rmqconnect/plugins/external/testdata/probe"},
		func(reg *plugins.Registry) {
			require.NoError(t, reg.Register(plugins.KindSource, "builtin-probe-source", nil, func() plugins.Connector {
				return &probeSpecConnector{}
			}))
		})
	ctx := context.Background()
	want := map[string]string{"probe.interval": "30s", "probe.linger": "1.5ms", "probe.tags": "a,b"}
	classes := []string{"builtin-probe-source", "probe-source"}
	shown := func(class string) (defaults, values map[string]string) {
		defs, err := h.PluginConfig(ctx, class)
		require.NoError(t, err)
		defaults = map[string]string{}
		for _, d := range defs {
			if _, ok := want[d.Name]; ok && d.DefaultValue != nil {
				defaults[d.Name] = *d.DefaultValue
			}
		}
		res, err := h.ValidateConfig(ctx, class, map[string]string{"name": "p", "out": "x"})
		require.NoError(t, err)
		require.Zero(t, res.ErrorCount, "%+v", res)
		values = map[string]string{}
		for _, ci := range res.Configs {
			if _, ok := want[ci.Definition.Name]; ok && ci.Value.Value != nil {
				values[ci.Definition.Name] = *ci.Value.Value
			}
		}
		return defaults, values
	}
	wantAll, defaults, values := map[string]map[string]string{}, map[string]map[string]string{}, map[string]map[string]string{}
	for _, class := range classes {
		wantAll[class] = want
		defaults[class], values[class] = shown(class)
	}
	require.Equal(t, wantAll, defaults, "GET .../config default_value")
	require.Equal(t, wantAll, values, "validate: the value of a key left unset")

	// Pasted back into a config, each shown default is the default.
	spec := plugins.MustConfigSpec(probeFields...)
	cfg := map[string]string{"out": "x"}
	for k, v := range want {
		cfg[k] = v
	}
	vals, err := spec.Parse(cfg)
	require.NoError(t, err)
	for _, f := range probeFields[1:] {
		v, _ := vals.Get(f.Name)
		require.Equal(t, f.Default, v, f.Name)
	}
}
