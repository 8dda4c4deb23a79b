package admin

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func corsRequest(h http.Handler, method, path, origin string, preflight bool) *httptest.ResponseRecorder {
	req := newRequest(method, path, nil)
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if preflight {
		req.Header.Set("Access-Control-Request-Method", "DELETE")
		req.Header.Set("Access-Control-Request-Headers", "authorization")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestCORS(t *testing.T) {
	s := testServer()
	s.EnableAuth(map[string][]byte{"alice": hashOf(t, "s3cret")}, "")
	s.EnableCORS([]string{"https://ui.example.com/", "HTTP://localhost:3000"}, []string{"get", "DELETE"})
	h := s.Handler()

	// A preflight from a listed origin is answered before auth: browsers send it without credentials.
	rec := corsRequest(h, http.MethodOptions, "/connectors/x", "https://ui.example.com", true)
	require.Equal(t, http.StatusNoContent, rec.Code)
	require.Equal(t, "https://ui.example.com", rec.Header().Get("Access-Control-Allow-Origin"))
	require.Equal(t, "true", rec.Header().Get("Access-Control-Allow-Credentials"))
	require.Equal(t, "GET, DELETE", rec.Header().Get("Access-Control-Allow-Methods"))
	require.Contains(t, rec.Header().Get("Access-Control-Allow-Headers"), "Authorization")
	require.Contains(t, rec.Header().Values("Vary"), "Origin")

	rec = corsRequest(h, http.MethodOptions, "/connectors/x", "http://localhost:3000", true)
	require.Equal(t, http.StatusNoContent, rec.Code, "origins compare without case")

	// A preflight from another origin is refused, without CORS headers.
	rec = corsRequest(h, http.MethodOptions, "/connectors/x", "https://evil.example.com", true)
	require.Equal(t, http.StatusForbidden, rec.Code)
	require.Empty(t, rec.Header().Get("Access-Control-Allow-Origin"))
	require.Empty(t, rec.Header().Get("Access-Control-Allow-Methods"))

	// A simple request from a listed origin gets the headers, on a 401 as well (so the page can
	// read it) as on a 200.
	rec = corsRequest(h, http.MethodGet, "/", "https://ui.example.com", false)
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	require.Equal(t, "https://ui.example.com", rec.Header().Get("Access-Control-Allow-Origin"))
	rec = corsRequest(h, http.MethodGet, "/health", "https://ui.example.com", false)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "https://ui.example.com", rec.Header().Get("Access-Control-Allow-Origin"))
	require.Empty(t, rec.Header().Get("Access-Control-Allow-Methods"), "only a preflight lists methods")

	// From another origin the request is refused before it runs, without the headers.
	rec = corsRequest(h, http.MethodGet, "/health", "https://evil.example.com", false)
	require.Equal(t, http.StatusForbidden, rec.Code)
	require.Empty(t, rec.Header().Get("Access-Control-Allow-Origin"))
	require.Empty(t, rec.Header().Get("Access-Control-Allow-Credentials"))

	// Without Origin it is not a CORS request; an OPTIONS without Access-Control-Request-Method
	// is not a preflight and goes to the routes.
	rec = corsRequest(h, http.MethodGet, "/health", "", false)
	require.Empty(t, rec.Header().Get("Access-Control-Allow-Origin"))
	rec = corsRequest(h, http.MethodOptions, "/health", "https://ui.example.com", false)
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}

func TestCORSAnyOrigin(t *testing.T) {
	s := testServer()
	s.EnableCORS([]string{"*"}, []string{"GET"})
	h := s.Handler()
	rec := corsRequest(h, http.MethodOptions, "/health", "https://anything.example", true)
	require.Equal(t, http.StatusNoContent, rec.Code)
	require.Equal(t, "*", rec.Header().Get("Access-Control-Allow-Origin"))
	require.Empty(t, rec.Header().Get("Access-Control-Allow-Credentials"), "no credentials for any origin")
	rec = corsRequest(h, http.MethodGet, "/health", "https://anything.example", false)
	require.Equal(t, "*", rec.Header().Get("Access-Control-Allow-Origin"))
}

func TestCORSDisabled(t *testing.T) {
	s := testServer()
	s.EnableCORS(nil, []string{"GET"})
	rec := corsRequest(s.Handler(), http.MethodOptions, "/health", "https://ui.example.com", true)
	require.Equal(t, http.StatusForbidden, rec.Code, "no origin is allowed")
	require.Empty(t, rec.Header().Get("Access-Control-Allow-Origin"))
	require.Empty(t, rec.Header().Values("Vary"))
}
