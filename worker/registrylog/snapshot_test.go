package registrylog_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema/registry/server"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/registrylog"
)

// fromLog replays a Log from position from on, as the store topic reads once the broker's
// retention deleted what came before; it records the last position it saw.
type fromLog struct {
	server.Log
	from int64
	last atomic.Int64
}

func (l *fromLog) Run(ctx context.Context, apply func(int64, []byte)) error {
	return l.Log.Run(ctx, func(pos int64, ev []byte) {
		l.last.Store(pos)
		if pos >= l.from {
			apply(pos, ev)
		}
	})
}

func serve(t *testing.T, log server.Log) (*server.Server, func()) {
	t.Helper()
	s, err := server.New(server.Config{Log: log, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case <-time.After(60 * time.Second):
		t.Fatal("registry did not replay its log")
	}
	return s, func() { cancel(); require.NoError(t, <-done) }
}

func subjects(t *testing.T, s *server.Server) []string {
	t.Helper()
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/schema-registry/v1/cluster/c/tenant/t/subjects", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	var names []string
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &names))
	return names
}

// A registry holding more than the broker takes in one message (4 MiB) snapshots into the
// store topic, and a registry that replays only from that snapshot on has every schema.
func TestLargeRegistrySnapshot(t *testing.T) {
	topic := rmqtest.Name(t, "big")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	// 40 schemas of 200 KiB of random text: 8 MiB of state, over 4 MiB even once the client
	// compresses the body.
	const n = 40
	w, _ := run(t, topic)
	for i := range n {
		noise := make([]byte, 150<<10)
		_, _ = rand.Read(noise)
		idl := fmt.Sprintf(`{"type":"record","name":"R%d","doc":"%s","fields":[{"name":"a","type":"int"}]}`, i, base64.StdEncoding.EncodeToString(noise))
		ev, err := json.Marshal(map[string]string{"op": "register", "cluster": "c", "tenant": "t", "subject": fmt.Sprintf("s%02d", i), "idl": idl, "compatibility": "NONE"})
		require.NoError(t, err)
		require.NoError(t, w.Append(ctx, ev))
	}
	client := rmqtest.Client(t)
	open := func() *registrylog.Log {
		l, err := registrylog.Open(ctx, registrylog.Config{Client: client, Topic: topic})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, l.Close()) })
		return l
	}
	first := &fromLog{Log: open()}
	writer, stop := serve(t, first)
	require.Len(t, subjects(t, writer), n)
	snapshotFrom := first.last.Load() + 1
	require.NoError(t, writer.Snapshot(ctx), "every snapshot entry fits in a message")
	stop()

	reader, stop := serve(t, &fromLog{Log: open(), from: snapshotFrom})
	defer stop()
	require.Len(t, subjects(t, reader), n, "the schemas before the snapshot survive the log's start being deleted")
}

// A send the producer retried after the broker stored it but its answer was lost leaves two copies
// of one event in the topic, with other writes in between: the registry applies it once, on a full
// replay and on a replay from a snapshot taken between the copies.
func TestRetriedAppendAppliedOnce(t *testing.T) {
	topic := rmqtest.Name(t, "dup")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	w, _ := run(t, topic)
	send := func(op, subject, req string) {
		t.Helper()
		ev, err := json.Marshal(map[string]string{"op": op, "req": req, "cluster": "c", "tenant": "t", "subject": subject,
			"idl": `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`, "compatibility": "NONE"})
		require.NoError(t, err)
		require.NoError(t, w.Append(ctx, ev))
	}
	send("register", "a", "r1")
	send("delete-subject", "a", "r2")
	send("register", "a", "r3")
	send("register", "b", "r4")
	send("delete-subject", "b", "r5")

	client := rmqtest.Client(t)
	open := func() *registrylog.Log {
		l, err := registrylog.Open(ctx, registrylog.Config{Client: client, Topic: topic})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, l.Close()) })
		return l
	}
	first := &fromLog{Log: open()}
	writer, stop := serve(t, first)
	require.Equal(t, []string{"a"}, subjects(t, writer))
	snapshotFrom := first.last.Load() + 1
	require.NoError(t, writer.Snapshot(ctx))
	stop()
	send("delete-subject", "a", "r2") // a second copy of the delete: a was registered again since
	send("register", "b", "r4")       // a second copy of the register: b was deleted since

	full, stop := serve(t, open())
	defer stop()
	require.Equal(t, []string{"a"}, subjects(t, full), "full replay")
	fromSnapshot, stop := serve(t, &fromLog{Log: open(), from: snapshotFrom})
	defer stop()
	require.Equal(t, []string{"a"}, subjects(t, fromSnapshot), "replay from the snapshot")
}
