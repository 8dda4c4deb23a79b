package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	httpconn "github.com/rmqconnect/rmqconnect/plugins/connectors/http"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// picky accepts records except those whose id ends in 3, which it answers 422 with a reason.
type picky struct {
	mu       sync.Mutex
	accepted map[int]bool
}

func (p *picky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var v struct{ ID int }
	if err := json.Unmarshal(body, &v); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if v.ID%10 == 3 {
		w.WriteHeader(http.StatusUnprocessableEntity)
		fmt.Fprintf(w, `{"error":"record %d: amount must be positive"}`, v.ID)
		return
	}
	p.mu.Lock()
	p.accepted[v.ID] = true
	p.mu.Unlock()
}

func (p *picky) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.accepted)
}

func fillJSON(t *testing.T, topic string, n int) {
	t.Helper()
	p, err := rmqtest.Client(t).NewProducer("http-e2e-fill", rmqclient.ProducerOptions{})
	require.NoError(t, err)
	defer p.Close()
	var msgs []*rmqclient.Message
	for i := range n {
		msgs = append(msgs, &rmqclient.Message{Topic: topic, Body: fmt.Appendf(nil, `{"id":%d}`, i)})
	}
	_, err = p.Send(context.Background(), msgs...)
	require.NoError(t, err)
}

// TestSinkRejectedRecordsGoToDLQ: with errors.tolerance=all the records a server rejects with 422 land in the
// DLQ with the original body and the status and the server's reason in the error message; the others are
// delivered and the task keeps running. With errors.tolerance=none the task fails with that trace.
func TestSinkRejectedRecordsGoToDLQ(t *testing.T) {
	rmqtest.Require(t)
	const n = 50
	srv := &picky{accepted: map[int]bool{}}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	h := startWorker(t)

	topic := rmqtest.Topic(t, 2)
	fillJSON(t, topic, n)
	dlq := rmqtest.Name(t, "dlq")
	_, err := h.CreateConnector(context.Background(), "picky-out", map[string]string{
		"connector.class": httpconn.SinkName, "connect.topicnames": topic, "task.group.id": rmqtest.Group(t),
		// bytearray: the record value is the message body, which the worker puts in the DLQ as it is (a
		// structured value would be written there as Go's fmt rendering: see worker/source.go rawBody).
		"value.converter": "bytearray", "url": hs.URL,
		"errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
	}, "")
	require.NoError(t, err)
	var page restapi.DLQPage
	require.Eventually(t, func() bool {
		page, err = h.DLQList(context.Background(), "picky-out", "", 100)
		return err == nil && len(page.Records) == n/10 && srv.count() == n-n/10
	}, 2*time.Minute, 200*time.Millisecond, "DLQ and deliveries")
	for _, listed := range page.Records {
		r, err := h.DLQGet(context.Background(), "picky-out", listed.ID)
		require.NoError(t, err)
		var v struct{ ID int }
		require.NoError(t, json.Unmarshal(r.Body, &v), "DLQ body is the original record: %q", r.Body)
		require.Equal(t, 3, v.ID%10)
		require.Contains(t, r.ExceptionMessage, "status 422")
		require.Contains(t, r.ExceptionMessage, fmt.Sprintf("record %d: amount must be positive", v.ID))
		require.Equal(t, "TASK_PUT", r.Stage)
	}
	requireRunning(t, h, "picky-out")

	topic2 := rmqtest.Topic(t, 1)
	fillJSON(t, topic2, 10)
	_, err = h.CreateConnector(context.Background(), "picky-strict", map[string]string{
		"connector.class": httpconn.SinkName, "connect.topicnames": topic2, "task.group.id": rmqtest.Group(t),
		"value.converter": "json", "value.converter.schemas.enable": "false", "url": hs.URL,
	}, "")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		st, err := h.ConnectorStatus(context.Background(), "picky-strict")
		return err == nil && len(st.Tasks) == 1 && st.Tasks[0].State == "FAILED" &&
			strings.Contains(st.Tasks[0].Trace, "status 422")
	}, 2*time.Minute, 200*time.Millisecond, "task FAILED with the 422 in its trace")
}
