package admin

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

func testServer() *Server {
	return NewServer("127.0.0.1:0", Info{WorkerID: "w1", Version: "v1"}, fakeHealth{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func hashOf(t *testing.T, password string) []byte {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	require.NoError(t, err)
	return h
}

func TestAuth(t *testing.T) {
	s := testServer()
	s.EnableAuth(map[string][]byte{"alice": hashOf(t, "s3cret")}, "")
	h := s.Handler()
	cases := []struct {
		name, path, user, pass string
		noAuth                 bool
		want                   int
	}{
		{name: "no credentials", path: "/", noAuth: true, want: http.StatusUnauthorized},
		{name: "wrong password", path: "/", user: "alice", pass: "guess", want: http.StatusUnauthorized},
		{name: "unknown user", path: "/", user: "mallory", pass: "s3cret", want: http.StatusUnauthorized},
		{name: "empty password", path: "/", user: "alice", want: http.StatusUnauthorized},
		{name: "right password", path: "/", user: "alice", pass: "s3cret", want: http.StatusOK},
		{name: "unknown route needs auth too", path: "/nope", noAuth: true, want: http.StatusUnauthorized},
		{name: "unknown route with auth", path: "/nope", user: "alice", pass: "s3cret", want: http.StatusNotFound},
		{name: "health is open", path: "/health", noAuth: true, want: http.StatusOK},
		{name: "health ignores bad credentials", path: "/health", user: "alice", pass: "guess", want: http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := newRequest(http.MethodGet, c.path, nil)
			if !c.noAuth {
				req.SetBasicAuth(c.user, c.pass)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, c.want, rec.Code, rec.Body.String())
			if c.want != http.StatusUnauthorized {
				require.Empty(t, rec.Header().Get("WWW-Authenticate"))
				return
			}
			require.Equal(t, `Basic realm="rmqconnect", charset="UTF-8"`, rec.Header().Get("WWW-Authenticate"))
			var body map[string]any
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			require.EqualValues(t, 401, body["error_code"])
			require.NotEmpty(t, body["message"])
		})
	}
}

func TestAuthRealmIsQuoted(t *testing.T) {
	s := testServer()
	s.EnableAuth(map[string][]byte{"alice": hashOf(t, "x")}, `prod "eu"`)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, newRequest(http.MethodGet, "/", nil))
	require.Equal(t, `Basic realm="prod \"eu\"", charset="UTF-8"`, rec.Header().Get("WWW-Authenticate"))
}
