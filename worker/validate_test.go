package worker

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins/builtin"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// validateHerder is a standalone herder of the built-in plugins whose RocketMQ client reaches
// no broker: validation calls none.
func validateHerder(t *testing.T) *Standalone {
	t.Helper()
	c, err := rmqclient.New(rmqclient.Config{NameServers: []string{"127.0.0.1:1"}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	reg, err := builtin.Registry()
	require.NoError(t, err)
	h, err := NewStandalone(StandaloneConfig{WorkerID: "w", StoreDir: t.TempDir(), KeyConverter: "string", ValueConverter: "string"}, c, reg, quiet())
	require.NoError(t, err)
	return h
}

func TestValidateAndPluginConfig(t *testing.T) {
	h := validateHerder(t)
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

// The keys nothing reads are the answer's warnings, each with the key likely meant or why it
// has no effect; they never count as errors, and the answer has no warnings field without them.
func TestValidateConfigWarnsOfUnusedKeys(t *testing.T) {
	h := validateHerder(t)
	ctx := context.Background()
	valid := map[string]string{"name": "s", "connect.topicnames": "t", "filename": "/tmp/x"}

	res, err := h.ValidateConfig(ctx, "file-sink", with(valid, "filenmae", "/tmp/y", "topics.regex", "t.*", "zzz.unknown.key", "1"))
	require.NoError(t, err)
	require.Zero(t, res.ErrorCount, "warnings are not errors: %+v", res)
	require.Equal(t, []restapi.ConfigWarning{
		{Key: "filenmae", Message: "not read by the runtime or the connector; did you mean filename?", Suggestion: "filename"},
		{Key: "topics.regex", Message: "not read by the runtime or the connector; " + notReadNote("topics.regex")},
		{Key: "zzz.unknown.key", Message: "not read by the runtime or the connector"},
	}, res.Warnings)
	b, err := json.Marshal(res)
	require.NoError(t, err)
	var wire struct {
		Warnings []map[string]string `json:"warnings"`
	}
	require.NoError(t, json.Unmarshal(b, &wire))
	require.Equal(t, map[string]string{"key": "zzz.unknown.key", "message": "not read by the runtime or the connector"},
		wire.Warnings[2], "a warning without a suggestion has no suggestion field")

	res, err = h.ValidateConfig(ctx, "file-sink", valid)
	require.NoError(t, err)
	require.Empty(t, res.Warnings)
	b, err = json.Marshal(res)
	require.NoError(t, err)
	require.NotContains(t, string(b), `"warnings"`, "no warnings, no field: the answer is Kafka Connect's")

	// A typo of a required key is an error (the key is missing) and a warning (the typo):
	// the error count is that of the config without the typo.
	missing := map[string]string{"name": "s", "connect.topicnames": "t"}
	without, err := h.ValidateConfig(ctx, "file-sink", missing)
	require.NoError(t, err)
	require.Positive(t, without.ErrorCount)
	res, err = h.ValidateConfig(ctx, "file-sink", with(missing, "filenmae", "/tmp/x"))
	require.NoError(t, err)
	require.Equal(t, without.ErrorCount, res.ErrorCount)
	require.Equal(t, []restapi.ConfigWarning{
		{Key: "filenmae", Message: "not read by the runtime or the connector; did you mean filename?", Suggestion: "filename"},
	}, res.Warnings)
}
