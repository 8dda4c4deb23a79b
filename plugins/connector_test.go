package plugins

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIdenticalTaskConfigs(t *testing.T) {
	cfg := map[string]string{"topics": "a"}
	out := IdenticalTaskConfigs(cfg, 3)
	require.Len(t, out, 3)
	out[0]["task.id"] = "0"
	require.Equal(t, map[string]string{"topics": "a"}, out[1], "copies are independent")
	require.Equal(t, map[string]string{"topics": "a"}, cfg, "the connector's config is untouched")
	require.Len(t, IdenticalTaskConfigs(cfg, 0), 1, "at least one task")
	require.NotNil(t, IdenticalTaskConfigs(nil, 1)[0], "a nil config gives an empty map the engine can add to")
}
