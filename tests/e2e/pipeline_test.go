package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/clustertest"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

// writeInput writes n numbered lines of mixed lengths (most short, some up to maxLen
// bytes), UTF-8 text, with LF or CRLF endings, and returns the bytes.
func writeInput(t *testing.T, path string, n, maxLen int, seed int64) []byte {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	words := []string{"alpha", "βeta", "γάμμα", "δ", "ünïcödé", "日本語", "emoji😀", "plain", "tab\there", "x"}
	var buf bytes.Buffer
	for i := 0; i < n; i++ {
		target := 10 + rng.Intn(150)
		switch r := rng.Intn(1000); {
		case r < 5:
			target = maxLen - 16 - rng.Intn(maxLen/4)
		case r < 60:
			target = 200 + rng.Intn(4000)
		}
		fmt.Fprintf(&buf, "%08d|", i)
		line := 9
		for line < target {
			w := words[rng.Intn(len(words))]
			buf.WriteString(w)
			buf.WriteByte(' ')
			line += len(w) + 1
		}
		if rng.Intn(3) == 0 {
			buf.WriteString("\r\n")
		} else {
			buf.WriteString("\n")
		}
	}
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
	return buf.Bytes()
}

func connectorFiles(t *testing.T, dir, in, out, topic, group string) (string, string) {
	t.Helper()
	src := filepath.Join(dir, "source.json")
	sink := filepath.Join(dir, "sink.properties")
	b, _ := json.Marshal(map[string]any{"name": "lines-source", "config": map[string]string{
		"connector.class": "file-source", "filename": in, "connect.topicname": topic, "ordering.msg.enable": "true",
		"max.line.bytes": "131072",
	}})
	require.NoError(t, os.WriteFile(src, b, 0o644))
	props := fmt.Sprintf("name=lines-sink\nconnector.class=file-sink\nfilename=%s\nconnect.topicnames=%s\ntask.group.id=%s\nordering.msg.enable=true\nconsumer.batch.size=256\n", out, topic, group)
	require.NoError(t, os.WriteFile(sink, []byte(props), 0o644))
	return src, sink
}

// TestFileToFileByteIdentical: 200,000 lines (up to 64 KiB, UTF-8, CRLF) → file-source →
// topic → file-sink gives a byte-identical file.
func TestFileToFileByteIdentical(t *testing.T) {
	rmqtest.Require(t)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
	const lines = 200000
	want := writeInput(t, in, lines, 64*1024, 1)
	topic, group := rmqtest.Topic(t, 4), rmqtest.Group(t)
	src, sink := connectorFiles(t, dir, in, out, topic, group)
	start := time.Now()
	w := startWorker(t, dir, clustertest.FreePort(t), src, sink)
	// Alone this takes seconds; beside every other broker package a few minutes at most.
	// Two minutes without a new line is a stall: the report says where it stopped.
	if n, ok := awaitProgress(func() int { return countLines(out) }, lines, 2*time.Minute, 8*time.Minute,
		250*time.Millisecond); !ok {
		stallReport{w: w, logPath: filepath.Join(dir, "worker.log"), topic: topic, group: group,
			connectors: []string{"lines-source", "lines-sink"}, files: []string{in, out}}.log(t)
		t.Fatalf("output has %d of %d lines after %s", n, lines, time.Since(start).Round(time.Second))
	}
	t.Logf("%d lines, %d bytes through the broker in %s", lines, len(want), time.Since(start).Round(time.Millisecond))
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, len(want), len(got))
	require.True(t, bytes.Equal(want, got), "output differs from input")

	var st map[string]any
	require.Equal(t, 200, w.Call(t, "GET", "/connectors/lines-sink/status", nil, &st))
	require.Equal(t, "RUNNING", st["connector"].(map[string]any)["state"])
	w.Stop(t, 90*time.Second)
}

// TestKillMidStreamLosesNothing: the worker is killed with SIGKILL while lines flow and
// started again on the same store: every input line is in the output, in order of first
// appearance, with duplicates bounded by what was in flight.
func TestKillMidStreamLosesNothing(t *testing.T) {
	rmqtest.Require(t)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
	const lines = 60000
	// The input grows while the worker runs, so the kill lands mid-stream on both sides:
	// the source is still reading and sending, the sink still writing.
	all := writeInput(t, filepath.Join(dir, "all.txt"), lines, 8*1024, 2)
	require.NoError(t, os.WriteFile(in, all[:len(all)/5], 0o644))
	appended := make(chan struct{})
	go func() {
		defer close(appended)
		f, err := os.OpenFile(in, os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		rest := all[len(all)/5:]
		for len(rest) > 0 {
			n := min(len(rest), 64*1024)
			if _, err := f.Write(rest[:n]); err != nil {
				t.Error(err)
				return
			}
			rest = rest[n:]
			time.Sleep(20 * time.Millisecond)
		}
	}()
	topic, group := rmqtest.Topic(t, 4), rmqtest.Group(t)
	src, sink := connectorFiles(t, dir, in, out, topic, group)
	port := clustertest.FreePort(t)
	w := startWorker(t, dir, port, src, sink)
	require.Eventually(t, func() bool { return countLines(out) >= lines/4 }, 5*time.Minute, 20*time.Millisecond)
	w.Kill()
	killedAt := countLines(out)
	require.Less(t, killedAt, lines, "the kill must happen mid-stream")

	w = startWorker(t, dir, port) // connectors come back from the store
	<-appended
	if n, ok := awaitProgress(func() int { return countLines(out) }, lines, 2*time.Minute, 5*time.Minute,
		250*time.Millisecond); !ok {
		stallReport{w: w, logPath: filepath.Join(dir, "worker.log"), topic: topic, group: group,
			connectors: []string{"lines-source", "lines-sink"}, files: []string{in, out}}.log(t)
		t.Fatalf("output has %d of %d lines after the restart", n, lines)
	}
	time.Sleep(2 * time.Second) // let any replayed tail land before counting duplicates
	w.Stop(t, 90*time.Second)

	f, err := os.Open(out)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	seen := make([]bool, lines)
	next, total, dups := 0, 0, 0
	for sc.Scan() {
		total++
		seq, err := strconv.Atoi(strings.SplitN(sc.Text(), "|", 2)[0])
		require.NoError(t, err)
		if seen[seq] {
			dups++
			continue
		}
		require.Equal(t, next, seq, "first appearances must follow input order")
		seen[seq] = true
		next++
	}
	require.NoError(t, sc.Err())
	require.Equal(t, lines, next, "every line arrived")
	t.Logf("killed after %d output lines; %d lines written in total, %d duplicates (%.2f%%)", killedAt, total, dups, 100*float64(dups)/lines)
	require.Less(t, dups, lines/2, "duplicates bounded by the in-flight window")
}
