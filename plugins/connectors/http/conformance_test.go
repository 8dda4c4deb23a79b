package httpconn_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	httpconn "github.com/rmqconnect/rmqconnect/plugins/connectors/http"
	"github.com/rmqconnect/rmqconnect/schema"
)

const testSecret = "s3cret"

// buckets is a test server keeping what was posted to /b/<name>/..., each body checked against its HMAC.
type buckets struct {
	mu   sync.Mutex
	data map[string][]json.RawMessage
	bad  []string
}

func (b *buckets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	name := strings.Split(strings.TrimPrefix(r.URL.Path, "/b/"), "/")[0]
	b.mu.Lock()
	defer b.mu.Unlock()
	if r.Header.Get("X-Signature-256") != httpconn.Sign("sha256", []byte(testSecret), body) {
		b.bad = append(b.bad, "bad signature on "+r.URL.Path)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(body, &elems); err != nil {
		b.bad = append(b.bad, "not a JSON array: "+string(body))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	b.data[name] = append(b.data[name], elems...)
	w.WriteHeader(http.StatusNoContent)
}

func TestSinkConformance(t *testing.T) {
	store := &buckets{data: map[string][]json.RawMessage{}}
	srv := httptest.NewServer(store)
	defer srv.Close()
	n := 0
	conformance.TestSink(t, conformance.SinkHarness{
		NewConnector: func() plugins.SinkConnector { return httpconn.NewSinkConnector() },
		Setup: func(t *testing.T) map[string]string {
			n++
			return map[string]string{
				"url": fmt.Sprintf("%s/b/%d/${topic}", srv.URL, n), "batch.max.records": "3",
				"max.concurrent.requests": "1", "hmac.secret": testSecret, "headers": "X-Key:${key}",
			}
		},
		Record: func(i int) *schema.Record {
			return schema.NewRecord("", schema.StringSchema, "k", nil, map[string]any{"i": int64(i), "s": "v" + strconv.Itoa(i)})
		},
		Verify: func(t *testing.T, cfg map[string]string, want int) {
			name := strings.Split(strings.TrimPrefix(cfg["url"], srv.URL+"/b/"), "/")[0]
			store.mu.Lock()
			defer store.mu.Unlock()
			require.Empty(t, store.bad)
			got := store.data[name]
			require.Len(t, got, want)
			for i, raw := range got {
				require.JSONEq(t, fmt.Sprintf(`{"i":%d,"s":"v%d"}`, i, i), string(raw))
			}
		},
	})
}

// feed is a test server of growing item lists at /d/<name>/items, pages of 7 by cursor.
type feed struct {
	mu    sync.Mutex
	items map[string][]int
}

const pageSize = 7

func (f *feed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.Split(strings.TrimPrefix(r.URL.Path, "/d/"), "/")[0]
	from, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
	f.mu.Lock()
	all := f.items[name]
	f.mu.Unlock()
	from = min(from, len(all))
	page := all[from:min(from+pageSize, len(all))]
	resp := map[string]any{"data": []map[string]any{}}
	var data []map[string]any
	for _, id := range page {
		data = append(data, map[string]any{"id": id, "name": "item-" + strconv.Itoa(id)})
	}
	if data != nil {
		resp["data"] = data
	}
	if from+pageSize <= len(all) {
		resp["next"] = strconv.Itoa(from + pageSize)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

func (f *feed) append(name string, first, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := first; i < first+n; i++ {
		f.items[name] = append(f.items[name], i)
	}
}

func TestSourceConformance(t *testing.T) {
	f := &feed{items: map[string][]int{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	n := 0
	conformance.TestSource(t, conformance.SourceHarness{
		NewConnector: func() plugins.SourceConnector { return httpconn.NewSourceConnector() },
		Setup: func(t *testing.T) map[string]string {
			n++
			return map[string]string{
				"connect.topicname": "t", "url": fmt.Sprintf("%s/d/%d/items", srv.URL, n),
				"records.path": "data", "record.key.path": "id", "position.path": "id",
				"pagination.mode": "cursor", "pagination.cursor.path": "next", "pagination.cursor.param": "cursor",
				"poll.interval": "5ms",
			}
		},
		Append: func(t *testing.T, cfg map[string]string, first, n int) {
			name := strings.Split(strings.TrimPrefix(cfg["url"], srv.URL+"/d/"), "/")[0]
			f.append(name, first, n)
		},
		Check: func(t *testing.T, i int, r *schema.Record) {
			require.Empty(t, r.Extensions[plugins.ExtErrorMessage])
			require.Equal(t, strconv.Itoa(i), r.Key)
			require.Equal(t, map[string]any{"id": int64(i), "name": "item-" + strconv.Itoa(i)}, r.Value)
		},
	})
}
