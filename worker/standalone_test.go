package worker

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/conf/providers"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

type herderEnv struct {
	h      *Standalone
	cancel context.CancelFunc
	done   chan error
	dir    string
}

func startHerder(t *testing.T, dir string) *herderEnv {
	t.Helper()
	h, err := NewStandalone(StandaloneConfig{
		WorkerID: "w-" + t.Name(), StoreDir: dir, KeyConverter: "string", ValueConverter: "string",
		CommitInterval: 200 * time.Millisecond, StopTimeout: 10 * time.Second, AutoCreate: true,
		RestartBackoffMin: 200 * time.Millisecond, RestartBackoffMax: time.Second,
	}, rmqtest.Client(t), testRegistry(), quiet())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	env := &herderEnv{h: h, cancel: cancel, done: make(chan error, 1), dir: dir}
	go func() { env.done <- h.Run(ctx) }()
	<-h.Started()
	return env
}

func (e *herderEnv) stop(t *testing.T) {
	e.cancel()
	select {
	case err := <-e.done:
		require.NoError(t, err)
	case <-time.After(60 * time.Second):
		t.Fatal("herder did not stop")
	}
}

func waitState(t *testing.T, h *Standalone, name string, want restapi.State, tasks int) restapi.ConnectorStatus {
	t.Helper()
	var last restapi.ConnectorStatus
	require.Eventually(t, func() bool {
		st, err := h.ConnectorStatus(context.Background(), name)
		if err != nil {
			return false
		}
		last = st
		if st.Connector.State != want || len(st.Tasks) != tasks {
			return false
		}
		for _, ts := range st.Tasks {
			if ts.State != want {
				return false
			}
		}
		return true
	}, 30*time.Second, 50*time.Millisecond, "connector %s never reached %s with %d tasks", name, want, tasks)
	return last
}

func TestSourceToSinkThroughBroker(t *testing.T) {
	topic := rmqtest.Topic(t, 4)
	env := startHerder(t, t.TempDir())
	defer env.stop(t)
	ctx := context.Background()
	id := rmqtest.Name(t, "state")
	const perTask = 300

	_, err := env.h.CreateConnector(ctx, "src", map[string]string{
		"connector.class": "mem-source", "test.id": id + "-src", "count": fmt.Sprint(perTask),
		"connect.topicname": topic, "max.tasks": "2",
	}, "")
	require.NoError(t, err)
	_, err = env.h.CreateConnector(ctx, "snk", map[string]string{
		"connector.class": "mem-sink", "test.id": id, "connect.topicnames": topic, "max.tasks": "2",
		"task.group.id": rmqtest.Group(t),
	}, "")
	require.NoError(t, err)
	waitState(t, env.h, "src", restapi.StateRunning, 2)
	waitState(t, env.h, "snk", restapi.StateRunning, 2)

	st := stateFor(id)
	require.Eventually(t, func() bool { return len(st.unique()) >= 2*perTask }, 60*time.Second, 100*time.Millisecond)
	seen := map[string]bool{}
	for _, r := range st.snapshot() {
		v := r.Value.(string)
		seen[v] = true
		require.Equal(t, topic, r.Topic)
		var task, n int
		_, err := fmt.Sscanf(v, "value-%d-%d", &task, &n)
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("key-%d", n%7), r.Key)
		h, ok := r.Headers.Get("h")
		require.True(t, ok)
		require.Equal(t, "v", h.Value)
		require.False(t, r.Timestamp.IsZero())
	}
	require.Len(t, seen, 2*perTask, "every record arrived")

	require.Eventually(t, func() bool {
		ps, _ := env.h.Positions("src")
		if len(ps) != 2 {
			return false
		}
		for _, p := range ps {
			if p.Offset["seq"] != int64(perTask-1) {
				return false
			}
		}
		return true
	}, 10*time.Second, 50*time.Millisecond, "positions committed up to the last record")

	// The Prometheus collector reports the same totals.
	reg := prometheus.NewRegistry()
	reg.MustRegister(env.h.Collector())
	require.Eventually(t, func() bool {
		fams, err := reg.Gather()
		require.NoError(t, err)
		var written, put, polledHist, putHist float64
		names := map[string]bool{}
		for _, f := range fams {
			names[f.GetName()] = true
			for _, m := range f.GetMetric() {
				switch f.GetName() {
				case "rmqconnect_source_record_write_total":
					written += m.GetCounter().GetValue()
				case "rmqconnect_sink_record_send_total":
					put += m.GetCounter().GetValue()
				case "rmqconnect_source_poll_batch_size":
					polledHist += m.GetHistogram().GetSampleSum()
				case "rmqconnect_sink_put_batch_size":
					putHist += m.GetHistogram().GetSampleSum()
				}
			}
		}
		for _, n := range []string{"rmqconnect_sink_lag", "rmqconnect_worker_startup_total", "rmqconnect_offset_commit_time_seconds",
			"rmqconnect_connector_task_running_ratio", "rmqconnect_task_error_total_retries"} {
			if !names[n] {
				return false
			}
		}
		return written == 2*perTask && put >= 2*perTask && polledHist == 2*perTask && putHist == put
	}, 10*time.Second, 50*time.Millisecond)

	for _, name := range []string{"src", "snk"} {
		topics, err := env.h.ConnectorTopics(ctx, name)
		require.NoError(t, err)
		require.Equal(t, []string{topic}, topics, name)
	}
	require.NoError(t, env.h.ResetConnectorTopics(ctx, "src"))
	topics, err := env.h.ConnectorTopics(ctx, "src")
	require.NoError(t, err)
	require.Empty(t, topics)

	info, err := env.h.ConnectorInfo(ctx, "snk")
	require.NoError(t, err)
	require.Equal(t, restapi.TypeSink, info.Type)
	require.Len(t, info.Tasks, 2)
	plugins, err := env.h.Plugins(ctx)
	require.NoError(t, err)
	var connectors int
	for _, p := range plugins {
		if p.Type == string(restapi.TypeSource) || p.Type == string(restapi.TypeSink) {
			connectors++
		}
	}
	require.Equal(t, 2, connectors, "the two connectors of the test registry")
}

// TestSourceTransformDropsRecords runs a source whose transform drops every other record:
// the kept ones are stored in order, every record is told to CommitRecord in poll order
// (dropped ones with no metadata, kept ones with where the broker stored them), and the
// positions still cover the dropped records at the end.
func TestSourceTransformDropsRecords(t *testing.T) {
	topic := rmqtest.Topic(t, 4)
	env := startHerder(t, t.TempDir())
	defer env.stop(t)
	ctx := context.Background()
	id := rmqtest.Name(t, "drop")
	const count = 300
	_, err := env.h.CreateConnector(ctx, "src", map[string]string{
		"connector.class": "mem-source", "test.id": id, "count": fmt.Sprint(count),
		"connect.topicname": topic, "max.tasks": "1",
		"transforms": "odd", "transforms.odd.type": "PatternFilter$Value", "transforms.odd.pattern": `value-0-\d*[13579]`,
	}, "")
	require.NoError(t, err)
	st := stateFor(id)
	require.Eventually(t, func() bool {
		st.mu.Lock()
		defer st.mu.Unlock()
		return len(st.committed) >= count
	}, 30*time.Second, 50*time.Millisecond, "CommitRecord for every record")
	st.mu.Lock()
	committed := append([]committedRecord(nil), st.committed...)
	st.mu.Unlock()
	require.Len(t, committed, count, "each record once")

	r := rmqtest.Client(t).NewReader("test")
	defer r.Close()
	for i, c := range committed {
		require.Equal(t, fmt.Sprintf("value-0-%d", i), c.value, "poll order")
		if i%2 == 1 {
			require.Nil(t, c.md, "record %d was dropped", i)
			continue
		}
		require.NotNil(t, c.md, "record %d was sent", i)
		require.Equal(t, topic, c.md.Topic)
		q := rmqclient.Queue{Topic: topic, BrokerName: c.md.BrokerName, QueueID: c.md.QueueID}
		msgs, _, err := r.Read(ctx, q, c.md.QueueOffset, 1)
		require.NoError(t, err)
		require.NotEmpty(t, msgs, "record %d at %+v", i, c.md)
		require.Equal(t, c.value, string(msgs[0].Body), "record %d is where its metadata says", i)
		require.Equal(t, c.md.MsgID, msgs[0].MsgID)
	}
	var stored int64
	qs, err := rmqtest.Client(t).TopicQueues(ctx, topic)
	require.NoError(t, err)
	for _, q := range qs {
		lo, hi, err := rmqtest.Client(t).QueueOffsets(ctx, q)
		require.NoError(t, err)
		stored += hi - lo
	}
	require.Equal(t, int64(count/2), stored, "only the kept records were sent")
	require.Eventually(t, func() bool {
		ps, _ := env.h.Positions("src")
		return len(ps) == 1 && ps[0].Offset["seq"] == int64(count-1)
	}, 10*time.Second, 50*time.Millisecond, "the position covers the dropped last record")
}

func TestPositionsAndStateSurviveRestart(t *testing.T) {
	topic := rmqtest.Topic(t, 1)
	dir := t.TempDir()
	ctx := context.Background()
	id := rmqtest.Name(t, "state")
	group := rmqtest.Group(t)

	env := startHerder(t, dir)
	_, err := env.h.CreateConnector(ctx, "src", map[string]string{
		"connector.class": "org.example.MemSource", "test.id": id + "-src", "count": "200", "connect.topicname": topic,
	}, "")
	require.NoError(t, err)
	_, err = env.h.CreateConnector(ctx, "paused-sink", map[string]string{
		"connector.class": "mem-sink", "test.id": id + "-p", "connect.topicnames": topic, "task.group.id": group + "p",
	}, restapi.TargetPaused)
	require.NoError(t, err)
	waitState(t, env.h, "paused-sink", restapi.StatePaused, 0)
	require.Eventually(t, func() bool {
		ps, _ := env.h.Positions("src")
		return len(ps) == 1 && ps[0].Offset["seq"] == int64(199)
	}, 30*time.Second, 50*time.Millisecond)
	env.stop(t)

	// A new worker on the same store resumes: the source sends nothing again, the paused
	// sink stays paused.
	env = startHerder(t, dir)
	defer env.stop(t)
	waitState(t, env.h, "src", restapi.StateRunning, 1)
	waitState(t, env.h, "paused-sink", restapi.StatePaused, 0)
	_, err = env.h.CreateConnector(ctx, "snk", map[string]string{
		"connector.class": "mem-sink", "test.id": id, "connect.topicnames": topic, "task.group.id": group,
	}, "")
	require.NoError(t, err)
	st := stateFor(id)
	require.Eventually(t, func() bool { return len(st.unique()) >= 200 }, 60*time.Second, 100*time.Millisecond)
	time.Sleep(500 * time.Millisecond)
	require.Len(t, st.snapshot(), 200, "the restarted source resumed from its position: nothing was sent twice")
}

func TestLifecycleOperations(t *testing.T) {
	topic := rmqtest.Topic(t, 2)
	env := startHerder(t, t.TempDir())
	defer env.stop(t)
	ctx := context.Background()
	id := rmqtest.Name(t, "state")
	cfg := map[string]string{"connector.class": "mem-sink", "test.id": id, "connect.topicnames": topic, "max.tasks": "2",
		"task.group.id": rmqtest.Group(t)}

	_, err := env.h.CreateConnector(ctx, "c", cfg, "")
	require.NoError(t, err)
	_, err = env.h.CreateConnector(ctx, "c", cfg, "")
	require.ErrorIs(t, err, restapi.ErrAlreadyExists)
	waitState(t, env.h, "c", restapi.StateRunning, 2)

	require.NoError(t, env.h.PauseConnector(ctx, "c"))
	waitState(t, env.h, "c", restapi.StatePaused, 2)
	require.ErrorIs(t, env.h.RestartTask(ctx, restapi.TaskID{Connector: "c", Task: 0}), restapi.ErrBadState)
	require.NoError(t, env.h.ResumeConnector(ctx, "c"))
	waitState(t, env.h, "c", restapi.StateRunning, 2)
	require.NoError(t, env.h.StopConnector(ctx, "c"))
	st := waitState(t, env.h, "c", restapi.StateStopped, 0)
	require.Empty(t, st.Tasks)
	require.NoError(t, env.h.ResumeConnector(ctx, "c"))
	waitState(t, env.h, "c", restapi.StateRunning, 2)

	before := stateFor(id)
	before.mu.Lock()
	starts := before.starts
	before.mu.Unlock()
	startsNow := func() int {
		before.mu.Lock()
		defer before.mu.Unlock()
		return before.starts
	}
	require.NoError(t, env.h.RestartTask(ctx, restapi.TaskID{Connector: "c", Task: 1}))
	// The restarted task starts in the background: a restart of it before its Start ran
	// would stop it unstarted (nothing to count), so the next restart waits for that start.
	require.Eventually(t, func() bool { return startsNow() >= starts+1 }, 30*time.Second, 20*time.Millisecond,
		"the task restart")
	_, err = env.h.RestartConnector(ctx, "c", restapi.RestartRequest{IncludeTasks: true})
	require.NoError(t, err)
	waitState(t, env.h, "c", restapi.StateRunning, 2)
	// The restarts run in the background: RUNNING may still be the state before them.
	require.Eventually(t, func() bool { return startsNow() >= starts+3 }, 30*time.Second, 20*time.Millisecond,
		"one task restart, then both tasks")
	waitState(t, env.h, "c", restapi.StateRunning, 2)
	require.Equal(t, starts+3, startsNow(), "one task restart, then both tasks, and nothing more")

	// A config change restarts with the new config (one task now).
	cfg2 := map[string]string{}
	for k, v := range cfg {
		cfg2[k] = v
	}
	cfg2["max.tasks"] = "1"
	_, created, err := env.h.PutConnectorConfig(ctx, "c", cfg2)
	require.NoError(t, err)
	require.False(t, created)
	waitState(t, env.h, "c", restapi.StateRunning, 1)
	tasks, err := env.h.TaskConfigs(ctx, "c")
	require.NoError(t, err)
	require.Len(t, tasks, 1)

	require.NoError(t, env.h.DeleteConnector(ctx, "c"))
	_, err = env.h.ConnectorStatus(ctx, "c")
	require.ErrorIs(t, err, restapi.ErrNotFound)
	require.ErrorIs(t, env.h.DeleteConnector(ctx, "c"), restapi.ErrNotFound)
	names, err := env.h.Connectors(ctx)
	require.NoError(t, err)
	require.Empty(t, names)
}

func TestBadConfigsNameTheKey(t *testing.T) {
	env := startHerder(t, t.TempDir())
	defer env.stop(t)
	ctx := context.Background()
	cases := []struct {
		name string
		cfg  map[string]string
		keys []string
	}{
		{"unknown class", map[string]string{"connector.class": "nope"}, []string{"connector.class"}},
		{"missing class", map[string]string{}, []string{"connector.class"}},
		{"sink without topics", map[string]string{"connector.class": "mem-sink", "test.id": "x"}, []string{"connect.topicnames"}},
		{"bad number", map[string]string{"connector.class": "mem-source", "test.id": "x", "max.tasks": "many"}, []string{"max.tasks"}},
		{"plugin validate", map[string]string{"connector.class": "mem-source"}, []string{"test.id"}},
		{"bad tolerance", map[string]string{"connector.class": "mem-source", "test.id": "x", "errors.tolerance": "some"}, []string{"errors.tolerance"}},
		{"bad converter", map[string]string{"connector.class": "mem-source", "test.id": "x", "value.converter": "nope"}, []string{"value.converter"}},
		{"bad transform", map[string]string{"connector.class": "mem-source", "test.id": "x", "transforms": "a", "transforms.a.type": "Nope"}, []string{"transforms.a.type"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := env.h.CreateConnector(ctx, "bad", c.cfg, "")
			require.ErrorIs(t, err, cfgerr.ErrInvalid)
			var keys []string
			for _, p := range cfgerr.Flatten(err) {
				keys = append(keys, p.Key)
			}
			sort.Strings(keys)
			require.Equal(t, c.keys, keys, err.Error())
		})
	}
	_, err := env.h.CreateConnector(ctx, "bad name!", map[string]string{"connector.class": "mem-source", "test.id": "x"}, "")
	require.ErrorIs(t, err, cfgerr.ErrInvalid)
	require.Contains(t, err.Error(), "name")

	// A connector whose Start fails is FAILED with its trace; the worker keeps running.
	_, err = env.h.CreateConnector(ctx, "failing", map[string]string{"connector.class": "mem-source", "test.id": "x", "test.fail.start": "true"}, "")
	require.NoError(t, err)
	st, err := env.h.ConnectorStatus(ctx, "failing")
	require.NoError(t, err)
	require.Equal(t, restapi.StateFailed, st.Connector.State)
	require.Contains(t, st.Connector.Trace, "refuses to start")
}

func TestSinkErrorsDLQAndFailure(t *testing.T) {
	topic := rmqtest.Topic(t, 1)
	dlq := rmqtest.Name(t, "dlq")
	env := startHerder(t, t.TempDir())
	defer env.stop(t)
	ctx := context.Background()
	client := rmqtest.Client(t)

	p, err := client.NewProducer("poison", rmqclient.ProducerOptions{})
	require.NoError(t, err)
	defer p.Close()
	bodies := []string{`{"a":1}`, `not json`, `{"a":2}`, `{broken`, `{"a":3}`}
	for _, b := range bodies {
		_, err := p.Send(ctx, &rmqclient.Message{Topic: topic, Body: []byte(b)})
		require.NoError(t, err)
	}

	id := rmqtest.Name(t, "state")
	_, err = env.h.CreateConnector(ctx, "tolerant", map[string]string{
		"connector.class": "mem-sink", "test.id": id, "connect.topicnames": topic, "task.group.id": rmqtest.Group(t),
		"value.converter": "json", "value.converter.schemas.enable": "false",
		"errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq, "errors.log.enable": "true",
	}, "")
	require.NoError(t, err)
	st := stateFor(id)
	require.Eventually(t, func() bool { return len(st.unique()) == 3 }, 60*time.Second, 100*time.Millisecond)
	waitState(t, env.h, "tolerant", restapi.StateRunning, 1)

	// The two poison records are in the DLQ with their original bytes and context.
	var got collectorMsgs
	require.Eventually(t, func() bool {
		_, err := client.TopicQueues(ctx, dlq)
		return err == nil
	}, 30*time.Second, 100*time.Millisecond)
	cons, err := client.NewConsumer("dlq-reader", rmqclient.ConsumerOptions{Group: rmqtest.Group(t), Topics: []string{dlq}, From: rmqclient.FromFirst},
		func(_ context.Context, ms []*rmqclient.ReceivedMessage) error { got.add(ms); return nil })
	require.NoError(t, err)
	defer cons.Close()
	require.Eventually(t, func() bool { return len(got.all()) == 2 }, 60*time.Second, 100*time.Millisecond)
	for _, m := range got.all() {
		require.Contains(t, []string{"not json", "{broken"}, string(m.Body))
		require.Equal(t, topic, m.Properties[ErrHeaderTopic])
		require.Equal(t, "0", m.Properties[ErrHeaderPartition])
		require.Equal(t, "tolerant", m.Properties[ErrHeaderConnector])
		require.Equal(t, "0", m.Properties[ErrHeaderTask])
		require.Equal(t, StageValueConv, m.Properties[ErrHeaderStage])
		for _, k := range []string{ErrHeaderOffset, ErrHeaderClass, ErrHeaderExcClass, ErrHeaderExcMessage, ErrHeaderExcStack, ErrHeaderTimestamp} {
			require.NotEmpty(t, m.Properties[k], k)
		}
	}

	// Inspection: the DLQ lists both with their decoded context; one record shows its body.
	page, err := env.h.DLQList(ctx, "tolerant", "", 10)
	require.NoError(t, err)
	require.Equal(t, dlq, page.Topic)
	require.Len(t, page.Records, 2)
	first := page.Records[0]
	require.Equal(t, topic, first.Topic)
	require.Equal(t, StageValueConv, first.Stage)
	require.Equal(t, "tolerant", first.Connector)
	require.NotEmpty(t, first.ExceptionMessage)
	require.Contains(t, []string{"not json", "{broken"}, first.BodyPreview)
	page2, err := env.h.DLQList(ctx, "tolerant", first.ID, 1)
	require.NoError(t, err)
	require.Len(t, page2.Records, 1)
	require.NotEqual(t, first.ID, page2.Records[0].ID)
	require.Equal(t, page2.Records[0].ID, page2.Next, "a full page names where the next starts")
	one, err := env.h.DLQGet(ctx, "tolerant", first.ID)
	require.NoError(t, err)
	require.Equal(t, first.BodyPreview, string(one.Body))
	require.NotEmpty(t, one.Stacktrace)
	_, err = env.h.DLQGet(ctx, "tolerant", "0-999999")
	require.ErrorIs(t, err, restapi.ErrNotFound)

	// Replay sends both back to the topic (where they fail again, so the DLQ grows to 4);
	// a second replay skips them.
	res, err := env.h.DLQReplay(ctx, "tolerant", nil, false)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{page.Records[0].ID, page.Records[1].ID}, res.Replayed)
	res, err = env.h.DLQReplay(ctx, "tolerant", []string{first.ID}, false)
	require.NoError(t, err)
	require.Empty(t, res.Replayed)
	require.Equal(t, []string{first.ID}, res.Skipped)
	require.Eventually(t, func() bool {
		p, err := env.h.DLQList(ctx, "tolerant", "", 10)
		return err == nil && len(p.Records) == 4
	}, 60*time.Second, 200*time.Millisecond, "replayed poison records came back through the sink")
	again, err := env.h.DLQGet(ctx, "tolerant", first.ID)
	require.NoError(t, err)
	require.NotNil(t, again.Replayed)

	// With errors.tolerance=none the first poison record fails the task, with a trace.
	_, err = env.h.CreateConnector(ctx, "strict", map[string]string{
		"connector.class": "mem-sink", "test.id": id + "-strict", "connect.topicnames": topic, "task.group.id": rmqtest.Group(t),
		"value.converter": "json", "value.converter.schemas.enable": "false",
	}, "")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		s, err := env.h.TaskStatus(ctx, restapi.TaskID{Connector: "strict", Task: 0})
		return err == nil && s.State == restapi.StateFailed && strings.Contains(s.Trace, StageValueConv)
	}, 60*time.Second, 20*time.Millisecond, "the strict sink task is FAILED with the converter error as its trace")
}

func TestSinkRetriableAndFatalPutErrors(t *testing.T) {
	topic := rmqtest.Topic(t, 1)
	env := startHerder(t, t.TempDir())
	defer env.stop(t)
	ctx := context.Background()
	client := rmqtest.Client(t)
	p, err := client.NewProducer("retry", rmqclient.ProducerOptions{})
	require.NoError(t, err)
	defer p.Close()
	for i := 0; i < 10; i++ {
		_, err := p.Send(ctx, &rmqclient.Message{Topic: topic, Body: []byte(fmt.Sprint(i))})
		require.NoError(t, err)
	}
	id := rmqtest.Name(t, "state")
	st := stateFor(id)
	st.mu.Lock()
	st.retriable = 3 // retried in place
	st.putErrs = 1   // fails the task once; it is restarted and the batch redelivered
	st.mu.Unlock()
	_, err = env.h.CreateConnector(ctx, "s", map[string]string{
		"connector.class": "mem-sink", "test.id": id, "connect.topicnames": topic, "task.group.id": rmqtest.Group(t),
		"errors.retry.timeout": "30000", "errors.retry.delay.max.ms": "200",
	}, "")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		seen := map[string]bool{}
		for _, r := range st.snapshot() {
			seen[r.Value.(string)] = true
		}
		return len(seen) == 10 && len(st.unique()) == 10
	}, 90*time.Second, 100*time.Millisecond, "every record arrives despite a failed task")
	st.mu.Lock()
	starts := st.starts
	st.mu.Unlock() // never held across a require: a failure would leave it locked and hang the herder's stop
	require.GreaterOrEqual(t, starts, 2, "the failed task was restarted")
	waitState(t, env.h, "s", restapi.StateRunning, 1)
}

type collectorMsgs struct {
	mu   syncMutex
	msgs []*rmqclient.ReceivedMessage
}

func TestStuckTaskIsAbandonedAfterTheStopTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	reg := testRegistry()
	require.NoError(t, reg.Register(plugins.KindSource, "stuck-source", nil, func() plugins.Connector {
		return &stuckConnector{release: release}
	}))
	h, err := NewStandalone(StandaloneConfig{WorkerID: "w", StoreDir: t.TempDir(), KeyConverter: "string", ValueConverter: "string",
		StopTimeout: 100 * time.Millisecond}, rmqtest.Client(t), reg, quiet())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	<-h.Started()
	_, err = h.CreateConnector(context.Background(), "stuck", map[string]string{"connector.class": "stuck-source", "test.id": "x",
		"connect.topicname": rmqtest.Name(t, "t")}, "")
	require.NoError(t, err)
	waitState(t, h, "stuck", restapi.StateRunning, 1)
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(time.Minute):
		t.Fatal("a task ignoring cancellation blocked the worker's stop")
	}
	t.Logf("stopped %s after cancel", time.Since(start).Round(time.Millisecond))
}

func TestOffsetsOfStoppedConnectors(t *testing.T) {
	topic := rmqtest.Topic(t, 2)
	env := startHerder(t, t.TempDir())
	defer env.stop(t)
	ctx := context.Background()
	id := rmqtest.Name(t, "state")

	_, err := env.h.CreateConnector(ctx, "src", map[string]string{
		"connector.class": "mem-source", "test.id": id + "-src", "count": "30", "connect.topicname": topic}, "")
	require.NoError(t, err)
	_, err = env.h.CreateConnector(ctx, "snk", map[string]string{
		"connector.class": "mem-sink", "test.id": id, "connect.topicnames": topic, "task.group.id": rmqtest.Group(t)}, "")
	require.NoError(t, err)
	st := stateFor(id)
	require.Eventually(t, func() bool { return len(st.unique()) == 30 }, 60*time.Second, 100*time.Millisecond)

	// Changes need a STOPPED connector.
	require.ErrorIs(t, env.h.ResetOffsets(ctx, "snk"), restapi.ErrNotStopped)
	require.NoError(t, env.h.StopConnector(ctx, "snk"))
	require.NoError(t, env.h.StopConnector(ctx, "src"))
	waitState(t, env.h, "snk", restapi.StateStopped, 0)

	var sinkTotal int64
	require.Eventually(t, func() bool {
		offs, err := env.h.Offsets(ctx, "snk")
		require.NoError(t, err)
		sinkTotal = 0
		for _, o := range offs.Offsets {
			sinkTotal += o.Offset["offset"].(int64)
		}
		return sinkTotal == 30
	}, 15*time.Second, 100*time.Millisecond, "the group's offsets cover the 30 messages")
	srcOffs, err := env.h.Offsets(ctx, "src")
	require.NoError(t, err)
	require.Len(t, srcOffs.Offsets, 1)
	require.Equal(t, int64(29), srcOffs.Offsets[0].Offset["seq"])

	// Reset the sink: resumed, it reads all 30 again.
	require.NoError(t, env.h.ResetOffsets(ctx, "snk"))
	before := len(st.snapshot())
	require.NoError(t, env.h.ResumeConnector(ctx, "snk"))
	require.Eventually(t, func() bool { return len(st.snapshot()) >= before+30 }, 60*time.Second, 100*time.Millisecond)

	// Rewind the source to seq 19: resumed, it sends 20..29 again.
	require.NoError(t, env.h.AlterOffsets(ctx, "src", []restapi.ConnectorOffset{{
		Partition: map[string]any{"task": "0"}, Offset: map[string]any{"seq": float64(19)}}}))
	before = len(st.snapshot())
	require.NoError(t, env.h.ResumeConnector(ctx, "src"))
	require.Eventually(t, func() bool { return len(st.snapshot()) >= before+10 }, 60*time.Second, 100*time.Millisecond)

	err = env.h.AlterOffsets(ctx, "src", nil)
	require.ErrorIs(t, err, restapi.ErrNotStopped, "the source runs again")
}

// secretsForTest resolves ${env:..} like conf/providers does, for the worker's own tests.
type secretsForTest struct{}

func (secretsForTest) Resolve(cfg map[string]string) (map[string]string, []string, error) {
	return providers.Resolver{}.ResolveSecrets(cfg)
}
func (secretsForTest) Restore(raw, task map[string]string) map[string]string {
	return providers.Restore(raw, task)
}
func (secretsForTest) Mask(cfg map[string]string, isSecret func(string) bool) map[string]string {
	return providers.Mask(cfg, func(k string) bool { return isSecret(k) || providers.DefaultSecretKey(k) })
}

func TestSecretsResolvedOnlyInsideTheWorker(t *testing.T) {
	t.Setenv("RMQ_TEST_COUNT", "7")
	topic := rmqtest.Topic(t, 1)
	h, err := NewStandalone(StandaloneConfig{WorkerID: "w", StoreDir: t.TempDir(), KeyConverter: "string", ValueConverter: "string",
		CommitInterval: 100 * time.Millisecond, AutoCreate: true, Secrets: secretsForTest{}}, rmqtest.Client(t), testRegistry(), quiet())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	defer func() { cancel(); require.NoError(t, <-done) }()
	<-h.Started()

	_, err = h.CreateConnector(context.Background(), "src", map[string]string{
		"connector.class": "mem-source", "test.id": "x", "connect.topicname": topic,
		"count": "${env:RMQ_TEST_COUNT}", "db.password": "hunter2"}, "")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		ps, _ := h.Positions("src")
		return len(ps) == 1 && ps[0].Offset["seq"] == int64(6)
	}, 30*time.Second, 50*time.Millisecond, "the task ran with count resolved to 7")
	info, err := h.ConnectorInfo(context.Background(), "src")
	require.NoError(t, err)
	require.Equal(t, "${env:RMQ_TEST_COUNT}", info.Config["count"], "the placeholder is shown, not the value")
	require.Equal(t, "[hidden]", info.Config["db.password"])
	tasks, err := h.TaskConfigs(context.Background(), "src")
	require.NoError(t, err)
	require.Equal(t, "${env:RMQ_TEST_COUNT}", tasks[0].Config["count"], "task configs keep the placeholder")

	_, err = h.CreateConnector(context.Background(), "bad", map[string]string{
		"connector.class": "mem-source", "test.id": "x", "count": "${env:RMQ_TEST_MISSING_VAR}"}, "")
	require.ErrorIs(t, err, cfgerr.ErrInvalid)
	require.Contains(t, err.Error(), "count")
	require.Contains(t, err.Error(), "${env:RMQ_TEST_MISSING_VAR}")
}

// TestDLQReplayThroughFixedSink: poison records wait in the DLQ while the sink cannot read
// them; once its config is fixed, a replay brings them through.
func TestDLQReplayThroughFixedSink(t *testing.T) {
	topic := rmqtest.Topic(t, 1)
	dlq := rmqtest.Name(t, "dlq")
	env := startHerder(t, t.TempDir())
	defer env.stop(t)
	ctx := context.Background()
	p, err := rmqtest.Client(t).NewProducer("poison", rmqclient.ProducerOptions{})
	require.NoError(t, err)
	defer p.Close()
	for _, b := range []string{`{"ok":1}`, `plain text`, `more text`} {
		_, err := p.Send(ctx, &rmqclient.Message{Topic: topic, Body: []byte(b), Keys: []string{"k"}})
		require.NoError(t, err)
	}
	id := rmqtest.Name(t, "state")
	cfg := map[string]string{"connector.class": "mem-sink", "test.id": id, "connect.topicnames": topic, "task.group.id": rmqtest.Group(t),
		"value.converter": "json", "value.converter.schemas.enable": "false",
		"errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq}
	_, err = env.h.CreateConnector(ctx, "s", cfg, "")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		page, err := env.h.DLQList(ctx, "s", "", 10)
		return err == nil && len(page.Records) == 2
	}, 60*time.Second, 100*time.Millisecond)

	// Fix the sink: it reads strings now. The replayed records come through.
	cfg["value.converter"] = "string"
	_, _, err = env.h.PutConnectorConfig(ctx, "s", cfg)
	require.NoError(t, err)
	waitState(t, env.h, "s", restapi.StateRunning, 1)
	res, err := env.h.DLQReplay(ctx, "s", nil, false)
	require.NoError(t, err)
	require.Len(t, res.Replayed, 2)
	st := stateFor(id)
	require.Eventually(t, func() bool {
		u := st.unique()
		return u["plain text"] && u["more text"]
	}, 60*time.Second, 100*time.Millisecond, "replayed records reached the fixed sink")
	for _, r := range st.snapshot() {
		if r.Value == "plain text" {
			require.Equal(t, "k", r.Key, "the original key came back")
		}
	}
}

// TestConnectorStartRetriesRetriableErrors: as the SPI says, a failed connector Start is followed
// by Stop, and a RetriableError by a Start of a new value after a backoff while
// errors.retry.timeout allows; without it the first failure is final.
func TestConnectorStartRetriesRetriableErrors(t *testing.T) {
	env := startHerder(t, t.TempDir())
	defer env.stop(t)
	ctx := context.Background()
	counts := func(id string) (starts, stops int) {
		st := stateFor(id)
		st.mu.Lock()
		defer st.mu.Unlock()
		return st.connStarts, st.connStops
	}

	flaky := rmqtest.Name(t, "flaky")
	_, err := env.h.CreateConnector(ctx, "flaky", map[string]string{"connector.class": "mem-source", "test.id": flaky,
		"count": "0", "connect.topicname": rmqtest.Topic(t, 1), "test.fail.start.retriable": "2",
		"errors.retry.timeout": "30000"}, "")
	require.NoError(t, err)
	waitState(t, env.h, "flaky", restapi.StateRunning, 1)
	starts, stops := counts(flaky)
	require.Equal(t, 3, starts, "two retriable failures, then a start")
	require.Equal(t, 2, stops, "Stop after each failed Start")

	once := rmqtest.Name(t, "once")
	_, err = env.h.CreateConnector(ctx, "once", map[string]string{"connector.class": "mem-source", "test.id": once,
		"count": "0", "connect.topicname": rmqtest.Topic(t, 1), "test.fail.start.retriable": "5"}, "")
	require.NoError(t, err)
	st, err := env.h.ConnectorStatus(ctx, "once")
	require.NoError(t, err)
	require.Equal(t, restapi.StateFailed, st.Connector.State)
	require.Contains(t, st.Connector.Trace, "not ready")
	starts, stops = counts(once)
	require.Equal(t, 1, starts, "errors.retry.timeout=0: no retry")
	require.Equal(t, 1, stops, "Stop after the failed Start")
}
