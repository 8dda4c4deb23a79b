package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/admin/access"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// send serves one request built by newRequest and returns the status and the error body.
func send(t *testing.T, h http.Handler, method, path, body string, header map[string]string) (int, map[string]any) {
	t.Helper()
	var req *http.Request
	if body == "" {
		req = newRequest(method, path, nil)
	} else {
		req = newRequest(method, path, strings.NewReader(body))
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out
}

const createBody = `{"name":"src","config":{"connector.class":"file-source","filename":"/tmp/in","connect.topicname":"t"}}`

// A page on another origin cannot create a connector: the "simple" request a browser sends
// without a preflight (text/plain body) is refused before the handler, whatever its origin.
func TestCrossOriginCreateRefused(t *testing.T) {
	cases := []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"text/plain from another origin", map[string]string{"Content-Type": "text/plain", "Origin": "https://evil.example"}, http.StatusForbidden},
		{"json from another origin", map[string]string{"Content-Type": "application/json", "Origin": "https://evil.example"}, http.StatusForbidden},
		{"null origin", map[string]string{"Content-Type": "application/json", "Origin": "null"}, http.StatusForbidden},
		{"text/plain without origin", map[string]string{"Content-Type": "text/plain"}, http.StatusUnsupportedMediaType},
		{"form without origin", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType},
		{"no content type", nil, http.StatusUnsupportedMediaType},
		{"cross-site fetch metadata", map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, f := newTestServer(t)
			code, body := send(t, h, http.MethodPost, "/connectors", createBody, c.header)
			require.Equal(t, c.want, code, body)
			require.EqualValues(t, c.want, body["error_code"])
			require.NotEmpty(t, body["message"])
			require.Empty(t, connectorNames(t, f), "the handler did not run")
		})
	}
	// The same request, JSON from the server's own origin (or from no browser at all), works.
	for _, header := range []map[string]string{
		{"Content-Type": "application/json"},
		{"Content-Type": "application/json; charset=utf-8", "Origin": "http://localhost:8082", "Host": "localhost:8082", "Sec-Fetch-Site": "same-origin"},
	} {
		h, f := newTestServer(t)
		code, body := send(t, h, http.MethodPost, "/connectors", createBody, header)
		require.Equal(t, http.StatusCreated, code, body)
		require.Contains(t, connectorNames(t, f), "src")
	}
}

// A state-changing request without a body from another origin (a no-cors fetch, a form with
// no fields) is refused too: the Origin check does not depend on the content type.
func TestDisallowedOriginRefusedBeforeHandler(t *testing.T) {
	h, f := newTestServer(t)
	code, _ := send(t, h, http.MethodPost, "/connectors", createBody, map[string]string{"Content-Type": "application/json"})
	require.Equal(t, http.StatusCreated, code)
	for _, req := range []struct{ method, path string }{
		{http.MethodDelete, "/connectors/src"},
		{http.MethodPut, "/connectors/src/pause"},
		{http.MethodPost, "/connectors/src/restart"},
		{http.MethodGet, "/connectors/src"},
	} {
		code, body := send(t, h, req.method, req.path, "", map[string]string{"Origin": "https://evil.example"})
		require.Equal(t, http.StatusForbidden, code, "%s %s: %v", req.method, req.path, body)
		require.Contains(t, body["message"], "restCORSAllowedOrigins")
	}
	require.Contains(t, connectorNames(t, f), "src")
	require.Equal(t, "STARTED", string(targetOf(t, f, "src")))

	// A listed origin may change state; "*" may only read.
	h, _ = newTestServer(t, func(s *Server) { s.EnableCORS([]string{"https://ui.example"}, []string{"GET", "POST"}) })
	code, _ = send(t, h, http.MethodPost, "/connectors", createBody, map[string]string{"Content-Type": "application/json", "Origin": "https://ui.example", "Sec-Fetch-Site": "cross-site"})
	require.Equal(t, http.StatusCreated, code)
	h, f = newTestServer(t, func(s *Server) { s.EnableCORS([]string{"*"}, []string{"GET", "POST"}) })
	code, _ = send(t, h, http.MethodGet, "/connectors", "", map[string]string{"Origin": "https://any.example", "Sec-Fetch-Site": "cross-site"})
	require.Equal(t, http.StatusOK, code)
	code, body := send(t, h, http.MethodPost, "/connectors", createBody, map[string]string{"Content-Type": "application/json", "Origin": "https://any.example"})
	require.Equal(t, http.StatusForbidden, code)
	require.Contains(t, body["message"], "may only read")
	require.Empty(t, connectorNames(t, f))
}

// A link or an image on another site (a GET with Sec-Fetch-Site: cross-site and no Origin) is
// refused on every route.
func TestCrossSiteGETRefused(t *testing.T) {
	h, _ := newTestServer(t)
	code, body := send(t, h, http.MethodGet, "/connectors", "", map[string]string{"Sec-Fetch-Site": "cross-site"})
	require.Equal(t, http.StatusForbidden, code)
	require.EqualValues(t, 403, body["error_code"])
	for _, site := range []string{"same-origin", "none", ""} {
		code, _ = send(t, h, http.MethodGet, "/connectors", "", map[string]string{"Sec-Fetch-Site": site})
		require.Equal(t, http.StatusOK, code, site)
	}
}

// DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1 reaches the
// worker with Host: evil.example; it is refused. Loopback names, IP literals, the bind name
// and configured names are served.
func TestHostMustNameTheServer(t *testing.T) {
	h, _ := newTestServer(t)
	for _, host := range []string{"evil.example", "evil.example:8082", "localhost.evil.example", "127.0.0.1.nip.io"} {
		code, body := send(t, h, http.MethodGet, "/connectors", "", map[string]string{"Host": host})
		require.Equal(t, http.StatusForbidden, code, host)
		require.Contains(t, body["message"], "restAllowedHosts")
	}
	for _, host := range []string{"localhost", "LOCALHOST:8082", "localhost.:8082", "127.0.0.1:8082", "[::1]:8082", "ui.localhost:8082", "10.1.2.3:8082"} {
		code, body := send(t, h, http.MethodGet, "/connectors", "", map[string]string{"Host": host})
		require.Equal(t, http.StatusOK, code, "%s: %v", host, body)
	}
	h, _ = newTestServer(t, func(s *Server) { s.AllowHosts([]string{"Connect.Internal"}) })
	code, _ := send(t, h, http.MethodGet, "/connectors", "", map[string]string{"Host": "connect.internal:8082"})
	require.Equal(t, http.StatusOK, code)
	code, _ = send(t, h, http.MethodGet, "/connectors", "", map[string]string{"Host": "evil.example"})
	require.Equal(t, http.StatusForbidden, code)
	h, _ = newTestServer(t, func(s *Server) { s.AllowHosts([]string{"*"}) })
	code, _ = send(t, h, http.MethodGet, "/connectors", "", map[string]string{"Host": "evil.example"})
	require.Equal(t, http.StatusOK, code)
}

// The RocketMQ Connect GET routes that change state are off by default; on, they still refuse
// a request a browser sent for another site's page.
func TestMutatingGETRoutesOffByDefault(t *testing.T) {
	h, f := newTestServer(t)
	code, _ := send(t, h, http.MethodPost, "/connectors", createBody, map[string]string{"Content-Type": "application/json"})
	require.Equal(t, http.StatusCreated, code)
	for _, path := range []string{"/connectors/stop/all", "/connectors/pause/all", "/connectors/resume/all",
		"/connectors/src/stop", "/connectors/src/pause", "/connectors/src/resume",
		`/connectors/other?config={"connector.class":"file-sink","connect.topicnames":"t"}`} {
		code, body := send(t, h, http.MethodGet, path, "", nil)
		require.Equal(t, http.StatusForbidden, code, path)
		require.EqualValues(t, 403, body["errorCode"], path)
		require.Contains(t, body["message"], "restMutatingGetEnable", path)
	}
	require.Equal(t, []string{"src"}, connectorNames(t, f))
	require.Equal(t, "STARTED", string(targetOf(t, f, "src")))
	// Reads stay open.
	code, _ = send(t, h, http.MethodGet, "/connectors/list", "", nil)
	require.Equal(t, http.StatusOK, code)
	code, _ = send(t, h, http.MethodGet, "/connectors/src", "", nil)
	require.Equal(t, http.StatusOK, code)

	h, f = newRmqTestServer(t)
	code, _ = send(t, h, http.MethodPost, "/connectors", createBody, map[string]string{"Content-Type": "application/json"})
	require.Equal(t, http.StatusCreated, code)
	code, body := send(t, h, http.MethodGet, "/connectors/stop/all", "", map[string]string{"Sec-Fetch-Site": "same-site"})
	require.Equal(t, http.StatusForbidden, code, body)
	require.Contains(t, connectorNames(t, f), "src")
	code, _ = send(t, h, http.MethodGet, "/connectors/stop/all", "", map[string]string{"Sec-Fetch-Site": "none"})
	require.Equal(t, http.StatusOK, code)
	require.Empty(t, connectorNames(t, f))
}

// Every route that reads a body answers 413 beyond the limit; none truncates it silently.
// The shared fake serves every route that reads a body.
func TestBodyOverLimitIs413OnEveryRoute(t *testing.T) {
	f := newFakeHerder()
	h := NewServer("127.0.0.1:0", Info{}, fakeHealth{}, f, testServer().log).Handler()
	_, err := f.CreateConnector(context.Background(), "c", map[string]string{"connector.class": "file-sink"}, restapi.TargetStopped)
	require.NoError(t, err)
	// A valid JSON object whose closing part lies past the limit: truncated, it is not JSON (400).
	pad := strings.Repeat("x", maxBodyBytes)
	routes := []struct{ method, path, body string }{
		{http.MethodPost, "/connectors", `{"name":"x","config":{"connector.class":"file-sink","pad":"` + pad + `"}}`},
		{http.MethodPut, "/connectors/c/config", `{"connector.class":"file-sink","pad":"` + pad + `"}`},
		{http.MethodPatch, "/connectors/c/config", `{"pad":"` + pad + `"}`},
		{http.MethodPut, "/connector-plugins/file-sink/config/validate", `{"connector.class":"file-sink","pad":"` + pad + `"}`},
		{http.MethodPatch, "/connectors/c/offsets", `{"offsets":[],"pad":"` + pad + `"}`},
		{http.MethodPost, "/connectors/c", `{"connector.class":"file-sink","pad":"` + pad + `"}`},
	}
	for _, r := range routes {
		for _, declared := range []bool{true, false} {
			req := newRequest(r.method, r.path, strings.NewReader(r.body))
			req.Header.Set("Content-Type", "application/json")
			if !declared {
				req.ContentLength = -1 // chunked: the limit is found while reading
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code, "%s %s (length declared %v): %s", r.method, r.path, declared, rec.Body.String())
		}
	}
}

type countingHealth struct {
	calls atomic.Int32
	err   error
}

func (c *countingHealth) Health(context.Context) error { c.calls.Add(1); return c.err }

// Probing /health (no credentials needed) does not make the worker ping RocketMQ per request.
func TestHealthChecksAreCached(t *testing.T) {
	inner := &countingHealth{}
	cached := newCachedHealth(inner, time.Second)
	now := time.Unix(1000, 0)
	cached.now = func() time.Time { return now }
	s := NewServer("127.0.0.1:0", Info{WorkerID: "w1"}, cached, nil, testServer().log)
	h := s.Handler()
	for range 50 {
		code, _ := send(t, h, http.MethodGet, "/health", "", nil)
		require.Equal(t, http.StatusOK, code)
	}
	require.EqualValues(t, 1, inner.calls.Load())
	now = now.Add(time.Second)
	code, _ := send(t, h, http.MethodGet, "/health", "", nil)
	require.Equal(t, http.StatusOK, code)
	require.EqualValues(t, 2, inner.calls.Load())
}

// Run serves with bounded read, write and idle times and header size.
func TestHTTPServerLimits(t *testing.T) {
	srv := testServer().httpServer()
	require.Equal(t, access.ReadHeaderTimeout, srv.ReadHeaderTimeout)
	require.Positive(t, srv.ReadTimeout)
	require.Positive(t, srv.WriteTimeout)
	require.Positive(t, srv.IdleTimeout)
	require.Positive(t, srv.MaxHeaderBytes)
	require.Less(t, srv.MaxHeaderBytes, http.DefaultMaxHeaderBytes)
}
