package httpconn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	httpconn "github.com/rmqconnect/rmqconnect/plugins/connectors/http"
)

type keyPair struct {
	cert *x509.Certificate
	der  []byte
	key  *ecdsa.PrivateKey
}

func issue(t *testing.T, cn string, parent *keyPair, ca bool) *keyPair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: ca, BasicConstraintsValid: true,
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &keyPair{cert: cert, der: der, key: key}
}

func (k *keyPair) write(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.der}), 0o600))
	kb, err := x509.MarshalECPrivateKey(k.key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	return certFile, keyFile
}

// TestSinkMutualTLS: the sink presents its client certificate and verifies the server with tls.ca.file; a
// server requiring a client certificate refuses a sink without one.
func TestSinkMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca := issue(t, "test-ca", nil, true)
	caFile, _ := ca.write(t, dir, "ca")
	server := issue(t, "server", ca, false)
	client := issue(t, "client", ca, false)
	certFile, keyFile := client.write(t, dir, "client")

	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	var mu sync.Mutex
	var peers []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		peers = append(peers, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool,
		Certificates: []tls.Certificate{{Certificate: [][]byte{server.der}, PrivateKey: server.key}}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()

	task, _ := startSink(t, map[string]string{"url": srv.URL, "tls.client.cert.file": certFile, "tls.client.key.file": keyFile, "tls.ca.file": caFile})
	require.NoError(t, task.Put(context.Background(), recs(2, constKey)))
	require.NoError(t, task.Flush(context.Background(), nil))
	require.Equal(t, []string{"client", "client"}, peers)

	task2, _ := startSink(t, map[string]string{"url": srv.URL, "tls.ca.file": caFile, "retry.max.attempts": "1"})
	require.NoError(t, task2.Put(context.Background(), recs(1, constKey)))
	require.ErrorIs(t, task2.Flush(context.Background(), nil), httpconn.ErrGaveUp)
	require.Len(t, peers, 2)
}
