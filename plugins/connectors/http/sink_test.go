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
		{map[string]string{"url": "http://x", "tls.client.cert.file": "/c.pem", "tls.client.key.file": "/k.pem"}, "tls.client.cert.file"},
		{map[string]string{"url": "HTTP://x", "tls.ca.file": "/ca.pem"}, "tls.ca.file"},
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
// error a rejected record carries to the DLQ, nor in the one that fails the task.
func TestSinkErrorsHideSecrets(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusUnprocessableEntity)
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

	down := strings.Replace(u, "/in?", "/down?", 1)
	task2, _ := startSink(t, fastRetry(map[string]string{"url": down, "retry.max.attempts": "2"}))
	require.NoError(t, task2.Put(context.Background(), recs(1, constKey)))
	err := task2.Flush(context.Background(), nil)
	require.ErrorIs(t, err, httpconn.ErrGaveUp)
	require.NotContains(t, err.Error(), "SECRET123")
	require.NotContains(t, err.Error(), ":pw@")
}

// TestSinkMalformedURL: a constant url that does not parse (here a password with a stray '%') is refused by
// Validate and by Start, naming url, and no error shows the password.
func TestSinkMalformedURL(t *testing.T) {
	for _, u := range []string{
		"https://svc:Q7%zz@api.example.com/hook", // url.Parse: invalid URL escape "%zz"
		"https://svc:Q7/zz@api.example.com/hook", // url.Parse: invalid port ":Q7" after host
		"ftp://svc:Q7zz@api.example.com/hook",
		"https://svc:Q7zz @api.example.com/hook",
		"https://svc:Q7zz@api.example.com/${oops",
	} {
		cfg := map[string]string{"url": u}
		_, err := conformance.Validate(httpconn.NewSinkConnector(), cfg)
		require.Error(t, err, u)
		fes := cfgerr.Flatten(err)
		require.Len(t, fes, 1, "%v", err)
		require.Equal(t, "url", fes[0].Key)
		require.NotContains(t, err.Error(), "Q7", u)
		require.NotContains(t, err.Error(), "zz", u)
		require.Contains(t, err.Error(), "svc:xxxxx@", u)

		sctx := conformance.SinkContextFor(t, httpconn.NewSinkConnector().Spec(), cfg, conformance.Queue)
		task := httpconn.NewSinkTask()
		err = task.Start(context.Background(), sctx, cfg)
		require.ErrorIs(t, err, cfgerr.ErrInvalid, u)
		require.NotContains(t, err.Error(), "Q7", u)
		require.NoError(t, task.Stop(context.Background()))
	}
	_, err := conformance.Validate(httpconn.NewSinkConnector(), map[string]string{"url": "https://svc:Q7%25zz@api.example.com/hook"})
	require.NoError(t, err, "an escaped password is fine")
}

// TestSinkStatusesAboutTheRequest: 401, 403, 404 and 405 say nothing about the records: they are retried,
// and when retries run out Flush fails (nothing committed), even with errors.tolerance=all; nothing goes
// to the DLQ. Once the server accepts again, the records are delivered.
func TestSinkStatusesAboutTheRequest(t *testing.T) {
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusMethodNotAllowed} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			var calls atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.ReadAll(r.Body)
				if calls.Add(1) <= 3 {
					w.WriteHeader(status)
				}
			}))
			defer srv.Close()
			task, sctx := startSink(t, fastRetry(map[string]string{"url": srv.URL, "retry.max.attempts": "3"}))
			require.NoError(t, task.Put(context.Background(), recs(1, constKey)))
			err := task.Flush(context.Background(), nil)
			require.ErrorIs(t, err, httpconn.ErrGaveUp)
			require.NotErrorIs(t, err, httpconn.ErrRejected)
			require.Contains(t, err.Error(), "status "+strconv.Itoa(status))
			require.EqualValues(t, 3, calls.Load())
			reported, _ := sctx.Reporter.Reported()
			require.Empty(t, reported, "the records are not at fault")

			task2, sctx2 := startSink(t, fastRetry(map[string]string{"url": srv.URL}))
			calls.Store(0)
			require.NoError(t, task2.Put(context.Background(), recs(1, constKey)))
			require.NoError(t, task2.Flush(context.Background(), nil))
			require.EqualValues(t, 4, calls.Load(), "retried until the server accepts")
			reported, _ = sctx2.Reporter.Reported()
			require.Empty(t, reported)
		})
	}
}

// TestSinkSplitsTooLargeBatches: a 413 to a batch of several records halves it until the server accepts;
// every record arrives once and in order, and only a record too large on its own goes to the error policy.
func TestSinkSplitsTooLargeBatches(t *testing.T) {
	for _, format := range []string{"json-array", "ndjson"} {
		t.Run(format, func(t *testing.T) {
			var mu sync.Mutex
			var got []int
			var sizes []int
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				var elems []json.RawMessage
				if format == "ndjson" {
					for line := range strings.SplitSeq(strings.TrimSuffix(string(body), "\n"), "\n") {
						elems = append(elems, json.RawMessage(line))
					}
				} else {
					require.NoError(t, json.Unmarshal(body, &elems))
				}
				if len(elems) > 2 || strings.Contains(string(body), "huge") {
					w.WriteHeader(http.StatusRequestEntityTooLarge)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				sizes = append(sizes, len(elems))
				for _, e := range elems {
					got = append(got, idOf(t, e))
				}
			}))
			defer srv.Close()
			task, sctx := startSink(t, map[string]string{"url": srv.URL, "batch.max.records": "7", "batch.format": format,
				"max.concurrent.requests": "1"})
			all := recs(7, constKey)
			all[5].Value = map[string]any{"id": int64(5), "pad": "huge"}
			require.NoError(t, task.Put(context.Background(), all))
			require.NoError(t, task.Flush(context.Background(), nil))
			require.Equal(t, []int{0, 1, 2, 3, 4, 6}, got)
			for _, n := range sizes {
				require.LessOrEqual(t, n, 2)
			}
			reported, errs := sctx.Reporter.Reported()
			require.Equal(t, []*schema.Record{all[5]}, reported)
			var se *httpconn.StatusError
			require.ErrorAs(t, errs[0], &se)
			require.Equal(t, http.StatusRequestEntityTooLarge, se.Status)
			require.ErrorIs(t, errs[0], httpconn.ErrRejected)
		})
	}
}

// TestSinkNDJSONOneValueALine: in an NDJSON batch every value is one line. A pretty-printed JSON string
// value is compacted (body.format=json); a raw value holding a newline cannot be framed and goes to the
// error policy (body.format=raw), the others are sent.
func TestSinkNDJSONOneValueALine(t *testing.T) {
	rc := &recorder{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	pretty := "{\n  \"id\": 1,\n  \"tags\": [\n    \"a\",\n    \"b c\"\n  ]\n}\n"
	values := []any{pretty, []byte("{\"id\": 2,\r\n \"s\": \"x\\ny\"}"), map[string]any{"id": int64(3)}}
	var batch []*schema.Record
	for i, v := range values {
		r := schema.NewRecord("t", nil, nil, nil, v)
		r.QueueOffset = int64(i)
		batch = append(batch, r)
	}
	task, sctx := startSink(t, map[string]string{"url": srv.URL, "batch.max.records": "10", "batch.format": "ndjson"})
	require.NoError(t, task.Put(context.Background(), batch))
	require.NoError(t, task.Flush(context.Background(), nil))
	require.Equal(t, 1, rc.count())
	lines := strings.Split(strings.TrimSuffix(string(rc.body[0]), "\n"), "\n")
	require.Equal(t, []string{`{"id":1,"tags":["a","b c"]}`, `{"id":2,"s":"x\ny"}`, `{"id":3}`}, lines)
	reported, _ := sctx.Reporter.Reported()
	require.Empty(t, reported)

	rc2 := &recorder{}
	srv2 := httptest.NewServer(rc2)
	defer srv2.Close()
	task2, sctx2 := startSink(t, map[string]string{"url": srv2.URL, "batch.max.records": "10", "batch.format": "ndjson", "body.format": "raw"})
	one := schema.NewRecord("t", nil, nil, schema.StringSchema, "line one")
	two := schema.NewRecord("t", nil, nil, schema.StringSchema, "line two\nline three")
	three := schema.NewRecord("t", nil, nil, schema.BytesSchema, []byte("line four"))
	require.NoError(t, task2.Put(context.Background(), []*schema.Record{one, two, three}))
	require.NoError(t, task2.Flush(context.Background(), nil))
	require.Equal(t, 1, rc2.count())
	require.Equal(t, "line one\nline four\n", string(rc2.body[0]))
	reported, errs := sctx2.Reporter.Reported()
	require.Equal(t, []*schema.Record{two}, reported)
	require.ErrorIs(t, errs[0], httpconn.ErrRender)
	require.Contains(t, errs[0].Error(), "newline")
}

// otherHost is a server no request may reach: a redirect to it must not be followed.
func otherHost(t *testing.T) *httptest.Server {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("another host was sent %s %s", r.Method, r.URL)
	}))
	t.Cleanup(other.Close)
	return other
}

// TestSinkRedirects: a 307 or 308 to the same host is followed with the same method and body; a 301 or 302
// of a POST (which would come back as a GET without the body), a 303 of a GET, a redirect to another host and
// a redirect loop fail the task naming the location, and blame no record. (A 303 of a POST is a success:
// TestSinkSeeOtherIsDone.)
func TestSinkRedirects(t *testing.T) {
	other := otherHost(t)
	var mu sync.Mutex
	var arrived []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case r.URL.Path == "/elsewhere":
			http.Redirect(w, r, other.URL+"/in", http.StatusTemporaryRedirect)
		case r.URL.Path == "/loop":
			http.Redirect(w, r, "/loop", http.StatusPermanentRedirect)
		case strings.HasPrefix(r.URL.Path, "/moved/"):
			code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/moved/"))
			http.Redirect(w, r, "/new?code="+strconv.Itoa(code), code)
		default:
			mu.Lock()
			arrived = append(arrived, r.Method+" "+r.URL.Path+" "+string(body)+" "+r.Header.Get("X-Signature-256"))
			mu.Unlock()
		}
	}))
	defer srv.Close()

	for _, code := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		mu.Lock()
		arrived = nil
		mu.Unlock()
		task, sctx := startSink(t, map[string]string{"url": srv.URL + "/moved/" + strconv.Itoa(code), "hmac.secret": "k"})
		require.NoError(t, task.Put(context.Background(), recs(1, constKey)))
		require.NoError(t, task.Flush(context.Background(), nil))
		mu.Lock()
		require.Equal(t, []string{`POST /new {"id":0} ` + httpconn.Sign("sha256", []byte("k"), []byte(`{"id":0}`))}, arrived, "%d", code)
		mu.Unlock()
		reported, _ := sctx.Reporter.Reported()
		require.Empty(t, reported)
	}

	for _, tc := range []struct{ method, path string }{
		{"POST", "/moved/301"}, {"POST", "/moved/302"}, {"PUT", "/moved/301"},
		{"GET", "/moved/301"}, {"GET", "/moved/303"}, // a GET keeps its method but loses its body
		{"POST", "/elsewhere"}, {"POST", "/loop"},
	} {
		path := tc.path
		t.Run(tc.method+path, func(t *testing.T) {
			mu.Lock()
			arrived = nil
			mu.Unlock()
			task, sctx := startSink(t, fastRetry(map[string]string{"url": srv.URL + path + "?api_key=SECRET123", "method": tc.method}))
			require.NoError(t, task.Put(context.Background(), recs(1, constKey)))
			err := task.Flush(context.Background(), nil)
			require.ErrorIs(t, err, httpconn.ErrRedirect)
			require.NotErrorIs(t, err, httpconn.ErrRejected)
			require.False(t, plugins.IsRetriable(err))
			require.NotContains(t, err.Error(), "SECRET123")
			switch path {
			case "/elsewhere":
				require.Contains(t, err.Error(), other.URL+"/in")
			case "/loop":
				require.Contains(t, err.Error(), srv.URL+"/loop")
			default:
				require.Contains(t, err.Error(), srv.URL+"/new?code=xxxxx")
			}
			mu.Lock()
			require.Empty(t, arrived, "nothing may pass for delivered")
			mu.Unlock()
			reported, _ := sctx.Reporter.Reported()
			require.Empty(t, reported, "the records are not at fault")
		})
	}
}
