package worker

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
)

// A connector's Spec may default the engine's converter and ordering keys: a config that
// leaves them unset gets the connector's defaults before the worker's, one that sets them
// keeps its own.
func TestSpecDefaultsEngineKeys(t *testing.T) {
	spec := plugins.MustConfigSpec(
		plugins.Field{Name: "value.converter", Type: plugins.TypeString, Default: "bytearray"},
		plugins.Field{Name: "ordering.msg.enable", Type: plugins.TypeBoolean, Default: true},
		plugins.Field{Name: "other", Type: plugins.TypeString, Default: "x"},
	)
	d := connectorDefaults{keyConverter: "string", valueConverter: "json"}
	got := d.withDefaults(map[string]string{"a": "b"}, spec)
	require.Equal(t, map[string]string{"a": "b", "key.converter": "string", "value.converter": "bytearray",
		"ordering.msg.enable": "true"}, got)
	got = d.withDefaults(map[string]string{"value.converter": "string", "ordering.msg.enable": "false"}, spec)
	require.Equal(t, "string", got["value.converter"])
	require.Equal(t, "false", got["ordering.msg.enable"])
	require.Equal(t, "json", d.withDefaults(nil, nil)["value.converter"])
}
