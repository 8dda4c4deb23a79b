package httpconn_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	httpconn "github.com/rmqconnect/rmqconnect/plugins/connectors/http"
	"github.com/rmqconnect/rmqconnect/schema"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

func listenCfg(addr string, kv ...string) map[string]string {
	cfg := map[string]string{"connect.topicname": "t", "mode": "listen", "listen.address": addr, "listen.path": "/hook"}
	for i := 0; i+1 < len(kv); i += 2 {
		cfg[kv[i]] = kv[i+1]
	}
	return cfg
}

type answer struct {
	status int
	body   string
	header http.Header
}

func post(t *testing.T, url string, body []byte, header ...string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b), resp.Header}
}

// pollAll polls until n records came.
func pollAll(t *testing.T, task *httpconn.SourceTask, n int) []*schema.Record {
	t.Helper()
	var out []*schema.Record
	for len(out) < n {
		recs, err := task.Poll(context.Background())
		require.NoError(t, err)
		out = append(out, recs...)
	}
	return out
}

// TestListenAnswersAfterAck: a request is answered 200 only once every one of its records was committed.
func TestListenAnswersAfterAck(t *testing.T) {
	addr := freeAddr(t)
	task := startSource(t, listenCfg(addr, "records.path", "events", "record.key.path", "user"), nil)
	res := make(chan answer, 1)
	go func() {
		res <- post(t, "http://"+addr+"/hook", []byte(`{"events":[{"user":"a","n":1},{"user":"b","n":2}]}`))
	}()
	got := pollAll(t, task, 2)
	require.Equal(t, "a", got[0].Key)
	require.Equal(t, map[string]any{"user": "b", "n": int64(2)}, got[1].Value)
	require.NotEmpty(t, got[0].SourcePartition)
	require.NotEqual(t, got[0].SourceOffset, got[1].SourceOffset)
	require.NoError(t, task.CommitRecord(context.Background(), got[0], &plugins.RecordMetadata{Topic: "t"}))
	select {
	case a := <-res:
		t.Fatalf("answered %d before every record was acknowledged", a.status)
	default:
	}
	require.NoError(t, task.CommitRecord(context.Background(), got[1], nil)) // nil: dropped by a transform
	a := <-res
	require.Equal(t, http.StatusOK, a.status)
	require.JSONEq(t, `{"accepted":2}`, a.body)
}

// TestListenRefusesBadRequests: oversized, malformed, unauthenticated and misdirected requests are refused
// and nothing is queued for them.
func TestListenRefusesBadRequests(t *testing.T) {
	addr := freeAddr(t)
	task := startSource(t, listenCfg(addr, "listen.max.body.bytes", "100", "listen.auth", "secret", "listen.secret", "pw",
		"records.path", "items"), nil)
	url := "http://" + addr + "/hook"
	auth := []string{"X-Webhook-Secret", "pw"}
	require.Equal(t, http.StatusRequestEntityTooLarge, post(t, url, bytes.Repeat([]byte("x"), 101), auth...).status)
	// Without a Content-Length the limit is enforced while reading.
	pr, pw := io.Pipe()
	go func() { _, _ = pw.Write(bytes.Repeat([]byte("y"), 5000)); pw.Close() }()
	req, err := http.NewRequest(http.MethodPost, url, pr)
	require.NoError(t, err)
	req.Header.Set("X-Webhook-Secret", "pw")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)

	require.Equal(t, http.StatusBadRequest, post(t, url, []byte(`{"items":[1,2`), auth...).status)
	require.Equal(t, http.StatusBadRequest, post(t, url, []byte(`{"other":[]}`), auth...).status)
	require.Equal(t, http.StatusBadRequest, post(t, url, []byte(`{"items":{"a":1}}`), auth...).status)
	require.Equal(t, http.StatusUnauthorized, post(t, url, []byte(`{"items":[1]}`), "X-Webhook-Secret", "nope").status)
	require.Equal(t, http.StatusUnauthorized, post(t, url, []byte(`{"items":[1]}`)).status)
	require.Equal(t, http.StatusNotFound, post(t, "http://"+addr+"/other", []byte(`{"items":[1]}`), auth...).status)
	resp, err = http.Get(url)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)

	recs, err := task.Poll(context.Background())
	require.NoError(t, err)
	require.Empty(t, recs, "nothing is written for refused requests")
}

// TestListenHMAC: the body's HMAC with listen.secret is checked.
func TestListenHMAC(t *testing.T) {
	addr := freeAddr(t)
	task := startSource(t, listenCfg(addr, "listen.auth", "hmac", "listen.secret", "key"), nil)
	url := "http://" + addr + "/hook"
	body := []byte(`{"id":1}`)
	require.Equal(t, http.StatusUnauthorized, post(t, url, body, "X-Signature-256", httpconn.Sign("sha256", []byte("other"), body)).status)
	res := make(chan answer, 1)
	go func() { res <- post(t, url, body, "X-Signature-256", httpconn.Sign("sha256", []byte("key"), body)) }()
	got := pollAll(t, task, 1)
	require.NoError(t, task.CommitRecord(context.Background(), got[0], &plugins.RecordMetadata{}))
	require.Equal(t, http.StatusOK, (<-res).status)
}

// TestListenHMACAlgorithmAnyCase: hmac.algorithm is read in any case, as http-sink reads it, so SHA256 and
// SHA512 accept the signatures http-sink sends; Sign names and applies the algorithm whatever its case.
func TestListenHMACAlgorithmAnyCase(t *testing.T) {
	for _, algo := range []string{"sha256", "sha512", "sha1"} {
		want := httpconn.Sign(algo, []byte("key"), []byte("body"))
		require.Equal(t, want, httpconn.Sign(strings.ToUpper(algo), []byte("key"), []byte("body")))
	}
	for _, algo := range []string{"SHA256", "Sha512"} {
		addr := freeAddr(t)
		task := startSource(t, listenCfg(addr, "listen.auth", "hmac", "listen.secret", "key", "hmac.algorithm", algo), nil)
		body := []byte(`{"id":1}`)
		res := make(chan answer, 1)
		go func() {
			res <- post(t, "http://"+addr+"/hook", body, "X-Signature-256", httpconn.Sign(strings.ToLower(algo), []byte("key"), body))
		}()
		got := pollAll(t, task, 1)
		require.NoError(t, task.CommitRecord(context.Background(), got[0], &plugins.RecordMetadata{}))
		require.Equal(t, http.StatusOK, (<-res).status, algo)
	}
}

// TestListenTimedOutRequestKeepsItsSlot: a request whose acknowledgement timed out while it waited to be
// polled still holds its body, so it keeps counting against listen.queue.size until Poll takes it: the
// task never holds more than listen.queue.size bodies.
func TestListenTimedOutRequestKeepsItsSlot(t *testing.T) {
	addr := freeAddr(t)
	cfg := listenCfg(addr, "listen.queue.size", "1", "listen.ack.timeout", "20ms")
	c := httpconn.NewSourceConnector()
	sctx := conformance.SourceContextFor(t, c.Spec(), nil, cfg)
	task := httpconn.NewSourceTask()
	require.NoError(t, task.Start(context.Background(), sctx, cfg))
	t.Cleanup(func() { require.NoError(t, task.Stop(context.Background())) })
	url := "http://" + addr + "/hook"

	require.Equal(t, http.StatusServiceUnavailable, post(t, url, []byte(`{"id":1}`)).status)
	// The handler has returned once its answer is counted.
	require.Eventually(t, func() bool { return sctx.Recorder.Count(httpconn.MetricReceived, "5xx", "503") == 1 },
		10*time.Second, time.Millisecond)
	// The body of request 1 waits to be polled: another one is not even read (a malformed body would get 400).
	a := post(t, url, []byte(`{"id":`))
	require.Equal(t, http.StatusTooManyRequests, a.status, a.body)

	got := pollAll(t, task, 1)
	require.Equal(t, map[string]any{"id": int64(1)}, got[0].Value)
	require.NoError(t, task.CommitRecord(context.Background(), got[0], &plugins.RecordMetadata{}))
	// Taken by Poll, its slot is free again.
	res := make(chan answer, 1)
	go func() { res <- post(t, url, []byte(`{"id":2}`)) }()
	got = pollAll(t, task, 1)
	require.NoError(t, task.CommitRecord(context.Background(), got[0], &plugins.RecordMetadata{}))
	require.Equal(t, http.StatusOK, (<-res).status)
}

// TestListenBackpressureAndStop: with the queue full (nothing polls: the task is paused or behind) requests
// get 429 with Retry-After; on Stop the waiting request gets 503.
func TestListenBackpressureAndStop(t *testing.T) {
	addr := freeAddr(t)
	task := startSource(t, listenCfg(addr, "listen.queue.size", "1"), nil)
	url := "http://" + addr + "/hook"
	const n = 4
	res := make(chan answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); res <- post(t, url, []byte(fmt.Sprintf(`{"id":%d}`, i))) }()
	}
	for range n - 1 {
		a := <-res
		require.Equal(t, http.StatusTooManyRequests, a.status)
		require.Equal(t, "1", a.header.Get("Retry-After"))
	}
	require.NoError(t, task.Stop(context.Background()))
	wg.Wait()
	a := <-res
	require.Equal(t, http.StatusServiceUnavailable, a.status)
	require.True(t, strings.Contains(a.body, "stopped"), a.body)
}

// TestListenAckTimeout: records polled but never acknowledged get 503 after listen.ack.timeout.
func TestListenAckTimeout(t *testing.T) {
	addr := freeAddr(t)
	task := startSource(t, listenCfg(addr, "listen.ack.timeout", "50ms"), nil)
	res := make(chan answer, 1)
	go func() { res <- post(t, "http://"+addr+"/hook", []byte(`{"id":1}`)) }()
	pollAll(t, task, 1)
	a := <-res
	require.Equal(t, http.StatusServiceUnavailable, a.status)
	require.Contains(t, a.body, "not acknowledged")
}

// TestListenAddressInUse: a taken address fails Start naming listen.address.
func TestListenAddressInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	cfg := listenCfg(l.Addr().String())
	c := httpconn.NewSourceConnector()
	task := httpconn.NewSourceTask()
	err = task.Start(context.Background(), sourceCtx(t, c, cfg), cfg)
	require.ErrorIs(t, err, cfgerr.ErrInvalid)
	require.Contains(t, err.Error(), "listen.address")
	require.NoError(t, task.Stop(context.Background()))
}

// TestListenBoundsRequestsInProgress: a request still sending its body counts against listen.queue.size, so
// slow or stalled senders cannot make the task hold more than that many bodies.
func TestListenBoundsRequestsInProgress(t *testing.T) {
	addr := freeAddr(t)
	startSource(t, listenCfg(addr, "listen.queue.size", "1", "listen.ack.timeout", "100ms"), nil)
	url := "http://" + addr + "/hook"
	pr, pw := io.Pipe()
	defer pw.Close()
	slow := make(chan answer, 1)
	// With Expect: 100-continue the client sends the body only once the handler reads it, so the write below
	// returns only when the server is handling this request.
	tr := &http.Transport{ExpectContinueTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	go func() {
		req, _ := http.NewRequest(http.MethodPost, url, pr)
		req.Header.Set("Expect", "100-continue")
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			slow <- answer{}
			return
		}
		resp.Body.Close()
		slow <- answer{status: resp.StatusCode}
	}()
	_, err := pw.Write([]byte(`{"id":`))
	require.NoError(t, err)
	a := post(t, url, []byte(`{"id":2}`))
	require.Equal(t, http.StatusTooManyRequests, a.status)
	_, _ = pw.Write([]byte(`oops`))
	pw.Close()
	require.Equal(t, http.StatusBadRequest, (<-slow).status)
}
