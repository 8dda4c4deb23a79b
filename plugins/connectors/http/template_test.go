package httpconn_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	httpconn "github.com/rmqconnect/rmqconnect/plugins/connectors/http"
	"github.com/rmqconnect/rmqconnect/schema"
)

// TestSinkURLSegmentEmptyOrDotIsErrant: a url path segment holding a placeholder that renders empty, "." or ".."
// (a null or empty key, a header the record does not have) would send the request to another resource
// (DELETE /users/ or /users/..): the record goes to the error policy instead, and nothing is sent for it. An
// empty value in the query is a value like any other.
func TestSinkURLSegmentEmptyOrDotIsErrant(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.EscapedPath()+"?"+r.URL.RawQuery)
		mu.Unlock()
	}))
	defer srv.Close()
	task, sctx := startSink(t, map[string]string{"url": srv.URL + "/t/${header.tenant}/users/${value.x}${key}?v=${value.v}", "method": "DELETE"})
	mk := func(key, x any) *schema.Record {
		r := schema.NewRecord("t", nil, key, nil, map[string]any{"x": x, "v": ""})
		r.Headers.Add("tenant", schema.StringSchema, "acme")
		return r
	}
	bad := []*schema.Record{
		schema.NewRecord("t", nil, "u1", nil, map[string]any{"x": nil, "v": ""}), // no header: /t//users/u1
		mk(nil, nil), mk("", ""), mk(".", nil), mk("..", ""),
	}
	task2, sctx2 := startSink(t, map[string]string{"url": srv.URL + "/users/${key}/${value.x}", "method": "DELETE"})
	bad2 := []*schema.Record{
		schema.NewRecord("t", nil, ".", nil, map[string]any{"x": "a"}),
		schema.NewRecord("t", nil, "..", nil, map[string]any{"x": "a"}),
		schema.NewRecord("t", nil, "a", nil, map[string]any{"x": ".."}),
		schema.NewRecord("t", nil, "a", nil, map[string]any{"x": nil}),
	}
	// the placeholders of a segment render together: only the whole segment may not be "." or ".."
	good := []*schema.Record{mk("1", nil), mk("...", nil), mk(".", "a")}
	good2 := []*schema.Record{schema.NewRecord("t", nil, "a.b", nil, map[string]any{"x": ".x"})}

	require.NoError(t, task.Put(context.Background(), append(append([]*schema.Record{}, bad...), good...)))
	require.NoError(t, task.Flush(context.Background(), nil))
	require.NoError(t, task2.Put(context.Background(), append(append([]*schema.Record{}, bad2...), good2...)))
	require.NoError(t, task2.Flush(context.Background(), nil))

	for _, tc := range []struct {
		sctx interface {
			Reported() ([]*schema.Record, []error)
		}
		want []*schema.Record
	}{{sctx.Reporter, bad}, {sctx2.Reporter, bad2}} {
		reported, errs := tc.sctx.Reported()
		require.Equal(t, tc.want, reported)
		for _, err := range errs {
			require.ErrorIs(t, err, httpconn.ErrRender)
			require.Contains(t, err.Error(), "path segment")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	sort.Strings(got)
	require.Equal(t, []string{
		"DELETE /t/acme/users/...?v=", "DELETE /t/acme/users/1?v=", "DELETE /t/acme/users/a.?v=",
		"DELETE /users/a.b/.x?",
	}, got)
}
