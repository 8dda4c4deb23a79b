package admin

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/admin/admintest"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// dlqFake adds the DLQ ability to the fake herder.
type dlqFake struct {
	*admintest.Herder
	replayedIDs []string
	force       bool
}

func (d *dlqFake) DLQList(_ context.Context, name, after string, limit int) (restapi.DLQPage, error) {
	if name != "c" {
		return restapi.DLQPage{}, restapi.ErrNotFound
	}
	recs := []restapi.DLQRecord{{ID: "0-0", Stage: "VALUE_CONVERTER"}, {ID: "0-1", Stage: "TASK_PUT"}}
	if after == "0-0" {
		recs = recs[1:]
	}
	return restapi.DLQPage{Topic: "dlq", Records: recs[:min(limit, len(recs))]}, nil
}

func (d *dlqFake) DLQGet(_ context.Context, name, id string) (restapi.DLQRecord, error) {
	if id != "0-0" {
		return restapi.DLQRecord{}, restapi.ErrNotFound
	}
	return restapi.DLQRecord{ID: id, Body: []byte("raw"), Stacktrace: "trace"}, nil
}

func (d *dlqFake) DLQReplay(_ context.Context, name string, ids []string, force bool) (restapi.DLQReplayResult, error) {
	d.replayedIDs, d.force = ids, force
	return restapi.DLQReplayResult{Replayed: ids, Skipped: []string{}}, nil
}

func TestDLQRoutes(t *testing.T) {
	d := &dlqFake{Herder: newFakeHerder()}
	s := NewServer("127.0.0.1:0", Info{}, fakeHealth{}, d, slog.New(slog.NewTextHandler(io.Discard, nil)))
	do := func(method, path, body string) (int, map[string]any) {
		rec := httptest.NewRecorder()
		req := newRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		s.Handler().ServeHTTP(rec, req)
		var out map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, out
	}
	code, body := do("GET", "/connectors/c/dlq?limit=1", "")
	require.Equal(t, http.StatusOK, code)
	require.Len(t, body["records"], 1)
	code, body = do("GET", "/connectors/c/dlq?after=0-0", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "0-1", body["records"].([]any)[0].(map[string]any)["id"])
	code, _ = do("GET", "/connectors/c/dlq?limit=0", "")
	require.Equal(t, http.StatusBadRequest, code)
	code, _ = do("GET", "/connectors/nope/dlq", "")
	require.Equal(t, http.StatusNotFound, code)
	code, body = do("GET", "/connectors/c/dlq/0-0", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "trace", body["stacktrace"])
	code, _ = do("GET", "/connectors/c/dlq/9-9", "")
	require.Equal(t, http.StatusNotFound, code)
	code, _ = do("POST", "/connectors/c/dlq/replay", `{"ids":["0-1"],"force":true}`)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, []string{"0-1"}, d.replayedIDs)
	require.True(t, d.force)
	code, _ = do("POST", "/connectors/c/dlq/replay", "")
	require.Equal(t, http.StatusOK, code)
	require.Empty(t, d.replayedIDs, "an empty body replays everything")
	code, _ = do("POST", "/connectors/c/dlq/replay", `{"ids":`)
	require.Equal(t, http.StatusBadRequest, code)
}
