package admin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRmqPluginConfigAndValidate(t *testing.T) {
	h, _ := newRmqTestServer(t)
	defs := rmqOKBody(t, h, http.MethodGet, "/plugin/config?plugin=file-source", "").([]any)
	require.NotEmpty(t, defs)
	require.Contains(t, defs[0], "name")
	require.Equal(t, defs, rmqOKBody(t, h, http.MethodGet, "/plugin/config?className=file-source", ""))
	requireRmqError(t, h, http.MethodGet, "/plugin/config?plugin=nope", "", http.StatusNotFound, "nope")
	requireRmqError(t, h, http.MethodGet, "/plugin/config", "", http.StatusBadRequest, "plugin")

	cfg := `{"connector.class":"file-source","name":"x","connect.topicname":"t","max.tasks":"many"}`
	res := obj(t, rmqOKBody(t, h, http.MethodGet, "/plugin/config/validate?plugin=file-source&config="+url.QueryEscape(cfg), ""))
	require.EqualValues(t, "file-source", res["name"])
	require.Positive(t, res["error_count"], "max.tasks=many is an error")
	require.Equal(t, res, obj(t, rmqOKBody(t, h, http.MethodPost, "/plugin/config/validate?plugin=file-source", cfg)))
	require.Equal(t, res, obj(t, rmqOKBody(t, h, http.MethodPut, "/plugin/config/validate?plugin=file-source", cfg)))
	requireRmqError(t, h, http.MethodPost, "/plugin/config/validate?plugin=file-source", "[1]", http.StatusBadRequest)
}

type reloader struct {
	refused []string
	err     error
	calls   int
}

func (r *reloader) ReloadPlugins(context.Context) ([]string, error) {
	r.calls++
	return r.refused, r.err
}

func TestRmqPluginReload(t *testing.T) {
	r := &reloader{}
	h, _ := newTestServer(t, func(s *Server) { s.EnablePluginReload(r) })
	require.Equal(t, "Plugin reload succeeded", rmqOKBody(t, h, http.MethodGet, "/plugin/reload", ""))
	require.Equal(t, "Plugin reload succeeded", rmqOKBody(t, h, http.MethodPost, "/plugin/reload", ""))
	require.Equal(t, 2, r.calls)

	r.refused = []string{"/p/old: plugin protocol version mismatch"}
	require.Equal(t, "Plugin reload succeeded; 1 refused: /p/old: plugin protocol version mismatch",
		rmqOKBody(t, h, http.MethodGet, "/plugin/reload", ""))

	r.err = errors.New("register plugins: boom")
	requireRmqError(t, h, http.MethodGet, "/plugin/reload", "", http.StatusInternalServerError, "boom")

	code, _ := send(t, h, http.MethodPost, "/plugin/reload", "", map[string]string{"Sec-Fetch-Site": "cross-site"})
	require.Equal(t, http.StatusForbidden, code)
	require.Equal(t, 4, r.calls, "a cross-site request does not reload")
}
