package access

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })

func authRequest(h http.Handler, user, pass string, creds bool) int {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	if creds {
		req.SetBasicAuth(user, pass)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// A request without credentials costs no bcrypt comparison; valid credentials cost one, once.
func TestAuthBcryptOnlyWhenNeeded(t *testing.T) {
	a := NewBasicAuth(map[string][]byte{"alice": hashOf(t, "s3cret")}, "", 2, quiet(), KafkaError)
	var compares atomic.Int32
	a.compare = func(h, p []byte) error { compares.Add(1); return bcrypt.CompareHashAndPassword(h, p) }
	h := a.Wrap(okHandler, nil)

	for range 20 {
		require.Equal(t, http.StatusUnauthorized, authRequest(h, "", "", false))
	}
	require.EqualValues(t, 0, compares.Load(), "no credentials, no bcrypt")

	for range 20 {
		require.Equal(t, http.StatusOK, authRequest(h, "alice", "s3cret", true))
	}
	require.EqualValues(t, 1, compares.Load(), "verified credentials are remembered")

	// Wrong passwords and unknown users are compared every time (nothing to remember), at the
	// same cost as each other.
	require.Equal(t, http.StatusUnauthorized, authRequest(h, "alice", "guess", true))
	require.Equal(t, http.StatusUnauthorized, authRequest(h, "mallory", "s3cret", true))
	require.EqualValues(t, 3, compares.Load())
	// A cached entry is for that user and password only.
	require.Equal(t, http.StatusUnauthorized, authRequest(h, "alice", "s3cre", true))
}

// At most the configured number of bcrypt comparisons run at once; the rest wait.
func TestAuthBoundsConcurrentCompares(t *testing.T) {
	const limit, clients = 2, 10
	a := NewBasicAuth(map[string][]byte{"alice": hashOf(t, "s3cret")}, "", limit, quiet(), KafkaError)
	var inFlight, maxSeen, waiting atomic.Int32
	release := make(chan struct{})
	a.compare = func(h, p []byte) error {
		n := inFlight.Add(1)
		for {
			m := maxSeen.Load()
			if n <= m || maxSeen.CompareAndSwap(m, n) {
				break
			}
		}
		<-release
		inFlight.Add(-1)
		return bcrypt.ErrMismatchedHashAndPassword
	}
	a.waiting = func(d int) { waiting.Add(int32(d)) }
	h := a.Wrap(okHandler, nil)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			authRequest(h, "alice", "wrong", true)
		}()
	}
	// Every client is either comparing or queued for a slot; only limit compare.
	require.Eventually(t, func() bool { return inFlight.Load()+waiting.Load() == clients && inFlight.Load() == limit },
		10*time.Second, time.Millisecond, "in flight %d, waiting %d", inFlight.Load(), waiting.Load())
	close(release)
	wg.Wait()
	require.LessOrEqual(t, maxSeen.Load(), int32(limit))
}
