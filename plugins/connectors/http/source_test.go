package httpconn_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	httpconn "github.com/rmqconnect/rmqconnect/plugins/connectors/http"
	"github.com/rmqconnect/rmqconnect/schema"
)

func startSource(t *testing.T, cfg map[string]string, store *conformance.Positions) *httpconn.SourceTask {
	t.Helper()
	c := httpconn.NewSourceConnector()
	_, err := conformance.Validate(c, cfg)
	require.NoError(t, err)
	task := httpconn.NewSourceTask()
	require.NoError(t, task.Start(context.Background(), conformance.SourceContextFor(t, c.Spec(), store, cfg), cfg))
	t.Cleanup(func() { require.NoError(t, task.Stop(context.Background())) })
	return task
}

func pollCfg(url string, kv ...string) map[string]string {
	cfg := map[string]string{"connect.topicname": "t", "url": url, "poll.interval": "5ms",
		"retry.backoff.initial": "1ms", "retry.backoff.max": "5ms"}
	for i := 0; i+1 < len(kv); i += 2 {
		cfg[kv[i]] = kv[i+1]
	}
	return cfg
}

func ids(t *testing.T, recs []*schema.Record) []int64 {
	t.Helper()
	var out []int64
	for _, r := range recs {
		require.Empty(t, r.Extensions[plugins.ExtErrorMessage])
		out = append(out, r.Value.(map[string]any)["id"].(int64))
	}
	return out
}

// TestPollNextLinkHeader follows Link rel="next" headers page after page, then waits on the last page.
func TestPollNextLinkHeader(t *testing.T) {
	var srvURL string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		if page < 2 {
			w.Header().Add("Link", fmt.Sprintf(`<%s/items?page=%d>; rel="next", <%s/items?page=0>; rel="first"`, srvURL, page+1, srvURL))
		}
		_, _ = fmt.Fprintf(w, `[{"id":%d},{"id":%d}]`, 2*page, 2*page+1)
	}))
	defer srv.Close()
	srvURL = srv.URL
	task := startSource(t, pollCfg(srv.URL+"/items", "records.path", "$", "pagination.mode", "next-link"), nil)
	got := conformance.PollN(t, task, 6, 10*time.Second)
	require.Equal(t, []int64{0, 1, 2, 3, 4, 5}, ids(t, got[:6]))
	require.Equal(t, srv.URL+"/items?page=2", got[5].SourceOffset["page"])
}

// TestPollNextLinkBodyStaysOnHost: a next link in the body is followed, one to another host fails the task.
func TestPollNextLinkBodyStaysOnHost(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("p") == "" {
			_, _ = io.WriteString(w, `{"items":[{"id":1}],"links":{"next":"/x?p=2"}}`)
			return
		}
		_, _ = io.WriteString(w, `{"items":[{"id":2}],"links":{"next":"http://elsewhere.example/steal"}}`)
	}))
	defer srv.Close()
	task := startSource(t, pollCfg(srv.URL+"/x", "records.path", "items", "pagination.mode", "next-link", "pagination.next.path", "links.next"), nil)
	got, err := task.Poll(context.Background())
	require.NoError(t, err)
	require.Equal(t, []int64{1}, ids(t, got))
	_, err = task.Poll(context.Background())
	require.ErrorIs(t, err, httpconn.ErrForeignLink)
}

// TestPollResumesFromPosition: ${position} carries the last id; a new task resumes from the committed one.
func TestPollResumesFromPosition(t *testing.T) {
	var mu sync.Mutex
	var sinces []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		since, _ := strconv.Atoi(r.URL.Query().Get("since"))
		mu.Lock()
		sinces = append(sinces, r.URL.Query().Get("since"))
		mu.Unlock()
		var items []string
		for id := since + 1; id <= min(since+3, 8); id++ {
			items = append(items, fmt.Sprintf(`{"id":%d,"ts":"2026-01-0%dT00:00:00Z"}`, id, id))
		}
		_, _ = fmt.Fprintf(w, `{"data":[%s]}`, strings.Join(items, ","))
	}))
	defer srv.Close()
	cfg := pollCfg(srv.URL+"/events?since=${position}", "records.path", "data", "position.path", "id", "position.initial", "0")
	store := conformance.NewPositions()
	task := startSource(t, cfg, store)
	got := conformance.PollN(t, task, 8, 10*time.Second)
	require.Equal(t, []int64{1, 2, 3, 4, 5, 6, 7, 8}, ids(t, got[:8]))
	store.Set(got[4].SourcePartition, conformance.JSONRoundTrip(t, got[4].SourceOffset))
	require.NoError(t, task.Stop(context.Background()))

	mu.Lock()
	sinces = nil
	mu.Unlock()
	task = startSource(t, cfg, store)
	got = conformance.PollN(t, task, 3, 10*time.Second)
	require.Equal(t, []int64{6, 7, 8}, ids(t, got[:3]))
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, "5", sinces[0])
}

// TestPollBadResponses: a 2xx body that is not JSON becomes an error record (the engine's error policy
// decides); a body over response.max.bytes and a 4xx fail the task; 5xx is retried.
func TestPollBadResponses(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/garbage":
			if calls.Add(1) == 1 {
				_, _ = io.WriteString(w, "<html>maintenance</html>")
				return
			}
			_, _ = io.WriteString(w, `{"id":7}`)
		case "/huge":
			_, _ = io.WriteString(w, `{"pad":"`+strings.Repeat("x", 5000)+`"}`)
		case "/gone":
			w.WriteHeader(http.StatusGone)
			_, _ = io.WriteString(w, "no such feed")
		case "/flaky":
			if calls.Add(1) <= 3 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			_, _ = io.WriteString(w, `{"id":9}`)
		}
	}))
	defer srv.Close()

	task := startSource(t, pollCfg(srv.URL+"/garbage"), nil)
	got := conformance.PollN(t, task, 2, 10*time.Second)
	require.Contains(t, got[0].Extensions[plugins.ExtErrorMessage], "not a JSON document")
	require.Equal(t, []byte("<html>maintenance</html>"), got[0].Value)
	require.NotEmpty(t, got[0].SourceOffset)
	require.Equal(t, []int64{7}, ids(t, got[1:2]))

	task = startSource(t, pollCfg(srv.URL+"/huge", "response.max.bytes", "1000"), nil)
	_, err := task.Poll(context.Background())
	require.ErrorIs(t, err, httpconn.ErrResponseTooLarge)

	task = startSource(t, pollCfg(srv.URL+"/gone"), nil)
	_, err = task.Poll(context.Background())
	require.ErrorIs(t, err, httpconn.ErrRejected)
	require.Contains(t, err.Error(), "no such feed")

	calls.Store(0)
	task = startSource(t, pollCfg(srv.URL+"/flaky"), nil)
	got = conformance.PollN(t, task, 1, 10*time.Second)
	require.Equal(t, []int64{9}, ids(t, got))
	require.EqualValues(t, 4, calls.Load())

	calls.Store(0)
	task = startSource(t, pollCfg(srv.URL+"/flaky", "retry.max.attempts", "2"), nil)
	var perr error
	for perr == nil {
		_, perr = task.Poll(context.Background())
	}
	require.True(t, plugins.IsRetriable(perr), "%v", perr)
	require.ErrorIs(t, perr, httpconn.ErrGaveUp)
}

// TestPollPostCursorBody: POST with a templated body carrying the cursor; the whole body as a string record.
func TestPollPostCursorBody(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		var req struct{ After string }
		require.NoError(t, json.Unmarshal(b, &req))
		if req.After == "" {
			_, _ = io.WriteString(w, `{"page":1,"cursor":"c2"}`)
			return
		}
		_, _ = io.WriteString(w, `{"page":2}`)
	}))
	defer srv.Close()
	task := startSource(t, pollCfg(srv.URL, "method", "POST", "request.body", `{"after":"${cursor}"}`,
		"pagination.mode", "cursor", "pagination.cursor.path", "cursor", "record.value.format", "string"), nil)
	got := conformance.PollN(t, task, 2, 10*time.Second)
	require.Equal(t, `{"page":1,"cursor":"c2"}`, got[0].Value)
	require.Equal(t, `{"page":2}`, got[1].Value)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{`{"after":""}`, `{"after":"c2"}`}, bodies[:2])
}

func TestSourceValidate(t *testing.T) {
	c := httpconn.NewSourceConnector()
	for _, tc := range []struct {
		cfg map[string]string
		key string
	}{
		{map[string]string{"connect.topicname": "t"}, "url"},
		{map[string]string{"connect.topicname": "t", "mode": "listen"}, "listen.address"},
		{map[string]string{"connect.topicname": "t", "mode": "listen", "listen.address": ":0", "listen.auth": "hmac"}, "listen.secret"},
		{map[string]string{"connect.topicname": "t", "url": "http://x", "pagination.mode": "cursor"}, "pagination.cursor.path"},
		{map[string]string{"connect.topicname": "t", "url": "http://x", "method": "DELETE"}, "method"},
		{map[string]string{"url": "http://x"}, "connect.topicname"},
	} {
		_, err := conformance.Validate(c, tc.cfg)
		require.Error(t, err, "%v", tc.cfg)
		fes := cfgerr.Flatten(err)
		require.NotEmpty(t, fes, "%v", err)
		require.Equal(t, tc.key, fes[0].Key, "%v", err)
	}
}

func sourceCtx(t *testing.T, c plugins.Connector, cfg map[string]string) plugins.SourceTaskContext {
	t.Helper()
	return conformance.SourceContextFor(t, c.Spec(), nil, cfg)
}

// TestPollPartitionHasNoSecrets: the stored source partition leaves out the URL's query and user info, where
// a resolved API key may stand.
func TestPollPartitionHasNoSecrets(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"id":1}`)
	}))
	defer srv.Close()
	u := strings.Replace(srv.URL, "http://", "http://user:pw@", 1) + "/feed?api_key=SECRET123&since=${position}"
	task := startSource(t, pollCfg(u), nil)
	got := conformance.PollN(t, task, 1, 10*time.Second)
	b, err := json.Marshal([]any{got[0].SourcePartition, got[0].SourceOffset})
	require.NoError(t, err)
	require.NotContains(t, string(b), "SECRET123")
	require.NotContains(t, string(b), "pw")
	require.Equal(t, srv.URL+"/feed", got[0].SourcePartition["url"])
}
