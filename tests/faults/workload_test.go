package faults

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/generator"
	"github.com/rmqconnect/rmqconnect/tests/clustertest"
)

// The workload: pipelines of a generator-source (srcTasks tasks, rate records/s in all, keys
// distinct keys, records of recordSize bytes) → a topic of 4 queues → a file-sink, both with
// per-key ordering. A record's value is "<task>/<seq>;" and letters that follow from (task,
// seq), its key "key-<seq mod keys>": a sink file says which records arrived, how often and in
// which order, and whether any arrived torn.
const (
	srcTasks   = 2
	rate       = 40
	keys       = 8
	recordSize = 40
	restPort   = 18082
)

// cluster is a clustertest.Cluster whose worker "worker-N" runs in network namespace slot N.
type cluster struct {
	*clustertest.Cluster
	t     *testing.T
	pipes []*pipe
	// retried is how long finish's first store write answered 503 (the store cannot be
	// written now; retry) before it was taken.
	retried time.Duration
}

func slotOf(id string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(id, "worker-"))
	return n
}

// newCluster starts n workers, worker-1 … worker-n, each in its own namespace.
func newCluster(t *testing.T, n int) *cluster {
	t.Helper()
	return newClusterWith(t, n, nil)
}

// newClusterWith is newCluster that calls before, if set, before starting the workers.
func newClusterWith(t *testing.T, n int, before func(*cluster)) *cluster {
	t.Helper()
	require.LessOrEqual(t, n, slots)
	id := clustertest.SafeName(t.Name()) + fmt.Sprintf("-%x", time.Now().UnixNano()&0xffffff)
	dir := t.TempDir()
	c := &cluster{Cluster: clustertest.New(t, binary, dir, id, namesrv), t: t}
	c.Place = func(id string) ([]string, string) {
		return []string{"ip", "netns", "exec", nsName(slotOf(id))}, nsAddr(slotOf(id))
	}
	t.Cleanup(func() {
		if !t.Failed() && os.Getenv("FAULTS_KEEP_LOGS") == "" {
			return
		}
		keep := filepath.Join(os.TempDir(), "rmqconnect-faults-failed", clustertest.SafeName(t.Name()))
		_ = os.MkdirAll(keep, 0o755)
		logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
		for _, l := range logs {
			if b, err := os.ReadFile(l); err == nil {
				_ = os.WriteFile(filepath.Join(keep, filepath.Base(l)), b, 0o644)
			}
		}
		t.Logf("worker logs kept in %s", keep)
	})
	if before != nil {
		before(c)
	}
	for i := 1; i <= n; i++ {
		c.Ports[workerID(i)] = restPort
		c.Start(workerID(i))
	}
	return c
}

func workerID(i int) string { return fmt.Sprintf("worker-%d", i) }

// any returns a running worker other than those excluded.
func (c *cluster) observer(exclude ...string) *clustertest.Proc {
	for _, id := range c.IDs() {
		if !slices.Contains(exclude, id) {
			return c.Workers[id]
		}
	}
	c.t.Fatal("no worker left to ask")
	return nil
}

// pipe is one generator-source → topic → file-sink pipeline.
type pipe struct {
	name, topic, out string
}

func (p *pipe) names() []string { return []string{p.name + "-src", p.name + "-sink"} }

// unitsPerPipe: the source connector and its tasks, the sink connector and its one task.
const unitsPerPipe = 1 + srcTasks + 1 + 1

// addPipes creates n pipelines through a worker; outDir (default: the cluster's directory)
// holds the sink files.
func (c *cluster) addPipes(n int, outDir string) {
	t := c.t
	t.Helper()
	if outDir == "" {
		outDir = c.Dir
	}
	w := c.observer()
	for range n {
		p := &pipe{name: fmt.Sprintf("p%d", len(c.pipes)+1)}
		p.topic = c.ID + "-" + p.name
		p.out = filepath.Join(outDir, p.name+".out")
		create(t, w, p.name+"-src", map[string]string{"connector.class": generator.SourceName, "connect.topicname": p.topic,
			"max.tasks": fmt.Sprint(srcTasks), "rate": fmt.Sprint(rate), "keys": fmt.Sprint(keys),
			"record.size": fmt.Sprint(recordSize), "batch.size": "50", "ordering.msg.enable": "true",
			"key.converter": "string", "value.converter": "bytearray"})
		create(t, w, p.name+"-sink", map[string]string{"connector.class": "file-sink", "filename": p.out,
			"connect.topicnames": p.topic, "ordering.msg.enable": "true", "key.converter": "string",
			"value.converter": "bytearray", "task.group.id": c.ID + "-" + p.name})
		c.pipes = append(c.pipes, p)
	}
	c.waitRunning(2 * time.Minute)
}

func create(t *testing.T, w *clustertest.Proc, name string, cfg map[string]string) {
	t.Helper()
	var out map[string]any
	code := w.Call(t, "POST", "/connectors", map[string]any{"name": name, "config": cfg}, &out)
	require.Equal(t, http.StatusCreated, code, "%v", out)
}

func (c *cluster) names() []string {
	var out []string
	for _, p := range c.pipes {
		out = append(out, p.names()...)
	}
	return out
}

func (c *cluster) units() int { return len(c.pipes) * unitsPerPipe }

// waitRunning waits until every unit is RUNNING on a running worker, as one of them sees it.
func (c *cluster) waitRunning(limit time.Duration, exclude ...string) {
	c.t.Helper()
	require.Eventually(c.t, func() bool { return c.running(exclude...) }, limit, 50*time.Millisecond,
		"units not all RUNNING: %v", clustertest.States(c.observer(exclude...), c.names()...))
}

// running reports whether every unit is RUNNING on a running worker not excluded, as the
// first such worker reports it.
func (c *cluster) running(exclude ...string) bool {
	var live []string
	for _, id := range c.IDs() {
		if !slices.Contains(exclude, id) {
			live = append(live, id)
		}
	}
	if len(live) == 0 {
		return false
	}
	return clustertest.AllRunning(clustertest.States(c.Workers[live[0]], c.names()...), c.units(), live)
}

// unitsOn lists the units a worker runs, as another worker sees them.
func (c *cluster) unitsOn(id string) []string {
	var out []string
	for _, s := range clustertest.States(c.observer(id), c.names()...) {
		if s.Worker == id {
			out = append(out, s.Unit.String())
		}
	}
	return out
}

// monitor watches, every 200 ms, which units are RUNNING on a worker the test has not
// impaired (killed, stopped, cut off), and how long each sink file went without growing.
type monitor struct {
	c *cluster

	mu       sync.Mutex
	impaired map[string]bool
	down     map[string]downSince // unit → when it was first seen unavailable, and how
	maxDown  time.Duration
	maxUnit  string // the unit down longest, and how it was seen first
	polls    int
}

type downSince struct {
	at  time.Time
	how string // "FAILED on worker-2", "RUNNING on worker-1 (impaired)", ...
}

func (c *cluster) watch(t *testing.T) *monitor {
	m := &monitor{c: c, impaired: map[string]bool{}, down: map[string]downSince{}}
	ctx, cancel := context.WithCancel(context.Background())
	var g errgroup.Group
	g.Go(func() error { m.loop(ctx); return nil })
	t.Cleanup(func() { cancel(); _ = g.Wait() })
	return m
}

// impair marks a worker as not serving (or serving again): units it holds count as down.
func (m *monitor) impair(id string, on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.impaired[id] = on
}

func (m *monitor) loop(ctx context.Context) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		m.poll()
	}
}

func (m *monitor) poll() {
	m.mu.Lock()
	var live []string
	for _, id := range m.c.IDs() {
		if !m.impaired[id] {
			live = append(live, id)
		}
	}
	m.mu.Unlock()
	if len(live) == 0 {
		return
	}
	states := clustertest.States(m.c.Workers[live[0]], m.c.names()...)
	if len(states) != m.c.units() {
		return // the observer could not answer for every connector: no evidence either way
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.polls++
	for _, s := range states {
		u := s.Unit.String()
		if s.State == "RUNNING" && slices.Contains(live, s.Worker) {
			if since, ok := m.down[u]; ok {
				m.note(u, since.how, now.Sub(since.at))
				delete(m.down, u)
			}
			continue
		}
		if _, ok := m.down[u]; !ok {
			how := s.State + " on " + s.Worker
			if !slices.Contains(live, s.Worker) {
				how += " (impaired)"
			}
			m.down[u] = downSince{now, how}
		}
	}
}

func (m *monitor) note(u, how string, d time.Duration) {
	if d > m.maxDown {
		m.maxDown, m.maxUnit = d, u+": "+how
	}
}

// longest returns the longest time a unit was seen unavailable (units still down count up to now).
func (m *monitor) longest() (time.Duration, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for u, since := range m.down {
		m.note(u, since.how+", still", time.Since(since.at))
	}
	return m.maxDown, m.maxUnit
}

// tally is what the sink files hold, against what the sources sent.
type tally struct {
	Sent, Lost, Dup, Reordered, Corrupt int64
}

func (a *tally) add(b tally) {
	a.Sent += b.Sent
	a.Lost += b.Lost
	a.Dup += b.Dup
	a.Reordered += b.Reordered
	a.Corrupt += b.Corrupt
}

// finish stops every source (which commits its positions), waits until the sinks hold every
// record up to the committed positions (at most limit), and counts.
func (c *cluster) finish(limit time.Duration) tally {
	t := c.t
	t.Helper()
	w := c.observer()
	for _, p := range c.pipes {
		// 503 is the API's "retry": the worker cannot write the store topics now (after a
		// partition, its connections to the broker may still be stalled). A client retries.
		began := time.Now()
		for {
			code := w.Call(t, "PUT", "/connectors/"+p.name+"-src/stop", nil, nil)
			if code != http.StatusServiceUnavailable || time.Since(began) > 2*time.Minute {
				require.Equal(t, http.StatusNoContent, code)
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		c.retried += time.Since(began).Truncate(500 * time.Millisecond)
	}
	committed := map[string][]int64{}
	require.Eventually(t, func() bool {
		for _, p := range c.pipes {
			var st struct{ Connector struct{ State string } }
			if w.Call(t, "GET", "/connectors/"+p.name+"-src/status", nil, &st) != http.StatusOK || st.Connector.State != "STOPPED" {
				return false
			}
		}
		return true
	}, time.Minute, 100*time.Millisecond, "sources did not stop")
	for _, p := range c.pipes {
		var offs struct {
			Offsets []struct {
				Partition map[string]any
				Offset    map[string]any
			}
		}
		require.Equal(t, http.StatusOK, w.Call(t, "GET", "/connectors/"+p.name+"-src/offsets", nil, &offs))
		seqs := make([]int64, srcTasks)
		for i := range seqs {
			seqs[i] = -1
		}
		for _, o := range offs.Offsets {
			task, _ := o.Partition[generator.PartitionTask].(float64)
			seq, _ := o.Offset[generator.OffsetSeq].(float64)
			seqs[int(task)] = int64(seq)
		}
		committed[p.name] = seqs
	}
	var got tally
	deadline := time.Now().Add(limit)
	for _, p := range c.pipes {
		for {
			r := verify(t, p.out, committed[p.name])
			if r.Lost == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	time.Sleep(2 * time.Second) // a replayed tail may still land
	for _, p := range c.pipes {
		r := verify(t, p.out, committed[p.name])
		t.Logf("%s: sent %d, lost %d, duplicated %d, out of order %d, corrupt %d", p.name, r.Sent, r.Lost, r.Dup, r.Reordered, r.Corrupt)
		got.add(r)
	}
	return got
}

// verify reads a sink file: every record of task i up to committed[i] (and any later one
// that arrived) counts as sent; each one missing is lost, each extra copy duplicated, each
// first appearance before that of an earlier record of the same task and key out of order,
// each line that is not a record the generator makes corrupt.
func verify(t *testing.T, path string, committed []int64) tally {
	t.Helper()
	var r tally
	seen := make([]map[int64]bool, srcTasks)
	last := map[[2]int64]int64{} // (task, key) → seq of the latest first appearance
	for i := range seen {
		seen[i] = map[int64]bool{}
	}
	top := slices.Clone(committed)
	f, err := os.Open(path)
	if err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			var task int
			var seq int64
			head, _, ok := bytes.Cut(line, []byte(";"))
			if ok {
				_, err = fmt.Sscanf(string(head), "%d/%d", &task, &seq)
			}
			if !ok || err != nil || task < 0 || task >= srcTasks || !bytes.Equal(line, generator.Value(task, seq, recordSize)) {
				r.Corrupt++
				continue
			}
			if seen[task][seq] {
				r.Dup++
				continue
			}
			seen[task][seq] = true
			k := [2]int64{int64(task), seq % keys}
			if prev, ok := last[k]; ok && seq < prev {
				r.Reordered++
			} else {
				last[k] = seq
			}
			top[task] = max(top[task], seq)
		}
		require.NoError(t, sc.Err())
	} else {
		require.ErrorIs(t, err, os.ErrNotExist)
	}
	for i := range srcTasks {
		r.Sent += top[i] + 1
		r.Lost += top[i] + 1 - int64(len(seen[i]))
	}
	return r
}
