package httpconn_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
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
	"github.com/rmqconnect/rmqconnect/schema/converter"
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
	srv, bodies := bodyServer(t, func(b string) string {
		var req struct{ After string }
		require.NoError(t, json.Unmarshal([]byte(b), &req))
		if req.After == "" {
			return `{"page":1,"cursor":"c2"}`
		}
		return `{"page":2}`
	})
	task := startSource(t, pollCfg(srv.URL, "method", "POST", "request.body", `{"after":"${cursor}"}`,
		"pagination.mode", "cursor", "pagination.cursor.path", "cursor", "record.value.format", "string"), nil)
	got := conformance.PollN(t, task, 2, 10*time.Second)
	require.Equal(t, `{"page":1,"cursor":"c2"}`, got[0].Value)
	require.Equal(t, `{"page":2}`, got[1].Value)
	require.Equal(t, []string{`{"after":""}`, `{"after":"c2"}`}, bodies()[:2])
}

// bodyServer answers each request with answer(its body) and keeps the bodies, returned by bodies.
func bodyServer(t *testing.T, answer func(body string) string) (srv *httptest.Server, bodies func() []string) {
	var mu sync.Mutex
	var got []string
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(b))
		mu.Unlock()
		_, _ = io.WriteString(w, answer(string(b)))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

// changes is a feed of items with an updated_at each, answering `?updated_since=` with the items updated
// after it, oldest first, pageSize at a time from `?cursor=` (an index into that answer).
type changes struct {
	mu       sync.Mutex
	items    []string // updated_at of item i+1
	pageSize int
	requests []string // query of each request
}

func (c *changes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	since := r.URL.Query().Get("updated_since")
	from, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests = append(c.requests, r.URL.RawQuery)
	var data []map[string]any
	for i, at := range c.items {
		if at > since {
			data = append(data, map[string]any{"id": i + 1, "updated_at": at})
		}
	}
	resp := map[string]any{"meta": map[string]any{"next_cursor": nil}}
	from = min(from, len(data))
	if c.pageSize > 0 && from+c.pageSize < len(data) {
		resp["meta"] = map[string]any{"next_cursor": strconv.Itoa(from + c.pageSize)}
		data = data[from : from+c.pageSize]
	} else {
		data = data[from:]
	}
	resp["data"] = data
	_ = json.NewEncoder(w).Encode(resp)
}

func (c *changes) add(at ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.items = append(c.items, at...)
}

func (c *changes) served() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.requests)
}

// pollRequest polls until the task has made n more requests and returns what those polls emitted.
func pollRequests(t *testing.T, task *httpconn.SourceTask, c *changes, n int) []*schema.Record {
	t.Helper()
	var out []*schema.Record
	deadline := time.Now().Add(10 * time.Second)
	for want := c.served() + n; c.served() < want; {
		require.True(t, time.Now().Before(deadline), "no request made")
		recs, err := task.Poll(context.Background())
		require.NoError(t, err)
		out = append(out, recs...)
	}
	return out
}

// TestPollPositionMovedStartsFresh: with ${position} in url and pagination, a poll after the position moved
// asks for what came after it, and none of that answer is skipped (the docs' example: updated_since and a
// cursor). A task restarted from a committed record asks from its position and skips nothing either.
func TestPollPositionMovedStartsFresh(t *testing.T) {
	feed := &changes{}
	srv := httptest.NewServer(feed)
	defer srv.Close()
	cfg := pollCfg(srv.URL+"/tickets?updated_since=${position}", "records.path", "data", "position.path", "updated_at",
		"position.initial", "2026-01-01T00:00:00Z", "pagination.mode", "cursor", "pagination.cursor.path", "meta.next_cursor",
		"pagination.cursor.param", "cursor")
	store := conformance.NewPositions()
	task := startSource(t, cfg, store)
	feed.add("2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z")
	got := pollRequests(t, task, feed, 1)
	require.Equal(t, []int64{1, 2}, ids(t, got))
	committed := got[1]
	feed.add("2026-01-04T00:00:00Z")
	got = append(got, pollRequests(t, task, feed, 1)...)
	feed.add("2026-01-05T00:00:00Z")
	got = append(got, pollRequests(t, task, feed, 1)...)
	got = append(got, pollRequests(t, task, feed, 1)...) // nothing new
	require.Equal(t, []int64{1, 2, 3, 4}, ids(t, got))
	feed.mu.Lock()
	require.Equal(t, "updated_since=2026-01-04T00%3A00%3A00Z", feed.requests[2])
	feed.mu.Unlock()
	require.NoError(t, task.Stop(context.Background()))

	store.Set(committed.SourcePartition, conformance.JSONRoundTrip(t, committed.SourceOffset))
	task = startSource(t, cfg, store)
	got = pollRequests(t, task, feed, 1)
	require.Equal(t, []int64{3, 4}, ids(t, got))
}

// TestPollPositionKeptThroughPages: the pages of one run are requested with the position the run began
// with, so a cursor continues the query it came from; the next run asks from the new position.
func TestPollPositionKeptThroughPages(t *testing.T) {
	feed := &changes{pageSize: 2}
	feed.add("2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05", "2026-01-06")
	srv := httptest.NewServer(feed)
	defer srv.Close()
	cfg := pollCfg(srv.URL+"/tickets?updated_since=${position}", "records.path", "data", "position.path", "updated_at",
		"position.initial", "2026-01-01", "pagination.mode", "cursor", "pagination.cursor.path", "meta.next_cursor",
		"pagination.cursor.param", "cursor")
	store := conformance.NewPositions()
	task := startSource(t, cfg, store)
	got := pollRequests(t, task, feed, 3)
	require.Equal(t, []int64{1, 2, 3, 4, 5}, ids(t, got))
	committed := got[2]
	feed.add("2026-01-07")
	got = pollRequests(t, task, feed, 1)
	require.Equal(t, []int64{6}, ids(t, got))
	feed.mu.Lock()
	require.Equal(t, []string{
		"updated_since=2026-01-01",
		"cursor=2&updated_since=2026-01-01",
		"cursor=4&updated_since=2026-01-01",
		"updated_since=2026-01-06",
	}, feed.requests)
	feed.requests = nil
	feed.mu.Unlock()
	require.NoError(t, task.Stop(context.Background()))

	// Restarted from item 3, the first of its page done: that page is requested as it was, and only what
	// follows item 3 is emitted.
	store.Set(committed.SourcePartition, conformance.JSONRoundTrip(t, committed.SourceOffset))
	task = startSource(t, cfg, store)
	got = pollRequests(t, task, feed, 3)
	require.Equal(t, []int64{4, 5, 6}, ids(t, got))
	feed.mu.Lock()
	defer feed.mu.Unlock()
	require.Equal(t, "cursor=2&updated_since=2026-01-01", feed.requests[0])
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
		{map[string]string{"connect.topicname": "t", "url": "https://u:p%zz@x"}, "url"},
		{map[string]string{"connect.topicname": "t", "url": "http://x", "tls.ca.file": "/ca.pem"}, "tls.ca.file"},
	} {
		_, err := conformance.Validate(c, tc.cfg)
		require.Error(t, err, "%v", tc.cfg)
		fes := cfgerr.Flatten(err)
		require.NotEmpty(t, fes, "%v", err)
		require.Equal(t, tc.key, fes[0].Key, "%v", err)
	}
}

// TestSourceValidateCursorNeedsPlacement: pagination.mode=cursor needs a place for the cursor in the request
// (pagination.cursor.param, or ${cursor} in url, headers or a POST's request.body); without one the first page
// would be requested forever.
func TestSourceValidateCursorNeedsPlacement(t *testing.T) {
	c := httpconn.NewSourceConnector()
	base := func(kv ...string) map[string]string {
		return pollCfg("http://x/items", append([]string{"pagination.mode", "cursor", "pagination.cursor.path", "next"}, kv...)...)
	}
	for _, cfg := range []map[string]string{
		base(),
		base("request.body", `{"after":"${cursor}"}`), // a GET sends no body
		base("url", "http://x/items?p=${position}", "headers", "X-Page:${position}"),
	} {
		_, err := conformance.Validate(c, cfg)
		fes := cfgerr.Flatten(err)
		require.Len(t, fes, 1, "%v: %v", cfg, err)
		require.Equal(t, "pagination.cursor.param", fes[0].Key)
		require.Contains(t, fes[0].Reason, "${cursor}")
	}
	for _, cfg := range []map[string]string{
		base("pagination.cursor.param", "cursor"),
		base("url", "http://x/items/${cursor}"),
		base("method", "POST", "request.body", `{"after":"${cursor}"}`),
		base("headers", "X-Cursor:${cursor}"),
	} {
		_, err := conformance.Validate(c, cfg)
		require.NoError(t, err, "%v", cfg)
	}
}

// TestSourceValidateListenRefusesClientKeys: the auth, HMAC and TLS keys of poll requests have no effect on
// the listener; set in listen mode they are refused, naming the key and what to use instead.
func TestSourceValidateListenRefusesClientKeys(t *testing.T) {
	c := httpconn.NewSourceConnector()
	for _, tc := range []struct {
		kv      []string
		key     string
		instead string
	}{
		{[]string{"auth.type", "basic", "auth.username", "u", "auth.password", "PW-XYZ"}, "auth.type", "listen.auth"},
		{[]string{"auth.type", "BASIC"}, "auth.type", "listen.auth"},
		{[]string{"auth.username", "u"}, "auth.username", "listen.auth"},
		{[]string{"auth.password", "PW-XYZ"}, "auth.password", "listen.secret"},
		{[]string{"auth.type", "bearer", "auth.bearer.token", "TK-XYZ"}, "auth.type", "listen.auth"},
		{[]string{"auth.bearer.token", "TK-XYZ"}, "auth.bearer.token", "listen.auth"},
		{[]string{"hmac.secret", "HM-XYZ"}, "hmac.secret", "listen.auth=hmac"},
		{[]string{"tls.client.cert.file", "/c.pem", "tls.client.key.file", "/k.pem"}, "tls.client.cert.file", "TLS in front"},
		{[]string{"tls.ca.file", "/ca.pem"}, "tls.ca.file", "TLS in front"},
	} {
		_, err := conformance.Validate(c, listenCfg(":0", tc.kv...))
		require.Error(t, err, "%v", tc.kv)
		fes := cfgerr.Flatten(err)
		require.NotEmpty(t, fes, "%v", err)
		require.Equal(t, tc.key, fes[0].Key, "%v", err)
		require.Contains(t, fes[0].Reason, tc.instead)
		require.NotContains(t, err.Error(), "XYZ", "a secret is not shown")
	}
	_, err := conformance.Validate(c, listenCfg(":0", "auth.type", "none", "listen.auth", "hmac", "listen.secret", "k"))
	require.NoError(t, err)
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

// TestPollNextLinkHeaderWithComma: a Link rel="next" whose URL holds a comma (legal in a URI, common in
// ?fields=a,b or ?sort=-created,id) is followed like any other.
func TestPollNextLinkHeaderWithComma(t *testing.T) {
	var srvURL string
	var mu sync.Mutex
	var uris []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		uris = append(uris, r.RequestURI)
		mu.Unlock()
		if r.URL.Query().Get("page") == "2" {
			_, _ = io.WriteString(w, `[{"id":3},{"id":4}]`)
			return
		}
		w.Header().Add("Link", fmt.Sprintf(`<%s/items?fields=id,name&page=0>; rel="first", <%s/items?fields=id,name&page=2>; title="b, c; d"; rel="next last"`, srvURL, srvURL))
		_, _ = io.WriteString(w, `[{"id":1},{"id":2}]`)
	}))
	defer srv.Close()
	srvURL = srv.URL
	task := startSource(t, pollCfg(srv.URL+"/items?fields=id,name", "records.path", "$", "pagination.mode", "next-link"), nil)
	got := conformance.PollN(t, task, 4, 10*time.Second)
	require.Equal(t, []int64{1, 2, 3, 4}, ids(t, got[:4]))
	require.Equal(t, srv.URL+"/items?fields=id,name&page=2", got[3].SourceOffset["page"])
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{"/items?fields=id,name", "/items?fields=id,name&page=2"}, uris[:2])
}

// TestPollJSONNumbersKept: with record.value.format=json, numbers come back from value.converter=json
// (schemas off) as the same numbers: integers beyond int64 and decimals a float64 cannot hold keep every digit.
func TestPollJSONNumbersKept(t *testing.T) {
	const elem = `{"id":1,"amount":0.123456789012345678,"big":12345678901234567890,"neg":-98765432109876543210.5,"price":19.90,"ratio":0.5,"huge":1e400,"nested":[{"n":7.25}]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"data":[`+elem+`]}`)
	}))
	defer srv.Close()
	task := startSource(t, pollCfg(srv.URL, "records.path", "data", "poll.interval", "1h"), nil)
	got := conformance.PollN(t, task, 1, 10*time.Second)
	require.Empty(t, got[0].Extensions[plugins.ExtErrorMessage])
	v := got[0].Value.(map[string]any)
	require.Equal(t, int64(1), v["id"])
	require.Equal(t, 0.5, v["ratio"], "a number a float64 holds exactly stays a float64")
	require.Equal(t, 7.25, v["nested"].([]any)[0].(map[string]any)["n"])
	conv := converter.NewJSONConverter()
	require.NoError(t, conv.Configure(map[string]string{"schemas.enable": "false"}, false))
	out, err := conv.FromConnect("t", got[0].ValueSchema, got[0].Value)
	require.NoError(t, err)
	in, back := numbers(t, elem), numbers(t, string(out))
	require.Len(t, back, len(in), "%s", out)
	for k, n := range in {
		want, ok := new(big.Rat).SetString(n.String())
		require.True(t, ok, n)
		have, ok := new(big.Rat).SetString(back[k].String())
		require.True(t, ok, "%s: %s", k, out)
		require.Zero(t, want.Cmp(have), "%s: %s came back as %s", k, n, back[k])
	}
	require.Contains(t, string(out), `"amount":0.123456789012345678`)
	require.Contains(t, string(out), `"big":12345678901234567890`)
	require.Contains(t, string(out), `"price":19.9`, "the same number, not the same text: record.value.format=string keeps the text")
}

// numbers returns the top-level numbers of a JSON object as written.
func numbers(t *testing.T, doc string) map[string]json.Number {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(doc))
	d.UseNumber()
	require.NoError(t, d.Decode(&m), doc)
	out := map[string]json.Number{}
	for k, x := range m {
		if n, ok := x.(json.Number); ok {
			out[k] = n
		}
	}
	return out
}

// TestPollEmptyBodyIsNoRecords: a poll answered 204 No Content, or 200 with an empty body, has no records: no
// error record, no empty record, and the position stays where it was.
func TestPollEmptyBodyIsNoRecords(t *testing.T) {
	var mu sync.Mutex
	var queries []string
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.URL.RawQuery)
		mu.Unlock()
		switch n := calls.Add(1); {
		case n == 3:
			_, _ = io.WriteString(w, `{"data":[{"id":1,"at":"p1"}]}`)
		case n%2 == 0:
			_, _ = io.WriteString(w, " \n")
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	for _, format := range []string{"json", "string", "bytes"} {
		t.Run(format, func(t *testing.T) {
			calls.Store(0)
			mu.Lock()
			queries = nil
			mu.Unlock()
			kv := []string{"record.value.format", format, "position.path", "at", "position.initial", "p0"}
			if format == "json" {
				kv = append(kv, "records.path", "data")
			}
			task := startSource(t, pollCfg(srv.URL+"?after=${position}", kv...), nil)
			var got []*schema.Record
			for calls.Load() < 8 {
				recs, err := task.Poll(context.Background())
				require.NoError(t, err)
				got = append(got, recs...)
			}
			require.Len(t, got, 1, "only the answer with a body has a record")
			require.Empty(t, got[0].Extensions[plugins.ExtErrorMessage])
			mu.Lock()
			defer mu.Unlock()
			require.Equal(t, []string{"after=p0", "after=p0", "after=p0"}, queries[:3], "an empty answer keeps the position")
			if format == "json" {
				require.Equal(t, int64(1), got[0].Value.(map[string]any)["id"])
				require.Equal(t, "after=p1", queries[3])
			}
		})
	}
}

// TestPollPostBodyEscapesJSON: ${cursor} and ${position} placed into a JSON request.body are JSON-escaped, so
// a quote or a backslash in them keeps the body JSON; another Content-Type gets them as they are.
func TestPollPostBodyEscapesJSON(t *testing.T) {
	for _, tc := range []struct{ headers, want string }{
		{"", `{"after":"c\"2\\","since":"a\"b"}`},
		{"Content-Type:application/vnd.api+json", `{"after":"c\"2\\","since":"a\"b"}`},
		{"Content-Type:text/plain", `{"after":"c"2\","since":"a"b"}`},
	} {
		srv, bodies := bodyServer(t, func(b string) string {
			if !strings.HasPrefix(b, `{"after":"",`) {
				return `{"items":[]}`
			}
			return `{"items":[{"id":1}],"next":"c\"2\\"}`
		})
		task := startSource(t, pollCfg(srv.URL, "method", "POST", "request.body", `{"after":"${cursor}","since":"${position}"}`,
			"position.initial", `a"b`, "pagination.mode", "cursor", "pagination.cursor.path", "next", "records.path", "items",
			"headers", tc.headers), nil)
		_ = conformance.PollN(t, task, 1, 10*time.Second)
		for len(bodies()) < 2 {
			_, err := task.Poll(context.Background())
			require.NoError(t, err)
		}
		require.Equal(t, tc.want, bodies()[1], tc.headers)
	}
}
