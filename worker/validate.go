package worker

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// commonDefinitions are the keys the runtime reads for every connector of a kind.
func commonDefinitions(kind plugins.Kind) []restapi.ConfigDefinition {
	def := func(name, typ string, required bool, dflt, doc string) restapi.ConfigDefinition {
		d := restapi.ConfigDefinition{Name: name, Type: typ, Required: required, Importance: "HIGH", Documentation: doc,
			Group: "Common", Width: "NONE", DisplayName: name, Dependents: []string{}}
		if dflt != "" {
			d.DefaultValue = &dflt
		}
		return d
	}
	out := []restapi.ConfigDefinition{
		def("name", "STRING", true, "", "Connector name: 1-249 of letters, digits, '.', '_' or '-'."),
		def("connector.class", "STRING", true, "", "Connector plugin: short name or Java class alias."),
		def("max.tasks", "INT", false, "1", "Most tasks the connector may run (alias tasks.max)."),
		def("key.converter", "CLASS", false, "", "Key converter; the worker's keyConverter when unset."),
		def("value.converter", "CLASS", false, "", "Value converter; the worker's valueConverter when unset."),
		def("transforms", "LIST", false, "", "Aliases of the transforms to apply, in order."),
		def("predicates", "LIST", false, "", "Aliases of the predicates transforms may refer to."),
		def("ordering.msg.enable", "BOOLEAN", false, "false", "Keep per-key (else per source partition / per queue) order."),
		def("errors.tolerance", "STRING", false, "none", "none: a failed record fails the task; all: it is skipped."),
		def("errors.retry.timeout", "LONG", false, "0", "Milliseconds to retry retriable failures (-1: forever)."),
		def("errors.retry.delay.max.ms", "LONG", false, "60000", "Cap of the exponential retry delay."),
		def("errors.log.enable", "BOOLEAN", false, "false", "Log tolerated failures."),
		def("errors.log.include.messages", "BOOLEAN", false, "false", "Include a record preview in those logs."),
		def("errors.deadletterqueue.topic.name", "STRING", false, "", "Dead-letter queue topic."),
		def("errors.deadletterqueue.context.properties.enable", "BOOLEAN", false, "true", "Add __connect.errors.* properties to DLQ messages."),
	}
	if kind == plugins.KindSource {
		out = append(out, def("connect.topicname", "STRING", false, "", "Topic for records that name none."))
	} else {
		out = append(out,
			def("connect.topicnames", "LIST", true, "", "Topics to consume, ',' or ';' separated (alias topics)."),
			def("task.group.id", "STRING", false, "", "Consumer group; connect-<name> when unset."),
			def("consume.from.where", "STRING", false, "CONSUME_FROM_FIRST_OFFSET", "Where a new group starts."),
			def("consumer.batch.size", "INT", false, "512", "Most records per Put (1-1024)."),
		)
	}
	for i := range out {
		out[i].OrderInGroup = i + 1
	}
	return out
}

// pluginDefinitions turns a connector's ConfigSpec into definitions.
func pluginDefinitions(spec *plugins.ConfigSpec) []restapi.ConfigDefinition {
	if spec == nil {
		return nil
	}
	var out []restapi.ConfigDefinition
	for i, f := range spec.Fields() {
		d := restapi.ConfigDefinition{Name: f.Name, Type: strings.ToUpper(string(f.Type)), Required: f.Required, Importance: "MEDIUM",
			Documentation: f.Doc, Group: "Connector", OrderInGroup: i + 1, Width: "NONE", DisplayName: f.Name, Dependents: []string{}}
		// The parsed default in the text a config accepts, so that a plugin connector's (whose
		// spec crossed as text) shows as the same built-in connector's, and can be pasted back.
		if dflt, ok := spec.Default(f.Name); ok {
			s := plugins.FormatValue(dflt)
			if f.Secret || f.Type == plugins.TypePassword {
				s = plugins.HiddenValue
			}
			d.DefaultValue = &s
		}
		if len(f.Aliases) > 0 {
			d.Documentation = strings.TrimSpace(d.Documentation + " Aliases: " + strings.Join(f.Aliases, ", ") + ".")
		}
		out = append(out, d)
	}
	return out
}

// PluginConfig returns the config definitions of a connector plugin.
func (e *engine) PluginConfig(_ context.Context, plugin string) ([]restapi.ConfigDefinition, error) {
	info, err := e.registry.Lookup(plugin)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", plugin, restapi.ErrNotFound)
	}
	conn, err := e.registry.New(plugin)
	if err != nil {
		return nil, err
	}
	own := pluginDefinitions(conn.Spec())
	var out []restapi.ConfigDefinition
	for _, d := range commonDefinitions(info.Kind) {
		// A plugin that declares a common key (plugins.KeyOrdering) declares its own default.
		if !slices.ContainsFunc(own, func(o restapi.ConfigDefinition) bool { return o.Name == d.Name }) {
			out = append(out, d)
		}
	}
	for i := range out {
		out[i].OrderInGroup = i + 1
	}
	return append(out, own...), nil
}

// ValidateConfig checks a connector config for plugin without creating anything and
// reports every key's value and errors (secret values are masked), and as warnings, never
// counted as errors, the keys nothing reads (unusedKeys).
func (e *engine) ValidateConfig(ctx context.Context, plugin string, cfg map[string]string) (restapi.ConfigInfos, error) {
	defs, err := e.PluginConfig(ctx, plugin)
	if err != nil {
		return restapi.ConfigInfos{}, err
	}
	if cls := cfg["connector.class"]; cls != "" {
		a, errA := e.registry.Lookup(cls)
		b, _ := e.registry.Lookup(plugin)
		if errA != nil || a.Name != b.Name {
			return restapi.ConfigInfos{}, invalidConfig(cfg["name"], cfgerr.List{problem("connector.class", cls,
				fmt.Sprintf("does not match the plugin %s in the path", plugin))})
		}
	} else {
		cfg = copyMap(cfg)
		cfg["connector.class"] = plugin
	}
	name := cfg["name"]
	if name == "" {
		name = "validate"
	}
	errs := map[string][]string{}
	pc, _, err := validateConnectorConfig(e.registry, name, cfg, e.defaults, e.cfg.Secrets)
	if err != nil {
		if es := cfgerr.Flatten(err); len(es) > 0 {
			for _, p := range es {
				errs[p.Key] = append(errs[p.Key], p.Why())
			}
		} else {
			return restapi.ConfigInfos{}, err
		}
	}
	if cfg["name"] == "" {
		errs["name"] = append(errs["name"], "is required")
	}
	secret := map[string]bool{}
	if conn, err := e.registry.New(plugin); err == nil && conn.Spec() != nil {
		for _, f := range conn.Spec().Fields() {
			if f.Secret || f.Type == plugins.TypePassword {
				secret[f.Name] = true
			}
		}
	}
	out := restapi.ConfigInfos{Name: plugin, Groups: []string{"Common", "Connector"}}
	seen := map[string]bool{}
	for _, d := range defs {
		seen[d.Name] = true
		out.Configs = append(out.Configs, configInfo(d, cfg, errs[d.Name], secret[d.Name]))
	}
	var extra []string
	for k := range errs {
		if !seen[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		d := restapi.ConfigDefinition{Name: k, Type: "STRING", Importance: "LOW", Group: "Other", Width: "NONE", DisplayName: k, Dependents: []string{}}
		out.Configs = append(out.Configs, configInfo(d, cfg, errs[k], false))
	}
	for _, c := range out.Configs {
		out.ErrorCount += len(c.Value.Errors)
	}
	out.Warnings = configWarnings(pc.unused())
	return out, nil
}

// notReadMessage starts every warning of a key nothing reads.
const notReadMessage = "not read by the runtime or the connector"

// configWarnings are the validate answer's warnings of the keys nothing reads, in unused's
// order: each says the key is not read, then what was likely meant or why it has no effect.
func configWarnings(unused []unusedKey) []restapi.ConfigWarning {
	if len(unused) == 0 {
		return nil
	}
	out := make([]restapi.ConfigWarning, len(unused))
	for i, u := range unused {
		msg := notReadMessage
		switch {
		case u.suggestion != "":
			msg += "; did you mean " + u.suggestion + "?"
		case u.note != "":
			msg += "; " + u.note
		}
		out[i] = restapi.ConfigWarning{Key: u.key, Message: msg, Suggestion: u.suggestion}
	}
	return out
}

func configInfo(d restapi.ConfigDefinition, cfg map[string]string, errs []string, secret bool) restapi.ConfigInfo {
	v := restapi.ConfigValueInfo{Name: d.Name, RecommendedValues: []string{}, Errors: append([]string{}, errs...), Visible: true}
	if s, ok := cfg[d.Name]; ok {
		if secret && !strings.HasPrefix(s, "${") {
			s = plugins.HiddenValue
		}
		v.Value = &s
	} else if d.DefaultValue != nil {
		s := *d.DefaultValue
		v.Value = &s
	}
	return restapi.ConfigInfo{Definition: d, Value: v}
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}
