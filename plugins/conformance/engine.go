package conformance

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
)

// The suite calls a connector as the engine does: a config is parsed against Spec before
// Validate (which then only checks cross-field rules), and every context carries the values
// parsed from the config its Start receives.

// Validate parses cfg against c's Spec and, when that succeeds, calls c.Validate — the
// engine's check of a connector config. It returns the parsed values.
func Validate(c plugins.Connector, cfg map[string]string) (plugins.Values, error) {
	vals, err := c.Spec().Parse(cfg)
	if err != nil {
		return vals, err
	}
	return vals, c.Validate(cfg)
}

// parsed returns cfg parsed against spec, failing the test when it does not parse.
func parsed(t testing.TB, spec *plugins.ConfigSpec, cfg map[string]string, what string) plugins.Values {
	t.Helper()
	vals, err := spec.Parse(cfg)
	require.NoError(t, err, "%s must parse against the connector's Spec", what)
	return vals
}

// ConnectorContextFor is a fresh ConnectorContext carrying cfg validated against c, as the
// engine hands it to Start; the test fails if cfg does not validate.
func ConnectorContextFor(t testing.TB, c plugins.Connector, cfg map[string]string) *ConnectorContext {
	t.Helper()
	vals, err := Validate(c, cfg)
	require.NoError(t, err, "Validate")
	cc := NewConnectorContext()
	cc.Values = vals
	return cc
}

// SourceContextFor is NewSourceContext(store) carrying the task config tc parsed against spec
// (the connector's Spec), as the engine hands it to a task's Start.
func SourceContextFor(t testing.TB, spec *plugins.ConfigSpec, store *Positions, tc map[string]string) *SourceContext {
	t.Helper()
	c := NewSourceContext(store)
	c.Values = parsed(t, spec, tc, "the task config")
	return c
}

// SinkContextFor is NewSinkContext(queues...) carrying the task config tc parsed against spec
// (the connector's Spec), as the engine hands it to a task's Start.
func SinkContextFor(t testing.TB, spec *plugins.ConfigSpec, tc map[string]string, queues ...plugins.Queue) *SinkContext {
	t.Helper()
	c := NewSinkContext(queues...)
	c.Values = parsed(t, spec, tc, "the task config")
	return c
}
