package worker

import (
	"context"
	"fmt"

	"github.com/rmqconnect/rmqconnect/plugins"
)

// placement is what the engine asks of the herder that owns it: where the task configs a
// connector computes go, whether this worker may run a task now, where a task run's
// positions and status go. Which connectors and tasks run here the herder says through
// the runtimes themselves (install and apply; syncDistributed in a cluster).
type placement interface {
	// publishTasks takes the task configs the connector rt computed. Standalone: they are
	// rt's tasks at once. Distributed: they are stored for rt's epoch and come back to
	// every worker through the config topic.
	publishTasks(rt *connRuntime, cfgs []map[string]string) error
	// taskConnector is the connector instance that makes rt's tasks.
	taskConnector(rt *connRuntime) (plugins.Connector, error)
	// claim blocks until this worker holds task id of rt (its claim generation, 0 when
	// nothing is claimed, is in force) or ctx ends.
	claim(ctx context.Context, rt *connRuntime, id int) (gen int64, err error)
	// holds reports whether this worker's claim gen of the task is still in force.
	holds(rt *connRuntime, id int, gen int64) bool
	// taskStores are the position store of one task run under claim gen, and the fence it
	// checks before acting (nil: none).
	taskStores(rt *connRuntime, gen int64) (PositionStore, func() error)
	// report writes a status record (asynchronously, in order).
	report(r statusRecord)
	// linger keeps task id of connector name claimed while an abandoned run of it has not
	// returned (done): this worker claims it for no other run meanwhile, and once done is
	// closed writes release when it is not nil.
	linger(name string, id int, done <-chan struct{}, release *statusRecord)
	// useTopic records that a task of rt used topic (KIP-558 active topics).
	useTopic(rt *connRuntime, topic string)
}

// localPlacement is a standalone worker's: everything runs here, task configs stay in the
// runtime, positions and active topics are files of StoreDir.
type localPlacement struct {
	positions PositionStore
	topics    *topicStore
	dir       string
}

func (localPlacement) publishTasks(rt *connRuntime, cfgs []map[string]string) error {
	rt.adoptTasks(cfgs)
	return nil
}

func (localPlacement) taskConnector(rt *connRuntime) (plugins.Connector, error) {
	rt.mu.Lock()
	conn := rt.conn
	rt.mu.Unlock()
	if conn == nil {
		return nil, fmt.Errorf("connector is not running")
	}
	return conn, nil
}

func (localPlacement) claim(context.Context, *connRuntime, int) (int64, error) { return 0, nil }
func (localPlacement) holds(*connRuntime, int, int64) bool                     { return true }

func (p localPlacement) taskStores(*connRuntime, int64) (PositionStore, func() error) {
	return p.positions, nil
}

func (localPlacement) report(statusRecord)                                {}
func (localPlacement) linger(string, int, <-chan struct{}, *statusRecord) {}

func (p localPlacement) useTopic(rt *connRuntime, topic string) {
	if err := p.topics.add(p.dir, rt.name, topic); err != nil {
		rt.log.Warn("connector topic not recorded", "topic", topic, "err", err)
	}
}

// clusterPlacement is a cluster member's: the assignment says what runs here, task
// configs go through the config topic, claims, status and positions through the status and
// position topics.
type clusterPlacement struct{ d *Distributed }

func (p clusterPlacement) publishTasks(rt *connRuntime, cfgs []map[string]string) error {
	return p.d.publishTasks(rt.name, rt.epoch, cfgs)
}

// taskConnector is a fresh, unstarted instance: the connector may run on another worker.
func (p clusterPlacement) taskConnector(rt *connRuntime) (plugins.Connector, error) {
	return rt.e.registry.New(rt.st.class)
}

func (p clusterPlacement) claim(ctx context.Context, rt *connRuntime, id int) (int64, error) {
	return p.d.claim(ctx, rt, id)
}

func (p clusterPlacement) holds(rt *connRuntime, id int, gen int64) bool {
	return p.d.holds(rt, id, gen)
}

func (p clusterPlacement) taskStores(rt *connRuntime, gen int64) (PositionStore, func() error) {
	return clusterPositions{d: p.d, inc: rt.inc, gen: gen}, p.d.fence
}

func (p clusterPlacement) report(r statusRecord) { p.d.report(r) }

func (p clusterPlacement) linger(name string, id int, done <-chan struct{}, release *statusRecord) {
	p.d.linger(name, id, done, release)
}

func (p clusterPlacement) useTopic(rt *connRuntime, topic string) {
	rt.mu.Lock()
	inc := rt.inc
	rt.mu.Unlock()
	p.d.report(statusRecord{Connector: rt.name, Task: topicTask, Inc: inc, Worker: rt.e.cfg.WorkerID, Topic: topic})
}
