package admin

import (
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPatchConfig runs against a herder with the ConfigPatcher ability and against one that has
// only Management, where the route merges into the shown config itself.
func TestPatchConfig(t *testing.T) {
	for name, herder := range map[string]Herder{
		"patcher":         newFakeHerder(),
		"management only": struct{ Herder }{newFakeHerder()},
	} {
		t.Run(name, func(t *testing.T) { testPatchConfig(t, herder) })
	}
}

func testPatchConfig(t *testing.T, herder Herder) {
	h := NewServer("127.0.0.1:0", Info{WorkerID: fakeWorker}, fakeHealth{}, herder, slog.New(slog.NewTextHandler(io.Discard, nil))).Handler()
	code, _ := callJSON(t, h, http.MethodPost, "/connectors", `{"name":"p","config":{"connector.class":"file-sink","a":"1","b":"2"}}`)
	require.Equal(t, http.StatusCreated, code)
	code, body := callJSON(t, h, http.MethodPatch, "/connectors/p/config", `{"a":null,"c":3,"b":"two"}`)
	require.Equal(t, http.StatusOK, code, body)
	code, body = callJSON(t, h, http.MethodGet, "/connectors/p/config", "")
	require.Equal(t, http.StatusOK, code)
	cfg := obj(t, body)
	require.NotContains(t, cfg, "a", "null removes a key")
	require.Equal(t, "two", cfg["b"])
	require.Equal(t, "3", cfg["c"])
	requireError(t, h, http.MethodPatch, "/connectors/p/config", `{"x":{"y":1}}`, http.StatusBadRequest, "config.x")
	requireError(t, h, http.MethodPatch, "/connectors/nope/config", `{"x":"1"}`, http.StatusNotFound)
	requireError(t, h, http.MethodPatch, "/connectors/p/config", `[1]`, http.StatusBadRequest)
}

// TestPatchConfigKeepsTheName: a PATCH cannot remove the connector's name, which every stored
// config carries; the config is left as it was.
func TestPatchConfigKeepsTheName(t *testing.T) {
	h, _ := newTestServer(t)
	code, _ := callJSON(t, h, http.MethodPost, "/connectors", `{"name":"p","config":{"connector.class":"file-sink","a":"1"}}`)
	require.Equal(t, http.StatusCreated, code)
	requireError(t, h, http.MethodPatch, "/connectors/p/config", `{"name":null,"a":"2"}`, http.StatusBadRequest, "config.name")
	code, body := callJSON(t, h, http.MethodGet, "/connectors/p/config", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, map[string]any{"connector.class": "file-sink", "a": "1", "name": "p"}, obj(t, body))
}
