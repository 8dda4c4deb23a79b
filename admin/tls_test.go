package admin

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// selfSigned writes a self-signed ECDSA certificate for 127.0.0.1 and its key to dir and
// returns their paths and the certificate.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "rmqconnect test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err = x509.ParseCertificate(der)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certFile, keyFile, cert
}

// runServer runs s until the test ends and returns its address.
func runServer(t *testing.T, s *Server) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	actx, acancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer acancel()
	addr, err := s.Addr(actx)
	require.NoError(t, err)
	return addr.String()
}

func tlsClient(t *testing.T, cfg *tls.Config) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func TestTLS(t *testing.T) {
	certFile, keyFile, cert := selfSigned(t, t.TempDir())
	s := testServer()
	require.NoError(t, s.EnableTLS(certFile, keyFile))
	s.EnableAuth(map[string][]byte{"alice": hashOf(t, "s3cret")}, "")
	url := "https://" + runServer(t, s)

	roots := x509.NewCertPool()
	roots.AddCert(cert)
	trusting := tlsClient(t, &tls.Config{RootCAs: roots})
	resp, err := trusting.Get(url + "/health")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, uint16(tls.VersionTLS13), resp.TLS.Version)

	req, err := http.NewRequest(http.MethodGet, url+"/", nil)
	require.NoError(t, err)
	req.SetBasicAuth("alice", "wrong")
	resp, err = trusting.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "auth applies over TLS")
	req.SetBasicAuth("alice", "s3cret")
	resp, err = trusting.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// Without the certificate among its roots, a client refuses the server.
	_, err = tlsClient(t, &tls.Config{}).Get(url + "/health")
	var unknownCA x509.UnknownAuthorityError
	require.True(t, errors.As(err, &unknownCA), "%v", err)

	// Plain HTTP to the HTTPS port is refused with a 400 (net/http answers it so).
	resp, err = tlsClient(t, nil).Get("http://" + url[len("https://"):] + "/health")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	// TLS 1.1 is refused.
	_, err = tlsClient(t, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}).Get(url + "/health")
	require.Error(t, err)
}

func TestEnableTLSErrors(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := selfSigned(t, dir)
	s := testServer()
	err := s.EnableTLS(filepath.Join(dir, "missing.pem"), keyFile)
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorContains(t, s.EnableTLS(keyFile, certFile), "admin TLS certificate")
	_, otherKey, _ := selfSigned(t, t.TempDir())
	require.Error(t, s.EnableTLS(certFile, otherKey), "a key that does not match the certificate")
	require.Nil(t, s.tls, "a failed EnableTLS leaves the server on plain HTTP")
}
