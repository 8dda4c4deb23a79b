package worker

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/transforms"
	"github.com/rmqconnect/rmqconnect/schema/converter"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// TestPluginsListsEveryKind: Plugins lists the connectors, then every transform, predicate and
// converter a connector config can name, each with its Kafka Connect type and its aliases.
func TestPluginsListsEveryKind(t *testing.T) {
	h, err := NewStandalone(StandaloneConfig{StoreDir: t.TempDir()}, nil, testRegistry(), quiet())
	require.NoError(t, err)
	ps, err := h.Plugins(context.Background())
	require.NoError(t, err)

	byType := map[string][]string{}
	byClass := map[string]restapi.PluginInfo{}
	for _, p := range ps {
		require.NotEmpty(t, p.Class)
		require.NotEmpty(t, p.Version, p.Class)
		_, dup := byClass[p.Type+" "+p.Class]
		require.False(t, dup, "%s %s is listed twice", p.Type, p.Class)
		byClass[p.Type+" "+p.Class] = p
		byType[p.Type] = append(byType[p.Type], p.Class)
	}
	var kinds []string
	for _, p := range ps {
		if len(kinds) == 0 || kinds[len(kinds)-1] != p.Type {
			kinds = append(kinds, p.Type)
		}
	}
	require.Equal(t, []string{"sink", "source", restapi.PluginTransformation, restapi.PluginPredicate, restapi.PluginConverter}, kinds,
		"connectors (mem-sink, mem-source) come first, then each other kind together")
	require.Equal(t, restapi.PluginInfo{Class: "mem-source", Type: "source", Version: "builtin", Aliases: []string{"org.example.MemSource"}}, ps[1])

	reg := transforms.Builtins()
	require.Len(t, byType[restapi.PluginTransformation], len(reg.Transforms()))
	require.Len(t, byType[restapi.PluginPredicate], len(reg.Predicates()))
	require.Equal(t, converter.ShortNames(), byType[restapi.PluginConverter])
	for typ, classes := range byType {
		for _, c := range classes {
			p := byClass[typ+" "+c]
			switch typ {
			case restapi.PluginTransformation:
				_, err := reg.NewTransform(c)
				require.NoError(t, err, c)
				for _, a := range p.Aliases {
					_, err := reg.NewTransform(a)
					require.NoError(t, err, "%s alias %s", c, a)
				}
			case restapi.PluginPredicate:
				_, err := reg.NewPredicate(c)
				require.NoError(t, err, c)
			case restapi.PluginConverter:
				for _, a := range p.Aliases {
					short, ok := converter.Canonical(a)
					require.True(t, ok && short == c, "%s alias %s", c, a)
				}
			}
		}
	}
	require.Equal(t, []string{"org.apache.kafka.connect.transforms.InsertField$Value"},
		byClass[restapi.PluginTransformation+" InsertField$Value"].Aliases)
	require.Contains(t, byClass[restapi.PluginConverter+" json"].Aliases, "org.apache.kafka.connect.json.JsonConverter")
	require.Contains(t, byType[restapi.PluginPredicate], "TopicNameMatches")
}
