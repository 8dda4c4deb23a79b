package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

func TestAdminDLQ(t *testing.T) {
	var replayBody map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.Method + " " + r.URL.Path {
		case "GET /connectors/c/dlq":
			require.Equal(t, "0-3", r.URL.Query().Get("after"))
			_ = json.NewEncoder(w).Encode(restapi.DLQPage{Topic: "dlq", Next: "0-4", Records: []restapi.DLQRecord{{
				ID: "0-4", Stage: "VALUE_CONVERTER", Topic: "orders", Offset: "17", ExceptionMessage: "not json",
				BodyPreview: "{broken", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}})
		case "GET /connectors/c/dlq/0-4":
			_ = json.NewEncoder(w).Encode(restapi.DLQRecord{ID: "0-4", Body: []byte("{broken"), BodySize: 7, Stacktrace: "trace line\n"})
		case "POST /connectors/c/dlq/replay":
			b, _ := io.ReadAll(r.Body)
			require.NoError(t, json.Unmarshal(b, &replayBody))
			_ = json.NewEncoder(w).Encode(restapi.DLQReplayResult{Replayed: []string{"0-4"}, Skipped: []string{"0-5"}})
		case "GET /connectors/nope/dlq":
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error_code":404,"message":"connector nope: not found"}`))
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL)
		}
	}))
	defer srv.Close()
	t.Setenv("RMQCONNECT_URL", srv.URL)

	code, out, errOut := runAdmin(t, "dlq", "list", "c", "--after", "0-3")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "0-4")
	require.Contains(t, out, "VALUE_CONVERTER")
	require.Contains(t, out, "more: --after 0-4")
	code, out, _ = runAdmin(t, "dlq", "show", "c", "0-4")
	require.Equal(t, 0, code)
	require.Contains(t, out, "{broken")
	require.Contains(t, out, "trace line")
	code, out, _ = runAdmin(t, "dlq", "replay", "c", "0-4", "0-5", "--force")
	require.Equal(t, 0, code)
	require.Contains(t, out, "replayed 1 record(s); skipped 1")
	require.Equal(t, true, replayBody["force"])
	require.Equal(t, []any{"0-4", "0-5"}, replayBody["ids"])
	code, _, errOut = runAdmin(t, "dlq", "list", "nope")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "404")
	code, _, _ = runAdmin(t, "dlq", "frob", "c")
	require.Equal(t, 2, code)
	code, _, _ = runAdmin(t, "dlq")
	require.Equal(t, 2, code)
}

// TestAdminDLQReplayWithoutIDsSendsAll: `dlq replay <name> --all` replays every record by
// sending {"all": true}, never an empty ids list (which the worker refuses, and which used
// to replay every record); with ids it sends just them; without either (a script's filter
// that found nothing) it is a usage error that sends nothing, as are ids with --all.
func TestAdminDLQReplayWithoutIDsSendsAll(t *testing.T) {
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method+" "+r.URL.Path != "POST /connectors/c/dlq/replay" {
			t.Errorf("unexpected %s %s", r.Method, r.URL)
			return
		}
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		_ = json.NewEncoder(w).Encode(restapi.DLQReplayResult{Replayed: []string{"b:0:4", "b:0:5"}})
	}))
	defer srv.Close()
	t.Setenv("RMQCONNECT_URL", srv.URL)

	code, _, errOut := runAdmin(t, "dlq", "replay", "c")
	require.Equal(t, 2, code, "no ids and no --all: a usage error")
	require.Contains(t, errOut, "--all for every record")
	code, _, errOut = runAdmin(t, "dlq", "replay", "c", "b:0:4", "--all")
	require.Equal(t, 2, code, "ids and --all: a usage error")
	require.Contains(t, errOut, "together")
	require.Empty(t, bodies, "a usage error sends nothing")

	code, out, errOut := runAdmin(t, "dlq", "replay", "c", "--all")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "replayed 2 record(s)\n", out)
	code, _, errOut = runAdmin(t, "dlq", "replay", "c", "--all", "--force")
	require.Equal(t, 0, code, errOut)
	code, _, errOut = runAdmin(t, "dlq", "replay", "c", "b:0:4")
	require.Equal(t, 0, code, errOut)
	require.Len(t, bodies, 3)
	require.JSONEq(t, `{"all": true}`, bodies[0])
	require.JSONEq(t, `{"all": true, "force": true}`, bodies[1])
	require.JSONEq(t, `{"ids": ["b:0:4"]}`, bodies[2])
}

// TestAdminDLQReplayRefusedExits1: a replay the worker refused records of prints the result,
// refused records and reasons included, and exits 1 (it used to exit 0), in both formats.
func TestAdminDLQReplayRefusedExits1(t *testing.T) {
	res := restapi.DLQReplayResult{Replayed: []string{"0-4"}, Skipped: []string{}, InProgress: []restapi.DLQInProgress{},
		Refused: []restapi.DLQRefusal{{ID: "0-5", Code: restapi.RefusedForeignTopic, Reason: `original topic "other" is not one the connector consumes`}}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method+" "+r.URL.Path != "POST /connectors/c/dlq/replay" {
			t.Errorf("unexpected %s %s", r.Method, r.URL)
			return
		}
		_ = json.NewEncoder(w).Encode(res)
	}))
	defer srv.Close()
	t.Setenv("RMQCONNECT_URL", srv.URL)

	code, out, errOut := runAdmin(t, "dlq", "replay", "c", "0-4", "0-5")
	require.Equal(t, 1, code)
	require.Equal(t, "replayed 1 record(s)\nrefused 0-5: original topic \"other\" is not one the connector consumes\n", out)
	require.Contains(t, errOut, "connector c: 1 DLQ record(s) refused, not sent")

	code, out, errOut = runAdmin(t, "-o", "json", "dlq", "replay", "c", "0-4", "0-5")
	require.Equal(t, 1, code)
	var got restapi.DLQReplayResult
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.Equal(t, res, got)
	require.Contains(t, errOut, "1 DLQ record(s) refused")
}

// TestAdminDLQReplayInProgressExits1: a record the worker left to another worker's replay of
// it is printed with the reason and exits 1: this replay did not send it.
func TestAdminDLQReplayInProgressExits1(t *testing.T) {
	res := restapi.DLQReplayResult{Replayed: []string{"b:0:4"}, InProgress: []restapi.DLQInProgress{{ID: "b:0:5", Worker: "w2",
		Reason: "being replayed by worker w2"}}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(res)
	}))
	defer srv.Close()
	t.Setenv("RMQCONNECT_URL", srv.URL)

	code, out, errOut := runAdmin(t, "dlq", "replay", "c", "b:0:4", "b:0:5")
	require.Equal(t, 1, code)
	require.Equal(t, "replayed 1 record(s)\nin progress b:0:5: being replayed by worker w2\n", out)
	require.Contains(t, errOut, "connector c: 1 DLQ record(s) left to another worker's replay in progress, not sent")
}

// TestAdminDLQListLimitMustBePositive: --limit 0 or below is a usage error naming the flag,
// with nothing asked of the worker; it used to list the worker's default 100 records.
func TestAdminDLQListLimitMustBePositive(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected %s %s", r.Method, r.URL)
	}))
	defer srv.Close()
	t.Setenv("RMQCONNECT_URL", srv.URL)
	for _, limit := range []string{"0", "-5"} {
		code, _, errOut := runAdmin(t, "dlq", "list", "c", "--limit", limit)
		require.Equal(t, 2, code, errOut)
		require.Contains(t, errOut, "--limit "+limit)
	}
}

// TestAdminDLQShowsABinaryBodyQuoted: dlq show prints a body that is not text (not UTF-8,
// or with control characters such as a terminal's escape sequences) quoted, with a note,
// as the worker quotes such a body's preview; it used to write the bytes to the terminal.
// The list's BODY cell quotes a UTF-8 preview with control characters too.
func TestAdminDLQShowsABinaryBodyQuoted(t *testing.T) {
	goldenServer(t, map[string]string{
		// "\x1b[2J\x00\xff": clear screen, a NUL, a byte that is not UTF-8.
		"GET /connectors/c/dlq/0-1":      `{"id": "0-1", "body": "G1sySgD/", "body_size": 6}`,
		"GET /connectors/c/dlq/0-2":      `{"id": "0-2", "body": "bGluZSAxCglsaW5lIDI=", "body_size": 14}`,
		"GET /connectors/c/dlq?limit=50": `{"dlq_topic": "d", "records": [{"id": "0-1", "body_preview": "\u001b[2Jred"}]}`,
	})
	code, out, errOut := runAdmin(t, "dlq", "show", "c", "0-1")
	require.Equal(t, 0, code, errOut)
	require.NotContains(t, out, "\x1b")
	require.Contains(t, out, "Body (6 bytes, not text: quoted; -o json gives the bytes in base64):\n\"\\x1b[2J\\x00\\xff\"\n")

	code, out, errOut = runAdmin(t, "dlq", "show", "c", "0-2")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "Body (14 bytes):\nline 1\n\tline 2\n", "text is printed as it is")

	code, out, errOut = runAdmin(t, "dlq", "list", "c")
	require.Equal(t, 0, code, errOut)
	require.NotContains(t, out, "\x1b")
	require.Contains(t, out, `"\x1b[2Jred"`)
}
