package registry_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema/registry"
	"github.com/rmqconnect/rmqconnect/schema/registry/registrytest"
)

const (
	v1 = `{"type":"record","name":"User","fields":[{"name":"id","type":"long"}]}`
	v2 = `{"type":"record","name":"User","fields":[{"name":"id","type":"long"},{"name":"email","type":["null","string"],"default":null}]}`
	// bad adds a field without a default: not BACKWARD compatible with v2.
	bad = `{"type":"record","name":"User","fields":[{"name":"id","type":"long"},{"name":"age","type":"int"}]}`
)

func newClient(t *testing.T, srv *registrytest.Server, mod func(*registry.Config)) *registry.Client {
	t.Helper()
	cfg := registry.Config{URL: srv.URL, Cluster: "Connect", Tenant: "t1", BackoffInitial: time.Millisecond, BackoffMax: 5 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	c, err := registry.New(cfg)
	require.NoError(t, err)
	return c
}

func TestClientLifecycle(t *testing.T) {
	srv := registrytest.NewServer()
	defer srv.Close()
	c := newClient(t, srv, nil)
	ctx := context.Background()

	_, err := c.Latest(ctx, "orders-value")
	require.ErrorIs(t, err, registry.ErrNotFound)
	var api *registry.APIError
	require.True(t, errors.As(err, &api))
	require.Equal(t, http.StatusNotFound, api.Status)
	require.Contains(t, err.Error(), "GET /subject/orders-value/schema: 404 Not Found: subject orders-value not found")

	r1, err := c.Register(ctx, "orders-value", "orders-value", registry.RegisterRequest{SchemaIDL: v1, SchemaType: "AVRO", Compatibility: "BACKWARD"})
	require.NoError(t, err)
	require.EqualValues(t, 1, r1.Version)
	require.NotZero(t, r1.RecordID)

	r2, err := c.Update(ctx, "orders-value", "orders-value", registry.UpdateRequest{SchemaIDL: v2})
	require.NoError(t, err)
	require.EqualValues(t, 2, r2.Version)
	require.NotEqual(t, r1.RecordID, r2.RecordID)

	_, err = c.Update(ctx, "orders-value", "orders-value", registry.UpdateRequest{SchemaIDL: bad})
	require.ErrorIs(t, err, registry.ErrConflict)
	require.Contains(t, err.Error(), "User.age: field is missing from the writer and has no default")

	latest, err := c.Latest(ctx, "orders-value")
	require.NoError(t, err)
	require.Equal(t, v2, latest.IDL)
	require.Equal(t, r2.RecordID, latest.RecordID)
	require.Equal(t, "orders-value", latest.SchemaName)

	got, err := c.Version(ctx, "orders-value", 1)
	require.NoError(t, err)
	require.Equal(t, v1, got.IDL)

	all, err := c.Versions(ctx, "orders-value")
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.EqualValues(t, 1, all[0].Version)

	byID, err := c.ByRecordID(ctx, "orders-value", r1.RecordID)
	require.NoError(t, err)
	require.Equal(t, v1, byID.IDL)

	subjects, err := c.Subjects(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"orders-value"}, subjects)
	other := newClient(t, srv, func(c *registry.Config) { c.Tenant = "t2" })
	subjects, err = other.Subjects(ctx)
	require.NoError(t, err)
	require.Empty(t, subjects)

	require.NoError(t, c.DeleteVersion(ctx, "orders-value", 2))
	latest, err = c.Latest(ctx, "orders-value")
	require.NoError(t, err)
	require.EqualValues(t, 1, latest.Version)
	require.NoError(t, c.DeleteSubject(ctx, "orders-value"))
	_, err = c.ByRecordID(ctx, "orders-value", r1.RecordID)
	require.ErrorIs(t, err, registry.ErrNotFound)
	require.ErrorIs(t, c.DeleteSubject(ctx, "orders-value"), registry.ErrNotFound)
}

func TestEnsureAndCaches(t *testing.T) {
	srv := registrytest.NewServer()
	defer srv.Close()
	c := newClient(t, srv, nil)
	ctx := context.Background()

	a, err := c.Ensure(ctx, "s", "s", registry.RegisterRequest{SchemaIDL: v1, SchemaType: "AVRO"})
	require.NoError(t, err)
	require.EqualValues(t, 1, a.Version)
	again, err := c.Ensure(ctx, "s", "s", registry.RegisterRequest{SchemaIDL: v1})
	require.NoError(t, err)
	require.Equal(t, a, again)
	b, err := c.Ensure(ctx, "s", "s", registry.RegisterRequest{SchemaIDL: v2})
	require.NoError(t, err)
	require.EqualValues(t, 2, b.Version)

	// A second client finds the existing version instead of registering again.
	fresh := newClient(t, srv, nil)
	found, err := fresh.Ensure(ctx, "s", "s", registry.RegisterRequest{SchemaIDL: v1})
	require.NoError(t, err)
	require.Equal(t, a, found)
	all, err := fresh.Versions(ctx, "s")
	require.NoError(t, err)
	require.Len(t, all, 2)

	_, err = c.Ensure(ctx, "s", "s", registry.RegisterRequest{SchemaIDL: bad})
	require.ErrorIs(t, err, registry.ErrConflict)

	// By-id lookups are cached: the second costs no request.
	byID := registrytest.Pattern(http.MethodGet, "/subject/{s}/recordId/{id}/schema")
	fresh2 := newClient(t, srv, nil)
	_, err = fresh2.ByRecordID(ctx, "s", a.RecordID)
	require.NoError(t, err)
	_, err = fresh2.ByRecordID(ctx, "s", a.RecordID)
	require.NoError(t, err)
	require.Equal(t, 1, srv.Hits(byID))
}

func TestRetries(t *testing.T) {
	srv := registrytest.NewServer()
	defer srv.Close()
	c := newClient(t, srv, nil)
	ctx := context.Background()
	_, err := c.Register(ctx, "s", "s", registry.RegisterRequest{SchemaIDL: v1})
	require.NoError(t, err)

	// Two 5xx then success: retried.
	srv.FailNext(http.StatusServiceUnavailable, http.StatusInternalServerError)
	rec, err := c.Latest(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, v1, rec.IDL)

	// More failures than retries: ErrUnavailable with the server's status.
	srv.FailNext(500, 500, 500, 500)
	_, err = c.Latest(ctx, "s")
	require.ErrorIs(t, err, registry.ErrUnavailable)
	require.Contains(t, err.Error(), "500 Internal Server Error: injected failure")

	// 408 and 429 (a proxy timing out or throttling) are retried like 5xx...
	srv.FailNext(http.StatusTooManyRequests, http.StatusRequestTimeout)
	before := srv.Hits("")
	rec, err = c.Latest(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, v1, rec.IDL)
	require.Equal(t, before+3, srv.Hits(""))

	// ...and are ErrUnavailable, not ErrBadRequest, when they outlast the retries.
	srv.FailNext(429, 429, 429, 429)
	_, err = c.Latest(ctx, "s")
	require.ErrorIs(t, err, registry.ErrUnavailable)
	require.NotErrorIs(t, err, registry.ErrBadRequest)
	require.Contains(t, err.Error(), "429 Too Many Requests")

	// Other 4xx are not retried.
	srv.FailNext(http.StatusBadRequest)
	before = srv.Hits("")
	_, err = c.Latest(ctx, "s")
	require.ErrorIs(t, err, registry.ErrBadRequest)
	require.Equal(t, before+1, srv.Hits(""))

	srv.FailNext(http.StatusForbidden)
	_, err = c.Latest(ctx, "s")
	require.ErrorIs(t, err, registry.ErrUnauthorized)
}

func TestTransportErrorsAndTimeouts(t *testing.T) {
	var calls atomic.Int32
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			time.Sleep(200 * time.Millisecond) // longer than the attempt timeout
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"recordId":7,"version":1,"idl":"\"int\"","schema":"x"}`))
	}))
	defer slow.Close()
	c, err := registry.New(registry.Config{URL: slow.URL, Timeout: 20 * time.Millisecond, BackoffInitial: time.Millisecond})
	require.NoError(t, err)
	rec, err := c.Latest(context.Background(), "s")
	require.NoError(t, err)
	require.Equal(t, "x", rec.SchemaName)
	require.EqualValues(t, 3, calls.Load())

	// Nothing listening: transport errors, retried, then ErrUnavailable.
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL
	dead.Close()
	c, err = registry.New(registry.Config{URL: url, MaxRetries: 2, BackoffInitial: time.Millisecond})
	require.NoError(t, err)
	_, err = c.Latest(context.Background(), "s")
	require.ErrorIs(t, err, registry.ErrUnavailable)

	// A cancelled context stops at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c.Latest(ctx, "s")
	require.ErrorIs(t, err, context.Canceled)
}

// throttled answers 429 with a Retry-After header to its first len(retryAfter) requests, then a schema.
func throttled(t *testing.T, retryAfter ...string) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := int(calls.Add(1)); n <= len(retryAfter) {
			if retryAfter[n-1] != "" {
				w.Header().Set("Retry-After", retryAfter[n-1])
			}
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"recordId":7,"version":1,"idl":"\"int\""}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestRetryAfter(t *testing.T) {
	ctx := context.Background()
	cfg := func(url string) registry.Config {
		return registry.Config{URL: url, BackoffInitial: time.Millisecond, BackoffMax: time.Millisecond, MaxElapsed: 5 * time.Second}
	}

	// A Retry-After that ends within the call's time is waited out, then the request is sent again.
	srv, calls := throttled(t, "1", "", "garbage")
	c, err := registry.New(cfg(srv.URL))
	require.NoError(t, err)
	rec, err := c.Latest(ctx, "s")
	require.NoError(t, err)
	require.EqualValues(t, 7, rec.RecordID)
	require.EqualValues(t, 4, calls.Load())

	// One that ends after it (in seconds or as a date) gives up at once: the registry is unavailable.
	for _, after := range []string{"10", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)} {
		srv, calls = throttled(t, after)
		c, err = registry.New(cfg(srv.URL))
		require.NoError(t, err)
		_, err = c.Latest(ctx, "s")
		require.ErrorIs(t, err, registry.ErrUnavailable, after)
		require.Contains(t, err.Error(), "Retry-After")
		require.EqualValues(t, 1, calls.Load(), after)
	}
}

// A registry that takes requests and never answers costs a call MaxElapsed (or the ctx's deadline), not
// (MaxRetries+1) × Timeout, and the call ends unavailable.
func TestMaxElapsed(t *testing.T) {
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer hung.Close()
	c, err := registry.New(registry.Config{URL: hung.URL, Timeout: time.Hour, MaxElapsed: 50 * time.Millisecond})
	require.NoError(t, err)
	_, err = c.Latest(context.Background(), "s")
	require.ErrorIs(t, err, registry.ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	c, err = registry.New(registry.Config{URL: hung.URL, Timeout: time.Hour, MaxElapsed: time.Hour})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = c.Latest(ctx, "s")
	require.ErrorIs(t, err, registry.ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestNewValidatesURL(t *testing.T) {
	for _, u := range []string{"", "localhost:8080", "ftp://x", "http://"} {
		_, err := registry.New(registry.Config{URL: u})
		require.ErrorIs(t, err, registry.ErrInvalidConfig, u)
	}
}
