package registry_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema/registry"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

const (
	userV1 = `{"type":"record","name":"User","namespace":"t","fields":[{"name":"id","type":"int"}]}`
	// userV2 promotes id to long and adds an optional field: BACKWARD compatible with v1.
	userV2 = `{"type":"record","name":"User","namespace":"t","fields":[{"name":"id","type":"long"},{"name":"email","type":["null","string"],"default":null}]}`
	// userBad adds a field without a default: the new schema cannot read v2 data.
	userBad = `{"type":"record","name":"User","namespace":"t","fields":[{"name":"id","type":"long"},{"name":"email","type":["null","string"],"default":null},{"name":"age","type":"int"}]}`
	// userNarrow demotes id back to int: long cannot be read as int.
	userNarrow = `{"type":"record","name":"User","namespace":"t","fields":[{"name":"id","type":"int"},{"name":"email","type":["null","string"],"default":null}]}`
)

func TestRegisterEvolveReject(t *testing.T) {
	a := startRegistry(t, rmqtest.Name(t, "t"))
	ctx := context.Background()
	c := a.client

	r1, err := c.Register(ctx, "users-value", "users-value", registry.RegisterRequest{SchemaIDL: userV1, SchemaType: "AVRO"})
	require.NoError(t, err)
	require.EqualValues(t, 1, r1.Version)
	r2, err := c.Update(ctx, "users-value", "users-value", registry.UpdateRequest{SchemaIDL: userV2})
	require.NoError(t, err)
	require.EqualValues(t, 2, r2.Version)
	require.Greater(t, r2.RecordID, r1.RecordID)

	for _, bad := range []struct{ idl, why string }{
		{userBad, "age"},
		{userNarrow, "id"},
	} {
		_, err = c.Update(ctx, "users-value", "users-value", registry.UpdateRequest{SchemaIDL: bad.idl})
		require.ErrorIs(t, err, registry.ErrConflict)
		require.Contains(t, err.Error(), "subject users-value")
		require.Contains(t, err.Error(), "BACKWARD")
		require.Contains(t, err.Error(), bad.why)
	}
	_, err = c.Update(ctx, "users-value", "users-value", registry.UpdateRequest{SchemaIDL: `{"type":"record"`})
	require.ErrorIs(t, err, registry.ErrBadRequest)

	latest, err := c.Latest(ctx, "users-value")
	require.NoError(t, err)
	require.Equal(t, r2.RecordID, latest.RecordID)
	require.Equal(t, userV2, latest.IDL)
	got, err := c.ByRecordID(ctx, "users-value", r1.RecordID)
	require.NoError(t, err)
	require.Equal(t, userV1, got.IDL)

	// A subject registered with NONE takes anything.
	_, err = c.Register(ctx, "free", "free", registry.RegisterRequest{SchemaIDL: userBad, Compatibility: "NONE"})
	require.NoError(t, err)
	_, err = c.Update(ctx, "free", "free", registry.UpdateRequest{SchemaIDL: `"string"`})
	require.NoError(t, err)

	subjects, err := c.Subjects(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"free", "users-value"}, subjects)
	require.NoError(t, c.DeleteVersion(ctx, "users-value", 1))
	_, err = c.ByRecordID(ctx, "users-value", r1.RecordID)
	require.ErrorIs(t, err, registry.ErrNotFound)
	require.NoError(t, c.DeleteSubject(ctx, "free"))
	subjects, err = c.Subjects(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"users-value"}, subjects)
}

func dump(t *testing.T, c *registry.Client) map[string][]registry.SchemaRecord {
	t.Helper()
	ctx := context.Background()
	subjects, err := c.Subjects(ctx)
	require.NoError(t, err)
	out := map[string][]registry.SchemaRecord{}
	for _, s := range subjects {
		vs, err := c.Versions(ctx, s)
		require.NoError(t, err)
		out[s] = vs
	}
	return out
}

func TestInstancesAgree(t *testing.T) {
	topic := rmqtest.Name(t, "t")
	a := startRegistry(t, topic)
	b := startRegistry(t, topic)
	ctx := context.Background()

	// Written through A, read through B at once: a miss makes B catch up with the topic first.
	r1, err := a.client.Register(ctx, "s", "s", registry.RegisterRequest{SchemaIDL: userV1})
	require.NoError(t, err)
	got, err := b.client.ByRecordID(ctx, "s", r1.RecordID)
	require.NoError(t, err)
	require.Equal(t, userV1, got.IDL)
	r2, err := b.client.Update(ctx, "s", "s", registry.UpdateRequest{SchemaIDL: userV2})
	require.NoError(t, err)
	v2, err := a.client.Version(ctx, "s", 2)
	require.NoError(t, err)
	require.Equal(t, r2.RecordID, v2.RecordID)

	// Concurrent writes through both: every subject registered through A and B at once gets one id, the same
	// for both callers.
	const n = 10
	var wg sync.WaitGroup
	results := make([][2]registry.Registered, n)
	errs := make([][2]error, n)
	for i := range n {
		for j, in := range []*instance{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := fmt.Sprintf("c%d", i)
				results[i][j], errs[i][j] = in.client.Ensure(ctx, s, s, registry.RegisterRequest{SchemaIDL: userV1})
			}()
		}
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i][0], "subject c%d through A", i)
		require.NoError(t, errs[i][1], "subject c%d through B", i)
		require.Equal(t, results[i][0], results[i][1], "subject c%d", i)
	}

	// Conflicting writes on one subject: a compatible and an incompatible version race; whatever the log order,
	// both instances end with the same versions and ids.
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, _ = a.client.Update(ctx, "c0", "c0", registry.UpdateRequest{SchemaIDL: userV2})
	}()
	go func() {
		defer wg.Done()
		_, _ = b.client.Update(ctx, "c0", "c0", registry.UpdateRequest{SchemaIDL: userNarrow})
	}()
	wg.Wait()

	require.Eventually(t, func() bool {
		da, db := dump(t, a.client), dump(t, b.client)
		return len(da) == n+1 && fmt.Sprint(da) == fmt.Sprint(db)
	}, 10*time.Second, 50*time.Millisecond)
	want := dump(t, a.client)

	// A restarted instance replays the topic and serves the same ids.
	a.stop()
	a2 := startRegistry(t, topic)
	require.Equal(t, want, dump(t, a2.client))
}

// The command, run as a process, replays the store topic after a restart: a fresh process reads it from its
// first offset.
func TestCommandProcessRestart(t *testing.T) {
	ns := rmqtest.NameServer(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "rmqconnect")
	build := exec.Command("go", "build", "-o", bin, "github.com/rmqconnect/rmqconnect/cmd/rmqconnect")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	cfg := filepath.Join(dir, "registry.properties")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(
		"namesrvAddr=%s\nhttpPort=%d\nstoreTopic=%s\nclusterName=reg-test\nlogLevel=warn\n", ns, port, rmqtest.Name(t, "t"))), 0o644))
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	c, err := registry.New(registry.Config{URL: url, MaxRetries: -1, Timeout: 5 * time.Second})
	require.NoError(t, err)

	start := func() (stop func()) {
		var logs strings.Builder
		cmd := exec.Command(bin, "schema-registry", "-c", cfg)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		require.NoError(t, cmd.Start())
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		require.Eventually(t, func() bool {
			_, err := c.Subjects(context.Background())
			return err == nil
		}, time.Minute, 100*time.Millisecond, "registry process never answered")
		return func() {
			require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
			select {
			case err := <-done:
				require.NoError(t, err, "registry process: %s", logs.String())
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("registry process did not stop: %s", logs.String())
			}
		}
	}
	ctx := context.Background()
	stop := start()
	r1, err := c.Register(ctx, "p", "p", registry.RegisterRequest{SchemaIDL: userV1})
	require.NoError(t, err)
	r2, err := c.Update(ctx, "p", "p", registry.UpdateRequest{SchemaIDL: userV2})
	require.NoError(t, err)
	stop()

	stop = start()
	defer stop()
	vs, err := c.Versions(ctx, "p")
	require.NoError(t, err)
	require.Len(t, vs, 2)
	require.Equal(t, r1.RecordID, vs[0].RecordID)
	require.Equal(t, r2.RecordID, vs[1].RecordID)
	// and keeps enforcing the subject's rules.
	_, err = c.Update(ctx, "p", "p", registry.UpdateRequest{SchemaIDL: userBad})
	require.ErrorIs(t, err, registry.ErrConflict)
}
