package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// replMessages is how many messages the replication tests send; REPLICATOR_E2E_MESSAGES
// may lower it while developing.
func replMessages(t *testing.T, def int) int {
	if v := os.Getenv("REPLICATOR_E2E_MESSAGES"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err)
		return n
	}
	return def
}

// replMessage is message i of a replication test: a body, two keys, a tag and properties
// that all depend on i.
func replMessage(topic string, i int) *rmqclient.Message {
	return &rmqclient.Message{Topic: topic, Body: fmt.Appendf(nil, "body %d %s", i, strings.Repeat("x", i%200)),
		Keys: []string{"k" + strconv.Itoa(i), "g" + strconv.Itoa(i%7)}, Tag: "tag" + strconv.Itoa(i%3),
		Properties: map[string]string{"idx": strconv.Itoa(i), "color": []string{"red", "green", "blue"}[i%3], "emoji": "😀"}}
}

// produceRange sends messages [from, to) of replMessage to topic on the cluster of c.
func produceRange(t *testing.T, c *rmqclient.Client, topic string, from, to int) {
	t.Helper()
	p, err := c.NewProducer("repl-e2e-fill", rmqclient.ProducerOptions{})
	require.NoError(t, err)
	defer p.Close()
	ctx := context.Background()
	for i := from; i < to; i += 100 {
		var msgs []*rmqclient.Message
		for j := i; j < min(i+100, to); j++ {
			msgs = append(msgs, replMessage(topic, j))
		}
		_, err := p.Send(ctx, msgs...)
		require.NoError(t, err)
	}
}

// readTopic reads every message of topic on the cluster of c.
func readTopic(t *testing.T, c *rmqclient.Client, topic string) []*rmqclient.ReceivedMessage {
	t.Helper()
	ctx := context.Background()
	qs, err := c.TopicQueues(ctx, topic)
	require.NoError(t, err)
	r := c.NewReader("repl-e2e-check")
	defer r.Close()
	var out []*rmqclient.ReceivedMessage
	for _, q := range qs {
		lo, hi, err := c.QueueOffsets(ctx, q)
		require.NoError(t, err)
		for off := lo; off < hi; {
			msgs, next, err := r.ReadBelow(ctx, q, off, hi, 32)
			require.NoError(t, err)
			out = append(out, msgs...)
			require.Greater(t, next, off, "no progress reading %s at %d", q, off)
			off = next
		}
	}
	return out
}

// countTopic returns how many messages topic holds on the cluster of c (0 while it has no
// route).
func countTopic(c *rmqclient.Client, topic string) int64 {
	ctx := context.Background()
	qs, err := c.TopicQueues(ctx, topic)
	if err != nil {
		return 0
	}
	var n int64
	for _, q := range qs {
		lo, hi, err := c.QueueOffsets(ctx, q)
		if err != nil {
			return 0
		}
		n += hi - lo
	}
	return n
}

// checkReplicated asserts that every message 0..n-1 is in got with its body, keys, tag and
// properties, and returns the number of duplicates.
func checkReplicated(t *testing.T, got []*rmqclient.ReceivedMessage, n int) int {
	t.Helper()
	seen := make([]int, n)
	for _, m := range got {
		i, err := strconv.Atoi(m.Properties["idx"])
		require.NoError(t, err, "message without idx: %+v", m.Properties)
		require.Less(t, i, n)
		want := replMessage("", i)
		require.Equal(t, string(want.Body), string(m.Body), "body of %d", i)
		require.Equal(t, want.Keys, m.Keys, "keys of %d", i)
		require.Equal(t, want.Tag, m.Tag, "tag of %d", i)
		props := maps.Clone(m.Properties)
		delete(props, "connect.timestamp") // the engine's stamp of when the copy was made
		require.Equal(t, want.Properties, props, "properties of %d", i)
		seen[i]++
	}
	dups := 0
	for i, c := range seen {
		require.NotZero(t, c, "message %d was not replicated", i)
		dups += c - 1
	}
	return dups
}

func writeConnector(t *testing.T, dir, name string, cfg map[string]string) string {
	t.Helper()
	p := filepath.Join(dir, name+".json")
	b, err := json.Marshal(map[string]any{"name": name, "config": cfg})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

// TestReplicatorKillMidStream replicates messages from a second cluster (A) into the
// worker's (B) with RocketMQ Connect's config keys, kills the worker with SIGKILL while it
// copies and while more messages arrive, restarts it, and checks that every message
// arrived with its body, keys, tag and properties.
func TestReplicatorKillMidStream(t *testing.T) {
	n := replMessages(t, 200000)
	a := rmqtest.SecondClient(t)
	b := rmqtest.Client(t)
	src := rmqtest.SecondTopic(t, 4)
	target := "A_" + src
	produceRange(t, a, src, 0, n/2)

	dir := t.TempDir()
	conn := writeConnector(t, dir, "repl", map[string]string{
		"connector.class": "org.apache.rocketmq.replicator.ReplicatorSourceConnector",
		"src.endpoint":    rmqtest.Second(t), "src.cluster": "DefaultCluster", "source.cluster.alias": "A",
		"dest.endpoint": rmqtest.NameServer(t), "dest.cluster": "DefaultCluster", "target.cluster.alias": "B",
		"src.topictags": src + ",*", "max.tasks": "2", "src.acl.enable": "false", "dest.acl.enable": "false",
	})
	port := freePort(t)
	w := startWorker(t, dir, port, conn)
	require.Eventually(t, func() bool { return countTopic(b, target) >= int64(n/8) }, 3*time.Minute, 200*time.Millisecond,
		"replication did not start; log: %s", readFile(filepath.Join(dir, "worker.log")))
	w.Kill()
	copied := countTopic(b, target)
	produceRange(t, a, src, n/2, n)

	startWorker(t, dir, port, conn)
	require.Eventually(t, func() bool { return countTopic(b, target) >= int64(n) }, 5*time.Minute, time.Second,
		"not everything was replicated (%d of %d); log: %s", countTopic(b, target), n, readFile(filepath.Join(dir, "worker.log")))
	time.Sleep(2 * time.Second) // let a replay after the kill finish before counting duplicates
	dups := checkReplicated(t, readTopic(t, b, target), n)
	t.Logf("replicated %d messages; %d copied before the kill; %d duplicates after it", n, copied, dups)
}

// TestReplicatorCheckpointFailover: a consumer group has read part of each queue of a
// topic on cluster A; the replicator copies the topic to B and the checkpoint connector
// translates and applies the group's offsets there. Resuming on B from the translated
// offsets reads every message the group had not read on A, and re-reads at most
// offset.lag.max messages per queue (the window between two offset syncs).
func TestReplicatorCheckpointFailover(t *testing.T) {
	n := replMessages(t, 20000)
	const lagMax = 100
	a := rmqtest.SecondClient(t)
	b := rmqtest.Client(t)
	src := rmqtest.SecondTopic(t, 4)
	target := "A_" + src
	group := rmqtest.Group(t)
	produceRange(t, a, src, 0, n)
	ctx := context.Background()
	// The consume queues list a sent message a moment after the send returns (longer on a loaded
	// broker); the offsets below and readTopic read what they list.
	require.Eventually(t, func() bool { return countTopic(a, src) >= int64(n) }, time.Minute, 10*time.Millisecond)

	// The group consumed a different share of each queue on A: none of queue 0, a third of
	// queue 1, two thirds of queue 2, all of queue 3.
	srcQueues, err := a.TopicQueues(ctx, src)
	require.NoError(t, err)
	consumed := map[int]int64{}
	for i, q := range srcQueues {
		lo, hi, err := a.QueueOffsets(ctx, q)
		require.NoError(t, err)
		consumed[q.QueueID] = lo + (hi-lo)*int64(i)/3
		require.NoError(t, a.SetGroupOffset(ctx, group, q, consumed[q.QueueID]))
	}
	// Where each message is on A.
	type pos struct {
		queue  int
		offset int64
	}
	onA := map[string]pos{}
	for _, m := range readTopic(t, a, src) {
		onA[m.Properties["idx"]] = pos{m.Queue.QueueID, m.Offset}
	}
	require.Len(t, onA, n)

	dir := t.TempDir()
	common := map[string]string{"src.endpoint": rmqtest.Second(t), "source.cluster.alias": "A", "target.cluster.alias": "B",
		"dest.endpoint": rmqtest.NameServer(t), "source.topics": src}
	with := func(kv ...string) map[string]string {
		m := maps.Clone(common)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	repl := writeConnector(t, dir, "repl", with("connector.class", "rocketmq-replicator", "max.tasks", "2",
		"offset.lag.max", strconv.Itoa(lagMax)))
	ckpt := writeConnector(t, dir, "ckpt", with("connector.class", "org.apache.rocketmq.replicator.ReplicatorCheckpointConnector",
		"sync.gids", group, "sync.group.offsets.enabled", "true", "emit.checkpoints.interval", "500ms"))
	w := startWorker(t, dir, freePort(t), repl, ckpt)

	tq, err := func() ([]rmqclient.Queue, error) {
		var qs []rmqclient.Queue
		var err error
		require.Eventually(t, func() bool {
			qs, err = b.TopicQueues(ctx, target)
			return err == nil && countTopic(b, target) >= int64(n)
		}, 3*time.Minute, time.Second, "not replicated; log: %s", readFile(filepath.Join(dir, "worker.log")))
		return qs, err
	}()
	require.NoError(t, err)
	require.Len(t, tq, 4, "the target topic has the source's queue count")
	// Every target queue's group offset is set once the checkpoints have caught up with the
	// idle replicator's last offset syncs; wait until two reads in a row agree.
	offsets := func() map[int]int64 {
		out := map[int]int64{}
		for _, q := range tq {
			off, found, err := b.GroupOffset(ctx, group, q)
			if err != nil || !found {
				return nil
			}
			out[q.QueueID] = off
		}
		return out
	}
	var onB map[int]int64
	require.Eventually(t, func() bool {
		prev := offsets()
		time.Sleep(1500 * time.Millisecond)
		onB = offsets()
		return prev != nil && maps.Equal(prev, onB)
	}, 2*time.Minute, 100*time.Millisecond, "group offsets never set on B; log: %s", readFile(filepath.Join(dir, "worker.log")))
	w.Stop(t, 90*time.Second)

	// Resume on B from the translated offsets.
	r := b.NewReader("repl-e2e-failover")
	defer r.Close()
	seen := map[string]bool{}
	reread := map[int]int{}
	for _, q := range tq {
		_, hi, err := b.QueueOffsets(ctx, q)
		require.NoError(t, err)
		for off := onB[q.QueueID]; off < hi; {
			msgs, next, err := r.ReadBelow(ctx, q, off, hi, 32)
			require.NoError(t, err)
			for _, m := range msgs {
				idx := m.Properties["idx"]
				p := onA[idx]
				seen[idx] = true
				if p.offset < consumed[p.queue] {
					reread[p.queue]++
				}
			}
			off = next
		}
	}
	for idx, p := range onA {
		if p.offset >= consumed[p.queue] {
			require.True(t, seen[idx], "message %s (A queue %d offset %d) was not read after failing over", idx, p.queue, p.offset)
		}
	}
	for q, k := range reread {
		require.LessOrEqual(t, k, lagMax, "queue %d re-read %d messages", q, k)
	}
	t.Logf("consumed on A: %v; resumed on B at %v; re-read per source queue: %v", consumed, onB, reread)
}
