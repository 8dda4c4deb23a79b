package httpconn_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	httpconn "github.com/rmqconnect/rmqconnect/plugins/connectors/http"
	"github.com/rmqconnect/rmqconnect/schema"
)

// users is a server of /users/<key>: the keys in gone answer 404, the others take the request.
type users struct {
	gone map[string]bool

	mu        sync.Mutex
	calls     map[string]int // requests per key, attempts included
	delivered []int          // ids of the records taken
}

func (u *users) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	key := strings.TrimPrefix(r.URL.Path, "/users/")
	u.mu.Lock()
	defer u.mu.Unlock()
	u.calls[key]++
	if u.gone[key] {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":"no user `+key+`"}`)
		return
	}
	var v struct{ ID int }
	if err := json.Unmarshal(body, &v); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	u.delivered = append(u.delivered, v.ID)
}

func offsetsOf(rs []*schema.Record) []int64 {
	var out []int64
	for _, r := range rs {
		out = append(out, r.QueueOffset)
	}
	return out
}

// TestSinkRecordErrorStatuses: with a per-record url and record.error.statuses=404, the records of users the
// server does not know go to the error policy at once (one request each, the status and the server's reason
// in the error) and the others are delivered; Flush succeeds, so the task keeps running. Without the key a
// 404 still says the url is wrong: it is retried and then fails the task, and no record is blamed.
func TestSinkRecordErrorStatuses(t *testing.T) {
	newServer := func() (*users, *httptest.Server) {
		u := &users{gone: map[string]bool{"u1": true, "u4": true}, calls: map[string]int{}}
		return u, httptest.NewServer(u)
	}
	key := func(i int) string { return "u" + strconv.Itoa(i%5) }

	u, srv := newServer()
	defer srv.Close()
	task, sctx := startSink(t, fastRetry(map[string]string{"url": srv.URL + "/users/${key}", "retry.max.attempts": "3",
		"record.error.statuses": "404"}))
	require.NoError(t, task.Put(context.Background(), recs(10, key)))
	require.NoError(t, task.Flush(context.Background(), nil), "the task goes on")
	reported, errs := sctx.Reporter.Reported()
	require.ElementsMatch(t, []int64{1, 4, 6, 9}, offsetsOf(reported))
	for i, err := range errs {
		require.ErrorIs(t, err, httpconn.ErrRejected)
		var se *httpconn.StatusError
		require.ErrorAs(t, err, &se)
		require.Equal(t, http.StatusNotFound, se.Status)
		require.Contains(t, err.Error(), "no user "+key(int(reported[i].QueueOffset)))
	}
	require.ElementsMatch(t, []int{0, 2, 3, 5, 7, 8}, u.delivered)
	require.Equal(t, map[string]int{"u0": 2, "u1": 2, "u2": 2, "u3": 2, "u4": 2}, u.calls, "a refused record is not retried")

	// errors.tolerance=none: the reporter fails, so does Flush.
	_, srv2 := newServer()
	defer srv2.Close()
	task2, sctx2 := startSink(t, fastRetry(map[string]string{"url": srv2.URL + "/users/${key}", "record.error.statuses": "404"}))
	sctx2.Reporter.Fail = true
	require.NoError(t, task2.Put(context.Background(), recs(2, key)))
	require.ErrorIs(t, task2.Flush(context.Background(), nil), httpconn.ErrRejected)

	// Without record.error.statuses.
	u3, srv3 := newServer()
	defer srv3.Close()
	task3, sctx3 := startSink(t, fastRetry(map[string]string{"url": srv3.URL + "/users/${key}", "retry.max.attempts": "3"}))
	require.NoError(t, task3.Put(context.Background(), recs(5, key)))
	err := task3.Flush(context.Background(), nil)
	require.ErrorIs(t, err, httpconn.ErrGaveUp)
	require.NotErrorIs(t, err, httpconn.ErrRejected)
	require.Contains(t, err.Error(), "status 404")
	reported, _ = sctx3.Reporter.Reported()
	require.Empty(t, reported)
	u3.mu.Lock()
	defer u3.mu.Unlock()
	require.Equal(t, 3, u3.calls["u1"])
}

// TestSinkRecordErrorStatusesClasses: a listed status refuses the records whatever it means otherwise (a 5xx,
// a 429 inside a listed range), without retries; a status not listed keeps its meaning.
func TestSinkRecordErrorStatusesClasses(t *testing.T) {
	for _, tc := range []struct {
		statuses string
		status   int
		refused  bool
	}{
		{"404", http.StatusNotFound, true},
		{"405", http.StatusMethodNotAllowed, true},
		{"409-410, 500-504", http.StatusBadGateway, true},
		{"400-499", http.StatusUnprocessableEntity, true},
		// A range leaves out the statuses that ask for the request again later; listed alone they count.
		{"400-499", http.StatusTooManyRequests, false},
		{"400-499", http.StatusRequestTimeout, false},
		{"404, 429", http.StatusTooManyRequests, true},
		{"404", http.StatusForbidden, false},
		{"409-410", http.StatusServiceUnavailable, false},
		{"", http.StatusNotFound, false},
	} {
		t.Run(tc.statuses+"/"+strconv.Itoa(tc.status), func(t *testing.T) {
			var mu sync.Mutex
			calls := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.ReadAll(r.Body)
				mu.Lock()
				calls++
				mu.Unlock()
				w.WriteHeader(tc.status)
			}))
			defer srv.Close()
			task, sctx := startSink(t, fastRetry(map[string]string{"url": srv.URL, "retry.max.attempts": "3",
				"record.error.statuses": tc.statuses}))
			require.NoError(t, task.Put(context.Background(), recs(1, constKey)))
			err := task.Flush(context.Background(), nil)
			reported, errs := sctx.Reporter.Reported()
			mu.Lock()
			defer mu.Unlock()
			if tc.refused {
				require.NoError(t, err)
				require.Len(t, reported, 1)
				require.ErrorIs(t, errs[0], httpconn.ErrRejected)
				require.Contains(t, errs[0].Error(), "status "+strconv.Itoa(tc.status))
				require.Equal(t, 1, calls)
				return
			}
			require.ErrorIs(t, err, httpconn.ErrGaveUp)
			require.Empty(t, reported)
			require.Equal(t, 3, calls)
		})
	}
}

// TestSinkRecordErrorStatusesBatch: a status answers a request, so a listed status to a batch sends every
// record of the batch to the error policy, even when the server objected to one of them; other batches are
// delivered. A batch answered 413 is still split although 413 is listed, and only a record too large on its
// own is refused.
func TestSinkRecordErrorStatusesBatch(t *testing.T) {
	var mu sync.Mutex
	var delivered []int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var batch []json.RawMessage
		require.NoError(t, json.Unmarshal(body, &batch))
		switch {
		case strings.Contains(string(body), `"id":7`):
			w.WriteHeader(http.StatusNotFound)
			return
		case strings.Contains(string(body), "huge"):
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, e := range batch {
			delivered = append(delivered, idOf(t, e))
		}
	}))
	defer srv.Close()
	task, sctx := startSink(t, fastRetry(map[string]string{"url": srv.URL, "batch.max.records": "5", "max.concurrent.requests": "1",
		"record.error.statuses": "404,413"}))
	all := recs(15, constKey)
	all[12].Value = map[string]any{"id": int64(12), "pad": "huge"}
	require.NoError(t, task.Put(context.Background(), all))
	require.NoError(t, task.Flush(context.Background(), nil))
	reported, _ := sctx.Reporter.Reported()
	require.Equal(t, []int64{5, 6, 7, 8, 9, 12}, offsetsOf(reported))
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []int{0, 1, 2, 3, 4, 10, 11, 13, 14}, delivered)
}

// TestSinkRecordErrorStatusesValidate: every element must be a status code or a range of them between 400
// and 599; the error names the key and the bad element.
func TestSinkRecordErrorStatusesValidate(t *testing.T) {
	c := httpconn.NewSinkConnector()
	for _, tc := range []struct{ value, element string }{
		{"4o4", "4o4"},
		{"404,abc", "abc"},
		{"399", "399"},
		{"600", "600"},
		{"200", "200"},
		{"302", "302"},
		{"404, 0404", "0404"},
		{"+404", "+404"},
		{"4xx", "4xx"},
		{"40 4", "40 4"},
		{"410-409", "410-409"},
		{"400-600", "400-600"},
		{"399-404", "399-404"},
		{"404-", "404-"},
		{"-404", "-404"},
		{"400-450-499", "400-450-499"},
	} {
		_, err := conformance.Validate(c, map[string]string{"url": "http://x/${key}", "record.error.statuses": tc.value})
		require.Error(t, err, tc.value)
		fes := cfgerr.Flatten(err)
		require.Len(t, fes, 1, "%v", err)
		require.Equal(t, "record.error.statuses", fes[0].Key)
		require.Contains(t, fes[0].Reason, strconv.Quote(tc.element), tc.value)
		require.Contains(t, err.Error(), "record.error.statuses", tc.value)
	}
	for _, v := range []string{"", "404", " 404 , 409-410 ", "400-599", "500", "404,404-404,400-499"} {
		_, err := conformance.Validate(c, map[string]string{"url": "http://x/${key}", "record.error.statuses": v})
		require.NoError(t, err, v)
	}
}

// TestSinkSeeOtherIsDone: an endpoint following Post/Redirect/Get answers a request it has carried out with 303
// See Other (RFC 9110 §15.4.4). The records are done: nothing is re-sent after a restart, the redirect is not
// followed (its target is a result to read, not where the records go), not even to another host.
func TestSinkSeeOtherIsDone(t *testing.T) {
	other := otherHost(t)
	var mu sync.Mutex
	var arrived []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		arrived = append(arrived, r.Method+" "+r.URL.Path+" "+string(body))
		mu.Unlock()
		if r.URL.Path == "/elsewhere" {
			http.Redirect(w, r, other.URL+"/orders/1", http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, "/orders/1", http.StatusSeeOther)
	}))
	defer srv.Close()
	for _, tc := range []struct{ method, path string }{{"POST", "/orders"}, {"PUT", "/orders/1"}, {"PATCH", "/elsewhere"}} {
		mu.Lock()
		arrived = nil
		mu.Unlock()
		task, sctx := startSink(t, map[string]string{"url": srv.URL + tc.path, "method": tc.method})
		require.NoError(t, task.Put(context.Background(), []*schema.Record{rec(1, "k")}))
		if tc.path == "/elsewhere" {
			// A 303 to another host (a forward-auth proxy's login page) is not the endpoint's answer: the
			// records are not taken for delivered.
			require.ErrorIs(t, task.Flush(context.Background(), nil), httpconn.ErrRedirect)
		} else {
			require.NoError(t, task.Flush(context.Background(), nil), "%s %s", tc.method, tc.path)
		}
		reported, _ := sctx.Reporter.Reported()
		require.Empty(t, reported)
		mu.Lock()
		require.Equal(t, []string{tc.method + " " + tc.path + ` {"id":1}`}, arrived, "sent once, nothing followed")
		mu.Unlock()
	}
}
