package main

import (
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/rmqconnect/rmqconnect/admin"
	"github.com/rmqconnect/rmqconnect/admin/admintest"
	"github.com/rmqconnect/rmqconnect/conf"
)

// secureWorker serves the real admin handler with basic auth (alice / s3cret) over TLS with
// httptest's self-signed certificate, and returns its URL and the certificate's PEM file.
func secureWorker(t *testing.T) (url, cacert string) {
	t.Helper()
	t.Setenv("RMQCONNECT_URL", "")
	t.Setenv("RMQCONNECT_USER", "")
	t.Setenv("RMQCONNECT_PASSWORD", "")
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	require.NoError(t, err)
	w := admintest.NewHerder("w1")
	srv := admin.NewServer("127.0.0.1:0", admin.Info{WorkerID: "w1"}, w, w, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv.EnableAuth(map[string][]byte{"alice": hash}, "")
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes below
	ts.StartTLS()
	t.Cleanup(ts.Close)
	cacert = filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(cacert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600))
	return ts.URL, cacert
}

func TestAdminAuthAndTLS(t *testing.T) {
	url, cacert := secureWorker(t)
	const authFailed = "authentication failed (401): check --user/--password"

	code, out, errOut := runAdmin(t, "--url", url, "--cacert", cacert, "--user", "alice", "--password", "s3cret", "list")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "NAME")
	require.Empty(t, errOut)

	code, _, errOut = runAdmin(t, "--url", url, "--cacert", cacert, "--user", "alice", "--password", "guess", "list")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "rmqconnect admin list: "+authFailed)

	code, _, errOut = runAdmin(t, "--url", url, "--cacert", cacert, "list")
	require.Equal(t, 1, code, "no credentials")
	require.Contains(t, errOut, authFailed)

	code, out, errOut = runAdmin(t, "--url", url, "--cacert", cacert, "health")
	require.Equal(t, 0, code, "health needs no credentials: %s", errOut)
	require.Contains(t, out, "healthy")

	// Without --cacert the self-signed certificate is refused, with a hint.
	code, _, errOut = runAdmin(t, "--url", url, "--user", "alice", "--password", "s3cret", "list")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "certificate")
	require.Contains(t, errOut, "--cacert")

	// --insecure skips verification, and says so.
	code, _, errOut = runAdmin(t, "--url", url, "--insecure", "--user", "alice", "--password", "s3cret", "list")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, errOut, "warning: --insecure")

	// The credentials may come from the environment; flags win over it.
	t.Setenv("RMQCONNECT_URL", url)
	t.Setenv("RMQCONNECT_USER", "alice")
	t.Setenv("RMQCONNECT_PASSWORD", "s3cret")
	code, _, errOut = runAdmin(t, "--cacert", cacert, "list")
	require.Equal(t, 0, code, errOut)
	code, _, errOut = runAdmin(t, "--cacert", cacert, "list", "--password", "guess")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, authFailed)

	// Usage output never shows the password from the environment.
	code, _, errOut = runAdmin(t, "list", "-h")
	require.Equal(t, 0, code)
	require.Contains(t, errOut, "-password")
	require.NotContains(t, errOut, "s3cret")
}

func TestAdminAccessFlagErrors(t *testing.T) {
	url, cacert := secureWorker(t)
	code, _, errOut := runAdmin(t, "--url", url, "--cacert", cacert, "--insecure", "list")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "--cacert and --insecure exclude each other")

	code, _, errOut = runAdmin(t, "--url", url, "--password", "x", "list")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "without --user")

	code, _, errOut = runAdmin(t, "--url", url, "--cacert", filepath.Join(t.TempDir(), "missing.pem"), "list")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "--cacert")

	notPEM := writeFile(t, "ca.pem", "not a certificate")
	code, _, errOut = runAdmin(t, "--url", url, "--cacert", notPEM, "list")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "no PEM certificate")

	// Credentials over plain http to another host draw a warning (the call itself fails here:
	// 192.0.2.1 is a documentation address).
	_, _, errOut = runAdmin(t, "--url", "http://192.0.2.1:9", "--timeout", "200ms", "--user", "a", "--password", "b", "list")
	require.True(t, strings.Contains(errOut, "unencrypted"), errOut)
}

func TestEnableAccess(t *testing.T) {
	newSrv := func() *admin.Server {
		return admin.NewServer("127.0.0.1:0", admin.Info{}, admintest.NewHerder("w1"), nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	cfg := conf.Defaults()
	require.NoError(t, enableAccess(newSrv(), &cfg), "nothing to enable")

	cfg.RESTAuthFile = writeFile(t, "users", "alice:plain\n")
	err := enableAccess(newSrv(), &cfg)
	require.ErrorContains(t, err, "restAuthFile: users file")
	require.ErrorContains(t, err, "line 1")

	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	require.NoError(t, err)
	cfg.RESTAuthFile = writeFile(t, "users", "alice:"+string(hash)+"\n")
	cfg.RESTCORSAllowedOrigins = "https://ui.example.com"
	srv := newSrv()
	require.NoError(t, enableAccess(srv, &cfg))
	req := httptest.NewRequest(http.MethodGet, "http://localhost/", nil)
	req.Header.Set("Origin", "https://ui.example.com")
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	require.Equal(t, "https://ui.example.com", rec.Header().Get("Access-Control-Allow-Origin"))

	// restAllowedHosts and restMutatingGetEnable reach the server.
	cfg.RESTAuthFile = ""
	cfg.RESTAllowedHosts = "connect.example.com"
	srv = admin.NewServer("127.0.0.1:0", admin.Info{}, admintest.NewHerder("w1"), admintest.NewHerder("w1"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, enableAccess(srv, &cfg))
	for host, want := range map[string]int{"connect.example.com": http.StatusOK, "evil.example.com": http.StatusForbidden} {
		rec = httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://"+host+"/connectors", nil))
		require.Equal(t, want, rec.Code, host)
	}
	rec = httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://localhost/connectors/stop/all", nil))
	require.Equal(t, http.StatusForbidden, rec.Code, "off by default")
	cfg.RESTMutatingGetEnable = true
	srv = admin.NewServer("127.0.0.1:0", admin.Info{}, admintest.NewHerder("w1"), admintest.NewHerder("w1"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, enableAccess(srv, &cfg))
	rec = httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://localhost/connectors/stop/all", nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	cfg.RESTMutatingGetEnable, cfg.RESTAllowedHosts = false, ""

	cfg.RESTTLSCertFile, cfg.RESTTLSKeyFile = writeFile(t, "cert.pem", "x"), writeFile(t, "key.pem", "y")
	require.ErrorContains(t, enableAccess(newSrv(), &cfg), "restTLSCertFile/restTLSKeyFile")
}
