package faults

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/generator"
)

// schemathesisVersion is the REST fuzzer, installed from PyPI into a virtualenv of the suite's own.
const schemathesisVersion = "4.32.5"

// schemathesis returns the path of the schemathesis command, creating its virtualenv under
// the cache directory the first time.
func schemathesis(t *testing.T) string {
	t.Helper()
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		require.NoError(t, err)
		cache = filepath.Join(home, ".cache")
	}
	venv := filepath.Join(cache, "rmqconnect", "schemathesis-"+schemathesisVersion)
	st := filepath.Join(venv, "bin", "schemathesis")
	done := filepath.Join(venv, ".complete")
	if _, err := os.Stat(done); err == nil {
		return st
	}
	python, err := exec.LookPath("python3")
	require.NoError(t, err, "python3 is needed for the REST fuzzer (Debian: python3-venv)")
	require.NoError(t, os.RemoveAll(venv)) // an install that did not complete
	require.NoError(t, sh(python, "-m", "venv", venv))
	require.NoError(t, sh(filepath.Join(venv, "bin", "pip"), "install", "-q", "schemathesis=="+schemathesisVersion))
	require.NoError(t, os.WriteFile(done, []byte(schemathesisVersion+"\n"), 0o644))
	return st
}

// TestRESTFuzz runs schemathesis against the OpenAPI document a worker serves: no answer is
// a 5xx, every answer matches the document (status, content type, body schema), the worker
// does not crash, and no answer ever holds a secret of a connector's config.
func TestRESTFuzz(t *testing.T) {
	suite(t)
	st := schemathesis(t)
	const inlineSecret, envSecret = "inline-s3cr3t-faults-5b1e", "env-s3cr3t-faults-9d2c"
	t.Setenv("RMQF_FUZZ_SECRET", envSecret)
	c := newClusterWith(t, 1, func(c *cluster) {
		c.Extra = "fileConnectorAllowedDirs=" + c.Dir + "\nconfigProviderFileAllowedDirs=" + c.Dir + "\n"
	})
	w := c.Workers["worker-1"]
	create(t, w, "sec", map[string]string{"connector.class": generator.SourceName, "connect.topicname": c.ID + "-fuzz",
		"rate": "1", "db.password": inlineSecret, "api.token": "${env:RMQF_FUZZ_SECRET}"})
	create(t, w, "sink", map[string]string{"connector.class": "file-sink", "connect.topicnames": c.ID + "-fuzz",
		"filename": filepath.Join(c.Dir, "fuzz.out"), "errors.tolerance": "all", "errors.deadletterqueue.topic.name": c.ID + "-dlq"})
	// Most operations name a connector or plugin: with a fair chance, the fuzzer picks one that
	// exists, so that it reaches past the 404s.
	require.NoError(t, os.WriteFile(filepath.Join(c.Dir, "schemathesis.toml"), []byte(`
[dictionaries.names]
values = ["sec", "sink"]
[dictionaries.plugins]
values = ["generator-source", "file-sink", "file-source", "null-sink"]
[parameters]
"path.name" = { dictionary = "names", probability = 0.6 }
"path.plugin" = { dictionary = "plugins", probability = 0.6 }
`), 0o644))
	har := filepath.Join(c.Dir, "fuzz.har")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, st, "run", w.URL+"/openapi.json", "--url", w.URL, "-n", fmt.Sprint(*fuzzN), "--seed", "21",
		"--workers", "1", "--no-color", "--generation-database", "none", "--request-timeout", "30",
		"--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
		"--report", "har", "--report-har-path", har)
	cmd.Dir = c.Dir
	out, err := cmd.CombinedOutput()
	summary := string(out)
	if len(summary) > 20000 {
		summary = summary[len(summary)-20000:]
	}
	require.NoError(t, err, "schemathesis found problems:\n%s", summary)
	t.Logf("schemathesis:\n%s", tail(string(out), 25))
	require.True(t, w.Alive() && w.Healthy(), "the worker died or stopped answering under fuzzing; log: %s", clusterLog(c, "worker-1"))
	b, err := os.ReadFile(har)
	require.NoError(t, err)
	for _, s := range []string{inlineSecret, envSecret} {
		require.NotContains(t, string(b), s, "a secret appeared in a request or answer of the fuzz run")
	}
	require.Equal(t, http.StatusOK, w.Call(t, "GET", "/health", nil, nil))
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
