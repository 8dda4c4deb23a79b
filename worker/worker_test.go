package worker

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

func TestMain(m *testing.M) { rmqtest.MainLeakChecked(m) }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestRunIsHealthyWithBroker(t *testing.T) {
	w, err := New(Config{WorkerID: "w-health", NameServers: []string{rmqtest.NameServer(t)}}, quiet())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, nil, nil) }()
	require.Eventually(t, func() bool { return w.Health(context.Background()) == nil }, 30*time.Second, 100*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
}

func TestRunFailsClearlyWithoutBroker(t *testing.T) {
	rmqtest.Require(t)
	w, err := New(Config{WorkerID: "w-down", NameServers: []string{"127.0.0.1:1"}, ConnectTimeout: time.Second}, quiet())
	require.NoError(t, err)
	err = w.Run(context.Background(), nil, nil)
	require.ErrorIs(t, err, rmqclient.ErrUnreachable)
	require.ErrorContains(t, err, "127.0.0.1:1")
	require.ErrorIs(t, w.Health(context.Background()), rmqclient.ErrUnreachable)
}
