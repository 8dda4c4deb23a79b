package worker

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
)

// specConnector declares an INT key and counts Validate calls; Validate trusts the Spec and
// would panic on a value that did not parse.
type specConnector struct {
	memSinkConnector
	validated *int
}

var specTestSpec = plugins.MustConfigSpec(
	plugins.Field{Name: "spec.n", Type: plugins.TypeInt, Required: true,
		Validators: []plugins.Validator{plugins.Between(1, 10)}},
	plugins.Field{Name: "spec.d", Type: plugins.TypeDuration, Default: "2s"},
)

func (c *specConnector) Spec() *plugins.ConfigSpec { return specTestSpec }

func (c *specConnector) Validate(cfg map[string]string) error {
	*c.validated++
	if cfg["spec.n"] == "" {
		panic("Validate called before the Spec check")
	}
	return nil
}

func TestEngineChecksSpecBeforeValidate(t *testing.T) {
	validated := 0
	reg := plugins.NewRegistry()
	require.NoError(t, reg.Register(plugins.KindSink, "spec-sink", nil, func() plugins.Connector {
		return &specConnector{memSinkConnector: memSinkConnector{memConnector{sink: true}}, validated: &validated}
	}))
	base := map[string]string{"connector.class": "spec-sink", "connect.topicnames": "t"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}

	for _, tc := range []struct {
		name, key string
		cfg       map[string]string
	}{
		{"missing", "spec.n", with()},
		{"not an int", "spec.n", with("spec.n", "abc")},
		{"out of range", "spec.n", with("spec.n", "11")},
		{"bad duration", "spec.d", with("spec.n", "3", "spec.d", "soon")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := validateConnectorConfig(reg, "c", tc.cfg, connectorDefaults{keyConverter: "string", valueConverter: "string"}, noSecrets{})
			problems := cfgerr.Flatten(err)
			require.Len(t, problems, 1, "%v", err)
			require.Equal(t, tc.key, problems[0].Key)
			require.Zero(t, validated, "Validate must not see a config that fails the Spec")
		})
	}

	pc, _, err := validateConnectorConfig(reg, "c", with("spec.n", " 7 "), connectorDefaults{keyConverter: "string", valueConverter: "string"}, noSecrets{})
	require.NoError(t, err)
	st := pc.st
	require.Equal(t, 1, validated)
	require.Equal(t, 7, st.values.Int("spec.n"), "typed values reach the connector context")
	require.Equal(t, "2s", st.values.Duration("spec.d").String(), "defaults are filled in")
	rt := &connRuntime{pc: pc, st: st}
	_, vals := rt.startConfig() // what the connector's Start gets with its context
	require.Equal(t, 7, connectorContext{rt: rt, vals: vals}.Config().Int("spec.n"))
}

// A sink's DLQ topic may not be one of the topics it reads (Kafka Connect refuses it too): its
// failed records would come back, fail and be written again without end.
func TestSinkDLQTopicNotAnInputTopic(t *testing.T) {
	reg := plugins.NewRegistry()
	require.NoError(t, reg.Register(plugins.KindSink, "dlq-sink", nil, func() plugins.Connector {
		return &memSinkConnector{memConnector{sink: true}}
	}))
	cfg := map[string]string{"connector.class": "dlq-sink", "connect.topicnames": "orders,refunds", "test.id": "dlq",
		"errors.tolerance": "all", "errors.deadletterqueue.topic.name": "refunds"}
	_, _, err := validateConnectorConfig(reg, "c", cfg, connectorDefaults{keyConverter: "string", valueConverter: "string"}, noSecrets{})
	problems := cfgerr.Flatten(err)
	require.Len(t, problems, 1, "%v", err)
	require.Equal(t, "errors.deadletterqueue.topic.name", problems[0].Key)
	require.Contains(t, problems[0].Reason, "own topics")

	cfg["errors.deadletterqueue.topic.name"] = "orders-dlq"
	_, _, err = validateConnectorConfig(reg, "c", cfg, connectorDefaults{keyConverter: "string", valueConverter: "string"}, noSecrets{})
	require.NoError(t, err)
}
