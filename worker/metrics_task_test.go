package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// Test connectors of the task metrics tests: the mem connectors (testconnectors_test.go) with
// tasks that fail on cue. A source task of "fail-source" fails where failAt[test.id] says
// ("start": its Start, "poll": every Poll after a successful Start); a task of
// "fail-flush-sink" fails its Start where failAt[test.id] says "start", else puts and then fails
// every Flush.

var failAt sync.Map // test.id → "start" or "poll"

type failSourceConnector struct{ memSourceConnector }

func (failSourceConnector) NewSourceTask() plugins.SourceTask { return &failSourceTask{} }

type failSourceTask struct {
	memSourceTask
	at string
}

func (t *failSourceTask) Start(ctx context.Context, tctx plugins.SourceTaskContext, cfg map[string]string) error {
	at, _ := failAt.Load(cfg["test.id"])
	t.at, _ = at.(string)
	if t.at == "start" {
		return errors.New("the source refuses to start")
	}
	return t.memSourceTask.Start(ctx, tctx, cfg)
}

func (t *failSourceTask) Poll(ctx context.Context) ([]*schema.Record, error) {
	if t.at == "poll" {
		return nil, errors.New("the source broke after starting")
	}
	return t.memSourceTask.Poll(ctx)
}

type failFlushSinkConnector struct{ memSinkConnector }

func (failFlushSinkConnector) NewSinkTask() plugins.SinkTask { return &failFlushSinkTask{} }

type failFlushSinkTask struct{ memSinkTask }

func (t *failFlushSinkTask) Start(ctx context.Context, tctx plugins.SinkTaskContext, cfg map[string]string) error {
	if at, _ := failAt.Load(cfg["test.id"]); at == "start" {
		return errors.New("the sink refuses to start")
	}
	return t.memSinkTask.Start(ctx, tctx, cfg)
}

func (t *failFlushSinkTask) Flush(context.Context, map[plugins.Queue]int64) error {
	return errors.New("the sink cannot make its writes durable")
}

func metricsTestRegistry() *plugins.Registry {
	r := testRegistry()
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(r.Register(plugins.KindSource, "fail-source", nil, func() plugins.Connector { return &failSourceConnector{} }))
	must(r.Register(plugins.KindSink, "fail-flush-sink", nil, func() plugins.Connector {
		return &failFlushSinkConnector{memSinkConnector{memConnector{sink: true}}}
	}))
	return r
}

// startMetricsHerder is startHerder with the registry of the metrics tests and a registry
// of the herder's collectors.
func startMetricsHerder(t *testing.T) (*herderEnv, *prometheus.Registry) {
	t.Helper()
	h, err := NewStandalone(StandaloneConfig{
		WorkerID: "w1", StoreDir: t.TempDir(), KeyConverter: "string", ValueConverter: "string",
		CommitInterval: 200 * time.Millisecond, StopTimeout: 10 * time.Second, AutoCreate: true,
		RestartBackoffMin: 100 * time.Millisecond, RestartBackoffMax: 200 * time.Millisecond,
	}, rmqtest.Client(t), metricsTestRegistry(), quiet())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	env := &herderEnv{h: h, cancel: cancel, done: make(chan error, 1)}
	go func() { env.done <- h.Run(ctx) }()
	<-h.Started()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(h.Collector())
	return env, reg
}

// ofConnector keeps the samples whose labels name connector.
func ofConnector(s map[string]float64, connector string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range s {
		if strings.Contains(","+k+",", ",connector="+connector+",") {
			out[k] = v
		}
	}
	return out
}

var taskHistogramFamilies = []string{"rmqconnect_source_poll_batch_size", "rmqconnect_source_poll_batch_time_seconds",
	"rmqconnect_sink_put_batch_size", "rmqconnect_sink_put_batch_time_seconds", "rmqconnect_offset_commit_time_seconds"}

// A task's histogram series go when its run on this worker ends (here: the connector is
// paused), as its counters and plugin series do, rather than staying until the connector is
// deleted.
func TestTaskHistogramsGoWhenTheTaskStops(t *testing.T) {
	env, reg := startMetricsHerder(t)
	defer env.stop(t)
	ctx := context.Background()
	_, err := env.h.CreateConnector(ctx, "src", map[string]string{"connector.class": "mem-source",
		"test.id": rmqtest.Name(t, "src"), "count": "20", "connect.topicname": rmqtest.Topic(t, 1)}, "")
	require.NoError(t, err)
	waitState(t, env.h, "src", restapi.StateRunning, 1)
	require.Eventually(t, func() bool {
		return len(samples(t, reg, "rmqconnect_source_poll_batch_size")) == 1 &&
			len(samples(t, reg, "rmqconnect_offset_commit_time_seconds")) == 1
	}, 30*time.Second, 50*time.Millisecond, "the task's histograms never appeared")

	require.NoError(t, env.h.PauseConnector(ctx, "src"))
	waitState(t, env.h, "src", restapi.StatePaused, 1)
	require.Eventually(t, func() bool {
		for _, f := range taskHistogramFamilies {
			if len(samples(t, reg, f)) > 0 {
				return false
			}
		}
		return true
	}, 30*time.Second, 50*time.Millisecond, "the stopped task's histogram series are still exported")
}

// A task's series go only when the last of its supervisors on this worker ends: one that was
// abandoned after the stop timeout may still run when the next one starts.
func TestTaskHistogramsOutliveAnOverlappingSupervisor(t *testing.T) {
	m := newWorkerMetrics()
	reg := prometheus.NewPedanticRegistry()
	for _, c := range m.collectors() {
		reg.MustRegister(c)
	}
	abandoned := m.supervising("w1", "c", "0")
	next := m.supervising("w1", "c", "0")
	other := m.supervising("w1", "c", "1")
	for _, task := range []string{"0", "1"} {
		m.pollTime.WithLabelValues("w1", "c", task).Observe(0.1)
	}
	m.flushFailed([]string{"w1", "c", "0"})
	abandoned()
	require.Len(t, samples(t, reg, "rmqconnect_source_poll_batch_time_seconds"), 2)
	require.Equal(t, int64(1), m.flushFailures("w1", "c", "0"))
	next()
	require.Equal(t, map[string]float64{"connector=c,task=1,worker=w1": 1}, samples(t, reg, "rmqconnect_source_poll_batch_time_seconds"))
	require.Zero(t, m.flushFailures("w1", "c", "0"))
	other()
	require.Empty(t, samples(t, reg, "rmqconnect_source_poll_batch_time_seconds"))
}

// A sink's failed Flush is a failed offset commit (result="failure"); the broker refusing to
// store the group's offsets is counted apart (result="store_failure").
func TestSinkFlushFailureIsACommitFailure(t *testing.T) {
	env, reg := startMetricsHerder(t)
	defer env.stop(t)
	ctx := context.Background()
	topic := rmqtest.Topic(t, 1)
	_, err := env.h.CreateConnector(ctx, "src", map[string]string{"connector.class": "mem-source",
		"test.id": rmqtest.Name(t, "src"), "count": "20", "connect.topicname": topic}, "")
	require.NoError(t, err)
	_, err = env.h.CreateConnector(ctx, "snk", map[string]string{"connector.class": "fail-flush-sink",
		"test.id": rmqtest.Name(t, "snk"), "connect.topicnames": topic, "task.group.id": rmqtest.Group(t),
		"consume.from.where": "CONSUME_FROM_FIRST_OFFSET"}, "")
	require.NoError(t, err)
	var got map[string]float64
	require.Eventually(t, func() bool {
		got = ofConnector(samples(t, reg, "rmqconnect_offset_commit_total"), "snk")
		return got["connector=snk,result=failure,task=0,worker=w1"] >= 1
	}, 60*time.Second, 50*time.Millisecond, "no failed flush counted")
	require.Contains(t, got, "connector=snk,result=store_failure,task=0,worker=w1")
	src := ofConnector(samples(t, reg, "rmqconnect_offset_commit_total"), "src")
	require.Contains(t, src, "connector=src,result=failure,task=0,worker=w1")
	require.NotContains(t, src, "connector=src,result=store_failure,task=0,worker=w1", "a source's commit is its store write")
}

// rmqconnect_worker_startup_total counts, for connectors and tasks alike, each start attempt
// and then its success or failure, a failure being a Start that failed: a task that started and
// failed later is a success.
func TestTaskStartupCounts(t *testing.T) {
	env, reg := startMetricsHerder(t)
	defer env.stop(t)
	ctx := context.Background()
	startups := func(kind, result string) float64 {
		return samples(t, reg, "rmqconnect_worker_startup_total")[fmt.Sprintf("kind=%s,result=%s,worker=w1", kind, result)]
	}

	pollID := rmqtest.Name(t, "poll")
	failAt.Store(pollID, "poll")
	_, err := env.h.CreateConnector(ctx, "breaks-later", map[string]string{"connector.class": "fail-source",
		"test.id": pollID, "count": "20", "connect.topicname": rmqtest.Topic(t, 1)}, "")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return startups("task", "success") >= 2 }, 60*time.Second, 50*time.Millisecond,
		"the task that starts and then fails was not counted started twice")
	require.Zero(t, startups("task", "failure"), "a task that failed after its Start counted as a start failure")
	require.NoError(t, env.h.DeleteConnector(ctx, "breaks-later"))

	startID := rmqtest.Name(t, "start")
	failAt.Store(startID, "start")
	_, err = env.h.CreateConnector(ctx, "never-starts", map[string]string{"connector.class": "fail-source",
		"test.id": startID, "count": "20", "connect.topicname": rmqtest.Topic(t, 1)}, "")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return startups("task", "failure") >= 2 }, 60*time.Second, 50*time.Millisecond,
		"the source task whose Start fails was not counted failed twice")
	require.NoError(t, env.h.DeleteConnector(ctx, "never-starts"))

	sinkID := rmqtest.Name(t, "sinkstart")
	failAt.Store(sinkID, "start")
	failed := startups("task", "failure")
	_, err = env.h.CreateConnector(ctx, "sink-never-starts", map[string]string{"connector.class": "fail-flush-sink",
		"test.id": sinkID, "connect.topicnames": rmqtest.Topic(t, 1), "task.group.id": rmqtest.Group(t)}, "")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return startups("task", "failure") >= failed+2 }, 60*time.Second, 50*time.Millisecond,
		"the sink task whose Start fails was not counted failed twice")
	require.GreaterOrEqual(t, startups("task", "attempt"), startups("task", "success")+startups("task", "failure"))

	_, err = env.h.CreateConnector(ctx, "conn-fails", map[string]string{"connector.class": "mem-source",
		"test.id": rmqtest.Name(t, "connfail"), "test.fail.start": "true", "connect.topicname": rmqtest.Topic(t, 1)}, "")
	require.NoError(t, err)
	// Connectors start synchronously: every attempt made so far has its outcome.
	require.Equal(t, float64(1), startups("connector", "failure"))
	require.Equal(t, float64(3), startups("connector", "success"), "breaks-later, never-starts and sink-never-starts")
	require.Equal(t, float64(4), startups("connector", "attempt"))

	// A task that runs on counts its start once Start returned, not when its run ends.
	succeeded := startups("task", "success")
	_, err = env.h.CreateConnector(ctx, "runs", map[string]string{"connector.class": "mem-source",
		"test.id": rmqtest.Name(t, "runs"), "connect.topicname": rmqtest.Topic(t, 1)}, "")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return startups("task", "success") == succeeded+1 }, 60*time.Second, 50*time.Millisecond,
		"a running task's start was not counted")
}
