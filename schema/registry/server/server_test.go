package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rmqconnect/rmqconnect/schema/registry"
	"github.com/rmqconnect/rmqconnect/schema/registry/server"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	v1 = `{"type":"record","name":"User","fields":[{"name":"id","type":"long"}]}`
	// v2 adds a field with a default: backward compatible with v1.
	v2 = `{"type":"record","name":"User","fields":[{"name":"id","type":"long"},{"name":"email","type":["null","string"],"default":null}]}`
	// v3 adds a field without a default: not backward compatible.
	v3 = `{"type":"record","name":"User","fields":[{"name":"id","type":"long"},{"name":"age","type":"int"}]}`
	// v1b is v1 written differently.
	v1b = `{ "name": "User", "type": "record", "fields": [ {"type": "long", "name": "id"} ] }`
)

// instance is one running registry server over a log, with a client.
type instance struct {
	srv    *server.Server
	http   *httptest.Server
	client *registry.Client
	stop   func()
}

func start(t *testing.T, log server.Log) *instance {
	t.Helper()
	srv, err := server.New(server.Config{Log: log, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		WriteTimeout: 5 * time.Second})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	hs := httptest.NewServer(srv)
	c, err := registry.New(registry.Config{URL: hs.URL, MaxRetries: -1, Timeout: 5 * time.Second})
	require.NoError(t, err)
	in := &instance{srv: srv, http: hs, client: c}
	var once sync.Once
	in.stop = func() {
		once.Do(func() {
			hs.Close()
			cancel()
			require.NoError(t, <-done)
		})
	}
	t.Cleanup(in.stop)
	return in
}

func status(t *testing.T, err error) int {
	t.Helper()
	var api *registry.APIError
	require.True(t, errors.As(err, &api), "want an API error, got %v", err)
	return api.Status
}

func TestRegisterEvolveReject(t *testing.T) {
	a := start(t, server.NewMemLog())
	ctx := context.Background()
	c := a.client

	reg, err := c.Register(ctx, "users-value", "users-value", registry.RegisterRequest{SchemaIDL: v1, SchemaType: "AVRO"})
	require.NoError(t, err)
	require.EqualValues(t, 1, reg.Version)
	require.Positive(t, reg.RecordID)

	// The same schema again, even written differently, is the same version; nothing is appended.
	again, err := c.Register(ctx, "users-value", "users-value", registry.RegisterRequest{SchemaIDL: v1b})
	require.NoError(t, err)
	require.Equal(t, reg, again)

	// Another schema under POST: the subject exists.
	_, err = c.Register(ctx, "users-value", "users-value", registry.RegisterRequest{SchemaIDL: v2})
	require.ErrorIs(t, err, registry.ErrConflict)

	up, err := c.Update(ctx, "users-value", "users-value", registry.UpdateRequest{SchemaIDL: v2})
	require.NoError(t, err)
	require.EqualValues(t, 2, up.Version)
	require.NotEqual(t, reg.RecordID, up.RecordID)

	// Incompatible under BACKWARD: 409 naming the subject and the rule.
	_, err = c.Update(ctx, "users-value", "users-value", registry.UpdateRequest{SchemaIDL: v3})
	require.ErrorIs(t, err, registry.ErrConflict)
	require.Contains(t, err.Error(), "users-value")
	require.Contains(t, err.Error(), "BACKWARD")
	require.Contains(t, err.Error(), "age")

	latest, err := c.Latest(ctx, "users-value")
	require.NoError(t, err)
	require.Equal(t, registry.SchemaRecord{Subject: "users-value", SchemaName: "users-value", SchemaID: reg.RecordID,
		RecordID: up.RecordID, Version: 2, IDL: v2, Type: "AVRO"}, latest)

	vs, err := c.Versions(ctx, "users-value")
	require.NoError(t, err)
	require.Len(t, vs, 2)
	require.Equal(t, v1, vs[0].IDL)

	byID, err := c.ByRecordID(ctx, "users-value", reg.RecordID)
	require.NoError(t, err)
	require.EqualValues(t, 1, byID.Version)

	one, err := c.Version(ctx, "users-value", 2)
	require.NoError(t, err)
	require.Equal(t, latest, one)

	subjects, err := c.Subjects(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"users-value"}, subjects)

	// Update of a schema that is already a version answers that version.
	same, err := c.Update(ctx, "users-value", "users-value", registry.UpdateRequest{SchemaIDL: v1})
	require.NoError(t, err)
	require.Equal(t, reg, same)
}

func TestNotFoundAndBadRequests(t *testing.T) {
	a := start(t, server.NewMemLog())
	ctx := context.Background()
	c := a.client
	_, err := c.Latest(ctx, "nope")
	require.ErrorIs(t, err, registry.ErrNotFound)
	_, err = c.Update(ctx, "nope", "nope", registry.UpdateRequest{SchemaIDL: v1})
	require.ErrorIs(t, err, registry.ErrNotFound)
	require.ErrorIs(t, c.DeleteSubject(ctx, "nope"), registry.ErrNotFound)

	_, err = c.Register(ctx, "s", "s", registry.RegisterRequest{SchemaIDL: `{"type":"record"`})
	require.Equal(t, http.StatusUnprocessableEntity, status(t, err))
	_, err = c.Register(ctx, "s", "s", registry.RegisterRequest{SchemaIDL: v1, Compatibility: "SIDEWAYS"})
	require.Equal(t, http.StatusBadRequest, status(t, err))
	_, err = c.Register(ctx, "s", "s", registry.RegisterRequest{SchemaIDL: v1, SchemaType: "PROTOBUF"})
	require.Equal(t, http.StatusBadRequest, status(t, err))

	reg, err := c.Register(ctx, "s", "s", registry.RegisterRequest{SchemaIDL: v1})
	require.NoError(t, err)
	_, err = c.ByRecordID(ctx, "s", reg.RecordID+100)
	require.ErrorIs(t, err, registry.ErrNotFound)
	_, err = c.Version(ctx, "s", 7)
	require.ErrorIs(t, err, registry.ErrNotFound)

	resp, err := http.Get(a.http.URL + "/schema-registry/v1/cluster/default/tenant/default/subject/s/schema/versions/x")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestCompatibilityModes(t *testing.T) {
	a := start(t, server.NewMemLog())
	ctx := context.Background()
	c := a.client
	// NONE accepts anything.
	_, err := c.Register(ctx, "free", "free", registry.RegisterRequest{SchemaIDL: v1, Compatibility: "NONE"})
	require.NoError(t, err)
	_, err = c.Update(ctx, "free", "free", registry.UpdateRequest{SchemaIDL: v3})
	require.NoError(t, err)
	_, err = c.Update(ctx, "free", "free", registry.UpdateRequest{SchemaIDL: `"string"`})
	require.NoError(t, err)

	// FORWARD: removing a field the old schema has no default for is refused; adding one is fine.
	_, err = c.Register(ctx, "fwd", "fwd", registry.RegisterRequest{SchemaIDL: v1, Compatibility: "forward"})
	require.NoError(t, err)
	_, err = c.Update(ctx, "fwd", "fwd", registry.UpdateRequest{SchemaIDL: v3})
	require.NoError(t, err)
	_, err = c.Update(ctx, "fwd", "fwd", registry.UpdateRequest{SchemaIDL: `{"type":"record","name":"User","fields":[]}`})
	require.ErrorIs(t, err, registry.ErrConflict)
	require.Contains(t, err.Error(), "FORWARD")

	// BACKWARD_TRANSITIVE checks every version, not only the latest.
	_, err = c.Register(ctx, "bt", "bt", registry.RegisterRequest{SchemaIDL: v1, Compatibility: "BACKWARD_TRANSITIVE"})
	require.NoError(t, err)
	_, err = c.Update(ctx, "bt", "bt", registry.UpdateRequest{SchemaIDL: `{"type":"record","name":"User","fields":[{"name":"id","type":"long"},{"name":"age","type":"int","default":0}]}`})
	require.NoError(t, err)
	// Dropping the default of age reads version 2 but not version 1.
	_, err = c.Update(ctx, "bt", "bt", registry.UpdateRequest{SchemaIDL: v3})
	require.ErrorIs(t, err, registry.ErrConflict)
	require.Contains(t, err.Error(), "version 1")
}

func TestDelete(t *testing.T) {
	a := start(t, server.NewMemLog())
	ctx := context.Background()
	c := a.client
	r1, err := c.Register(ctx, "d", "d", registry.RegisterRequest{SchemaIDL: v1})
	require.NoError(t, err)
	r2, err := c.Update(ctx, "d", "d", registry.UpdateRequest{SchemaIDL: v2})
	require.NoError(t, err)
	require.NoError(t, c.DeleteVersion(ctx, "d", 1))
	vs, err := c.Versions(ctx, "d")
	require.NoError(t, err)
	require.Len(t, vs, 1)
	require.Equal(t, r2.RecordID, vs[0].RecordID)
	_, err = c.ByRecordID(ctx, "d", r1.RecordID)
	require.ErrorIs(t, err, registry.ErrNotFound)
	require.ErrorIs(t, c.DeleteVersion(ctx, "d", 1), registry.ErrNotFound)

	require.NoError(t, c.DeleteSubject(ctx, "d"))
	_, err = c.Latest(ctx, "d")
	require.ErrorIs(t, err, registry.ErrNotFound)
	subjects, err := c.Subjects(ctx)
	require.NoError(t, err)
	require.Empty(t, subjects)

	// A deleted subject starts again at version 1 with a new record id.
	r3, err := c.Register(ctx, "d", "d", registry.RegisterRequest{SchemaIDL: v3})
	require.NoError(t, err)
	require.EqualValues(t, 1, r3.Version)
	require.Greater(t, r3.RecordID, r2.RecordID)
}

func TestClustersAndTenantsAreSeparate(t *testing.T) {
	a := start(t, server.NewMemLog())
	ctx := context.Background()
	other, err := registry.New(registry.Config{URL: a.http.URL, Cluster: "c2", Tenant: "t2", MaxRetries: -1})
	require.NoError(t, err)
	_, err = a.client.Register(ctx, "s", "s", registry.RegisterRequest{SchemaIDL: v1})
	require.NoError(t, err)
	_, err = other.Latest(ctx, "s")
	require.ErrorIs(t, err, registry.ErrNotFound)
	_, err = other.Register(ctx, "s", "s", registry.RegisterRequest{SchemaIDL: v3})
	require.NoError(t, err)
	subjects, err := other.Subjects(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"s"}, subjects)
}

// Two instances over one log: what one writes, the other serves with the same ids; a restarted instance replays
// the same state.
func TestInstancesAgree(t *testing.T) {
	log := server.NewMemLog()
	a := start(t, log)
	b := start(t, log.Peer())
	ctx := context.Background()

	reg, err := a.client.Register(ctx, "x", "x", registry.RegisterRequest{SchemaIDL: v1})
	require.NoError(t, err)
	got, err := b.client.ByRecordID(ctx, "x", reg.RecordID)
	require.NoError(t, err)
	require.Equal(t, v1, got.IDL)
	up, err := b.client.Update(ctx, "x", "x", registry.UpdateRequest{SchemaIDL: v2})
	require.NoError(t, err)
	latest, err := a.client.Latest(ctx, "x")
	require.NoError(t, err)
	require.Equal(t, up.RecordID, latest.RecordID)

	// Concurrent writes through both: subjects registered through both at once, each subject by both.
	var wg sync.WaitGroup
	results := make([][2]registry.Registered, 20)
	errs := make([][2]error, 20)
	for i := range results {
		for j, in := range []*instance{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := fmt.Sprintf("c%d", i)
				results[i][j], errs[i][j] = in.client.Ensure(ctx, s, s, registry.RegisterRequest{SchemaIDL: v1})
			}()
		}
	}
	wg.Wait()
	for i := range results {
		require.NoError(t, errs[i][0])
		require.NoError(t, errs[i][1])
		require.Equal(t, results[i][0], results[i][1], "subject c%d", i)
	}
	requireSameState(t, a, b)

	c := start(t, log.Peer())
	requireSameState(t, a, c)
}

func dump(t *testing.T, in *instance) map[string][]registry.SchemaRecord {
	t.Helper()
	ctx := context.Background()
	subjects, err := in.client.Subjects(ctx)
	require.NoError(t, err)
	out := map[string][]registry.SchemaRecord{}
	for _, s := range subjects {
		vs, err := in.client.Versions(ctx, s)
		require.NoError(t, err)
		out[s] = vs
	}
	return out
}

func requireSameState(t *testing.T, a, b *instance) {
	t.Helper()
	// A write is visible on the writer at once and on the others once they have applied it.
	require.Eventually(t, func() bool { return reflect.DeepEqual(dump(t, a), dump(t, b)) }, 5*time.Second,
		10*time.Millisecond)
	require.Equal(t, dump(t, a), dump(t, b))
}

// gatedLog is a reader that has not caught up: Sync returns at once and Run applies only what the test releases.
type gatedLog struct {
	*server.MemLog
	gate chan struct{}
}

func (g *gatedLog) Sync(context.Context) error { return nil }

func (g *gatedLog) Run(ctx context.Context, apply func(int64, []byte)) error {
	return g.MemLog.Run(ctx, func(pos int64, ev []byte) {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return
		}
		apply(pos, ev)
	})
}

// A write decided on a stale view loses to the conflicting write before it in the log, on every instance alike.
func TestConflictResolvedByLogOrder(t *testing.T) {
	log := server.NewMemLog()
	a := start(t, log)
	g := &gatedLog{MemLog: log.Peer(), gate: make(chan struct{})}
	b := start(t, g)
	ctx := context.Background()

	regA, err := a.client.Register(ctx, "race", "race", registry.RegisterRequest{SchemaIDL: v1})
	require.NoError(t, err)
	// b has not applied a's event: it takes "race" for a new subject and proposes v3.
	type answer struct {
		reg registry.Registered
		err error
	}
	done := make(chan answer, 1)
	go func() {
		reg, err := b.client.Register(ctx, "race", "race", registry.RegisterRequest{SchemaIDL: v3})
		done <- answer{reg, err}
	}()
	require.Eventually(t, func() bool { return log.Len() == 2 }, 5*time.Second, 5*time.Millisecond)
	close(g.gate)
	ans := <-done
	require.ErrorIs(t, ans.err, registry.ErrConflict)
	require.Contains(t, ans.err.Error(), "already exists")

	for _, in := range []*instance{a, b} {
		vs, err := in.client.Versions(ctx, "race")
		require.NoError(t, err)
		require.Len(t, vs, 1)
		require.Equal(t, regA.RecordID, vs[0].RecordID)
	}
}

// A request that arrives before the log has been replayed waits for it.
func TestAnswersOnlyAfterReplay(t *testing.T) {
	log := server.NewMemLog()
	a := start(t, log)
	ctx := context.Background()
	for i := range 50 {
		_, err := a.client.Register(ctx, fmt.Sprintf("s%03d", i), "n", registry.RegisterRequest{SchemaIDL: v1})
		require.NoError(t, err)
	}
	b := start(t, log.Peer())
	subjects, err := b.client.Subjects(ctx)
	require.NoError(t, err)
	require.Len(t, subjects, 50)
	require.True(t, strings.HasPrefix(subjects[0], "s000"))
}
