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
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/admin/admintest"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

func TestDLQRoutes(t *testing.T) {
	d := newFakeHerder()
	_, err := d.CreateConnector(context.Background(), "c", map[string]string{"connector.class": "file-sink"}, "")
	require.NoError(t, err)
	d.AddDLQ("c", restapi.DLQRecord{ID: "0-0", Stage: "VALUE_CONVERTER", Body: []byte("raw"), Stacktrace: "trace"},
		restapi.DLQRecord{ID: "0-1", Stage: "TASK_PUT"}, restapi.DLQRecord{ID: "rack/b1:2:7", Stage: "TASK_PUT"},
		restapi.DLQRecord{ID: "rack/b+1:0:5", Stage: "TASK_PUT"})
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
	// An id naming a broker whose name has a slash, escaped as clients do (url.PathEscape).
	code, body = do("GET", "/connectors/c/dlq/rack%2Fb1:2:7", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "rack/b1:2:7", body["id"])
	code, body = do("GET", "/connectors/c/dlq/rack%2Fb+1:0:5", "") // a + is a plus in a path
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "rack/b+1:0:5", body["id"])
	code, _ = do("GET", "/connectors/c/dlq/9-9", "")
	require.Equal(t, http.StatusNotFound, code)
	code, _ = do("POST", "/connectors/c/dlq/replay", `{"ids":["0-1"],"force":true}`)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, []string{"0-1"}, d.Replays()[0].IDs)
	require.True(t, d.Replays()[0].Force)
	code, _ = do("POST", "/connectors/c/dlq/replay", `{"all":true}`)
	require.Equal(t, http.StatusOK, code)
	require.Empty(t, d.Replays()[1].IDs, `{"all": true} replays everything`)
	code, _ = do("POST", "/connectors/c/dlq/replay", `{"ids":`)
	require.Equal(t, http.StatusBadRequest, code)
}

// TestDLQReplayBodyIsStrict: a replay body with a key the route does not know, or data after
// its object, is refused naming the problem, and nothing is replayed: a misspelt key is never
// taken for an absent one ({"id": [...]} once replayed the whole DLQ).
func TestDLQReplayBodyIsStrict(t *testing.T) {
	h, f := newTestServer(t)
	_, err := f.CreateConnector(context.Background(), "c", map[string]string{"connector.class": "file-sink"}, "")
	require.NoError(t, err)
	f.AddDLQ("c", restapi.DLQRecord{ID: "0-4"}, restapi.DLQRecord{ID: "0-5"})
	for _, tc := range []struct{ body, want string }{
		{`{"id": ["0-4"]}`, `unknown field "id"`},
		{`{"ids": ["0-4"], "froce": true}`, `unknown field "froce"`},
		{`{"ids": ["0-4"]} {"ids": []}`, "nothing after it"},
		{`{"ids": ["0-4"]}x`, "nothing after it"},
	} {
		requireError(t, h, http.MethodPost, "/connectors/c/dlq/replay", tc.body, http.StatusBadRequest, tc.want)
	}
	require.Empty(t, f.Replays(), "a refused body replayed records")
	code, v := callJSON(t, h, http.MethodPost, "/connectors/c/dlq/replay", " {\"ids\": [\"0-4\"]}\n")
	require.Equal(t, http.StatusOK, code, v)
	require.Equal(t, []string{"0-4"}, f.Replays()[0].IDs)
}

// TestDLQReplayOfEveryRecordIsExplicit: only {"all": true} replays every record. An empty
// ids list (a selection or filter that came out empty; the console's "Replay all" sent it),
// a body naming no records ({}, an empty body, null) and all with ids are refused with a 400
// saying what to send, and nothing is replayed; each of them but the last used to replay the
// whole DLQ.
func TestDLQReplayOfEveryRecordIsExplicit(t *testing.T) {
	h, f := newTestServer(t)
	_, err := f.CreateConnector(context.Background(), "c", map[string]string{"connector.class": "file-sink"}, "")
	require.NoError(t, err)
	f.AddDLQ("c", restapi.DLQRecord{ID: "b:0:4"}, restapi.DLQRecord{ID: "b:0:5"})
	for _, tc := range []struct{ body, want string }{
		{`{"ids": []}`, `ids is empty`},
		{`{"ids": [], "force": true}`, `{"all": true} without ids`},
		{`{"ids": [], "all": false}`, `ids is empty`},
		{`{}`, `names no records: send {"ids": [...]}`},
		{`{"force": true}`, `or {"all": true} to replay every record`},
		{`{"all": false}`, `names no records`},
		{`{"ids": null}`, `names no records`},
		{`null`, `names no records`},
		{"", "body is empty"},
		{" \n", "body is empty"},
		{`{"all": true, "ids": ["b:0:4"]}`, `ids and "all": true together`},
		{`{"all": true, "ids": []}`, `ids and "all": true together`},
		{`{"all": "true"}`, `all of type bool`},
	} {
		requireError(t, h, http.MethodPost, "/connectors/c/dlq/replay", tc.body, http.StatusBadRequest, tc.want)
	}
	require.Empty(t, f.Replays(), "a refused body replayed records")

	for i, tc := range []struct {
		body  string
		ids   []string
		force bool
	}{
		{`{"all": true}`, nil, false},
		{`{"all": true, "force": true}`, nil, true},
		{`{"all": true, "ids": null}`, nil, false},
		{`{"ids": ["b:0:5"], "all": false}`, []string{"b:0:5"}, false},
	} {
		code, v := callJSON(t, h, http.MethodPost, "/connectors/c/dlq/replay", tc.body)
		require.Equal(t, http.StatusOK, code, "%s -> %v", tc.body, v)
		require.Equal(t, admintest.Replay{Connector: "c", IDs: tc.ids, Force: tc.force}, f.Replays()[i], tc.body)
	}
	require.Len(t, f.Replays(), 4)
}

// TestDLQReplayAnswerHasEveryList: a replay's answer always has its four lists, empty ones
// as [] (a herder that leaves one nil included), each record left to another replay with its
// worker, and each refused record with its code.
func TestDLQReplayAnswerHasEveryList(t *testing.T) {
	h, f := newTestServer(t)
	_, err := f.CreateConnector(context.Background(), "c", map[string]string{"connector.class": "file-sink"}, "")
	require.NoError(t, err)
	f.AddDLQ("c", restapi.DLQRecord{ID: "broker-a:0:4"})
	code, raw := call(t, h, http.MethodPost, "/connectors/c/dlq/replay", `{"all": true}`)
	require.Equal(t, http.StatusOK, code, raw)
	require.JSONEq(t, `{"replayed":["broker-a:0:4"],"skipped":[],"in_progress":[],"refused":[]}`, raw)

	since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b, err := json.Marshal(restapi.DLQReplayResult{
		InProgress: []restapi.DLQInProgress{{ID: "broker-a:0:5", Worker: "w2", Since: since, Reason: "being replayed"}},
		Refused:    []restapi.DLQRefusal{{ID: "broker-b:0:5", Code: restapi.RefusedForeignTopic, Reason: "not its topic"}}})
	require.NoError(t, err)
	require.JSONEq(t, `{"replayed":[],"skipped":[],
		"in_progress":[{"id":"broker-a:0:5","worker":"w2","since":"2026-01-01T00:00:00Z","reason":"being replayed"}],
		"refused":[{"id":"broker-b:0:5","code":"foreign_topic","reason":"not its topic"}]}`, string(b))
}

// FuzzDecodeReplay: any replay body is either rejected as bad input, or names its records
// one way only: a non-empty ids list, or all with no ids.
func FuzzDecodeReplay(f *testing.F) {
	for _, seed := range []string{
		`{"ids":["b:0:1"],"force":true}`, `{"all":true}`, `{"ids":[]}`, `{}`, ``, `null`, `{"all":true,"ids":[]}`,
		`{"all":true,"ids":null}`, `{"all":false,"ids":["x"]}`, `{"id":[]}`, `{"all":1}`, `{"all":true} {}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := decodeReplay(data)
		if err != nil {
			require.ErrorIs(t, err, errBadRequest)
			return
		}
		require.True(t, json.Valid(data), "accepted more than one JSON value: %q", data)
		if req.All {
			require.Nil(t, req.IDs, "all with ids: %q", data)
		} else {
			require.NotEmpty(t, req.IDs, "no records named: %q", data)
		}
	})
}
