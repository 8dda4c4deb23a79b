package e2e

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

// activeTopics is GET /connectors/{name}/topics (KIP-558).
func activeTopics(t *testing.T, w *workerProc, name string) []string {
	t.Helper()
	var out map[string]struct {
		Topics []string `json:"topics"`
	}
	require.Equal(t, http.StatusOK, w.Call(t, "GET", "/connectors/"+name+"/topics", nil, &out))
	require.Contains(t, out, name)
	return out[name].Topics
}

func waitTopics(t *testing.T, w *workerProc, name string, want []string) {
	t.Helper()
	var got []string
	require.Eventually(t, func() bool {
		got = activeTopics(t, w, name)
		return equalStrings(got, want)
	}, time.Minute, 100*time.Millisecond, "%s at %s: topics %v, want %v", name, w.URL, func() []string { return got }(), want)
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestConnectorTopicsDurableStandalone: a standalone worker's active topics survive a config
// update and a restart of the worker, and only PUT .../topics/reset clears them; a task
// restarted after the reset records its topic again.
func TestConnectorTopicsDurableStandalone(t *testing.T) {
	rmqtest.Require(t)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
	appendLines(t, in, 0, 100)
	topic := rmqtest.Topic(t, 2)
	port := freePort(t)
	w := startWorker(t, dir, port)
	src := map[string]string{"connector.class": "file-source", "filename": in, "connect.topicname": topic}
	createConnector(t, w, "topics-src", src)
	createConnector(t, w, "topics-sink", map[string]string{"connector.class": "file-sink", "filename": out,
		"connect.topicnames": topic, "task.group.id": rmqtest.Group(t)})
	require.Eventually(t, func() bool { return countLines(out) >= 100 }, time.Minute, 100*time.Millisecond)
	waitTopics(t, w, "topics-src", []string{topic})
	waitTopics(t, w, "topics-sink", []string{topic})

	src["batch.size"] = "50"
	require.Equal(t, http.StatusOK, w.Call(t, "PUT", "/connectors/topics-src/config", src, nil))
	waitConnector(t, w, "topics-src", "RUNNING", 1)
	require.Equal(t, []string{topic}, activeTopics(t, w, "topics-src"), "a config update keeps the topics")

	w.Stop(t, 90*time.Second)
	w = startWorker(t, dir, port)
	require.Equal(t, []string{topic}, activeTopics(t, w, "topics-src"), "a restart keeps the topics")
	require.Equal(t, []string{topic}, activeTopics(t, w, "topics-sink"), "a restart keeps the topics")

	require.Equal(t, http.StatusAccepted, w.Call(t, "PUT", "/connectors/topics-src/topics/reset", nil, nil))
	require.Empty(t, activeTopics(t, w, "topics-src"))
	require.Equal(t, []string{topic}, activeTopics(t, w, "topics-sink"), "a reset clears one connector's topics")
	require.Equal(t, http.StatusAccepted, w.Call(t, "PUT", "/connectors/topics-sink/topics/reset", nil, nil))
	w.Stop(t, 90*time.Second)
	w = startWorker(t, dir, port)
	// A topic is active once a record of it is consumed, not when the sink's task starts (KIP-558):
	// with nothing new in the topic, the reset stays empty.
	waitConnector(t, w, "topics-sink", "RUNNING", 1)
	require.Never(t, func() bool { return len(activeTopics(t, w, "topics-sink")) > 0 }, 2*time.Second, 100*time.Millisecond,
		"a sink that consumed nothing since the reset has no active topic")
	// The restarted tasks send to and read from the topic again, so it is recorded again.
	appendLines(t, in, 100, 10)
	require.Eventually(t, func() bool { return countLines(out) >= 110 }, time.Minute, 100*time.Millisecond)
	waitTopics(t, w, "topics-src", []string{topic})
	waitTopics(t, w, "topics-sink", []string{topic})

	require.Equal(t, http.StatusNoContent, w.Call(t, "DELETE", "/connectors/topics-src", nil, nil))
	other := rmqtest.Topic(t, 2)
	createConnector(t, w, "topics-src", map[string]string{"connector.class": "file-source", "filename": in,
		"connect.topicname": other})
	// A new connector of the same name starts with no topics of the deleted one.
	waitTopics(t, w, "topics-src", []string{other})
	w.Stop(t, 90*time.Second)
}

// TestConnectorTopicsClusterWide: in a distributed cluster every worker answers the same
// active topics (recorded in the status topic), whichever worker runs the tasks; they survive
// a config update and a restart of every worker, and a reset on one worker clears them on all.
func TestConnectorTopicsClusterWide(t *testing.T) {
	rmqtest.Require(t)
	c := newCluster(t)
	w1 := c.start("worker-1")
	w2 := c.start("worker-2")
	p := c.pipeline(t, w1, "tp", 200)
	p.check(t, 200)
	for _, w := range []*workerProc{w1, w2} {
		waitTopics(t, w, "tp-src", []string{p.topic})
		waitTopics(t, w, "tp-sink", []string{p.topic})
	}

	var info struct{ Config map[string]string }
	require.Equal(t, http.StatusOK, w2.Call(t, "GET", "/connectors/tp-src", nil, &info))
	info.Config["batch.size"] = "77"
	require.Equal(t, http.StatusOK, w2.Call(t, "PUT", "/connectors/tp-src/config", info.Config, nil))
	require.Equal(t, []string{p.topic}, activeTopics(t, w1, "tp-src"), "a config update keeps the topics")

	for _, id := range []string{"worker-1", "worker-2"} {
		c.Workers[id].Stop(t, 90*time.Second)
	}
	w1, w2 = c.start("worker-1"), c.start("worker-2")
	for _, w := range []*workerProc{w1, w2} {
		require.Equal(t, []string{p.topic}, activeTopics(t, w, "tp-src"), "a restart of the cluster keeps the topics")
	}

	require.Equal(t, http.StatusAccepted, w2.Call(t, "PUT", "/connectors/tp-sink/topics/reset", nil, nil))
	require.Empty(t, activeTopics(t, w2, "tp-sink"), "read-your-writes on the worker that reset")
	waitTopics(t, w1, "tp-sink", []string{})
	require.Equal(t, []string{p.topic}, activeTopics(t, w1, "tp-src"))
}
