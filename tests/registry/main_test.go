package registry_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema/registry"
	"github.com/rmqconnect/rmqconnect/schema/registry/server"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/registrylog"
)

func TestMain(m *testing.M) { rmqtest.Main(m) }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// instance is one registry server over a store topic, listening on a free loopback port.
type instance struct {
	URL    string
	client *registry.Client
	stop   func()
}

// startRegistry starts a registry instance on topic (created when missing) and waits until it has replayed it.
func startRegistry(t *testing.T, topic string) *instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store, err := registrylog.Open(ctx, registrylog.Config{Client: rmqtest.Client(t), Topic: topic, Logger: quiet()})
	require.NoError(t, err)
	srv, err := server.New(server.Config{Log: store, Logger: quiet()})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	runCtx, stopRun := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	var runErr error
	go func() { defer wg.Done(); runErr = srv.Run(runCtx) }()
	go func() { defer wg.Done(); _ = hs.Serve(ln) }()
	select {
	case <-srv.Ready():
	case <-ctx.Done():
		t.Fatal("registry did not replay its store topic in time")
	}
	url := "http://" + ln.Addr().String()
	c, err := registry.New(registry.Config{URL: url, MaxRetries: -1})
	require.NoError(t, err)
	var once sync.Once
	in := &instance{URL: url, client: c}
	in.stop = func() {
		once.Do(func() {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = hs.Shutdown(sctx)
			stopRun()
			wg.Wait()
			require.NoError(t, runErr)
			require.NoError(t, store.Close())
		})
	}
	t.Cleanup(in.stop)
	return in
}
