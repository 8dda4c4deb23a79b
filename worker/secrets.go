package worker

import (
	"maps"

	"github.com/rmqconnect/rmqconnect/plugins"
)

// resolvedConfig is a connector (or task) config with its placeholders resolved, or why
// they could not be. Resolution reads files and the environment, so it is done before a
// herder takes its lock and the result is handed in.
type resolvedConfig struct {
	cfg    map[string]string // nil when err != nil
	values []string          // what the placeholders resolved to
	err    error
}

func resolveConfig(secrets Secrets, raw map[string]string) resolvedConfig {
	cfg, values, err := secrets.Resolve(raw)
	if err != nil {
		return resolvedConfig{err: err}
	}
	return resolvedConfig{cfg: cfg, values: values}
}

// hiddenValues are the values of res to scrub: what placeholders resolved to, and the
// values of keys that the masking rules (Secrets.Mask with the spec's secret fields) hide.
func hiddenValues(secrets Secrets, raw map[string]string, res resolvedConfig, specSecret func(string) bool) []string {
	out := append([]string(nil), res.values...)
	masked := secrets.Mask(maps.Clone(raw), specSecret)
	for k, v := range raw {
		if masked[k] != v {
			out = append(out, v)
			if rv, ok := res.cfg[k]; ok {
				out = append(out, rv)
			}
		}
	}
	return out
}

// learn makes the connector's scrubber hide the secret values of a config it resolved.
func (rt *connRuntime) learn(raw map[string]string, res resolvedConfig) {
	rt.scrub.add(hiddenValues(rt.e.cfg.Secrets, raw, res, rt.specSecret)...)
}

// resolve resolves a config of this connector and teaches the scrubber its secrets.
func (rt *connRuntime) resolve(raw map[string]string) (map[string]string, error) {
	res := resolveConfig(rt.e.cfg.Secrets, raw)
	if res.err != nil {
		return nil, res.err
	}
	rt.learn(raw, res)
	return res.cfg, nil
}

// specSecret reports whether the connector's ConfigSpec declares key secret: the parsed
// config says, or (for a config shown by a worker that does not run it) an instance of
// the class, built once.
func (rt *connRuntime) specSecret(key string) bool {
	if rt.pc != nil {
		return rt.pc.isSecret(key)
	}
	rt.specOnce.Do(func() {
		if rt.st.class == "" {
			return
		}
		if c, err := rt.e.registry.New(rt.st.class); err == nil {
			rt.specSecrets = secretKeys(c)
		}
	})
	return rt.specSecrets[key]
}

// secretKeys are the keys (names and aliases) conn's ConfigSpec declares secret.
func secretKeys(conn plugins.Connector) map[string]bool {
	keys := map[string]bool{}
	if conn == nil || conn.Spec() == nil {
		return keys
	}
	for _, f := range conn.Spec().Fields() {
		if f.Secret || f.Type == plugins.TypePassword {
			keys[f.Name] = true
			for _, a := range f.Aliases {
				keys[a] = true
			}
		}
	}
	return keys
}
