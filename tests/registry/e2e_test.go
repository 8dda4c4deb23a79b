package registry_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/builtin"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/generator"
	"github.com/rmqconnect/rmqconnect/schema/converter"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// startHerder runs a standalone herder in this process. Failed tasks are not restarted during a test, so a
// FAILED state stays observable.
func startHerder(t *testing.T) *worker.Standalone {
	t.Helper()
	reg, err := builtin.Registry()
	require.NoError(t, err)
	h, err := worker.NewStandalone(worker.StandaloneConfig{
		WorkerID: "w-" + rmqtest.Name(t, "w"), StoreDir: t.TempDir(), KeyConverter: "string", ValueConverter: "string",
		CommitInterval: 200 * time.Millisecond, StopTimeout: 10 * time.Second, AutoCreate: true,
		RestartBackoffMin: time.Hour, RestartBackoffMax: time.Hour,
	}, rmqtest.Client(t), reg, quiet())
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
			t.Error("herder did not stop")
		}
	})
	return h
}

func avroConv(url string, extra ...string) map[string]string {
	m := map[string]string{"value.converter": "avro", "value.converter.schema.registry.url": url}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return m
}

func with(base map[string]string, more map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// generatorConfig makes count records of size bytes, each hoisted into a struct {payload: bytes}; insert adds
// InsertField settings (static.field, static.value) after the hoist.
func generatorConfig(name, topic string, count int, insert map[string]string) map[string]string {
	cfg := map[string]string{
		"connector.class": "generator-source", "name": name, "connect.topicname": topic, "count": fmt.Sprint(count),
		"record.size": "24", "keys": "0", "max.tasks": "1",
		"transforms": "hoist", "transforms.hoist.type": "HoistField$Value", "transforms.hoist.field": "payload",
	}
	if insert != nil {
		cfg["transforms"] = "hoist,insert"
		cfg["transforms.insert.type"] = "InsertField$Value"
		for k, v := range insert {
			cfg["transforms.insert."+k] = v
		}
	}
	return cfg
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// want renders what file-sink writes for generator record seq of a connector: the struct as JSON.
func want(seq int64, extra map[string]any) string {
	m := map[string]any{"payload": base64.StdEncoding.EncodeToString(generator.Value(0, seq, 24))}
	for k, v := range extra {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// normalise re-renders JSON lines with sorted keys and sorts them, to compare sets of lines.
func normalise(t *testing.T, lines []string) []string {
	t.Helper()
	out := make([]string, len(lines))
	for i, l := range lines {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), "line %q", l)
		b, err := json.Marshal(m)
		require.NoError(t, err)
		out[i] = string(b)
	}
	sort.Strings(out)
	return out
}

// A source writes Avro v1 then v2 (an added optional field); one sink decodes each record with its writer's
// schema, another projects every record onto the subject's latest schema.
func TestAvroSourceToSinkThroughWorker(t *testing.T) {
	reg := startRegistry(t, rmqtest.Name(t, "t"))
	topic := rmqtest.Topic(t, 2)
	h := startHerder(t)
	ctx := context.Background()
	dir := t.TempDir()
	const n1, n2 = 15, 10

	_, err := h.CreateConnector(ctx, "gen-v1", with(generatorConfig("gen-v1", topic, n1, nil), avroConv(reg.URL)), "")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		vs, err := reg.client.Versions(ctx, topic+"-value")
		return err == nil && len(vs) == 1
	}, 60*time.Second, 100*time.Millisecond, "gen-v1 never registered its schema")
	writerFile, latestFile := filepath.Join(dir, "writer.txt"), filepath.Join(dir, "latest.txt")
	_, err = h.CreateConnector(ctx, "sink-writer", with(map[string]string{
		"connector.class": "file-sink", "connect.topicnames": topic, "filename": writerFile, "max.tasks": "1",
	}, avroConv(reg.URL)), "")
	require.NoError(t, err)
	// Wait for every v1 record, so the v2 connector's records all come after them.
	require.Eventually(t, func() bool { return len(readLines(t, writerFile)) >= n1 }, 60*time.Second, 100*time.Millisecond)

	_, err = h.CreateConnector(ctx, "gen-v2", with(generatorConfig("gen-v2", topic, n2,
		map[string]string{"static.field": "origin", "static.value": "gen-v2"}), avroConv(reg.URL)), "")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(readLines(t, writerFile)) >= n1+n2 }, 60*time.Second, 100*time.Millisecond)

	vs, err := reg.client.Versions(ctx, topic+"-value")
	require.NoError(t, err)
	require.Len(t, vs, 2, "v1 and v2 registered")
	require.Contains(t, vs[1].IDL, `"origin"`)

	var expWriter, expLatest []string
	for seq := range int64(n1) {
		expWriter = append(expWriter, want(seq, nil))
		expLatest = append(expLatest, want(seq, map[string]any{"origin": nil}))
	}
	for seq := range int64(n2) {
		expWriter = append(expWriter, want(seq, map[string]any{"origin": "gen-v2"}))
		expLatest = append(expLatest, want(seq, map[string]any{"origin": "gen-v2"}))
	}
	require.Equal(t, normalise(t, expWriter), normalise(t, readLines(t, writerFile)))

	// A sink reading with the latest schema sees v1 records projected onto v2: origin is null.
	_, err = h.CreateConnector(ctx, "sink-latest", with(map[string]string{
		"connector.class": "file-sink", "connect.topicnames": topic, "filename": latestFile, "max.tasks": "1",
	}, avroConv(reg.URL, "value.converter.use.latest.version", "true")), "")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(readLines(t, latestFile)) >= n1+n2 }, 60*time.Second, 100*time.Millisecond)
	require.Equal(t, normalise(t, expLatest), normalise(t, readLines(t, latestFile)))

	// On the wire the record id travels in a message property; the body is the bare datum.
	var mu sync.Mutex
	var raw []*rmqclient.ReceivedMessage
	cons, err := rmqtest.Client(t).NewConsumer("raw", rmqclient.ConsumerOptions{Group: rmqtest.Group(t), Topics: []string{topic}, From: rmqclient.FromFirst},
		func(_ context.Context, ms []*rmqclient.ReceivedMessage) error {
			mu.Lock()
			raw = append(raw, ms...)
			mu.Unlock()
			return nil
		})
	require.NoError(t, err)
	defer cons.Close()
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(raw) > 0 }, 60*time.Second, 100*time.Millisecond)
	mu.Lock()
	id := raw[0].Properties[converter.RecordIDProperty(false)]
	mu.Unlock()
	require.NotEmpty(t, id, "the record id property is set")
}

func waitTask(t *testing.T, h *worker.Standalone, name string, state restapi.State) restapi.TaskState {
	t.Helper()
	var last restapi.ConnectorStatus
	require.Eventually(t, func() bool {
		st, err := h.ConnectorStatus(context.Background(), name)
		if err != nil || len(st.Tasks) == 0 {
			return false
		}
		last = st
		return st.Tasks[0].State == state
	}, 60*time.Second, 100*time.Millisecond, "task of %s never reached %s: %+v", name, state, last)
	return last.Tasks[0]
}

// An incompatible schema change (a required field added without a default) is refused by the registry; the
// source fails per errors.tolerance.
func TestIncompatibleSchemaChange(t *testing.T) {
	reg := startRegistry(t, rmqtest.Name(t, "t"))
	h := startHerder(t)
	ctx := context.Background()
	bad := map[string]string{"static.field": "origin!", "static.value": "bad"}

	setup := func(t *testing.T) string {
		topic := rmqtest.Topic(t, 1)
		name := rmqtest.Name(t, "good")
		_, err := h.CreateConnector(ctx, name, with(generatorConfig(name, topic, 1, nil), avroConv(reg.URL)), "")
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			_, err := reg.client.Latest(ctx, topic+"-value")
			return err == nil
		}, 60*time.Second, 100*time.Millisecond)
		return topic
	}

	t.Run("none", func(t *testing.T) {
		topic := setup(t)
		_, err := h.CreateConnector(ctx, "bad-none", with(generatorConfig("bad-none", topic, 3, bad), avroConv(reg.URL)), "")
		require.NoError(t, err)
		ts := waitTask(t, h, "bad-none", restapi.StateFailed)
		require.Contains(t, ts.Trace, topic+"-value", "the trace names the subject")
		require.Contains(t, ts.Trace, "BACKWARD", "the trace names the rule")
		require.Contains(t, ts.Trace, "origin")
		t.Logf("trace: %s", firstLines(ts.Trace, 3))
		vs, err := reg.client.Versions(ctx, topic+"-value")
		require.NoError(t, err)
		require.Len(t, vs, 1)
	})

	t.Run("all", func(t *testing.T) {
		topic := setup(t)
		dlq := rmqtest.Topic(t, 1)
		const count = 3
		_, err := h.CreateConnector(ctx, "bad-all", with(generatorConfig("bad-all", topic, count, bad), avroConv(reg.URL,
			"errors.tolerance", "all", "errors.deadletterqueue.topic.name", dlq)), "")
		require.NoError(t, err)

		var mu sync.Mutex
		var got []*rmqclient.ReceivedMessage
		cons, err := rmqtest.Client(t).NewConsumer("dlq-reader", rmqclient.ConsumerOptions{
			Group: rmqtest.Group(t), Topics: []string{dlq}, From: rmqclient.FromFirst,
		}, func(_ context.Context, msgs []*rmqclient.ReceivedMessage) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, msgs...)
			return nil
		})
		require.NoError(t, err)
		defer cons.Close()
		require.Eventually(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(got) >= count
		}, 60*time.Second, 100*time.Millisecond, "the refused records never reached the DLQ")
		mu.Lock()
		m := got[0]
		mu.Unlock()
		require.Equal(t, worker.StageValueConv, m.Properties[worker.ErrHeaderStage])
		require.Equal(t, "bad-all", m.Properties[worker.ErrHeaderConnector])
		require.Contains(t, m.Properties[worker.ErrHeaderExcMessage], topic+"-value")
		require.Contains(t, m.Properties[worker.ErrHeaderExcMessage], "BACKWARD")
		require.Contains(t, m.Properties[worker.ErrHeaderExcMessage], "origin")
		waitTask(t, h, "bad-all", restapi.StateRunning)
	})
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
