package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/clustertest"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

// TestBrowserCannotDriveWorker: against a real worker with its default settings, what a page of
// another origin can make the operator's browser send is refused before it acts, and the same
// request from the worker's own origin, as JSON, works.
func TestBrowserCannotDriveWorker(t *testing.T) {
	rmqtest.Require(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	require.NoError(t, os.WriteFile(in, []byte("a\n"), 0o644))
	w := startWorker(t, dir, clustertest.FreePort(t))
	create := func(name string) string {
		b, err := json.Marshal(map[string]any{"name": name, "config": map[string]any{
			"connector.class": "file-source", "filename": in, "connect.topicname": rmqtest.Topic(t, 1)}})
		require.NoError(t, err)
		return string(b)
	}
	do := func(method, path, body string, header map[string]string) (int, map[string]any) {
		req, err := http.NewRequest(method, w.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		for k, v := range header {
			if k == "Host" {
				req.Host = v
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return resp.StatusCode, out
	}

	// The form a cross-origin page can post without a preflight: text/plain, with its Origin.
	code, body := do("POST", "/connectors", create("evil"), map[string]string{
		"Content-Type": "text/plain;charset=UTF-8", "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
	require.Equal(t, http.StatusForbidden, code, body)
	require.EqualValues(t, 403, body["error_code"])
	// DNS rebinding: the page's own name in Host.
	code, _ = do("POST", "/connectors", create("evil"), map[string]string{"Content-Type": "application/json", "Host": "evil.example"})
	require.Equal(t, http.StatusForbidden, code)
	// A link or image on another site hitting a RocketMQ Connect GET that changes state.
	code, _ = do("GET", "/connectors/stop/all", "", map[string]string{"Sec-Fetch-Site": "cross-site"})
	require.Equal(t, http.StatusForbidden, code)
	code, _ = do("GET", "/connectors/evil?config="+`{}`, "", nil)
	require.Equal(t, http.StatusForbidden, code, "off by default")
	var names []string
	require.Equal(t, http.StatusOK, w.Call(t, "GET", "/connectors", nil, &names))
	require.Empty(t, names, "nothing was created")

	// The same create from the worker's own origin, as JSON, works.
	origin := strings.TrimPrefix(w.URL, "http://")
	code, body = do("POST", "/connectors", create("ok"), map[string]string{
		"Content-Type": "application/json", "Origin": w.URL, "Host": origin, "Sec-Fetch-Site": "same-origin"})
	require.Equal(t, http.StatusCreated, code, body)
	require.Equal(t, http.StatusOK, w.Call(t, "GET", "/connectors", nil, &names))
	require.Equal(t, []string{"ok"}, names)
}
