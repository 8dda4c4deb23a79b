package worker

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins/builtin"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

func TestValidateAndPluginConfig(t *testing.T) {
	c, err := rmqclient.New(rmqclient.Config{NameServers: []string{"127.0.0.1:1"}})
	require.NoError(t, err)
	defer c.Close()
	reg, err := builtin.Registry()
	require.NoError(t, err)
	h, err := NewStandalone(StandaloneConfig{WorkerID: "w", StoreDir: t.TempDir(), KeyConverter: "string", ValueConverter: "string"}, c, reg, quiet())
	require.NoError(t, err)
	ctx := context.Background()

	defs, err := h.PluginConfig(ctx, "file-sink")
	require.NoError(t, err)
	names := map[string]bool{}
	for _, d := range defs {
		names[d.Name] = true
	}
	for _, k := range []string{"name", "connector.class", "connect.topicnames", "errors.tolerance", "filename"} {
		require.True(t, names[k], k)
	}
	_, err = h.PluginConfig(ctx, "nope")
	require.ErrorIs(t, err, restapi.ErrNotFound)

	res, err := h.ValidateConfig(ctx, "file-sink", map[string]string{"name": "s", "max.tasks": "many", "errors.tolerance": "some"})
	require.NoError(t, err)
	errsOf := map[string][]string{}
	for _, ci := range res.Configs {
		errsOf[ci.Definition.Name] = ci.Value.Errors
	}
	require.NotEmpty(t, errsOf["max.tasks"])
	require.NotEmpty(t, errsOf["errors.tolerance"])
	require.NotEmpty(t, errsOf["connect.topicnames"])
	require.NotEmpty(t, errsOf["filename"], "the plugin's own required key")
	require.Empty(t, errsOf["name"])
	require.GreaterOrEqual(t, res.ErrorCount, 4)

	ok, err := h.ValidateConfig(ctx, "org.apache.rocketmq.connect.file.FileSinkConnector", map[string]string{
		"name": "s", "connector.class": "file-sink", "connect.topicnames": "t", "filename": "/tmp/x"})
	require.NoError(t, err)
	require.Zero(t, ok.ErrorCount, "%+v", ok)

	_, err = h.ValidateConfig(ctx, "file-sink", map[string]string{"connector.class": "file-source"})
	require.ErrorIs(t, err, cfgerr.ErrInvalid)
}
