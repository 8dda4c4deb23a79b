package worker

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/admin"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

// blackHole is a name server address that accepts connections and never answers, as a host
// whose process hangs or whose replies a firewall drops does.
func blackHole(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(io.Discard, c) })
		}
	})
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}

// A name server that never answers, listed first, does not make /health unhealthy while
// another name server answers within the health check's time.
func TestHealthWithAnUnansweringNameServerFirst(t *testing.T) {
	w, err := New(Config{WorkerID: "w-health", NameServers: []string{blackHole(t), rmqtest.NameServer(t)}}, quiet())
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Client().Close() })
	srv := httptest.NewServer(admin.NewServer("127.0.0.1:0", admin.Info{WorkerID: "w-health"},
		admin.CachedHealth(w, time.Second), nil, quiet()).Handler())
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/health")
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct{ Status, Message string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body.Message)
	require.Equal(t, admin.HealthHealthy, body.Status)
}
