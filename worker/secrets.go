package worker

import (
	"fmt"
	"maps"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
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

// reresolve resolves the connector's placeholders again for an explicit restart, as Kafka
// Connect does when it restarts a connector: a rotated secret reaches the connector's next
// Start, and the tasks' next starts once their kept configs are dropped. The runtime's own
// keys (converters, transforms, topics, tasks.max, the error policy) stay those of the epoch:
// they change with a config update. It returns false, with the connector FAILED and a trace
// saying why, when the placeholders no longer resolve or the values no longer parse.
// Called with opMu held and the connector stopped.
func (rt *connRuntime) reresolve() bool {
	res := resolveConfig(rt.e.cfg.Secrets, rt.cfg) // reads files: under no lock
	if res.err != nil {
		rt.log.Error("connector config no longer resolves", "err", res.err)
		rt.setConnState(restapi.StateFailed, fmt.Sprintf("resolve config: %v", res.err))
		return false
	}
	cfg, _ := rt.startConfig()
	if maps.Equal(cfg, res.cfg) {
		return true
	}
	rt.scrub.add(hiddenValues(rt.e.cfg.Secrets, rt.cfg, res, rt.specSecret)...)
	var vals plugins.Values
	err := safeCall(func() error {
		c, err := rt.e.registry.New(rt.st.class)
		if err != nil {
			return err
		}
		vals, err = c.Spec().Parse(res.cfg)
		return err
	})
	if err != nil {
		rt.log.Error("connector config resolved to values that do not parse", "err", err)
		rt.setConnState(restapi.StateFailed, fmt.Sprintf("resolve config: %v", err))
		return false
	}
	rt.mu.Lock()
	rt.startCfg, rt.startVals = res.cfg, vals
	clear(rt.taskParsed) // task configs may name the same placeholders
	rt.mu.Unlock()
	rt.log.Info("connector config placeholders resolved to new values for the restart")
	return true
}

// startConfig is the resolved config and parsed values the connector's next Start gets.
func (rt *connRuntime) startConfig() (map[string]string, plugins.Values) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.startCfg != nil {
		return rt.startCfg, rt.startVals
	}
	return rt.pc.resolved, rt.st.values
}

// forgetTaskConfigs drops the resolved configs kept for tasks, so an explicit restart of
// them resolves their placeholders again (parseTask).
func (rt *connRuntime) forgetTaskConfigs(tasks ...*taskRuntime) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for _, t := range tasks {
		delete(rt.taskParsed, t.id)
	}
}
