package generator

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/internal/position"
	"github.com/rmqconnect/rmqconnect/schema"
)

// Names of the generator connectors, as registered by plugins/builtin.
const (
	SourceName = "generator-source"
	SinkName   = "null-sink"
)

// Configuration keys of generator-source.
const (
	KeyName       = "name"
	KeyTopic      = "connect.topicname"
	KeyRecordSize = "record.size"
	KeyCount      = "count"
	KeyRate       = "rate"
	KeyKeys       = "keys"
	KeyBatchSize  = "batch.size"

	// KeyTask and KeyTasks are set by TaskConfigs: this task's index and the number of tasks.
	KeyTask  = "generator.task"
	KeyTasks = "generator.tasks"

	// PartitionName and PartitionTask are the source-partition keys; OffsetSeq is the source-offset key.
	PartitionName = "generator"
	PartitionTask = "task"
	OffsetSeq     = "seq"
)

// idleWait is how long Poll waits when a task has produced its whole count, and the longest it waits for
// the rate to allow a record.
const idleWait = time.Second

// Bounds of a non-zero rate (records per second over all tasks; 0 is unthrottled): minRate is one record
// every 1000 s, maxRate more than any worker sends. throttle saturates beyond them too, so even a rate that
// slipped past them would neither overflow nor spin.
const (
	minRate = 1e-3
	maxRate = 1e9
)

// maxPollBytes bounds the memory one Poll allocates: it returns at most maxPollBytes / (record.size +
// recordOverhead) records (at least one), fewer than batch.size when records are large. recordOverhead
// is about what a record costs besides its value (the Record, its offset map, its key).
const (
	maxPollBytes   = 64 << 20
	recordOverhead = 512
)

// maxRecordSize keeps a record's message under RocketMQ's default 4 MiB message limit with room for its
// key and properties (file-source's max.line.bytes has the same bound): a larger value could never be
// stored whole, so every record would fail at the send.
const maxRecordSize = 4<<20 - 64<<10

var sourceSpec = plugins.MustConfigSpec(
	plugins.Field{Name: KeyName, Type: plugins.TypeString, Default: "generator",
		Doc: "Connector name; part of every record's source partition."},
	plugins.Field{Name: KeyTopic, Type: plugins.TypeString, Required: true, Aliases: []string{"topic"},
		Validators: []plugins.Validator{plugins.NonEmpty()}, Doc: "Topic the records are sent to."},
	plugins.Field{Name: KeyRecordSize, Type: plugins.TypeInt, Default: 100,
		Validators: []plugins.Validator{plugins.Between(0, maxRecordSize)},
		Doc:        "Size of every record value in bytes, at most 4 MiB - 64 KiB so a record fits a RocketMQ message."},
	plugins.Field{Name: KeyCount, Type: plugins.TypeLong, Default: int64(0),
		Validators: []plugins.Validator{plugins.AtLeast(0)},
		Doc:        "Total number of records over all tasks; 0 means unlimited."},
	plugins.Field{Name: KeyRate, Type: plugins.TypeDouble, Default: 0.0,
		Validators: []plugins.Validator{rateValidator},
		Doc: fmt.Sprintf("Records per second over all tasks, from %v to %v; 0 means as fast as possible.",
			minRate, maxRate)},
	plugins.Field{Name: KeyKeys, Type: plugins.TypeInt, Default: 100,
		Validators: []plugins.Validator{plugins.AtLeast(0)},
		Doc:        `Number of distinct keys: record n has key "key-<n mod keys>"; 0 means no key.`},
	plugins.Field{Name: KeyBatchSize, Type: plugins.TypeInt, Default: 1000,
		Validators: []plugins.Validator{plugins.Between(1, 1<<20)},
		Doc: "Maximum records returned by one poll; a poll also returns no more than 64 MiB " +
			"(record.size plus about 512 bytes a record), so fewer when records are large."},
	plugins.Field{Name: KeyTask, Type: plugins.TypeInt, Default: 0,
		Validators: []plugins.Validator{plugins.Between(0, 10000)},
		Doc:        "Set by the connector in each task config: the task's index. Not for users."},
	plugins.Field{Name: KeyTasks, Type: plugins.TypeInt, Default: 1,
		Validators: []plugins.Validator{plugins.Between(1, 10000)},
		Doc:        "Set by the connector in each task config: the number of tasks. Not for users."},
)

// rateValidator accepts 0 (unthrottled) and finite rates in [minRate, maxRate].
var rateValidator = plugins.Custom(fmt.Sprintf("0, or [%v, ..., %v]", minRate, maxRate), func(v any) error {
	f, ok := v.(float64)
	switch {
	case !ok:
		return errors.New("not a number")
	case math.IsInf(f, 0) || math.IsNaN(f):
		return errors.New("not a finite number")
	case f != 0 && (f < minRate || f > maxRate):
		return fmt.Errorf("must be 0 (unthrottled) or between %v and %v records per second", minRate, maxRate)
	}
	return nil
})

// SourceConnector is generator-source: it splits count and rate evenly over max.tasks tasks.
type SourceConnector struct {
	cfg map[string]string
}

// NewSourceConnector returns an unstarted generator-source connector.
func NewSourceConnector() *SourceConnector { return &SourceConnector{} }

var _ plugins.SourceConnector = (*SourceConnector)(nil)

// Spec declares name, connect.topicname, record.size, count, rate, keys and batch.size.
func (c *SourceConnector) Spec() *plugins.ConfigSpec { return sourceSpec }

// Validate checks that the task index is below the task count, reading both typed (with their
// defaults) from Spec: the engine has checked every key against it already.
func (c *SourceConnector) Validate(cfg map[string]string) error {
	vals, err := sourceSpec.Parse(cfg)
	if err != nil {
		return err
	}
	return checkTaskIndex(vals.Int(KeyTask), vals.Int(KeyTasks))
}

// checkTaskIndex rejects a task index at or above the task count.
func checkTaskIndex(task, tasks int) error {
	if tasks <= task {
		return &cfgerr.Error{Key: KeyTasks, Value: strconv.Itoa(tasks),
			Reason: "not a task count above " + KeyTask, Err: plugins.ErrInvalidValue}
	}
	return nil
}

// Start keeps cfg for TaskConfigs.
func (c *SourceConnector) Start(_ context.Context, _ plugins.ConnectorContext, cfg map[string]string) error {
	c.cfg = maps.Clone(cfg)
	return nil
}

// TaskConfigs returns maxTasks configs, each naming its task index and the task count.
func (c *SourceConnector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	maxTasks = max(maxTasks, 1)
	out := make([]map[string]string, maxTasks)
	for i := range out {
		out[i] = maps.Clone(c.cfg)
		out[i][KeyTask] = strconv.Itoa(i)
		out[i][KeyTasks] = strconv.Itoa(maxTasks)
	}
	return out, nil
}

// Stop does nothing.
func (c *SourceConnector) Stop(context.Context) error { return nil }

// NewSourceTask returns an unstarted SourceTask.
func (c *SourceConnector) NewSourceTask() plugins.SourceTask { return NewSourceTask() }

// Key returns the key of record seq with keys distinct keys ("" when keys is 0).
func Key(seq int64, keys int) string {
	if keys <= 0 {
		return ""
	}
	return "key-" + strconv.FormatInt(seq%int64(keys), 10)
}

// Value returns the size-byte value of record seq of task: the prefix "<task>/<seq>;" followed by lowercase
// letters drawn from a generator seeded by (task, seq), so it is the same on every run and printable.
func Value(task int, seq int64, size int) []byte {
	b := make([]byte, size)
	fillValue(b, task, seq)
	return b
}

// fillValue writes Value(task, seq, len(b)) into b.
func fillValue(b []byte, task int, seq int64) {
	var prefix [48]byte // "<int>/<int64>;" is at most 42 bytes
	p := strconv.AppendInt(prefix[:0], int64(task), 10)
	p = append(p, '/')
	p = strconv.AppendInt(p, seq, 10)
	p = append(p, ';')
	tail := b[copy(b, p):]
	x := uint64(seq)*0x9E3779B97F4A7C15 ^ uint64(task+1)*0xBF58476D1CE4E5B9
	for i := range tail {
		// splitmix64
		x += 0x9E3779B97F4A7C15
		z := x
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		z ^= z >> 31
		tail[i] = 'a' + byte(z%26)
	}
}

// TaskCount returns how many of count records task i of tasks produces (-1 when count is 0: unlimited).
func TaskCount(count int64, i, tasks int) int64 {
	if count <= 0 {
		return -1
	}
	n := count / int64(tasks)
	if int64(i) < count%int64(tasks) {
		n++
	}
	return n
}

// SourceTask produces records seq = 0, 1, 2, … (resuming after the committed seq). Poll and Stop may run
// concurrently; Stop makes a waiting Poll return.
type SourceTask struct {
	stopped  chan struct{}
	stopOnce sync.Once

	// Set by Start, then used by the Poll goroutine only.
	started   bool
	topic     string
	task      int
	size      int
	keys      int
	batch     int     // records a poll returns at most: batch.size, capped by maxPollBytes
	rate      float64 // records per second for this task; 0 = unthrottled
	limit     int64   // seq at which to stop; -1 = never
	next      int64   // seq of the next record
	partition map[string]any
	begin     time.Time // when this run started, for the rate
	emitted   int64     // records emitted by this run
	keyCache  []any     // Key(seq, keys) by seq mod keys, filled as used; see key
}

// NewSourceTask returns an unstarted generator task.
func NewSourceTask() *SourceTask { return &SourceTask{stopped: make(chan struct{})} }

var _ plugins.SourceTask = (*SourceTask)(nil)

// Start reads the task's share of count and rate and resumes after the committed seq of its partition.
func (t *SourceTask) Start(ctx context.Context, tctx plugins.SourceTaskContext, cfg map[string]string) error {
	vals := tctx.Config()
	task, tasks := vals.Int(KeyTask), vals.Int(KeyTasks)
	if err := checkTaskIndex(task, tasks); err != nil {
		return err
	}
	t.partition = map[string]any{PartitionName: vals.String(KeyName), PartitionTask: int64(task)}
	t.next = 0
	if tctx.Positions() != nil {
		off, err := tctx.Positions().Position(ctx, t.partition)
		if err != nil {
			return fmt.Errorf("generator-source: read position of task %d: %w", task, err)
		}
		seq, ok, err := position.Int64(off, OffsetSeq)
		if err != nil {
			return fmt.Errorf("generator-source: task %d: %w", task, err)
		}
		if ok {
			t.next = seq + 1
		}
	}
	t.topic = vals.String(KeyTopic)
	t.task = task
	t.size = vals.Int(KeyRecordSize)
	t.keys = vals.Int(KeyKeys)
	t.keyCache = nil
	t.batch = min(vals.Int(KeyBatchSize), max(maxPollBytes/(t.size+recordOverhead), 1))
	t.rate = vals.Double(KeyRate) / float64(tasks)
	t.limit = TaskCount(vals.Long(KeyCount), task, tasks)
	t.begin = time.Now()
	t.emitted = 0
	t.started = true
	return nil
}

// Poll returns up to batch.size records (fewer when they would take more than maxPollBytes), as many as the
// rate allows right now. When the rate allows none it waits for the next one; when the task has produced its
// count it waits a second and returns none. A cancelled ctx or Stop ends any wait at once, with no records and
// no error.
func (t *SourceTask) Poll(ctx context.Context) ([]*schema.Record, error) {
	if !t.started {
		return nil, fmt.Errorf("generator-source: poll: %w", ErrNotStarted)
	}
	for {
		select {
		case <-t.stopped:
			return nil, nil
		default:
		}
		n := int64(t.batch)
		if t.limit >= 0 {
			n = min(n, t.limit-t.next)
		}
		var wait time.Duration
		if n <= 0 {
			wait = idleWait
		} else if t.rate > 0 {
			n, wait = throttle(t.rate, time.Since(t.begin).Seconds(), t.emitted, n)
		}
		if n > 0 {
			return t.produce(int(n)), nil
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, nil
		case <-t.stopped:
			timer.Stop()
			return nil, nil
		case <-timer.C:
		}
		if t.limit >= 0 && t.next >= t.limit {
			return nil, nil // count reached: an empty batch after the idle wait
		}
	}
}

// throttle returns how many of n records a task limited to rate records per second may emit after elapsed
// seconds in which it emitted emitted records (the first at once, then one every 1/rate s), and when that
// is none, how long to wait for the next one (at most idleWait). It computes in float64 and saturates, so
// no rate or elapsed time overflows the count or the wait.
func throttle(rate, elapsed float64, emitted, n int64) (int64, time.Duration) {
	allowed := math.Floor(elapsed*rate) + 1 - float64(emitted)
	if !(allowed < float64(n)) { // NaN too: an infinite rate at elapsed 0
		return n, 0
	}
	if allowed >= 1 {
		return int64(allowed), 0
	}
	due := min(float64(emitted)/rate-elapsed, idleWait.Seconds())
	return 0, min(time.Duration(due*float64(time.Second))+time.Millisecond, idleWait)
}

// Record values of a poll share buffers of up to valueChunk bytes (a value larger than that has its own), and
// the records themselves one array: a few allocations per poll instead of several per record.
const valueChunk = 256 << 10

// maxCachedKeys bounds the boxed keys a task keeps for reuse (keys beyond it are made per record).
const maxCachedKeys = 1 << 16

func (t *SourceTask) produce(n int) []*schema.Record {
	out := make([]*schema.Record, n)
	recs := make([]schema.Record, n)
	var buf []byte
	for i := range out {
		seq := t.next
		var v []byte
		switch {
		case t.size == 0:
			v = []byte{}
		case t.size > valueChunk:
			v = make([]byte, t.size)
		default:
			if len(buf) < t.size {
				buf = make([]byte, min((n-i)*t.size, valueChunk/t.size*t.size))
			}
			v, buf = buf[:t.size:t.size], buf[t.size:]
		}
		fillValue(v, t.task, seq)
		if t.keys > 0 {
			recs[i] = *schema.NewRecord(t.topic, schema.StringSchema, t.key(seq), schema.BytesSchema, v)
		} else {
			recs[i] = *schema.NewRecord(t.topic, nil, nil, schema.BytesSchema, v)
		}
		r := &recs[i]
		r.SourcePartition = t.partition
		r.SourceOffset = map[string]any{OffsetSeq: seq}
		out[i] = r
		t.next++
	}
	t.emitted += int64(n)
	return out
}

// key returns Key(seq, t.keys) as a record key, boxed once per distinct key when there are at most
// maxCachedKeys of them.
func (t *SourceTask) key(seq int64) any {
	if t.keys > maxCachedKeys {
		return Key(seq, t.keys)
	}
	if t.keyCache == nil {
		t.keyCache = make([]any, t.keys)
	}
	i := seq % int64(t.keys)
	if t.keyCache[i] == nil {
		t.keyCache[i] = Key(seq, t.keys)
	}
	return t.keyCache[i]
}

// Commit does nothing.
func (t *SourceTask) Commit(context.Context) error { return nil }

// Stop makes a waiting Poll return; later polls return nothing. Idempotent and safe without Start.
func (t *SourceTask) Stop(context.Context) error {
	t.stopOnce.Do(func() { close(t.stopped) })
	return nil
}
