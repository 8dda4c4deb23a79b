package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

// fileCopyFiles writes a file-source and a file-sink connector config with nothing about
// ordering but what extra adds to both.
func fileCopyFiles(t *testing.T, dir, in, out, topic, group string, extra map[string]string) (string, string) {
	t.Helper()
	srcCfg := map[string]string{"connector.class": "file-source", "filename": in, "connect.topicname": topic}
	sinkCfg := map[string]string{"connector.class": "file-sink", "filename": out, "connect.topicnames": topic,
		"task.group.id": group}
	for k, v := range extra {
		srcCfg[k], sinkCfg[k] = v, v
	}
	src, sink := filepath.Join(dir, "source.json"), filepath.Join(dir, "sink.json")
	for path, c := range map[string]any{
		src:  map[string]any{"name": "copy-source", "config": srcCfg},
		sink: map[string]any{"name": "copy-sink", "config": sinkCfg},
	} {
		b, err := json.Marshal(c)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, b, 0o644))
	}
	return src, sink
}

// queuesUsed counts the queues of topic that hold messages.
func queuesUsed(t *testing.T, topic string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	qs, err := rmqtest.Client(t).TopicQueues(ctx, topic)
	require.NoError(t, err)
	used := 0
	for _, q := range qs {
		lo, hi, err := rmqtest.Client(t).QueueOffsets(ctx, q)
		require.NoError(t, err)
		if hi > lo {
			used++
		}
	}
	return used
}

// TestFileCopyKeepsLineOrderByDefault: a 50,000-line file through file-source → an 8-queue
// topic → file-sink, with no ordering key set, comes out byte for byte (the lines in order):
// the file connectors default ordering.msg.enable to true, so the file's lines go to one queue
// and the sink consumes it in order. The plugin config route shows that default.
func TestFileCopyKeepsLineOrderByDefault(t *testing.T) {
	rmqtest.Require(t)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
	const lines = 50000
	want := writeInput(t, in, lines, 2048, 7)
	topic := rmqtest.Topic(t, 8)
	src, sink := fileCopyFiles(t, dir, in, out, topic, rmqtest.Group(t), nil)
	w := startWorker(t, dir, freePort(t), src, sink)
	require.Eventually(t, func() bool { return countLines(out) >= lines }, 5*time.Minute, 250*time.Millisecond,
		"output has %d of %d lines", countLines(out), lines)
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, len(want), len(got))
	require.True(t, bytes.Equal(want, got), "output is not the input: %d lines out of place", outOfPlace(want, got))
	require.Equal(t, 1, queuesUsed(t, topic), "the file's lines must go to one queue")

	for _, plugin := range []string{"file-source", "file-sink"} {
		var defs []map[string]any
		require.Equal(t, 200, w.Call(t, "GET", "/connector-plugins/"+plugin+"/config", nil, &defs))
		var ordering []map[string]any
		for _, d := range defs {
			if d["name"] == "ordering.msg.enable" {
				ordering = append(ordering, d)
			}
		}
		require.Len(t, ordering, 1, "%s declares ordering.msg.enable once", plugin)
		require.Equal(t, "true", ordering[0]["default_value"], plugin)
	}
	w.Stop(t, 90*time.Second)
}

// TestFileCopyOrderingOptOut: with ordering.msg.enable=false on both, file-source spreads the
// lines over the topic's queues (and the sink consumes them concurrently); every line still
// arrives.
func TestFileCopyOrderingOptOut(t *testing.T) {
	rmqtest.Require(t)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
	const lines = 20000
	writeInput(t, in, lines, 512, 8)
	topic := rmqtest.Topic(t, 8)
	src, sink := fileCopyFiles(t, dir, in, out, topic, rmqtest.Group(t), map[string]string{"ordering.msg.enable": "false"})
	w := startWorker(t, dir, freePort(t), src, sink)
	require.Eventually(t, func() bool { return countLines(out) >= lines }, 5*time.Minute, 250*time.Millisecond,
		"output has %d of %d lines", countLines(out), lines)
	require.Greater(t, queuesUsed(t, topic), 1, "without ordering the lines are spread over the queues")
	w.Stop(t, 90*time.Second)
}

// outOfPlace counts the lines of got that differ from want's line at the same index.
func outOfPlace(want, got []byte) int {
	a, b := bytes.SplitAfter(want, []byte("\n")), bytes.SplitAfter(got, []byte("\n"))
	n := 0
	for i := range a {
		if i >= len(b) || !bytes.Equal(a[i], b[i]) {
			n++
		}
	}
	return n + max(0, len(b)-len(a))
}
