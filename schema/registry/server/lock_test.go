package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// A lookup that panics (the HTTP server recovers the panic) must not leave the state's lock
// held: every later request needs it.
func TestReadPanicReleasesLock(t *testing.T) {
	s, err := New(Config{Log: NewMemLog(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ReadSyncTimeout: -1})
	require.NoError(t, err)
	func() {
		defer func() { require.NotNil(t, recover(), "the lookup's panic reaches the caller") }()
		s.read(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil), func(*state) (any, bool, string) {
			panic("lookup failed")
		})
	}()
	require.True(t, s.mu.TryLock(), "the lock is free after the panic")
	s.mu.Unlock()
	rec := httptest.NewRecorder()
	s.read(rec, httptest.NewRequest(http.MethodGet, "/", nil), func(*state) (any, bool, string) { return "ok", true, "" })
	require.Equal(t, http.StatusOK, rec.Code)
}
