package e2e

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

func replConfig(t *testing.T, src string, kv ...string) map[string]string {
	m := map[string]string{"connector.class": "rocketmq-replicator", "src.endpoint": rmqtest.Second(t),
		"source.cluster.alias": "A", "target.cluster.alias": "B", "source.topics": src}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

type replStatus struct {
	Connector struct{ State, Trace string }
	Tasks     []struct {
		ID           int
		State, Trace string
	}
}

// TestReplicatorSourceDown30s: the source cluster stops for 30 s while messages are being
// replicated; the task waits it out and, once the cluster is back, replicates everything.
func TestReplicatorSourceDown30s(t *testing.T) {
	n := replMessages(t, 20000)
	a := rmqtest.SecondClient(t)
	b := rmqtest.Client(t)
	src := rmqtest.SecondTopic(t, 4)
	target := "A_" + src
	produceRange(t, a, src, 0, n/2)
	dir := t.TempDir()
	w := startWorker(t, dir, freePort(t), writeConnector(t, dir, "repl", replConfig(t, src, "max.tasks", "2")))
	require.Eventually(t, func() bool { return countTopic(b, target) >= int64(n/10) }, 3*time.Minute, 100*time.Millisecond,
		"replication did not start; log: %s", readFile(filepath.Join(dir, "worker.log")))
	rmqtest.StopSecond(t)
	time.Sleep(30 * time.Second)
	rmqtest.StartSecond(t)
	produceRange(t, a, src, n/2, n)
	require.Eventually(t, func() bool { return countTopic(b, target) >= int64(n) }, 5*time.Minute, time.Second,
		"not everything was replicated after the outage (%d of %d); log: %s", countTopic(b, target), n,
		readFile(filepath.Join(dir, "worker.log")))
	var st replStatus
	require.Equal(t, http.StatusOK, w.Call(t, "GET", "/connectors/repl/status", nil, &st))
	for _, ts := range st.Tasks {
		require.Equal(t, "RUNNING", ts.State, "task %d: %s", ts.ID, ts.Trace)
	}
	dups := checkReplicated(t, readTopic(t, b, target), n)
	t.Logf("%d duplicates", dups)
	w.Stop(t, 90*time.Second)
}

// TestReplicatorTooLargeGoesToDLQ: a message the source took but the target cannot (the
// copy's extra properties push it past maxMessageSize) goes to the dead-letter queue under
// errors.tolerance=all, and the messages around it are replicated; the task keeps running.
func TestReplicatorTooLargeGoesToDLQ(t *testing.T) {
	a := rmqtest.SecondClient(t)
	b := rmqtest.Client(t)
	src := rmqtest.SecondTopic(t, 1)
	target := "A_" + src
	dlq := rmqtest.Name(t, "dlq")
	p, err := a.NewProducer("repl-e2e-large", rmqclient.ProducerOptions{})
	require.NoError(t, err)
	defer p.Close()
	ctx := context.Background()
	_, err = p.Send(ctx, replMessage(src, 0))
	require.NoError(t, err)
	// The source's client compresses the body, so the source takes it; its copy (plus the
	// worker's connect.timestamp) is over the limit the worker checks before compression.
	_, err = p.Send(ctx, &rmqclient.Message{Topic: src, Body: []byte(strings.Repeat("L", rmqclient.MaxMessageBytes-8))})
	require.NoError(t, err, "the source takes the large message")
	_, err = p.Send(ctx, replMessage(src, 1))
	require.NoError(t, err)

	dir := t.TempDir()
	w := startWorker(t, dir, freePort(t), writeConnector(t, dir, "repl", replConfig(t, src,
		"errors.tolerance", "all", "errors.deadletterqueue.topic.name", dlq, "errors.deadletterqueue.context.properties.enable", "true")))
	require.Eventually(t, func() bool { return countTopic(b, target) >= 2 && countTopic(b, dlq) >= 1 }, 2*time.Minute, 200*time.Millisecond,
		"%d replicated, %d in the DLQ; log: %s", countTopic(b, target), countTopic(b, dlq), readFile(filepath.Join(dir, "worker.log")))
	require.Zero(t, checkReplicated(t, readTopic(t, b, target), 2))
	dead := readTopic(t, b, dlq)
	require.Len(t, dead, 1)
	require.Contains(t, dead[0].Properties["__connect.errors.exception.message"], "too large")
	var st replStatus
	require.Equal(t, http.StatusOK, w.Call(t, "GET", "/connectors/repl/status", nil, &st))
	require.Equal(t, "RUNNING", st.Tasks[0].State, st.Tasks[0].Trace)
	w.Stop(t, 90*time.Second)
}

// TestReplicatorDeletedSourceTopicStatus: a listed source topic deleted while replicated
// fails the connector with a status that names the topic and the cluster.
func TestReplicatorDeletedSourceTopicStatus(t *testing.T) {
	a := rmqtest.SecondClient(t)
	b := rmqtest.Client(t)
	src := rmqtest.SecondTopic(t, 2)
	produceRange(t, a, src, 0, 100)
	dir := t.TempDir()
	w := startWorker(t, dir, freePort(t), writeConnector(t, dir, "repl", replConfig(t, src, "refresh.topics.interval", "500ms")))
	require.Eventually(t, func() bool { return countTopic(b, "A_"+src) >= 100 }, 2*time.Minute, 200*time.Millisecond)
	require.NoError(t, a.DeleteTopic(context.Background(), src))
	var st replStatus
	require.Eventually(t, func() bool {
		st = replStatus{}
		w.Call(t, "GET", "/connectors/repl/status", nil, &st)
		return st.Connector.State == "FAILED" || len(st.Tasks) > 0 && st.Tasks[0].State == "FAILED"
	}, time.Minute, 200*time.Millisecond, "status never failed; log: %s", readFile(filepath.Join(dir, "worker.log")))
	trace := st.Connector.Trace
	if st.Connector.State != "FAILED" {
		trace = st.Tasks[0].Trace
	}
	require.Contains(t, trace, "topic "+src+" does not exist on source cluster A")
}

// TestReplicatorHeartbeatsAndLagMetrics: the heartbeat connector writes heartbeats on the
// source; the replicator, selecting by regex, picks the heartbeats topic up once it exists
// (a new topic while running), copies it, and reports lag for it at /metrics.
func TestReplicatorHeartbeatsAndLagMetrics(t *testing.T) {
	b := rmqtest.Client(t)
	hbTopic := rmqtest.Name(t, "hb")
	dir := t.TempDir()
	repl := writeConnector(t, dir, "repl", map[string]string{"connector.class": "rocketmq-replicator",
		"src.endpoint": rmqtest.Second(t), "source.cluster.alias": "A", "target.cluster.alias": "B",
		"source.topics.regex": hbTopic, "refresh.topics.interval": "500ms"})
	hb := writeConnector(t, dir, "hb", map[string]string{"connector.class": "org.apache.rocketmq.replicator.ReplicatorHeartbeatConnector",
		"src.endpoint": rmqtest.Second(t), "source.cluster.alias": "A", "heartbeats.topic": hbTopic, "emit.heartbeats.interval": "200ms"})
	w := startWorker(t, dir, freePort(t), repl, hb)
	require.Eventually(t, func() bool { return countTopic(b, "A_"+hbTopic) >= 3 }, 2*time.Minute, 200*time.Millisecond,
		"heartbeats not replicated; log: %s", readFile(filepath.Join(dir, "worker.log")))
	beats := readTopic(t, b, "A_"+hbTopic)
	require.Contains(t, string(beats[0].Body), `"cluster":"A"`)
	require.Equal(t, "heartbeat", beats[0].Tag)
	want := `rmqconnect_plugin_rocketmq_replicator_replication_lag_seconds_count{connector="repl"`
	require.Eventually(t, func() bool {
		resp, err := http.Get(w.URL + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for _, l := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(l, want) && strings.Contains(l, `topic="`+hbTopic+`"`) {
				return true
			}
		}
		return false
	}, time.Minute, 200*time.Millisecond, "no lag metric for the heartbeats topic")
	w.Stop(t, 90*time.Second)
}
