package worker

import (
	"github.com/rmqconnect/rmqconnect/plugins/transforms"
	"github.com/rmqconnect/rmqconnect/schema/converter"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// builtinVersion is the version the REST API reports for plugins compiled into the worker.
const builtinVersion = "builtin"

// nonConnectorPlugins lists the transforms, predicates and converters a connector config can
// name: the registries connector configs are checked and run against (transforms.Builtins,
// converter.New), so the list never shows a name the worker would reject. Each kind is sorted
// by name; the aliases are the other names the worker accepts for the plugin (Java class names).
func nonConnectorPlugins() []restapi.PluginInfo {
	reg := transforms.Builtins()
	var out []restapi.PluginInfo
	for _, t := range reg.Transforms() {
		out = append(out, restapi.PluginInfo{Class: t.Name, Type: restapi.PluginTransformation, Version: builtinVersion, Aliases: t.Aliases})
	}
	for _, p := range reg.Predicates() {
		out = append(out, restapi.PluginInfo{Class: p.Name, Type: restapi.PluginPredicate, Version: builtinVersion, Aliases: p.Aliases})
	}
	aliases := map[string][]string{}
	for _, n := range converter.Names() {
		if short, ok := converter.Canonical(n); ok && short != n {
			aliases[short] = append(aliases[short], n)
		}
	}
	for _, n := range converter.ShortNames() {
		out = append(out, restapi.PluginInfo{Class: n, Type: restapi.PluginConverter, Version: builtinVersion, Aliases: aliases[n]})
	}
	return out
}
