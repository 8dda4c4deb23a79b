package worker

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// The store topics' records and the state every worker folds from them. The folds are
// pure: the same records in the same order give the same state on every worker, and a
// record that loses a race (a stale epoch, an older generation) changes nothing.

// errStale: a store record was written against an older state than the one in force.
var errStale = errors.New("stale update")

// Config topic record types.
const (
	recConnector   = "connector"    // create or replace a connector's config
	recTarget      = "target"       // change a connector's target state
	recDelete      = "delete"       // remove a connector
	recTasks       = "tasks"        // the task configs the connector's owner computed
	recRestart     = "restart"      // restart a connector (and tasks, per the flags)
	recRestartTask = "restart-task" // restart one task
	recSnapshot    = "snapshot"     // the whole fold (for readers whose start was deleted)
	recReplay      = "dlq-replay"   // a DLQ record's replay taken (Replay.MsgID empty), done, or given up (Abandon)
	recReplayFloor = "dlq-floor"    // the replay records of DLQ records the broker deleted go (Floors)
)

// snapshotHeader is what every store topic's snapshot record carries besides the fold: the
// offset up to which the fold covers the topic and when it was taken.
type snapshotHeader struct {
	Through int64     `json:"through,omitempty"`
	At      time.Time `json:"at,omitzero"`
}

// configRecord is one record of the config topic.
type configRecord struct {
	// Cluster is the connectClusterId of the writer: a worker ignores the records of
	// other clusters that share the topic (see foreign).
	Cluster string              `json:"cluster,omitempty"`
	Type    string              `json:"type"`
	Name    string              `json:"name"`
	Config  map[string]string   `json:"config,omitempty"`
	Target  restapi.TargetState `json:"target,omitempty"`
	// Base is the epoch a connector record replaces; 0 creates (and fails when the connector exists).
	Base int64 `json:"base,omitempty"`
	// Inc names the incarnation a target, delete or restart record is meant for.
	Inc int64 `json:"inc,omitempty"`
	// Epoch is the connector epoch a tasks record was computed from.
	Epoch        int64               `json:"epoch,omitempty"`
	Tasks        []map[string]string `json:"tasks,omitempty"`
	Task         int                 `json:"task,omitempty"`
	IncludeTasks bool                `json:"include_tasks,omitempty"`
	OnlyFailed   bool                `json:"only_failed,omitempty"`
	Worker       string              `json:"worker,omitempty"` // the writer, for diagnostics
	ReplayID     string              `json:"replay_id,omitempty"`
	Replay       *restapi.ReplayInfo `json:"replay,omitempty"`
	Force        bool                `json:"force,omitempty"`
	Abandon      bool                `json:"abandon,omitempty"`
	Level        string              `json:"level,omitempty"` // a log-level record's level (loglevels.go)
	Snapshot     *configState        `json:"snapshot,omitempty"`
	snapshotHeader

	// Taker is the member id of the process taking a replay, or giving up its own take;
	// Takeover, the take a begin replaces (see clusterReplays.begin).
	Taker    string      `json:"taker,omitempty"`
	Takeover *replayTake `json:"takeover,omitempty"`
	// Stored is the store time of a replay record's DLQ message, Prev that of the message
	// before it when a done replay's fold needs it (replayRef); Floors, a recReplayFloor's
	// floors.
	Stored int64         `json:"stored,omitempty"`
	Prev   int64         `json:"prev,omitempty"`
	Floors *replayFloors `json:"replay_floors,omitempty"`
	// Req identifies the write (its writer's process and a count): the producer retries a
	// send the broker did not answer in time, which the broker may have stored all the same,
	// so one write can be in the topic twice, with other records in between (configState.Reqs).
	Req string `json:"req,omitempty"`
}

// clusterConnector is a connector as the config topic defines it.
type clusterConnector struct {
	Config map[string]string   `json:"config"`
	Target restapi.TargetState `json:"target"`
	// Epoch is offset+1 of the connector record in force; Inc is offset+1 of the record
	// that created this incarnation (a re-created connector gets a new one).
	Epoch int64 `json:"epoch"`
	Inc   int64 `json:"inc"`
	// Tasks are the task configs published for Epoch (nil: none yet); TasksVersion is
	// offset+1 of the tasks record, so republished configs are told apart.
	Tasks        []map[string]string `json:"tasks"`
	TasksVersion int64               `json:"tasks_version"`
	// Replays are the DLQ records being replayed (no MsgID yet, At when taken), by
	// replayKey, and those replayed as earlier releases kept them; Takers names the taker of
	// each being replayed; Replayed are the records replayed (see clusterReplays).
	Replays  map[string]restapi.ReplayInfo `json:"replays,omitempty"`
	Takers   map[string]string             `json:"replay_takers,omitempty"`
	Replayed *dlqReplays                   `json:"replayed,omitempty"`
}

// configState is the fold of the config topic.
type configState struct {
	Connectors map[string]*clusterConnector `json:"connectors"`
	// Reqs are the request ids (configRecord.Req) of the records applied within the last
	// reqWindow offsets, with their offsets. A copy of one (a retried send) changes nothing
	// and answers its writer as the record did: applied again it could bring back a
	// connector deleted in between, restart one twice, or tell its writer that its create
	// already existed, its update conflicted or its delete found nothing. Part of the fold,
	// so that a reader starting from a snapshot or a cache skips the same copies.
	Reqs map[string]int64 `json:"reqs,omitempty"`
}

// reqWindow is how many offsets after a record a copy of it is recognised: a copy is stored
// while its writer's send is retried, within the write's timeout (seconds), during which
// the config topic gets far fewer records than this. The fold keeps at most twice as many
// request ids (prunes them in batches).
const reqWindow = 4096

// errCopy: a config record is a copy of one applied at most reqWindow offsets before (the
// same request id); it changes nothing. configState.apply returns it for applyConfig, which
// answers its writer nil (a copy of a record that failed is folded as the record was, and
// fails alike or is its writer's intent applied once).
var errCopy = errors.New("copy of an applied config record")

func newConfigState() *configState { return &configState{Connectors: map[string]*clusterConnector{}} }

// apply folds the record at off. A record that changes nothing because it lost a race
// returns an error wrapping errStale (for its writer to learn); malformed records are
// errors too and are otherwise ignored. A copy of a record applied within reqWindow offsets
// returns errCopy and changes nothing.
func (s *configState) apply(off int64, r configRecord) error {
	if r.Req == "" {
		return s.applyRecord(off, r)
	}
	if at, ok := s.Reqs[r.Req]; ok && at < off && off-at <= reqWindow {
		return errCopy
	}
	err := s.applyRecord(off, r)
	if err != nil {
		return err
	}
	if s.Reqs == nil {
		s.Reqs = map[string]int64{}
	}
	s.Reqs[r.Req] = off
	if len(s.Reqs) > 2*reqWindow {
		maps.DeleteFunc(s.Reqs, func(_ string, at int64) bool { return off-at > reqWindow })
	}
	return nil
}

func (s *configState) applyRecord(off int64, r configRecord) error {
	c := s.Connectors[r.Name]
	switch r.Type {
	case recConnector:
		if c == nil {
			if r.Base != 0 {
				return fmt.Errorf("connector %s: %w: it was deleted", r.Name, errStale)
			}
			target := r.Target
			if target == "" {
				target = restapi.TargetStarted
			}
			s.Connectors[r.Name] = &clusterConnector{Config: r.Config, Target: target, Epoch: off + 1, Inc: off + 1}
			return nil
		}
		if r.Base == 0 {
			return fmt.Errorf("connector %s: %w", r.Name, restapi.ErrAlreadyExists)
		}
		if r.Base != c.Epoch {
			return fmt.Errorf("connector %s: %w: changed concurrently (epoch %d, update based on %d)", r.Name, errStale, c.Epoch, r.Base)
		}
		c.keepReplaysOf(r.Config)
		c.Config, c.Epoch, c.Tasks, c.TasksVersion = r.Config, off+1, nil, 0
		if r.Target != "" {
			c.Target = r.Target
		}
		return nil
	case recTarget:
		if c == nil || c.Inc != r.Inc {
			return fmt.Errorf("connector %s: %w", r.Name, restapi.ErrNotFound)
		}
		c.Target = r.Target
		if r.Target == restapi.TargetStopped {
			c.Tasks, c.TasksVersion = nil, 0
		}
		return nil
	case recDelete:
		if c == nil || c.Inc != r.Inc {
			return fmt.Errorf("connector %s: %w", r.Name, restapi.ErrNotFound)
		}
		delete(s.Connectors, r.Name)
		return nil
	case recTasks:
		if c == nil || c.Epoch != r.Epoch {
			return fmt.Errorf("tasks of %s: %w: computed for epoch %d", r.Name, errStale, r.Epoch)
		}
		if c.Target == restapi.TargetStopped {
			return fmt.Errorf("tasks of %s: %w: the connector is stopped", r.Name, errStale)
		}
		if c.TasksVersion != 0 && reflect.DeepEqual(c.Tasks, r.Tasks) {
			return nil // republished unchanged: keep the running tasks
		}
		c.Tasks, c.TasksVersion = r.Tasks, off+1
		if c.Tasks == nil {
			c.Tasks = []map[string]string{}
		}
		return nil
	case recLogLevel:
		return nil // no fold: applied by Distributed.applyLogLevel
	case recSnapshot:
		return nil // only a reader that lost the topic's start uses it (storeLog.rebase)
	case recReplay:
		if c == nil || c.Inc != r.Inc || r.Replay == nil {
			return fmt.Errorf("connector %s: %w", r.Name, restapi.ErrNotFound)
		}
		return c.foldReplay(r)
	case recReplayFloor:
		if c == nil || c.Inc != r.Inc || r.Floors == nil {
			return fmt.Errorf("connector %s: %w", r.Name, restapi.ErrNotFound)
		}
		c.foldReplayFloors(*r.Floors)
		return nil
	case recRestart, recRestartTask:
		if c == nil || c.Inc != r.Inc {
			return fmt.Errorf("connector %s: %w", r.Name, restapi.ErrNotFound)
		}
		return nil
	}
	return fmt.Errorf("config record of unknown type %q", r.Type)
}

// keepReplaysOf drops, when a connector's config is replaced by cfg, the replay records of
// a DLQ topic that is no longer the connector's: no record of it is looked up any more.
func (c *clusterConnector) keepReplaysOf(cfg map[string]string) {
	const key = "errors.deadletterqueue.topic.name"
	topic := strings.TrimSpace(cfg[key])
	if topic == strings.TrimSpace(c.Config[key]) {
		return
	}
	drop := func(k string) bool { return !strings.HasPrefix(k, topic+"/") }
	maps.DeleteFunc(c.Replays, func(k string, _ restapi.ReplayInfo) bool { return drop(k) })
	maps.DeleteFunc(c.Takers, func(k, _ string) bool { return drop(k) })
	c.Replayed = nil
}

// statusRecord is one record of the status topic: the state of a connector (Task == -1)
// or a task, as reported by the worker running it. For tasks, Gen is the claim: a worker
// starts a task only after its record with a generation above every earlier one of the
// connector is the one in force.
type statusRecord struct {
	Cluster   string        `json:"cluster,omitempty"` // the writer's connectClusterId
	Connector string        `json:"connector"`
	Task      int           `json:"task"`
	Inc       int64         `json:"inc"`
	State     restapi.State `json:"state"`
	Trace     string        `json:"trace,omitempty"`
	Worker    string        `json:"worker"`
	// Proc is the incarnation (process) of Worker that wrote the record.
	Proc string `json:"proc,omitempty"`
	Gen  int64  `json:"gen"`
	// Claim marks the record a worker writes to take a task (before starting it); a claim
	// that loses the race changes nothing, and its writer does not start the task.
	Claim bool `json:"claim,omitempty"`
	// Prev is, on a claim, the generation of the task's record its writer saw in force (0:
	// none): a claim applies only if that is still so (compare and set), so two workers
	// with different views cannot both take a task.
	Prev int64 `json:"prev,omitempty"`
	// Ver is, on a task's claim and the records of its run, the version of the task
	// configs it runs (clusterConnector.TasksVersion; 0: not recorded, as by earlier
	// releases). The folds do not read it: a claimer waits while tasks of other configs
	// are held (Distributed.otherConfigsHeldLocked, settleClaim).
	Ver int64 `json:"tasks_ver,omitempty"`
	// Topic (with Task == topicTask) records that the connector used a topic; ResetTopics
	// (the reset's id) clears the connector's topics (topics.go).
	Topic       string `json:"topic,omitempty"`
	ResetTopics string `json:"reset_topics,omitempty"`
	// Purge, written after a connector's delete (with Task == topicTask and Inc the deleted
	// incarnation), purges the connector's records of that incarnation and older ones
	// (statusState.purge). Its Task makes it, to a worker of a release without purges, a
	// topic record of a deleted incarnation that adds no topic: it changes nothing that
	// worker reads.
	Purge bool `json:"purge,omitempty"`
	// Snapshot, when set, makes this a snapshot record (see snapshotHeader).
	Snapshot *statusState `json:"snapshot,omitempty"`
	snapshotHeader
}

// statusState is the fold of the status topic.
type statusState struct {
	// Connectors keeps each worker's last report per connector: a connector unit can move
	// (and two workers can briefly both think they own it), so the state shown is the
	// report of the worker that owns the unit now.
	Connectors map[string]map[string]statusRecord `json:"connectors"`
	Tasks      map[string]map[int]statusRecord    `json:"tasks"`
	// MaxGen is the highest task generation seen per connector name (kept across
	// deletes, so generations only grow).
	MaxGen map[string]int64 `json:"max_gen"`
	// Topics is each connector's active topics (topics.go).
	Topics map[string]topicSet `json:"topics,omitempty"`
	// Purged is the newest purged incarnation per connector name (see purge).
	Purged map[string]int64 `json:"purged,omitempty"`
}

func newStatusState() *statusState {
	return &statusState{Connectors: map[string]map[string]statusRecord{}, Tasks: map[string]map[int]statusRecord{}, MaxGen: map[string]int64{}}
}

// apply folds one status record. For a task: a lower generation than the one in force is
// stale; the same generation from another worker lost the claim race; anything else
// wins. Connector records are kept per reporting worker, the newest incarnation's only.
// Records of a purged incarnation are folded as purge says.
func (s *statusState) apply(r statusRecord) error {
	if r.Snapshot != nil {
		return nil
	}
	if r.Purge {
		s.purge(r.Connector, r.Inc)
		return nil
	}
	mark, marked := s.Purged[r.Connector]
	purged := marked && r.Inc <= mark
	if purged && r.Task < 0 {
		return fmt.Errorf("connector %s: %w: incarnation %d was purged", r.Connector, errStale, r.Inc)
	}
	if r.Task == topicTask {
		return s.applyTopics(r)
	}
	if r.Task < 0 {
		byWorker := s.Connectors[r.Connector]
		if byWorker == nil {
			byWorker = map[string]statusRecord{}
			s.Connectors[r.Connector] = byWorker
		}
		if cur, ok := byWorker[r.Worker]; ok && r.Inc < cur.Inc {
			return errStale
		}
		for w, cur := range byWorker {
			if cur.Inc < r.Inc {
				delete(byWorker, w) // reports about an older incarnation
			}
		}
		byWorker[r.Worker] = r
		return nil
	}
	ts := s.Tasks[r.Connector]
	if ts == nil {
		ts = map[int]statusRecord{}
		s.Tasks[r.Connector] = ts
	}
	cur, ok := ts[r.Task]
	if r.Claim {
		var inForce int64
		if ok {
			inForce = cur.Gen
		}
		if r.Prev != inForce || r.Gen <= inForce {
			return fmt.Errorf("task %s-%d: %w: claim by %s based on generation %d, in force %d",
				r.Connector, r.Task, errStale, r.Worker, r.Prev, inForce)
		}
	}
	if ok {
		if r.Inc < cur.Inc || r.Gen < cur.Gen || (r.Gen == cur.Gen && (r.Worker != cur.Worker || r.Proc != cur.Proc)) {
			return fmt.Errorf("task %s-%d: %w: generation %d of %s, in force %d of %s",
				r.Connector, r.Task, errStale, r.Gen, r.Worker, cur.Gen, cur.Worker)
		}
	}
	if purged {
		r = r.stripped()
	}
	ts[r.Task] = r
	s.MaxGen[r.Connector] = max(s.MaxGen[r.Connector], r.Gen)
	return nil
}

// purge folds the purge of connector name's incarnation inc, which was deleted. Its
// connector and topic records, and those of older incarnations, go, and such records
// arriving later are stale: they are read only for the incarnation in force (status,
// placement in force, active topics). Its task records stay, and so do those arriving
// later, stripped (statusRecord.stripped) of what no decision reads: each is judged, and
// judges the claims after it, as in a fold that did not apply the purge (a worker of a
// release without purges, or one that adopted a cache or snapshot from before it), so that
// both agree on which claim is in force.
func (s *statusState) purge(name string, inc int64) {
	if s.Purged == nil {
		s.Purged = map[string]int64{}
	}
	mark := max(s.Purged[name], inc)
	s.Purged[name] = mark
	maps.DeleteFunc(s.Connectors[name], func(_ string, r statusRecord) bool { return r.Inc <= mark })
	if len(s.Connectors[name]) == 0 {
		delete(s.Connectors, name)
	}
	if t, ok := s.Topics[name]; ok && t.Inc <= mark {
		delete(s.Topics, name)
	}
	for id, r := range s.Tasks[name] {
		if r.Inc <= mark {
			s.Tasks[name][id] = r.stripped()
		}
	}
}

// stripped is what the status fold keeps of a task record of a purged incarnation: what
// is read of a task's record in force other than for display. That is Gen, Inc, Worker
// and Proc (apply's compare-and-set and staleness), State, Worker, Proc and Inc (claim,
// holdsClaim, repairClaims, placementInForce), Ver (otherConfigsHeldLocked) and the ids. The
// trace is read only to show the incarnation in force; Claim and Prev only of the record
// being applied; Cluster only by foreign, of the record being applied.
func (r statusRecord) stripped() statusRecord {
	return statusRecord{Connector: r.Connector, Task: r.Task, Inc: r.Inc, State: r.State, Worker: r.Worker, Proc: r.Proc,
		Gen: r.Gen, Ver: r.Ver}
}

// task returns the record in force for a task of incarnation inc.
func (s *statusState) task(name string, inc int64, id int) (statusRecord, bool) {
	r, ok := s.Tasks[name][id]
	if !ok || r.Inc != inc {
		return statusRecord{}, false
	}
	return r, true
}

// releasedStates are task states that do not hold a claim.
func released(st restapi.State) bool {
	return st == restapi.StateUnassigned || st == restapi.StatePaused || st == restapi.StateStopped
}

// positionRecord is one record of the position topic: positions committed by a task of
// a connector incarnation with its claim generation (adminGen for the offsets API), or,
// with Clear, the removal of every position of the incarnation and older ones.
type positionRecord struct {
	Cluster   string `json:"cluster,omitempty"` // the writer's connectClusterId
	Connector string `json:"connector"`
	Inc       int64  `json:"inc"`
	Gen       int64  `json:"gen"`
	Clear     bool   `json:"clear,omitempty"`
	// Floor, on a record of the offsets API (Gen adminGen), is the highest task generation
	// claimed so far: commits of that generation or older are stale from then on, so a task
	// still stopping on some worker cannot undo a reset or an alteration.
	Floor     int64           `json:"floor,omitempty"`
	Positions []positionEntry `json:"positions,omitempty"`
	// Snapshot, when set, makes this a snapshot record (see snapshotHeader).
	Snapshot *positionState `json:"snapshot,omitempty"`
	snapshotHeader
}

type positionEntry struct {
	Partition map[string]any `json:"partition"`
	Offset    map[string]any `json:"offset"` // null removes the partition's position
}

// adminGen marks positions set through the offsets API (the connector is stopped).
const adminGen = -1

// errBelowFloor: a commit of a generation claimed before an offsets change, which set the
// floor above it (see positionRecord.Floor).
var errBelowFloor = errors.New("its generation was claimed before the offsets were set")

type clusterPosition struct {
	Partition map[string]any `json:"partition"`
	Offset    map[string]any `json:"offset"`
	Gen       int64          `json:"gen"`
}

type connectorPositions struct {
	Inc   int64                      `json:"inc"`
	Parts map[string]clusterPosition `json:"parts"`
	Floor int64                      `json:"floor,omitempty"` // commits of generations up to it are stale
	// MaxGen is the highest task generation whose commit of this incarnation was folded. A
	// claim takes a generation above it (and above Floor) as well as above the status
	// fold's: otherwise, after the status fold started over (a new or re-created status
	// topic, a rebuild without a snapshot), every commit of the task would be older than
	// the positions stored for its partitions, and refused.
	MaxGen int64 `json:"max_gen,omitempty"`
}

// positionState is the fold of the position topic.
type positionState struct {
	Connectors map[string]*connectorPositions `json:"connectors"`
	Cleared    map[string]int64               `json:"cleared"`
}

func newPositionState() *positionState {
	return &positionState{Connectors: map[string]*connectorPositions{}, Cleared: map[string]int64{}}
}

// apply folds one position record. A position from a generation older than the stored
// one's is stale (a former owner still committing); positions of a cleared or older
// incarnation are dropped.
func (s *positionState) apply(r positionRecord) error {
	if r.Snapshot != nil {
		return nil
	}
	if r.Clear {
		s.Cleared[r.Connector] = max(s.Cleared[r.Connector], r.Inc)
		if cp := s.Connectors[r.Connector]; cp != nil && cp.Inc <= r.Inc {
			delete(s.Connectors, r.Connector)
		}
		return nil
	}
	for _, p := range r.Positions {
		for _, m := range []map[string]any{p.Partition, p.Offset} {
			if err := finiteNumbers(m); err != nil {
				return fmt.Errorf("positions of %s: record refused: %w", r.Connector, err)
			}
		}
	}
	if r.Inc <= s.Cleared[r.Connector] {
		return fmt.Errorf("positions of %s: %w: incarnation %d was cleared", r.Connector, errStale, r.Inc)
	}
	cp := s.Connectors[r.Connector]
	if cp == nil || r.Inc > cp.Inc {
		cp = &connectorPositions{Inc: r.Inc, Parts: map[string]clusterPosition{}}
		s.Connectors[r.Connector] = cp
	}
	if r.Inc < cp.Inc {
		return fmt.Errorf("positions of %s: %w: incarnation %d, in force %d", r.Connector, errStale, r.Inc, cp.Inc)
	}
	if r.Gen == adminGen {
		cp.Floor = max(cp.Floor, r.Floor)
	} else if r.Gen <= cp.Floor {
		return fmt.Errorf("positions of %s: %w: %w: generation %d, floor %d", r.Connector, errStale, errBelowFloor, r.Gen, cp.Floor)
	} else {
		cp.MaxGen = max(cp.MaxGen, r.Gen)
	}
	var stale *stalePositionsError
	for _, p := range r.Positions {
		k, err := partitionKey(normalizeMap(p.Partition))
		if err != nil {
			return err
		}
		if cur, ok := cp.Parts[k]; ok && r.Gen != adminGen && r.Gen < cur.Gen {
			if stale == nil {
				stale = &stalePositionsError{connector: r.Connector, gen: r.Gen, of: len(r.Positions)}
			}
			stale.add(k, cur.Gen)
			continue
		}
		if p.Offset == nil {
			delete(cp.Parts, k)
			continue
		}
		cp.Parts[k] = clusterPosition{Partition: normalizeMap(p.Partition), Offset: normalizeMap(p.Offset), Gen: r.Gen}
	}
	if stale != nil {
		return stale
	}
	return nil
}

// stalePositionsError is the fold's verdict on a commit some of whose partitions hold
// positions of a higher generation (their entries were not applied; the others were).
type stalePositionsError struct {
	connector string
	gen       int64 // the commit's
	of        int   // entries in the commit
	n         int   // entries refused
	// first refused partitions (at most maxStaleListed), with the generation stored for each
	parts []string
	gens  []int64
}

// maxStaleListed bounds the partitions a stalePositionsError names (it ends up in a
// task's trace).
const maxStaleListed = 5

func (e *stalePositionsError) add(partition string, stored int64) {
	e.n++
	if len(e.parts) < maxStaleListed {
		e.parts, e.gens = append(e.parts, partition), append(e.gens, stored)
	}
}

func (e *stalePositionsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "positions of %s: %v: %d of %d from generation %d were older:", e.connector, errStale, e.n, e.of, e.gen)
	for i, p := range e.parts {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, " partition %s holds generation %d", p, e.gens[i])
	}
	if e.n > len(e.parts) {
		fmt.Fprintf(&b, " (and %d more)", e.n-len(e.parts))
	}
	return b.String()
}

func (e *stalePositionsError) Unwrap() error { return errStale }

// maxGen is the highest generation the position fold holds for connector name: of its
// commits, and its offsets floor.
func (s *positionState) maxGen(name string) int64 {
	cp := s.Connectors[name]
	if cp == nil {
		return 0
	}
	return max(cp.MaxGen, cp.Floor)
}

// normalize gives positions decoded from JSON (a cache or a snapshot) the value types of
// positions decoded from records (whole numbers as int64); MaxGen covers the generations
// of the positions held, also in a fold saved without it.
func (s *positionState) normalize() {
	for _, cp := range s.Connectors {
		for k, v := range cp.Parts {
			cp.Parts[k] = clusterPosition{Partition: normalizeMap(v.Partition), Offset: normalizeMap(v.Offset), Gen: v.Gen}
			cp.MaxGen = max(cp.MaxGen, v.Gen)
		}
	}
}

// all returns the positions of incarnation inc, sorted by partition.
func (s *positionState) all(name string, inc int64) []plugins.PartitionPosition {
	cp := s.Connectors[name]
	if cp == nil || cp.Inc != inc {
		return nil
	}
	out := make([]plugins.PartitionPosition, 0, len(cp.Parts))
	for _, k := range slices.Sorted(maps.Keys(cp.Parts)) {
		p := cp.Parts[k]
		out = append(out, plugins.PartitionPosition{Partition: p.Partition, Offset: p.Offset})
	}
	return out
}
