package admintest

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Server serves a handler (typically the admin server's) over httptest and records the
// requests it received.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	requests []string
}

// Serve serves h until the test ends.
func Serve(t testing.TB, h http.Handler) *Server {
	t.Helper()
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		line := r.Method + " " + r.URL.EscapedPath()
		if q := r.URL.Query(); len(q) > 0 {
			line += "?" + q.Encode() // keys sorted
		}
		s.mu.Lock()
		s.requests = append(s.requests, line)
		s.mu.Unlock()
		h.ServeHTTP(rw, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// Requests returns "METHOD /path?query" of every request so far, in order.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// Last returns the latest request, "" when there was none.
func (s *Server) Last() string {
	r := s.Requests()
	if len(r) == 0 {
		return ""
	}
	return r[len(r)-1]
}
