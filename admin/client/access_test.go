package client_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/admin/client"
)

func TestWithBasicAuthAndTLS(t *testing.T) {
	var (
		mu         sync.Mutex
		user, pass string
		ok         bool
	)
	seen := func() (string, string, bool) {
		mu.Lock()
		defer mu.Unlock()
		return user, pass, ok
	}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		user, pass, ok = r.BasicAuth()
		alice := user == "alice"
		mu.Unlock()
		if !alice {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error_code":401,"message":"authentication required"}`)
			return
		}
		_, _ = io.WriteString(w, `["a"]`)
	}))
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.StartTLS()
	defer ts.Close()
	roots := x509.NewCertPool()
	roots.AddCert(ts.Certificate())
	ctx := context.Background()

	c, err := client.New(ts.URL, client.WithBasicAuth("alice", "s3cret"), client.WithTLSConfig(&tls.Config{RootCAs: roots}))
	require.NoError(t, err)
	names, err := c.List(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, names)
	u, p, sent := seen()
	require.True(t, sent)
	require.Equal(t, "alice", u)
	require.Equal(t, "s3cret", p)

	c, err = client.New(ts.URL, client.WithTLSConfig(&tls.Config{RootCAs: roots}))
	require.NoError(t, err)
	_, err = c.List(ctx)
	require.True(t, client.IsUnauthorized(err), "%v", err)
	_, _, sent = seen()
	require.False(t, sent, "no credentials without WithBasicAuth")

	// The TLS config goes on a copy of WithHTTPClient's transport, whatever the order.
	c, err = client.New(ts.URL, client.WithTLSConfig(&tls.Config{RootCAs: roots}), client.WithBasicAuth("alice", ""),
		client.WithHTTPClient(&http.Client{Transport: &http.Transport{}}))
	require.NoError(t, err)
	_, err = c.List(ctx)
	require.NoError(t, err)

	c, err = client.New(ts.URL)
	require.NoError(t, err)
	_, err = c.List(ctx)
	require.ErrorContains(t, err, "certificate", "the test certificate is not trusted by default")

	_, err = client.New(ts.URL, client.WithTLSConfig(&tls.Config{}),
		client.WithHTTPClient(&http.Client{Transport: roundTripFunc(nil)}))
	require.ErrorContains(t, err, "not an *http.Transport")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
