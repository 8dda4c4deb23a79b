package admin

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/admin/ui"
)

// The console is served at /ui/ by every server, connectors or not, with its security headers.
func TestConsoleRoutes(t *testing.T) {
	for _, withHerder := range []bool{true, false} {
		var h http.Handler
		if withHerder {
			h, _ = newTestServer(t)
		} else {
			h = testServer().Handler()
		}
		get := func(method, path string, header map[string]string) *httptest.ResponseRecorder {
			req := newRequest(method, path, nil)
			for k, v := range header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec
		}
		rec := get("GET", "/ui/", nil)
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
		require.Contains(t, rec.Body.String(), `<script type="module" src="js/app.js"></script>`)
		require.Equal(t, ui.CSP, rec.Header().Get("Content-Security-Policy"))
		require.Equal(t, "DENY", rec.Header().Get("X-Frame-Options"))
		require.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))

		rec = get("GET", "/ui/js/app.js", nil)
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, "text/javascript; charset=utf-8", rec.Header().Get("Content-Type"))
		etag := rec.Header().Get("ETag")
		require.NotEmpty(t, etag)
		require.Equal(t, http.StatusNotModified, get("GET", "/ui/js/app.js", map[string]string{"If-None-Match": etag}).Code)

		rec = get("HEAD", "/ui/app.css", nil)
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, "text/css; charset=utf-8", rec.Header().Get("Content-Type"))
		require.Empty(t, rec.Body.String())

		rec = get("GET", "/ui", nil)
		require.Equal(t, http.StatusMovedPermanently, rec.Code)
		require.Equal(t, "/ui/", rec.Header().Get("Location"))

		rec = get("GET", "/ui/nope.js", nil)
		require.Equal(t, http.StatusNotFound, rec.Code)
		require.Contains(t, rec.Body.String(), `"error_code":404`)
		require.Equal(t, http.StatusNotFound, get("GET", "/ui/../admin/openapi.json", nil).Code)
		require.Equal(t, http.StatusMethodNotAllowed, get("DELETE", "/ui/", nil).Code)
	}
}

// The console is behind the same access checks as the API: basic auth, the Host check that
// stops DNS rebinding, and the refusal of requests a page of another site makes.
func TestConsoleGuarded(t *testing.T) {
	s := testServer()
	s.EnableAuth(map[string][]byte{"alice": hashOf(t, "s3cret")}, "")
	h := s.Handler()
	cases := []struct {
		name   string
		path   string
		auth   bool
		header map[string]string
		want   int
	}{
		{name: "no credentials", path: "/ui/", want: http.StatusUnauthorized},
		{name: "no credentials, a script", path: "/ui/js/app.js", want: http.StatusUnauthorized},
		{name: "no credentials, the redirect", path: "/ui", want: http.StatusUnauthorized},
		{name: "credentials", path: "/ui/", auth: true, want: http.StatusOK},
		{name: "rebinding host name", path: "/ui/", auth: true, header: map[string]string{"Host": "evil.example"}, want: http.StatusForbidden},
		{name: "another origin", path: "/ui/js/app.js", auth: true, header: map[string]string{"Origin": "https://evil.example"}, want: http.StatusForbidden},
		{name: "cross-site navigation", path: "/ui/", auth: true, header: map[string]string{"Sec-Fetch-Site": "cross-site"}, want: http.StatusForbidden},
		{name: "same origin", path: "/ui/js/app.js", auth: true, header: map[string]string{"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}, want: http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := newRequest(http.MethodGet, c.path, nil)
			if c.auth {
				req.SetBasicAuth("alice", "s3cret")
			}
			for k, v := range c.header {
				if k == "Host" {
					req.Host = v
				} else {
					req.Header.Set(k, v)
				}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, c.want, rec.Code, rec.Body.String())
		})
	}
}

// With TLS on, the console is served over HTTPS like the API.
func TestConsoleTLS(t *testing.T) {
	certFile, keyFile, cert := selfSigned(t, t.TempDir())
	s := testServer()
	require.NoError(t, s.EnableTLS(certFile, keyFile))
	url := "https://" + runServer(t, s)
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	resp, err := tlsClient(t, &tls.Config{RootCAs: roots}).Get(url + "/ui/")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.True(t, strings.Contains(string(body), "rmqconnect console"))
}
