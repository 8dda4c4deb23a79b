package worker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/rmqconnect/rmqconnect/worker/internal/filestore"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// A connector's active topics (Kafka Connect's KIP-558): the topics its tasks have sent to or
// consumed since the connector was created or its topics were last reset. They are durable and
// cluster-wide: a standalone worker keeps them in <StoreDir>/connector-topics.json, a
// distributed one in the status topic (topic records, folded into statusState.Topics). A
// config update or a restart keeps them; deleting the connector (a new incarnation) or
// PUT /connectors/{name}/topics/reset clears them. A task records a topic when it starts
// sending to or consuming it, so after a reset a topic is listed again once a task next does.

// topicTask is the Task of a status record about a connector's topics (neither a task, >= 0,
// nor the connector's own state, -1).
const topicTask = -2

// topicSet is the fold of one connector's topic records.
type topicSet struct {
	// Inc is the connector incarnation the set belongs to; a record of a newer one replaces it.
	Inc   int64           `json:"inc"`
	Names map[string]bool `json:"names"`
	// Reset is the id of the last reset applied, so that its writer can wait for it.
	Reset string `json:"reset,omitempty"`
}

// applyTopics folds a topic record: Topic adds a topic, ResetTopics clears the set.
func (s *statusState) applyTopics(r statusRecord) error {
	if s.Topics == nil {
		s.Topics = map[string]topicSet{}
	}
	cur, ok := s.Topics[r.Connector]
	if ok && r.Inc < cur.Inc {
		return errStale
	}
	if !ok || r.Inc > cur.Inc {
		cur = topicSet{Inc: r.Inc}
	}
	names := maps.Clone(cur.Names)
	if names == nil {
		names = map[string]bool{}
	}
	if r.ResetTopics != "" {
		names, cur.Reset = map[string]bool{}, r.ResetTopics
	}
	if r.Topic != "" {
		names[r.Topic] = true
	}
	cur.Names = names
	s.Topics[r.Connector] = cur
	return nil
}

// topicKey is the status writer's pending key of a topic record: one per topic, so that no
// topic record replaces another (or a task's state) before it is written.
func topicKey(r statusRecord) taskKey {
	return taskKey{connector: r.Connector + "\x00" + r.Topic, task: topicTask}
}

// useTopic records that a task of the connector used topic: once per topic and runtime, in
// the status topic (distributed) or the standalone store.
func (rt *connRuntime) useTopic(topic string) {
	rt.mu.Lock()
	if rt.topics[topic] {
		rt.mu.Unlock()
		return
	}
	if rt.topics == nil {
		rt.topics = map[string]bool{}
	}
	rt.topics[topic] = true
	rt.mu.Unlock()
	rt.e.place.useTopic(rt, topic)
}

// forgetTopics clears what this runtime has recorded, so that the next use records again.
func (rt *connRuntime) forgetTopics() {
	rt.mu.Lock()
	rt.topics = nil
	rt.mu.Unlock()
}

// topicStore is a standalone worker's record of its connectors' active topics.
type topicStore struct {
	mu     sync.Mutex
	loaded bool
	m      map[string][]string // connector → sorted topics
}

func topicStorePath(dir string) string { return filepath.Join(dir, "connector-topics.json") }

func (s *topicStore) loadLocked(dir string) error {
	if s.loaded {
		return nil
	}
	m := map[string][]string{}
	if err := filestore.Read(topicStorePath(dir), &m); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("connector topics store: %w", err)
	}
	s.m, s.loaded = m, true
	return nil
}

func (s *topicStore) add(dir, name, topic string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadLocked(dir); err != nil {
		return err
	}
	if slices.Contains(s.m[name], topic) {
		return nil
	}
	s.m[name] = append(slices.Clone(s.m[name]), topic)
	slices.Sort(s.m[name])
	return filestore.Write(topicStorePath(dir), s.m)
}

func (s *topicStore) list(dir, name string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadLocked(dir); err != nil {
		return nil, err
	}
	return append([]string{}, s.m[name]...), nil
}

func (s *topicStore) forget(dir, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadLocked(dir); err != nil {
		return err
	}
	if _, ok := s.m[name]; !ok {
		return nil
	}
	delete(s.m, name)
	return filestore.Write(topicStorePath(dir), s.m)
}

// ConnectorTopics lists the topics the connector's tasks have used since it was created or its
// topics were reset (KIP-558), sorted.
func (h *Standalone) ConnectorTopics(_ context.Context, name string) ([]string, error) {
	if _, err := h.runtime(name); err != nil {
		return nil, err
	}
	return h.usedTopics.list(h.cfg.StoreDir, name)
}

// ResetConnectorTopics clears the connector's active topics.
func (h *Standalone) ResetConnectorTopics(_ context.Context, name string) error {
	rt, err := h.runtime(name)
	if err != nil {
		return err
	}
	if err := h.usedTopics.forget(h.cfg.StoreDir, name); err != nil {
		return err
	}
	rt.forgetTopics()
	return nil
}

// ConnectorTopics lists the connector's active topics as the status topic records them, for
// the whole cluster.
func (d *Distributed) ConnectorTopics(_ context.Context, name string) ([]string, error) {
	c, err := d.connector(name)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	ts, ok := d.status.Topics[name]
	if !ok || ts.Inc != c.Inc {
		return []string{}, nil
	}
	out := slices.Sorted(maps.Keys(ts.Names))
	if out == nil {
		out = []string{} // after a reset: an empty list, never JSON null
	}
	return out, nil
}

// ResetConnectorTopics writes a reset record to the status topic and returns once this worker
// has applied it; every worker forgets what its runtimes recorded as it applies the record.
func (d *Distributed) ResetConnectorTopics(ctx context.Context, name string) error {
	if err := d.ready(); err != nil {
		return err
	}
	c, err := d.connector(name)
	if err != nil {
		return err
	}
	id := d.proc + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	r := statusRecord{Connector: name, Task: topicTask, Inc: c.Inc, Worker: d.cfg.WorkerID, ResetTopics: id}
	if err := d.writeStatus(r, deadline(ctx)); err != nil {
		return fmt.Errorf("reset topics of %s: %w", name, err)
	}
	for {
		d.mu.Lock()
		ts := d.status.Topics[name]
		done, moved := ts.Reset == id || ts.Inc > c.Inc, d.statusMoved
		deleted := d.status.Purged[name] >= c.Inc // the fold refuses the reset of a purged incarnation
		d.mu.Unlock()
		if done {
			return nil
		}
		if deleted {
			return fmt.Errorf("connector %s: %w (deleted while its topics were reset)", name, restapi.ErrNotFound)
		}
		select {
		case <-ctx.Done():
			return nil // the reset is durable; this worker applies it shortly
		case <-moved:
		}
	}
}

// deadline is ctx's deadline, or the zero time.
func deadline(ctx context.Context) time.Time {
	t, _ := ctx.Deadline()
	return t
}
