package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/file"
	httpconn "github.com/rmqconnect/rmqconnect/plugins/connectors/http"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

func TestMain(m *testing.M) { rmqtest.Main(m) }

func registry(t *testing.T) *plugins.Registry {
	t.Helper()
	r := plugins.NewRegistry()
	require.NoError(t, r.Register(plugins.KindSink, httpconn.SinkName, nil, func() plugins.Connector { return httpconn.NewSinkConnector() }))
	require.NoError(t, r.Register(plugins.KindSource, httpconn.SourceName, nil, func() plugins.Connector { return httpconn.NewSourceConnector() }))
	require.NoError(t, r.Register(plugins.KindSink, file.SinkName, nil, func() plugins.Connector { return file.NewSinkConnector() }))
	return r
}

var workerSeq atomic.Int64

// startWorker runs an in-process standalone worker on the test broker until the test ends.
func startWorker(t *testing.T) *worker.Standalone {
	t.Helper()
	h, err := worker.NewStandalone(worker.StandaloneConfig{
		WorkerID: fmt.Sprintf("http-e2e-%d", workerSeq.Add(1)), StoreDir: t.TempDir(),
		KeyConverter: "string", ValueConverter: "json", CommitInterval: 500 * time.Millisecond,
		StopTimeout: 30 * time.Second, AutoCreate: true,
	}, rmqtest.Client(t), registry(t), slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	<-h.Started()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(60 * time.Second):
			t.Error("worker did not stop within 60s")
		}
	})
	return h
}

func requireRunning(t *testing.T, h *worker.Standalone, name string) {
	t.Helper()
	st, err := h.ConnectorStatus(context.Background(), name)
	require.NoError(t, err)
	require.EqualValues(t, "RUNNING", st.Connector.State, "%+v", st)
	for _, ts := range st.Tasks {
		require.EqualValues(t, "RUNNING", ts.State, "task %d: %s", ts.ID, ts.Trace)
	}
}

// flaky is a webhook receiver that checks every body's HMAC, answers 503 to 30% of requests and 429 to
// 10%, and counts the records it accepted (2xx) by id.
type flaky struct {
	secret    []byte
	mu        sync.Mutex
	delivered map[int]int
	refused   map[int]int // 503/429 answers
	badSig    int
	requests  int
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	if r.Header.Get("X-Signature-256") != httpconn.Sign("sha256", f.secret, body) {
		f.badSig++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var batch []struct{ ID int }
	if err := json.Unmarshal(body, &batch); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	status := http.StatusOK
	switch p := rand.IntN(100); {
	case p < 30:
		status = http.StatusServiceUnavailable
	case p < 40:
		status = http.StatusTooManyRequests
		w.Header().Set("Retry-After", strconv.Itoa(rand.IntN(2)))
	}
	for _, e := range batch {
		if status == http.StatusOK {
			f.delivered[e.ID]++
		} else {
			f.refused[e.ID]++
		}
	}
	w.WriteHeader(status)
}

func (f *flaky) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.delivered)
}

// TestSinkDeliversEverythingThroughFlakyServer: records go topic → http-sink → a server failing 30% of
// requests with 503 and 10% with 429; every record is accepted exactly once (a refused request is retried,
// an accepted one never sent again), none is skipped, every signature verifies, and the task stays RUNNING.
func TestSinkDeliversEverythingThroughFlakyServer(t *testing.T) {
	rmqtest.Require(t)
	const n = 3000
	topic := rmqtest.Topic(t, 4)
	p, err := rmqtest.Client(t).NewProducer("http-e2e-fill", rmqclient.ProducerOptions{})
	require.NoError(t, err)
	defer p.Close()
	for start := 0; start < n; start += 100 {
		var msgs []*rmqclient.Message
		for i := start; i < start+100; i++ {
			msgs = append(msgs, &rmqclient.Message{Topic: topic, Body: fmt.Appendf(nil, `{"id":%d,"note":"record %d"}`, i, i)})
		}
		_, err := p.Send(context.Background(), msgs...)
		require.NoError(t, err)
	}

	srv := &flaky{secret: []byte("e2e-secret"), delivered: map[int]int{}, refused: map[int]int{}}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	h := startWorker(t)
	_, err = h.CreateConnector(context.Background(), "http-out", map[string]string{
		"connector.class": httpconn.SinkName, "connect.topicnames": topic, "task.group.id": rmqtest.Group(t),
		"value.converter": "json", "value.converter.schemas.enable": "false", "consumer.batch.size": "200",
		"url": hs.URL + "/hook/${topic}", "hmac.secret": "e2e-secret", "batch.max.records": "20",
		"max.concurrent.requests": "4", "retry.max.attempts": "0", "retry.backoff.initial": "5ms", "retry.backoff.max": "50ms",
	}, "")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return srv.count() == n }, 4*time.Minute, 100*time.Millisecond,
		"records accepted by the server")
	requireRunning(t, h, "http-out")

	srv.mu.Lock()
	defer srv.mu.Unlock()
	require.Zero(t, srv.badSig, "every HMAC signature verifies")
	refused := 0
	for i := range n {
		require.Equal(t, 1, srv.delivered[i], "record %d accepted once", i)
		refused += srv.refused[i]
	}
	require.Positive(t, refused, "the server refused some requests")
	t.Logf("%d records in %d requests; %d record refusals (503/429) retried", n, srv.requests, refused)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// topicCount sums the messages stored in every queue of topic.
func topicCount(t *testing.T, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := rmqtest.Client(t)
	qs, err := c.TopicQueues(ctx, topic)
	require.NoError(t, err)
	var total int64
	for _, q := range qs {
		lo, hi, err := c.QueueOffsets(ctx, q)
		require.NoError(t, err)
		total += hi - lo
	}
	return total
}

// TestListenSurvivesFlood: while valid webhooks flow through http-source (listen mode) → topic →
// file-sink, a flood of oversized and malformed bodies is refused (413, 400) and nothing is written for
// them: the topic holds exactly the accepted records and the output file only their values.
func TestListenSurvivesFlood(t *testing.T) {
	rmqtest.Require(t)
	topic := rmqtest.Topic(t, 2)
	addr := freeAddr(t)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	h := startWorker(t)
	_, err := h.CreateConnector(context.Background(), "hook-in", map[string]string{
		"connector.class": httpconn.SourceName, "connect.topicname": topic, "mode": "listen",
		"listen.address": addr, "listen.path": "/events", "listen.max.body.bytes": "1024",
		"listen.auth": "hmac", "listen.secret": "hook-key", "value.converter": "json", "value.converter.schemas.enable": "false",
	}, "")
	require.NoError(t, err)
	_, err = h.CreateConnector(context.Background(), "hook-out", map[string]string{
		"connector.class": file.SinkName, "filename": out, "connect.topicnames": topic, "task.group.id": rmqtest.Group(t),
		"value.converter": "json", "value.converter.schemas.enable": "false",
	}, "")
	require.NoError(t, err)

	url := "http://" + addr + "/events"
	sigPost := func(body []byte, chunked bool) (int, error) {
		var rd io.Reader = bytes.NewReader(body)
		if chunked {
			rd = io.MultiReader(rd) // hides the length: sent chunked
		}
		req, err := http.NewRequest(http.MethodPost, url, rd)
		if err != nil {
			return 0, err
		}
		req.Header.Set("X-Signature-256", httpconn.Sign("sha256", []byte("hook-key"), body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	require.Eventually(t, func() bool { _, err := sigPost([]byte("{"), false); return err == nil }, 30*time.Second, 50*time.Millisecond,
		"listener up")

	const valid = 400
	var accepted, tooLarge, malformed, unsigned atomic.Int64
	var g errgroup.Group
	for w := range 8 {
		g.Go(func() error {
			for i := w; i < valid; i += 8 {
				body := fmt.Appendf(nil, `{"id":%d}`, i)
				for {
					st, err := sigPost(body, false)
					if err != nil {
						return err
					}
					if st == http.StatusOK {
						accepted.Add(1)
						break
					}
					if st != http.StatusTooManyRequests && st != http.StatusServiceUnavailable {
						return fmt.Errorf("valid body %d: status %d", i, st)
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			return nil
		})
		g.Go(func() error {
			big := bytes.Repeat([]byte(`{"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`), 40)
			garbage := [][]byte{[]byte(`{"id":`), []byte("not json at all"), {0xff, 0xfe, 0x00}, []byte(`{"id":1}{"id":2}`), []byte(`[1,2,`)}
			for i := range 60 {
				st, err := sigPost(big, i%2 == 0)
				if err != nil {
					return err
				}
				if st != http.StatusRequestEntityTooLarge {
					return fmt.Errorf("oversized body: status %d", st)
				}
				tooLarge.Add(1)
				st, err = sigPost(garbage[i%len(garbage)], false)
				if err != nil {
					return err
				}
				if st != http.StatusBadRequest {
					return fmt.Errorf("malformed body %q: status %d", garbage[i%len(garbage)], st)
				}
				malformed.Add(1)
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(`{"id":-1}`)))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return err
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					return fmt.Errorf("unsigned body: status %d", resp.StatusCode)
				}
				unsigned.Add(1)
			}
			return nil
		})
	}
	require.NoError(t, g.Wait())
	require.EqualValues(t, valid, accepted.Load())
	t.Logf("accepted %d, refused %d oversized, %d malformed, %d unsigned", accepted.Load(), tooLarge.Load(), malformed.Load(), unsigned.Load())

	require.EqualValues(t, valid, topicCount(t, topic), "the topic holds exactly the accepted records")
	require.Eventually(t, func() bool { return len(readIDs(t, out)) == valid }, 2*time.Minute, 100*time.Millisecond)
	got := readIDs(t, out)
	for i := range valid {
		require.Equal(t, 1, got[i], "id %d", i)
	}
	requireRunning(t, h, "hook-in")
}

// readIDs reads the output lines; each must be {"id":n}.
func readIDs(t *testing.T, path string) map[int]int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	out := map[int]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var v map[string]int
		require.NoError(t, json.Unmarshal(sc.Bytes(), &v), "line %q", sc.Text())
		require.Len(t, v, 1, "line %q", sc.Text())
		id, ok := v["id"]
		require.True(t, ok, "line %q", sc.Text())
		out[id]++
	}
	return out
}
