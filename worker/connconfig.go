package worker

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/conf/rmqname"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/transforms"
	"github.com/rmqconnect/rmqconnect/schema/converter"
)

// connectorNameChars are the characters of a connector name (1-249 of them: the length is
// checked apart, a counted repetition would compile into a ~230 KB program).
var connectorNameChars = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// connectorSettings are the runtime's own keys of a connector config, parsed.
type connectorSettings struct {
	class     string
	kind      plugins.Kind
	maxTasks  int
	topic     string   // source default topic (connect.topicname)
	topics    []string // sink topics
	group     string
	ordered   bool
	fromFirst bool
	policy    errorPolicy
	batchSize int
	// values is the config parsed against the plugin's Spec (defaults filled in); the
	// connector reads it through ConnectorContext.Config.
	values plugins.Values
}

// parsedConfig is a connector config checked and parsed once per (connector, epoch): when
// the runtime of the epoch is built (engine.newRuntime) or a config is validated. Its
// placeholders are resolved then, once; the connector's Start, every task start and restart,
// masking and the scrubber read it, and nothing re-resolves or re-parses it.
type parsedConfig struct {
	raw      map[string]string // as stored: placeholders unresolved
	resolved map[string]string // raw with its placeholders resolved
	hidden   []string          // the values the connector's scrubber hides (hiddenValues)
	st       connectorSettings // the runtime's keys, the error policy, the values parsed against the Spec
	// secret holds the keys (names and aliases) the plugin's ConfigSpec declares secret:
	// the one rule masking and scrubbing use (secretKeys).
	secret map[string]bool
	// spec is the plugin's Spec (nil for none); built says the plugin was built, so that the
	// keys nothing reads can be looked for (unused).
	spec  *plugins.ConfigSpec
	built bool
	// The converters are built once and shared by the epoch's tasks: every converter.Converter
	// is safe for concurrent use after Configure (one instance per role of one connector).
	keyConv, valueConv converter.Converter
}

// isSecret reports whether the plugin's Spec declares key secret.
func (p *parsedConfig) isSecret(key string) bool { return p.secret[key] }

// unused returns the keys of the config nothing reads (unusedKeys), none when its plugin
// could not be built: warned of, never refused. They are looked for on each call, by those
// that report them (creating, updating and validating a config), never for a reconcile: a
// suggestion costs an edit distance to every key that is read.
func (p *parsedConfig) unused() []unusedKey {
	if !p.built {
		return nil
	}
	return unusedKeys(p.resolved, p.st.kind, p.spec)
}

// newChain builds one task's transform chain from the resolved config, which validation
// parsed already. Every task gets its own chain: a chain's transforms are applied from one
// goroutine at a time (transforms.Transform) and may keep state.
func (p *parsedConfig) newChain() (*transforms.Chain, error) {
	return transforms.ParseChain(p.resolved, nil)
}

// What the worker supplies to every connector config: default converters (the worker
// config's) and the confinement of the files connectors open.
type connectorDefaults struct {
	keyConverter, valueConverter string
	files                        *plugins.FileAccess
}

// engineKeys are the runtime keys a connector's Spec may give a default for: a connector
// whose records only make sense with, say, the bytearray converter declares it, and a
// config that leaves the key unset gets the connector's default before the worker's.
var engineKeys = []string{"key.converter", "value.converter", "ordering.msg.enable"}

// withDefaults returns cfg plus, where cfg has none, the defaults spec (nil for none)
// declares for engineKeys, then the worker's default converters.
func (d connectorDefaults) withDefaults(cfg map[string]string, spec *plugins.ConfigSpec) map[string]string {
	out := make(map[string]string, len(cfg)+2)
	for k, v := range cfg {
		out[k] = v
	}
	for _, f := range spec.Fields() {
		if f.Default != nil && slices.Contains(engineKeys, f.Name) && strings.TrimSpace(out[f.Name]) == "" {
			out[f.Name] = fmt.Sprint(f.Default)
		}
	}
	if strings.TrimSpace(out["key.converter"]) == "" && d.keyConverter != "" {
		out["key.converter"] = d.keyConverter
	}
	if strings.TrimSpace(out["value.converter"]) == "" && d.valueConverter != "" {
		out["value.converter"] = d.valueConverter
	}
	return out
}

// validateConnectorConfig resolves raw's placeholders and validates it (validateResolved).
// Resolution reads files: callers holding a herder lock resolve first and call
// validateResolved.
func validateConnectorConfig(reg *plugins.Registry, name string, raw map[string]string, defaults connectorDefaults, secrets Secrets) (*parsedConfig, plugins.Connector, error) {
	return validateResolved(reg, name, raw, resolveConfig(secrets, raw), defaults, secrets)
}

// validateResolved checks everything the runtime itself reads, the paths the connector
// opens, then the plugin's own Validate, and returns every problem at once (invalidConfig),
// or the parsed config and the plugin instance Validate ran on. res is raw resolved. The
// parsed config is never nil (its settings are those that parsed).
func validateResolved(reg *plugins.Registry, name string, raw map[string]string, res resolvedConfig, defaults connectorDefaults, secrets Secrets) (*parsedConfig, plugins.Connector, error) {
	var probs cfgerr.List
	add := func(key, val, reason string) { probs = append(probs, problem(key, val, reason)) }
	// addAll keeps each problem's key, value and cause, in the REST form.
	addAll := func(es cfgerr.List) {
		for _, e := range es {
			c := *e
			c.Reason, c.ValueFirst = e.Why(), true
			probs = append(probs, &c)
		}
	}
	// Everything is checked on the resolved config; problems quote the raw value and
	// reasons are scrubbed, so a resolved secret never appears in an error.
	cfg, rerr := res.cfg, res.err
	if rerr != nil {
		for _, e := range cfgerr.Flatten(rerr) {
			add(e.Key, raw[e.Key], e.Why())
		}
		if len(probs) == 0 {
			add("config", "", rerr.Error())
		}
		cfg = raw
	}
	var st connectorSettings
	if len(name) > 249 || !connectorNameChars.MatchString(name) {
		add("name", name, "must be 1-249 characters of letters, digits, '.', '_' or '-'")
	}
	if n, ok := cfg["name"]; ok && n != name {
		add("name", n, fmt.Sprintf("does not match the connector name %q", name))
	}
	st.class = strings.TrimSpace(cfg["connector.class"])
	var conn plugins.Connector
	if st.class == "" {
		add("connector.class", "", "is required")
	} else if info, err := reg.Lookup(st.class); err != nil {
		add("connector.class", st.class, "unknown connector class (GET /connector-plugins lists the installed ones)")
	} else {
		st.kind = info.Kind
		conn, err = reg.New(st.class)
		if err != nil {
			add("connector.class", st.class, err.Error())
		}
	}
	st.maxTasks = 1
	for _, key := range []string{"max.tasks", "tasks.max"} {
		if v, ok := cfg[key]; ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 1 || n > 10000 {
				add(key, v, "must be an integer from 1 to 10000")
			} else {
				st.maxTasks = n
			}
		}
	}
	st.batchSize = 512
	if v, ok := cfg["consumer.batch.size"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > 1024 {
			add("consumer.batch.size", v, "must be an integer from 1 to 1024")
		} else {
			st.batchSize = n
		}
	}
	switch st.kind {
	case plugins.KindSource:
		st.topic = strings.TrimSpace(cfg["connect.topicname"])
		if st.topic != "" && !rmqname.Topic(st.topic) {
			add("connect.topicname", st.topic, "not a valid RocketMQ topic name")
		}
	case plugins.KindSink:
		st.topics = sinkTopics(cfg)
		if len(st.topics) == 0 {
			add("connect.topicnames", "", "a sink connector needs at least one topic (connect.topicnames or topics)")
		}
		for _, t := range st.topics {
			if !rmqname.Topic(t) {
				add("connect.topicnames", t, "not a valid RocketMQ topic name")
			}
		}
		st.group = strings.TrimSpace(cfg["task.group.id"])
		if st.group == "" {
			st.group = "connect-" + name
		}
		if !rmqname.Topic(st.group) {
			add("task.group.id", st.group, "not a valid RocketMQ consumer group name")
		}
		switch v := strings.ToUpper(strings.TrimSpace(cfg["consume.from.where"])); v {
		case "", "CONSUME_FROM_FIRST_OFFSET":
			st.fromFirst = true
		case "CONSUME_FROM_LAST_OFFSET":
		default:
			add("consume.from.where", v, "must be CONSUME_FROM_FIRST_OFFSET or CONSUME_FROM_LAST_OFFSET")
		}
	}
	var spec *plugins.ConfigSpec
	if conn != nil {
		_ = safeCall(func() error { spec = conn.Spec(); return nil })
	}
	full := defaults.withDefaults(cfg, spec)
	// ordering.msg.enable: sources send each key's (or, without a key, each source
	// partition's) records to one queue; sinks consume each queue in order.
	if v, ok := full["ordering.msg.enable"]; ok {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			add("ordering.msg.enable", v, "must be true or false")
		}
		st.ordered = b
	}
	var pprobs cfgerr.List
	st.policy, pprobs = parseErrorPolicy(cfg)
	probs = append(probs, pprobs...)
	if st.kind == plugins.KindSink && st.policy.dlqTopic != "" && slices.Contains(st.topics, st.policy.dlqTopic) {
		// As Kafka Connect refuses: each failed record would be read again, fail again and be
		// written again, for ever.
		add("errors.deadletterqueue.topic.name", st.policy.dlqTopic,
			"is one of the connector's own topics: its failed records would be consumed, fail and be written to it again without end")
	}
	pc := &parsedConfig{raw: raw, resolved: cfg, spec: spec, built: conn != nil}
	for _, k := range []string{"key.converter", "value.converter"} {
		c, err := converter.FromConfig(full, k, k == "key.converter")
		if err != nil {
			add(k, full[k], err.Error())
		}
		if k == "key.converter" {
			pc.keyConv = c
		} else {
			pc.valueConv = c
		}
	}
	if _, err := transforms.ParseChain(cfg, nil); err != nil {
		addAll(cfgerr.Flatten(err))
		if len(cfgerr.Flatten(err)) == 0 {
			add("transforms", cfg["transforms"], err.Error())
		}
	}
	if conn != nil {
		addAll(plugins.CheckPaths(conn.Spec(), cfg, defaults.files))
		// The Spec is checked first, so a plugin's Validate sees only configs whose declared
		// keys are present and typed, and checks cross-field rules alone. A SpecValidator's
		// Spec runs no validators (they run in its Validate), so its Validate is called after a
		// failed parse too: it is what finds the bad values next to a mistyped one.
		specErr := safeCall(func() error {
			var err error
			st.values, err = conn.Spec().Parse(cfg)
			return err
		})
		err := specErr
		_, validatesSpec := conn.(plugins.SpecValidator)
		validated := specErr == nil || validatesSpec
		if validated {
			err = safeCall(func() error { return conn.Validate(cfg) })
		}
		if _, set := cfg[plugins.KeyOrdering]; !set && err == nil && specErr == nil {
			// A connector that needs order declares the key with its default (plugins.KeyOrdering).
			if v, ok := st.values.Get(plugins.KeyOrdering); ok {
				st.ordered, _ = v.(bool)
			}
		}
		if err != nil {
			ces := cfgerr.Flatten(err)
			addAll(ces)
			if len(ces) == 0 {
				add("connector.class", st.class, err.Error())
			}
		}
		if validated && specErr != nil {
			// Validate parsed against the full spec and named these again, unless it failed
			// before (the plugin process did not start): each is reported once.
			named := cfgerr.Flatten(err)
			for _, e := range cfgerr.Flatten(specErr) {
				if !slices.ContainsFunc(named, func(n *cfgerr.Error) bool {
					return n.Key == e.Key && n.Value == e.Value && n.Why() == e.Why()
				}) {
					addAll(cfgerr.List{e})
				}
			}
		}
	}
	pc.secret = secretKeys(conn)
	var scrub scrubber
	if rerr == nil {
		pc.hidden = hiddenValues(secrets, raw, res, pc.isSecret)
		scrub.add(pc.hidden...)
	}
	for i := range probs {
		if v, ok := raw[probs[i].Key]; ok && probs[i].Value != "" && v != cfg[probs[i].Key] {
			probs[i].Value = v // show the placeholder, not what it resolved to
		}
		probs[i].Value = scrub.text(probs[i].Value)
		probs[i].Reason = scrub.text(probs[i].Reason)
	}
	pc.st = st
	if len(probs) > 0 {
		return pc, nil, invalidConfig(name, probs)
	}
	return pc, conn, nil
}

// shownSettings is what showing a stored connector config needs: its class and, from the
// registry alone, its kind. It resolves, parses and validates nothing and runs no plugin code
// (masking asks the class's Spec for its secret keys, under no lock). A stored config was
// validated when it was written, and the runtime built for its epoch validates it again.
func shownSettings(reg *plugins.Registry, cfg map[string]string) connectorSettings {
	st := connectorSettings{class: strings.TrimSpace(cfg["connector.class"])}
	if info, err := reg.Lookup(st.class); st.class != "" && err == nil {
		st.kind = info.Kind
	}
	return st
}

// problem is one rejected key of a connector config, in the form the REST API prints:
// `key="value": reason`.
func problem(key, value, reason string) *cfgerr.Error {
	return &cfgerr.Error{Key: key, Value: value, Reason: reason, ValueFirst: true}
}

// invalidConfig is how the engine rejects a connector config (or offsets for it):
// `connector <name>: invalid config: <problem>; <problem>`. errors.As finds each
// *cfgerr.Error, and the REST server answers 400 (cfgerr.ErrInvalid).
func invalidConfig(name string, problems cfgerr.List) error {
	return fmt.Errorf("connector %s: invalid config: %w", name, problems)
}
