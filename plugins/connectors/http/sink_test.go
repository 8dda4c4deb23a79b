package httpconn_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
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

// startSink validates cfg as the engine does and starts a task on it.
func startSink(t *testing.T, cfg map[string]string) (*httpconn.SinkTask, *conformance.SinkContext) {
	t.Helper()
	c := httpconn.NewSinkConnector()
	_, err := conformance.Validate(c, cfg)
	require.NoError(t, err)
	sctx := conformance.SinkContextFor(t, c.Spec(), cfg, conformance.Queue)
	task := httpconn.NewSinkTask()
	require.NoError(t, task.Start(context.Background(), sctx, cfg))
	t.Cleanup(func() { require.NoError(t, task.Stop(context.Background())) })
	return task, sctx
}

func rec(i int, key string) *schema.Record {
	r := schema.NewRecord("orders", schema.StringSchema, key, nil, map[string]any{"id": int64(i)})
	r.QueueID, r.QueueOffset = 0, int64(i)
	return r
}

func recs(n int, key func(i int) string) []*schema.Record {
	out := make([]*schema.Record, n)
	for i := range out {
		out[i] = rec(i, key(i))
	}
	return out
}

func constKey(int) string { return "k" }

func fastRetry(cfg map[string]string) map[string]string {
	cfg["retry.backoff.initial"] = "1ms"
	cfg["retry.backoff.max"] = "5ms"
	return cfg
}

func idOf(t *testing.T, body []byte) int {
	t.Helper()
	var v struct{ ID int }
	require.NoError(t, json.Unmarshal(body, &v), string(body))
	return v.ID
}

// TestSinkRetriesTransientFailures: 503, 429 and 408 are retried until a 2xx; every record is delivered
// once and nothing is reported errant.
func TestSinkRetriesTransientFailures(t *testing.T) {
	var mu sync.Mutex
	attempts := map[int]int{}
	delivered := map[int]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := idOf(t, body)
		mu.Lock()
		defer mu.Unlock()
		attempts[id]++
		switch attempts[id] {
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
		case 3:
			w.WriteHeader(http.StatusRequestTimeout)
		default:
			delivered[id]++
		}
	}))
	defer srv.Close()
	task, sctx := startSink(t, fastRetry(map[string]string{"url": srv.URL}))
	require.NoError(t, task.Put(context.Background(), recs(20, constKey)))
	require.NoError(t, task.Flush(context.Background(), nil))
	reported, _ := sctx.Reporter.Reported()
	require.Empty(t, reported)
	for i := range 20 {
		require.Equal(t, 4, attempts[i], "record %d", i)
		require.Equal(t, 1, delivered[i], "record %d", i)
	}
}

// TestSinkRejectedGoesToErrorPolicy: a 4xx other than 408/429 is not retried; the record is reported with
// the status and an excerpt of the response, and the others are delivered.
func TestSinkRejectedGoesToErrorPolicy(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		if idOf(t, body)%5 == 0 {
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = io.WriteString(w, `{"error":"field id is odd enough"}`+strings.Repeat("x", 10000))
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	task, sctx := startSink(t, fastRetry(map[string]string{"url": srv.URL}))
	require.NoError(t, task.Put(context.Background(), recs(10, constKey)))
	require.NoError(t, task.Flush(context.Background(), nil))
	require.EqualValues(t, 10, calls.Load(), "a rejected record is not retried")
	reported, errs := sctx.Reporter.Reported()
	require.Len(t, reported, 2)
	// Requests run concurrently: the two rejections may be reported in either order.
	var offsets []int64
	for _, r := range reported {
		offsets = append(offsets, r.QueueOffset)
	}
	require.ElementsMatch(t, []int64{0, 5}, offsets)
	for _, err := range errs {
		require.ErrorIs(t, err, httpconn.ErrRejected)
		var se *httpconn.StatusError
		require.ErrorAs(t, err, &se)
		require.Equal(t, http.StatusUnprocessableEntity, se.Status)
		require.Contains(t, err.Error(), "field id is odd enough")
		require.LessOrEqual(t, len(se.Excerpt), 512)
	}

	// errors.tolerance=none: the reporter fails, so does Flush.
	task2, sctx2 := startSink(t, fastRetry(map[string]string{"url": srv.URL}))
	sctx2.Reporter.Fail = true
	require.NoError(t, task2.Put(context.Background(), recs(3, constKey)))
	require.ErrorIs(t, task2.Flush(context.Background(), nil), httpconn.ErrRejected)
}

// TestSinkGivesUpAndStaysFailed: after retry.max.attempts the Flush fails, and so does every later Flush
// (the records were never delivered, so no offset may be committed); nothing goes to the DLQ.
func TestSinkGivesUpAndStaysFailed(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	task, sctx := startSink(t, fastRetry(map[string]string{"url": srv.URL, "retry.max.attempts": "3"}))
	require.NoError(t, task.Put(context.Background(), recs(1, constKey)))
	err := task.Flush(context.Background(), nil)
	require.ErrorIs(t, err, httpconn.ErrGaveUp)
	require.Contains(t, err.Error(), "status 502")
	require.False(t, plugins.IsRetriable(err), "a retried Flush would commit offsets of undelivered records")
	require.EqualValues(t, 3, calls.Load())
	require.ErrorIs(t, task.Flush(context.Background(), nil), httpconn.ErrGaveUp)
	reported, _ := sctx.Reporter.Reported()
	require.Empty(t, reported)
}

// TestSinkRetriesConnectionErrorsAndTimeouts: a dropped connection and a request over request.timeout are
// retried.
func TestSinkRetriesConnectionErrorsAndTimeouts(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			conn, _, err := w.(http.Hijacker).Hijack()
			require.NoError(t, err)
			conn.Close()
		case 2:
			_, _ = io.ReadAll(r.Body) // the server notices the client leaving only once the body is read
			<-r.Context().Done()      // hang past request.timeout
		default:
			w.WriteHeader(http.StatusCreated)
		}
	}))
	defer srv.Close()
	task, _ := startSink(t, fastRetry(map[string]string{"url": srv.URL, "request.timeout": "100ms"}))
	require.NoError(t, task.Put(context.Background(), recs(1, constKey)))
	require.NoError(t, task.Flush(context.Background(), nil))
	require.EqualValues(t, 3, calls.Load())
}

// TestSinkBoundedResponseRead: a 2xx or 5xx answer with an endless body does not hold the sink.
func TestSinkBoundedResponseRead(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
		chunk := []byte(strings.Repeat("garbage!", 4096))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	task, _ := startSink(t, fastRetry(map[string]string{"url": srv.URL}))
	require.NoError(t, task.Put(context.Background(), recs(1, constKey)))
	require.NoError(t, task.Flush(context.Background(), nil))
	require.EqualValues(t, 2, calls.Load())
}

// TestSinkPerKeyOrdering: with ordering.per.key each key's records arrive in order although requests fail
// at random and run concurrently.
func TestSinkPerKeyOrdering(t *testing.T) {
	var mu sync.Mutex
	last := map[string]int{}
	var violations []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if rand.IntN(3) == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
		var batch []struct{ ID int }
		require.NoError(t, json.Unmarshal(body, &batch))
		key := r.Header.Get("X-Key")
		mu.Lock()
		defer mu.Unlock()
		for _, e := range batch {
			if p, ok := last[key]; ok && e.ID <= p {
				violations = append(violations, fmt.Sprintf("key %s: %d after %d", key, e.ID, p))
			}
			last[key] = e.ID
		}
	}))
	defer srv.Close()
	task, _ := startSink(t, fastRetry(map[string]string{"url": srv.URL, "ordering.per.key": "true", "max.concurrent.requests": "4",
		"batch.max.records": "3", "headers": "X-Key:${key}", "retry.max.attempts": "0"}))
	key := func(i int) string { return "k" + strconv.Itoa(i%5) }
	for b := range 20 {
		batch := make([]*schema.Record, 25)
		for j := range batch {
			i := b*25 + j
			batch[j] = rec(i, key(i))
		}
		require.NoError(t, task.Put(context.Background(), batch))
	}
	require.NoError(t, task.Flush(context.Background(), nil))
	require.Empty(t, violations)
	require.Len(t, last, 5)
}

// TestSinkConcurrencyBound: never more than max.concurrent.requests requests at once.
func TestSinkConcurrencyBound(t *testing.T) {
	var cur, peak atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := cur.Add(1)
		defer cur.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(2 * time.Millisecond)
	}))
	defer srv.Close()
	task, _ := startSink(t, map[string]string{"url": srv.URL, "max.concurrent.requests": "3"})
	require.NoError(t, task.Put(context.Background(), recs(60, constKey)))
	require.NoError(t, task.Flush(context.Background(), nil))
	require.LessOrEqual(t, peak.Load(), int64(3))
}

// recorder keeps every request's body and headers.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.reqs = append(rc.reqs, r)
	rc.body = append(rc.body, b)
}

func (rc *recorder) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.reqs)
}

// TestSinkBatches: batch.max.records and batch.max.bytes cut batches; NDJSON and JSON-array bodies carry
// every value in order with the matching Content-Type.
func TestSinkBatches(t *testing.T) {
	for _, tc := range []struct {
		format, ctype string
		maxBytes      string
	}{
		{"json-array", "application/json", "1000000"},
		{"ndjson", "application/x-ndjson", "1000000"},
		{"ndjson", "application/x-ndjson", "40"},
		{"json-array", "application/json", "40"},
	} {
		t.Run(tc.format+"/"+tc.maxBytes, func(t *testing.T) {
			rc := &recorder{}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			task, _ := startSink(t, map[string]string{"url": srv.URL, "batch.max.records": "4", "batch.format": tc.format,
				"batch.max.bytes": tc.maxBytes, "max.concurrent.requests": "1"})
			require.NoError(t, task.Put(context.Background(), recs(10, constKey)))
			require.NoError(t, task.Flush(context.Background(), nil))
			var ids []int
			for i, r := range rc.reqs {
				require.Equal(t, tc.ctype, r.Header.Get("Content-Type"))
				if tc.maxBytes == "40" {
					require.LessOrEqual(t, len(rc.body[i]), 40)
				}
				if tc.format == "ndjson" {
					for line := range strings.SplitSeq(strings.TrimSuffix(string(rc.body[i]), "\n"), "\n") {
						ids = append(ids, idOf(t, []byte(line)))
					}
					continue
				}
				var arr []struct{ ID int }
				require.NoError(t, json.Unmarshal(rc.body[i], &arr))
				for _, e := range arr {
					ids = append(ids, e.ID)
				}
			}
			require.Equal(t, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, ids)
			if tc.maxBytes == "1000000" {
				require.Len(t, rc.reqs, 3)
			}
		})
	}
}

// TestSinkLinger: with linger.ms a batch spans Put calls until it is full, Flush comes or linger.ms passes.
func TestSinkLinger(t *testing.T) {
	rc := &recorder{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	task, _ := startSink(t, map[string]string{"url": srv.URL, "batch.max.records": "10", "linger.ms": "60000"})
	all := recs(6, constKey)
	require.NoError(t, task.Put(context.Background(), all[:3]))
	require.NoError(t, task.Put(context.Background(), all[3:]))
	require.Zero(t, rc.count())
	require.NoError(t, task.Flush(context.Background(), nil))
	require.Equal(t, 1, rc.count(), "one request for both Puts")

	rc2 := &recorder{}
	srv2 := httptest.NewServer(rc2)
	defer srv2.Close()
	task2, _ := startSink(t, map[string]string{"url": srv2.URL, "batch.max.records": "10", "linger.ms": "20ms"})
	require.NoError(t, task2.Put(context.Background(), recs(3, constKey)))
	require.Eventually(t, func() bool { return rc2.count() == 1 }, 10*time.Second, 5*time.Millisecond,
		"the batch goes once linger.ms has passed, without Flush")
}

// TestSinkTemplates: method, URL and headers come from the record; placeholders are escaped for where they
// stand in the URL.
func TestSinkTemplates(t *testing.T) {
	rc := &recorder{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	task, _ := startSink(t, map[string]string{
		"url":     srv.URL + "/users/${value.user.id}/${topic}?k=${key}&p=${partition}&o=${offset}",
		"method":  "${header.verb}",
		"headers": "X-Name: ${value.user.name}|X-Tags:${value.tags}|X-Trace:${property.trace}",
	})
	user := mustSchema(t)
	outer, err := schema.StructBuilder().Field("user", user).Field("tags", schema.ArrayOf(schema.StringSchema).MustBuild()).Build()
	require.NoError(t, err)
	st := schema.NewStruct(outer).MustPut("user", schema.NewStruct(user).MustPut("id", "a/b c").MustPut("name", "Zoë")).
		MustPut("tags", []any{"p", "q"})
	r := schema.NewRecord("t1", schema.StringSchema, "x&y=1", nil, map[string]any{"user": map[string]any{"id": "a/b c", "name": "Zoë"}, "tags": []any{"p", "q"}})
	r.QueueID, r.QueueOffset = 3, 42
	r.Headers.Add("verb", schema.StringSchema, "put")
	r.Headers.Add("trace", schema.StringSchema, "abc")
	r2 := schema.NewRecord("t1", nil, nil, st.Schema(), st)
	r2.Headers.Add("verb", schema.StringSchema, "PATCH")
	require.NoError(t, task.Put(context.Background(), []*schema.Record{r, r2}))
	require.NoError(t, task.Flush(context.Background(), nil))
	require.Equal(t, 2, rc.count())
	byMethod := map[string]*http.Request{}
	for _, q := range rc.reqs {
		byMethod[q.Method] = q
	}
	q := byMethod["PUT"]
	require.NotNil(t, q)
	require.Equal(t, "/users/a%2Fb%20c/t1", q.URL.EscapedPath())
	require.Equal(t, "x&y=1", q.URL.Query().Get("k"))
	require.Equal(t, "3", q.URL.Query().Get("p"))
	require.Equal(t, "42", q.URL.Query().Get("o"))
	require.Equal(t, "Zoë", q.Header.Get("X-Name"))
	require.Equal(t, `["p","q"]`, q.Header.Get("X-Tags"))
	require.Equal(t, "abc", q.Header.Get("X-Trace"))
	require.NotNil(t, byMethod["PATCH"], "a struct value's fields are reachable too")
	require.Equal(t, "/users/a%2Fb%20c/t1", byMethod["PATCH"].URL.EscapedPath())
}

func mustSchema(t *testing.T) *schema.Schema {
	t.Helper()
	s, err := schema.StructBuilder().Field("id", schema.StringSchema).Field("name", schema.StringSchema).Build()
	require.NoError(t, err)
	return s
}

// TestSinkRenderErrors: records a request cannot be built from go to the error policy, nothing is sent for
// them, and the others are delivered; null values are skipped unless behavior.on.null.values=fail.
func TestSinkRenderErrors(t *testing.T) {
	rc := &recorder{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	task, sctx := startSink(t, map[string]string{"url": srv.URL + "/${value.id}", "headers": "X-Note:${header.note}"})
	good := rec(1, "k")
	noField := schema.NewRecord("t", nil, nil, nil, map[string]any{"other": 1})
	notJSON := schema.NewRecord("t", nil, nil, schema.StringSchema, "plain text")
	crlf := rec(2, "k")
	crlf.Headers.Add("note", schema.StringSchema, "a\r\nInjected: yes")
	null := schema.NewRecord("t", nil, nil, nil, nil)
	require.NoError(t, task.Put(context.Background(), []*schema.Record{noField, good, notJSON, crlf, null}))
	require.NoError(t, task.Flush(context.Background(), nil))
	require.Equal(t, 1, rc.count())
	reported, errs := sctx.Reporter.Reported()
	require.Equal(t, []*schema.Record{noField, notJSON, crlf}, reported)
	for _, err := range errs {
		require.ErrorIs(t, err, httpconn.ErrRender)
	}

	task2, sctx2 := startSink(t, map[string]string{"url": srv.URL, "behavior.on.null.values": "fail"})
	require.NoError(t, task2.Put(context.Background(), []*schema.Record{null}))
	require.NoError(t, task2.Flush(context.Background(), nil))
	reported, _ = sctx2.Reporter.Reported()
	require.Equal(t, []*schema.Record{null}, reported)
}

// TestSinkAuth: basic and bearer credentials, and the HMAC signature of the exact body.
func TestSinkAuth(t *testing.T) {
	rc := &recorder{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	for _, cfg := range []map[string]string{
		{"auth.type": "basic", "auth.username": "u", "auth.password": "p"},
		{"auth.type": "bearer", "auth.bearer.token": "tok", "hmac.secret": "k", "hmac.header": "X-Sig"},
	} {
		cfg["url"] = srv.URL
		task, _ := startSink(t, cfg)
		require.NoError(t, task.Put(context.Background(), recs(1, constKey)))
		require.NoError(t, task.Flush(context.Background(), nil))
	}
	require.Equal(t, 2, rc.count())
	u, p, ok := rc.reqs[0].BasicAuth()
	require.True(t, ok)
	require.Equal(t, "u:p", u+":"+p)
	require.Equal(t, "Bearer tok", rc.reqs[1].Header.Get("Authorization"))
	require.Equal(t, httpconn.Sign("sha256", []byte("k"), rc.body[1]), rc.reqs[1].Header.Get("X-Sig"))
	require.True(t, strings.HasPrefix(rc.reqs[1].Header.Get("X-Sig"), "sha256="))
}

func TestSinkValidate(t *testing.T) {
	c := httpconn.NewSinkConnector()
	for _, tc := range []struct {
		cfg map[string]string
		key string
	}{
		{map[string]string{}, "url"},
		{map[string]string{"url": "ftp://x"}, "url"},
		{map[string]string{"url": "http://x/${oops"}, "url"},
		{map[string]string{"url": "http://x", "auth.type": "basic"}, "auth.username"},
		{map[string]string{"url": "http://x", "auth.type": "bearer"}, "auth.bearer.token"},
		{map[string]string{"url": "http://x", "tls.client.cert.file": "/c.pem"}, "tls.client.key.file"},
		{map[string]string{"url": "http://x", "headers": "no colon"}, "headers"},
		{map[string]string{"url": "http://x", "method": "PO ST"}, "method"},
		{map[string]string{"url": "http://x", "batch.max.records": "5", "body.format": "raw"}, "batch.format"},
		{map[string]string{"url": "http://x", "linger.ms": "2h"}, "linger.ms"},
	} {
		_, err := conformance.Validate(c, tc.cfg)
		require.Error(t, err, "%v", tc.cfg)
		fes := cfgerr.Flatten(err)
		require.NotEmpty(t, fes, "%v", err)
		require.Equal(t, tc.key, fes[0].Key, "%v", err)
	}
	_, err := conformance.Validate(c, map[string]string{"url": "http://x", "batch.max.records": "5", "body.format": "raw", "batch.format": "ndjson"})
	require.NoError(t, err)
}

// TestSinkStopCancelsRetries: Stop ends a request that is being retried; Flush then fails.
func TestSinkStopCancelsRetries(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	task, _ := startSink(t, fastRetry(map[string]string{"url": srv.URL, "retry.max.attempts": "0"}))
	require.NoError(t, task.Put(context.Background(), recs(1, constKey)))
	errc := make(chan error, 1)
	go func() { errc <- task.Flush(context.Background(), nil) }()
	require.NoError(t, task.Stop(context.Background()))
	err := <-errc
	require.True(t, errors.Is(err, httpconn.ErrStopped), "%v", err)
}

// TestSinkErrorsHideSecrets: user info and query values (where a resolved API key may stand) are not in the
// error a rejected record carries to the DLQ.
func TestSinkErrorsHideSecrets(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
	}))
	defer srv.Close()
	u := strings.Replace(srv.URL, "http://", "http://user:pw@", 1) + "/in?api_key=SECRET123&mode=x"
	task, sctx := startSink(t, map[string]string{"url": u})
	require.NoError(t, task.Put(context.Background(), recs(1, constKey)))
	require.NoError(t, task.Flush(context.Background(), nil))
	_, errs := sctx.Reporter.Reported()
	require.Len(t, errs, 1)
	require.NotContains(t, errs[0].Error(), "SECRET123")
	require.NotContains(t, errs[0].Error(), ":pw@")
	require.Contains(t, errs[0].Error(), "api_key=xxxxx")
}
