package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/rmqconnect/rmqconnect/admin/access"
	"github.com/rmqconnect/rmqconnect/conf"
	"github.com/rmqconnect/rmqconnect/schema/registry"
	"github.com/rmqconnect/rmqconnect/schema/registry/server"
)

// writeCert writes a self-signed certificate for 127.0.0.1 and its key, and returns their paths and a pool
// that trusts the certificate.
func writeCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "registry test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return writeFile(t, "cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))),
		writeFile(t, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))), pool
}

// The schema registry takes the worker's REST access keys: basic auth, TLS and the browser guard.
func TestSchemaRegistryAccess(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.New(server.Config{Log: server.NewMemLog(), Logger: log})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); require.NoError(t, <-done) }()

	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	require.NoError(t, err)
	certFile, keyFile, pool := writeCert(t)
	cfg := conf.RegistryDefaults()
	cfg.RESTAuthFile = writeFile(t, "users", "reg:"+string(hash)+"\n")
	cfg.RESTTLSCertFile, cfg.RESTTLSKeyFile = certFile, keyFile
	h, tlsCfg, err := registryAccess(srv, &cfg, log)
	require.NoError(t, err)
	require.NotNil(t, tlsCfg)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := access.NewHTTPServer(h, tlsCfg, log)
	served := make(chan error, 1)
	go func() { served <- hs.ServeTLS(ln, "", "") }()
	defer func() { require.NoError(t, hs.Close()); <-served }()
	base := "https://" + ln.Addr().String()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}

	list := base + "/schema-registry/v1/cluster/default/tenant/default/subjects"
	do := func(req *http.Request) (int, map[string]any) {
		resp, err := hc.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	req, _ := http.NewRequest(http.MethodGet, list, nil)
	code, body := do(req)
	require.Equal(t, http.StatusUnauthorized, code)
	require.EqualValues(t, 401, body["status"], "the registry's error shape")
	req, _ = http.NewRequest(http.MethodGet, list, nil)
	req.SetBasicAuth("reg", "s3cret")
	code, _ = do(req)
	require.Equal(t, http.StatusOK, code)

	// A cross-origin text/plain register is refused before auth and the handler.
	req, _ = http.NewRequest(http.MethodPost, base+"/schema-registry/v1/cluster/default/tenant/default/subject/s/schema/s",
		strings.NewReader(`{"schemaIdl":"\"string\""}`))
	req.SetBasicAuth("reg", "s3cret")
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Origin", "https://evil.example")
	code, body = do(req)
	require.Equal(t, http.StatusForbidden, code)
	require.EqualValues(t, 403, body["status"])

	// The client authenticates with credentials in the URL and never shows them.
	c, err := registry.New(registry.Config{URL: "https://reg:s3cret@" + ln.Addr().String(), HTTPClient: hc, MaxRetries: -1})
	require.NoError(t, err)
	_, err = c.Register(ctx, "s", "s", registry.RegisterRequest{SchemaIDL: `"string"`})
	require.NoError(t, err)
	bad, err := registry.New(registry.Config{URL: "https://reg:wrong@" + ln.Addr().String(), HTTPClient: hc, MaxRetries: -1})
	require.NoError(t, err)
	_, err = bad.Register(ctx, "s", "s", registry.RegisterRequest{SchemaIDL: `"string"`})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "wrong")

	// DNS rebinding: another name in Host is refused.
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "http://evil.example"+"/schema-registry/v1/cluster/default/tenant/default/subjects", nil)
	r.SetBasicAuth("reg", "s3cret")
	h.ServeHTTP(rec, r)
	require.Equal(t, http.StatusForbidden, rec.Code)
}
