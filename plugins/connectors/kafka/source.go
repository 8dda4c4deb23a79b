package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/conf/rmqname"
	"github.com/rmqconnect/rmqconnect/plugins"
)

// SourceName is the registered name of the Kafka source.
const SourceName = "kafka-source"

// SourceAliases are other names kafka-source is registered under.
var SourceAliases = []string{"org.apache.rocketmq.connect.kafka.connector.KafkaSourceConnector"}

// Configuration keys of kafka-source (besides the connection keys).
const (
	KeyTopics          = "kafka.topics"
	KeyTopicsRegex     = "kafka.topics.regex"
	KeyStart           = "kafka.offset.reset"
	KeyFetchMaxBytes   = "kafka.fetch.max.bytes"
	KeyFetchMaxWait    = "kafka.fetch.max.wait"
	KeyIsolation       = "kafka.isolation.level"
	KeyPollMaxRecords  = "poll.max.records"
	KeyTopicsInterval  = "topics.refresh.interval"
	KeyTaskPartitions  = "kafka.task.partitions"      // set by TaskConfigs: the partitions of one task
	KeyTaskStarts      = "kafka.task.start.offsets"   // set by TaskConfigs with latest: where its partitions start
	KeyTaskStartIDs    = "kafka.task.start.topic.ids" // set by TaskConfigs with latest: the topic ids of those start offsets
	offsetEarliest     = "earliest"
	offsetLatest       = "latest"
	isolationCommitted = "read_committed"
	isolationAll       = "read_uncommitted"
)

// Source partition and offset keys of the records kafka-source emits. The offset holds the topic's id
// besides the record's offset: a topic deleted and created again under the same name is another topic
// (with another id), whose offsets say nothing of the old one's, so a position of the old topic is not
// resumed from. Offsets without an id (stored by earlier versions) are taken as the current topic's.
const (
	PartTopic     = "kafka.topic"
	PartPartition = "kafka.partition"
	OffsetKey     = "offset"
	TopicIDKey    = "kafka.topic.id" // the topic's id as Kafka prints it; absent when the cluster gives none
)

var sourceSpec = plugins.MustConfigSpec(append(connectionFields(),
	plugins.Field{Name: KeyTopics, Type: plugins.TypeList, Default: "",
		Doc: "Kafka topics to read, separated by commas. A listed topic that does not exist (or is deleted) fails the connector with a status naming it."},
	plugins.Field{Name: KeyTopicsRegex, Type: plugins.TypeString, Default: "", Validators: []plugins.Validator{plugins.IsRegex()},
		Doc: "Read every topic whose whole name matches this regular expression (Go syntax), internal topics excepted; topics created later are picked up within topics.refresh.interval."},
	plugins.Field{Name: KeyTopicRename, Type: plugins.TypeString, Default: topicPlaceholder,
		Doc: "RocketMQ topic of a Kafka topic's records; ${topic} stands for the Kafka topic. Characters RocketMQ does not allow in a topic name ('.' among them) become '_'."},
	plugins.Field{Name: KeyStart, Type: plugins.TypeString, Default: offsetEarliest, Aliases: []string{"auto.offset.reset"},
		Validators: []plugins.Validator{plugins.OneOf(offsetEarliest, offsetLatest)},
		Doc: "Where a partition without a committed position (or whose position is of a topic since deleted and created again) starts: earliest (the oldest record kept) or latest (only records written after the connector started). " +
			"latest is fixed when the connector starts, so a task restart never skips a record; partitions and topics found later start at their oldest record."},
	// kgo.NewClient refuses a fetch.max.bytes above its 100 MiB response limit and a fetch wait under 10ms.
	plugins.Field{Name: KeyFetchMaxBytes, Type: plugins.TypeInt, Default: 16 << 20, Validators: []plugins.Validator{plugins.Between(1024, maxBrokerBytes)},
		Doc: "Most bytes one fetch request returns (Kafka's fetch.max.bytes), at most 100 MiB."},
	plugins.Field{Name: KeyFetchMaxWait, Type: plugins.TypeDuration, Default: 500 * time.Millisecond,
		Validators: []plugins.Validator{plugins.DurationBetween(10*time.Millisecond, 30*time.Second)},
		Doc:        "How long a broker may hold a fetch waiting for data (fetch.max.wait.ms)."},
	plugins.Field{Name: KeyIsolation, Type: plugins.TypeString, Default: isolationAll, Aliases: []string{"isolation.level"},
		Validators: []plugins.Validator{plugins.OneOf(isolationAll, isolationCommitted)},
		Doc:        "read_uncommitted, or read_committed to skip aborted transactional records."},
	plugins.Field{Name: KeyPollMaxRecords, Type: plugins.TypeInt, Default: 2000, Validators: []plugins.Validator{plugins.Between(1, 100000)},
		Doc: "Most records one Poll returns."},
	plugins.Field{Name: KeyTopicsInterval, Type: plugins.TypeDuration, Default: 30 * time.Second,
		Validators: []plugins.Validator{plugins.DurationBetween(100*time.Millisecond, 24*time.Hour)},
		Doc:        "How often the connector lists the Kafka topics to find new topics and partitions (and deleted ones)."},
	plugins.Field{Name: KeyTaskPartitions, Type: plugins.TypeString, Default: "",
		Doc: "Set by the connector in each task configuration: the topic:partition pairs of the task."},
	plugins.Field{Name: KeyTaskStarts, Type: plugins.TypeString, Default: "",
		Doc: "Set by the connector in each task configuration with kafka.offset.reset=latest: topic:partition=offset, where a partition without a committed position starts, unless its topic now has another id than in kafka.task.start.topic.ids."},
	plugins.Field{Name: KeyTaskStartIDs, Type: plugins.TypeString, Default: "",
		Doc: "Set by the connector in each task configuration with kafka.offset.reset=latest: topic=topicid, the id of each topic whose start offsets kafka.task.start.offsets holds (none for a cluster without topic ids)."},
)...)

// SourceConnector is kafka-source: it lists the topics chosen by kafka.topics / kafka.topics.regex and
// splits their partitions over the tasks, then watches the cluster for new and deleted ones.
type SourceConnector struct {
	cctx   plugins.ConnectorContext
	cfg    map[string]string
	vals   plugins.Values
	adm    *kadm.Client
	client *kgo.Client

	mu    sync.Mutex
	parts []topicPartition // what TaskConfigs split last
	// starts holds, with kafka.offset.reset=latest, the end offsets of the partitions of the first listing,
	// read once at Start: every task config carries them, so a task that restarts before a partition
	// delivered a record still starts where the connector started, not at a later end. Partitions found
	// later are not in it and start at their oldest record, which holds what was written before they
	// were found; so does a topic created again since (a task finds another topic id than the start
	// offset's).
	starts map[topicPartition]topicOffset
	// skipped are the regex-matched topics left out (topic → reason), each warned about once.
	skipped map[string]string

	cancel context.CancelFunc
	group  *errgroup.Group
}

// NewSourceConnector returns an unstarted kafka-source connector.
func NewSourceConnector() *SourceConnector { return &SourceConnector{} }

var _ plugins.SourceConnector = (*SourceConnector)(nil)

// Spec declares the keys of kafka-source.
func (c *SourceConnector) Spec() *plugins.ConfigSpec { return sourceSpec }

// Validate checks that exactly one of kafka.topics and kafka.topics.regex is set, the connection rules
// and the rename format.
func (c *SourceConnector) Validate(cfg map[string]string) error {
	v, err := sourceSpec.Parse(cfg)
	if err != nil {
		return err
	}
	errs := checkConnection(v)
	list, re := v.List(KeyTopics), v.String(KeyTopicsRegex)
	switch {
	case len(list) == 0 && re == "":
		errs = append(errs, missing(KeyTopics, "set "+KeyTopics+" or "+KeyTopicsRegex))
	case len(list) > 0 && re != "":
		errs = append(errs, invalid(KeyTopicsRegex, re, "set either "+KeyTopics+" or "+KeyTopicsRegex+", not both"))
	}
	if err := renameFormat(KeyTopicRename, v.String(KeyTopicRename)); err != nil {
		errs = append(errs, err.(*cfgerr.Error))
	}
	return asError(errs)
}

// Start connects to the cluster, lists the chosen topics (a listed topic that is missing fails the start),
// with kafka.offset.reset=latest reads where their partitions end, and starts the watcher of
// topics.refresh.interval.
func (c *SourceConnector) Start(ctx context.Context, cctx plugins.ConnectorContext, cfg map[string]string) error {
	c.cctx, c.cfg, c.vals = cctx, cfg, cctx.Config()
	opts, err := clientOptions(c.vals, cctx.Logger())
	if err != nil {
		return err
	}
	if c.client, err = kgo.NewClient(opts...); err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	c.adm = kadm.NewClient(c.client)
	parts, ids, err := c.discover(ctx)
	if err != nil {
		return err
	}
	if c.vals.String(KeyStart) == offsetLatest {
		ends, err := endOffsets(ctx, c.adm, c.vals, parts)
		if err != nil {
			return err
		}
		c.starts = make(map[topicPartition]topicOffset, len(ends))
		for p, off := range ends {
			c.starts[p] = topicOffset{off, ids[p.topic]}
		}
	}
	c.parts = parts
	wctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.group, wctx = errgroup.WithContext(wctx)
	c.group.Go(func() error { c.watch(wctx); return nil })
	return nil
}

// discover lists the partitions of the chosen topics, sorted, with the ids of their topics ("" when the
// cluster gives none), and warns once about each regex-matched topic it leaves out. A Kafka error is
// retriable; a listed topic that does not exist, two listed topics that map to one RocketMQ topic, and
// refused credentials or permissions are not.
func (c *SourceConnector) discover(ctx context.Context) ([]topicPartition, map[string]string, error) {
	details, err := listTopics(ctx, c.adm, c.vals)
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	reading := map[string]bool{}
	for _, p := range c.parts {
		reading[p.topic] = true
	}
	c.mu.Unlock()
	parts, skipped, err := selectPartitions(details, c.vals, reading)
	if err != nil {
		return nil, nil, err
	}
	for t, reason := range skipped {
		if c.skipped[t] != reason {
			c.cctx.Logger().Warn("kafka topic matches "+KeyTopicsRegex+" but is not read", "topic", t, "reason", reason)
		}
	}
	c.skipped = skipped
	ids := map[string]string{}
	for _, p := range parts {
		ids[p.topic] = topicIDString(details[p.topic].ID)
	}
	return parts, ids, nil
}

// listTopics reads the metadata of the topics of kafka.topics, or of every topic with a regex.
func listTopics(ctx context.Context, adm *kadm.Client, v plugins.Values) (kadm.TopicDetails, error) {
	ctx, cancel := context.WithTimeout(ctx, v.Duration(KeyRequestTimeout))
	defer cancel()
	details, err := adm.ListTopics(ctx, v.List(KeyTopics)...)
	if err != nil {
		if authFailure(err) {
			return nil, fmt.Errorf("%w: list kafka topics: %w", ErrUnauthorized, err)
		}
		return nil, plugins.Retriable(fmt.Errorf("list kafka topics: %w", err))
	}
	return details, nil
}

// selectPartitions picks the partitions to read from a listing, sorted. Every topic of kafka.topics must
// exist, be readable and map to a RocketMQ topic of its own, or the connector fails naming it. With
// kafka.topics.regex a matching topic that cannot be read that way is left out and returned in skipped
// (topic → reason) instead, so one odd topic never stops the others: of topics mapping to one RocketMQ
// topic, one already read (in reading) wins, else the first by name.
func selectPartitions(details kadm.TopicDetails, v plugins.Values, reading map[string]bool) (parts []topicPartition, skipped map[string]string, err error) {
	list := v.List(KeyTopics)
	var names []string
	if len(list) > 0 {
		for _, t := range list {
			d, ok := details[t]
			switch {
			case ok && d.Err != nil && authFailure(d.Err):
				return nil, nil, fmt.Errorf("%w: %s names %q, which this connector may not read: %w", ErrUnauthorized, KeyTopics, t, d.Err)
			case ok && d.Err != nil && !isUnknownTopic(d.Err) && kerr.IsRetriable(d.Err):
				return nil, nil, plugins.Retriable(fmt.Errorf("kafka topic %s (%s): %w", t, KeyTopics, d.Err))
			case !ok || d.Err != nil:
				reason := "not found"
				if ok {
					reason = d.Err.Error()
				}
				return nil, nil, fmt.Errorf("%w: %s: %s names %q (%s)", ErrTopicMissing, KeyTopics, t, t, reason)
			}
			names = append(names, t)
		}
	} else {
		re := regexp.MustCompile(`^(?:` + v.String(KeyTopicsRegex) + `)$`) // validated by the spec
		for _, t := range details.Names() {
			if d := details[t]; !d.IsInternal && d.Err == nil && re.MatchString(t) {
				names = append(names, t)
			}
		}
		// Topics already read first, so a new topic never takes a RocketMQ topic from one being read.
		sort.SliceStable(names, func(i, j int) bool { return reading[names[i]] && !reading[names[j]] })
	}
	format := v.String(KeyTopicRename)
	targets := map[string]string{}
	skip := func(t, reason string) {
		if skipped == nil {
			skipped = map[string]string{}
		}
		skipped[t] = reason
	}
	for _, t := range names {
		target := targetTopic(format, t)
		if other, ok := targets[target]; ok {
			if len(list) > 0 {
				return nil, nil, fmt.Errorf("%w: kafka topics %q and %q both map to RocketMQ topic %q (%s)", ErrTopicCollision, other, t, target, KeyTopicRename)
			}
			skip(t, fmt.Sprintf("maps to RocketMQ topic %q, which kafka topic %q is written to (%s)", target, other, KeyTopicRename))
			continue
		}
		if !rmqname.Topic(target) {
			if len(list) > 0 {
				return nil, nil, invalid(KeyTopicRename, format, fmt.Sprintf("kafka topic %q maps to %q, which is not a RocketMQ topic name", t, target))
			}
			skip(t, fmt.Sprintf("maps to %q, which is not a RocketMQ topic name (%s)", target, KeyTopicRename))
			continue
		}
		targets[target] = t
		for _, p := range details[t].Partitions.Numbers() {
			parts = append(parts, topicPartition{t, p})
		}
	}
	sortParts(parts)
	return parts, skipped, nil
}

// endOffsets reads where each of parts ends now: the high watermark, or with read_committed the last
// stable offset (a record of a transaction still open there is not skipped).
func endOffsets(ctx context.Context, adm *kadm.Client, v plugins.Values, parts []topicPartition) (map[topicPartition]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, v.Duration(KeyRequestTimeout))
	defer cancel()
	var topics []string
	for _, p := range parts {
		if len(topics) == 0 || topics[len(topics)-1] != p.topic { // parts are sorted by topic
			topics = append(topics, p.topic)
		}
	}
	list := adm.ListEndOffsets
	if v.String(KeyIsolation) == isolationCommitted {
		list = adm.ListCommittedOffsets
	}
	listed, err := list(ctx, topics...)
	if err != nil {
		if authFailure(err) {
			return nil, fmt.Errorf("%w: read the end offsets of the kafka partitions (%s=%s): %w", ErrUnauthorized, KeyStart, offsetLatest, err)
		}
		return nil, plugins.Retriable(fmt.Errorf("read the end offsets of the kafka partitions (%s=%s): %w", KeyStart, offsetLatest, err))
	}
	out := make(map[topicPartition]int64, len(parts))
	for _, p := range parts {
		o, ok := listed.Lookup(p.topic, p.partition)
		switch {
		case ok && o.Err == nil && o.Offset >= 0:
			out[p] = o.Offset
		case ok && o.Err != nil && authFailure(o.Err):
			return nil, fmt.Errorf("%w: end offset of kafka partition %s: %w", ErrUnauthorized, p, o.Err)
		case ok && o.Err != nil:
			return nil, plugins.Retriable(fmt.Errorf("end offset of kafka partition %s: %w", p, o.Err))
		default:
			return nil, plugins.Retriable(fmt.Errorf("end offset of kafka partition %s: not listed", p))
		}
	}
	return out, nil
}

// targetTopic is the RocketMQ topic of Kafka topic t: the rename format applied, and every character a
// RocketMQ topic name cannot hold replaced by '_'.
func targetTopic(format, t string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '%' || r == '|' {
			return r
		}
		return '_'
	}, rename(format, t))
}

// watch lists the topics every topics.refresh.interval. New or removed partitions ask for new task
// configs; a listed topic that disappeared fails the connector with a status naming it.
func (c *SourceConnector) watch(ctx context.Context) {
	tick := time.NewTicker(c.vals.Duration(KeyTopicsInterval))
	defer tick.Stop()
	log := c.cctx.Logger()
	failing := false // a listing failed: the next failures go to Debug, until one succeeds
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		parts, _, err := c.discover(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if plugins.IsRetriable(err) {
				lv := slog.LevelWarn
				if failing {
					lv = slog.LevelDebug
				}
				log.Log(ctx, lv, "kafka topics not listed; retrying at every interval", "err", err)
				failing = true
				continue
			}
			c.cctx.RaiseError(err)
			return
		}
		if failing {
			log.Info("kafka topics listed again")
			failing = false
		}
		c.mu.Lock()
		changed := !equalParts(parts, c.parts)
		if changed {
			log.Info("kafka partitions changed; reassigning tasks", "before", len(c.parts), "after", len(parts))
			c.parts = parts
		}
		c.mu.Unlock()
		if changed {
			c.cctx.RequestTaskReconfiguration()
		}
	}
}

// TaskConfigs splits the partitions over at most maxTasks tasks, round robin in (topic, partition) order
// so each task gets partitions of every topic; with latest each also gets the start offsets of its
// partitions of the first listing. With no partition at all it returns no task.
func (c *SourceConnector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	c.mu.Lock()
	parts := append([]topicPartition(nil), c.parts...)
	c.mu.Unlock()
	n := min(maxTasks, len(parts))
	groups := make([][]string, n)
	for i, p := range parts {
		groups[i%n] = append(groups[i%n], p.String())
	}
	out := make([]map[string]string, n)
	for i, g := range groups {
		cfg := make(map[string]string, len(c.cfg)+2)
		for k, v := range c.cfg {
			cfg[k] = v
		}
		cfg[KeyTaskPartitions] = strings.Join(g, ",")
		delete(cfg, KeyTaskStarts) // only the connector sets them
		delete(cfg, KeyTaskStartIDs)
		if c.starts != nil {
			// Set even when empty: a task tells a config of this connector from an older one by the key.
			starts, ids := formatStarts(c.starts, parts, i, n)
			cfg[KeyTaskStarts] = starts
			if ids != "" {
				cfg[KeyTaskStartIDs] = ids
			}
		}
		out[i] = cfg
	}
	return out, nil
}

// topicOffset is an offset of a partition with the id of the topic it was taken from ("" when unknown):
// a start offset of kafka.task.start.offsets, or a committed position.
type topicOffset struct {
	offset  int64
	topicID string
}

// formatStarts writes the start offsets of task i of n, for its partitions (every n-th of parts, from
// i) that have one: kafka.task.start.offsets (topic:partition=offset,...) and kafka.task.start.topic.ids
// (topic=topicid,..., each topic with a known id once). The ids have a key of their own so that the
// offsets keep the form every release reads: a worker of a release before topic ids (which ignores keys
// its spec does not declare) may run the task during a rolling upgrade. Neither a topic name nor an id
// holds '@', '=' or ','.
func formatStarts(starts map[topicPartition]topicOffset, parts []topicPartition, i, n int) (offsets, ids string) {
	var b, bi strings.Builder
	seen := map[string]bool{}
	for j := i; j < len(parts); j += n {
		s, ok := starts[parts[j]]
		if !ok {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(parts[j].String())
		b.WriteByte('=')
		b.WriteString(strconv.FormatInt(s.offset, 10))
		if topic := parts[j].topic; s.topicID != "" && !seen[topic] {
			seen[topic] = true
			if bi.Len() > 0 {
				bi.WriteByte(',')
			}
			bi.WriteString(topic)
			bi.WriteByte('=')
			bi.WriteString(s.topicID)
		}
	}
	return b.String(), bi.String()
}

// Stop ends the watcher and closes the client.
func (c *SourceConnector) Stop(context.Context) error {
	if c.cancel != nil {
		c.cancel()
		_ = c.group.Wait()
		c.cancel = nil
	}
	if c.client != nil {
		c.client.Close()
		c.client = nil
	}
	return nil
}

// NewSourceTask returns an unstarted kafka-source task.
func (c *SourceConnector) NewSourceTask() plugins.SourceTask { return &SourceTask{} }

// topicPartition is one Kafka partition.
type topicPartition struct {
	topic     string
	partition int32
}

func (p topicPartition) String() string { return p.topic + ":" + strconv.Itoa(int(p.partition)) }

func sortParts(ps []topicPartition) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].topic != ps[j].topic {
			return ps[i].topic < ps[j].topic
		}
		return ps[i].partition < ps[j].partition
	})
}

func equalParts(a, b []topicPartition) bool {
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

// parsePartitions reads kafka.task.partitions ("topic:partition,...").
func parsePartitions(s string) ([]topicPartition, error) {
	var out []topicPartition
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		i := strings.LastIndexByte(item, ':')
		if i <= 0 {
			return nil, fmt.Errorf("%w: %s: %q is not topic:partition", ErrBadTaskConfig, KeyTaskPartitions, item)
		}
		p, err := strconv.ParseInt(item[i+1:], 10, 32)
		if err != nil || p < 0 {
			return nil, fmt.Errorf("%w: %s: %q is not topic:partition", ErrBadTaskConfig, KeyTaskPartitions, item)
		}
		out = append(out, topicPartition{item[:i], int32(p)})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s is empty", ErrBadTaskConfig, KeyTaskPartitions)
	}
	return out, nil
}

// parseStarts reads kafka.task.start.offsets ("topic:partition=offset,...") and the topic ids of
// kafka.task.start.topic.ids ("topic=topicid,..."); a start offset of a topic without an id there has
// none. An offset may carry its topic's id itself ("topic:partition=offset@topicid", as task configs stored
// by one earlier build do), which then wins.
func parseStarts(s, ids string) (map[topicPartition]topicOffset, error) {
	topicIDs := map[string]string{}
	for _, item := range strings.Split(ids, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		topic, id, ok := strings.Cut(item, "=")
		if !ok || topic == "" || id == "" || strings.ContainsAny(id, "=@") {
			return nil, fmt.Errorf("%w: %s: %q is not topic=topicid", ErrBadTaskConfig, KeyTaskStartIDs, item)
		}
		topicIDs[topic] = id
	}
	out := map[topicPartition]topicOffset{}
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		bad := fmt.Errorf("%w: %s: %q is not topic:partition=offset", ErrBadTaskConfig, KeyTaskStarts, item)
		i := strings.LastIndexByte(item, '=')
		if i <= 0 {
			return nil, bad
		}
		value, id, withID := strings.Cut(item[i+1:], "@")
		off, err := strconv.ParseInt(value, 10, 64)
		if err != nil || off < 0 || withID && id == "" {
			return nil, bad
		}
		ps, err := parsePartitions(item[:i])
		if err != nil || len(ps) != 1 {
			return nil, bad
		}
		if !withID {
			id = topicIDs[ps[0].topic]
		}
		out[ps[0]] = topicOffset{off, id}
	}
	return out, nil
}

// isUnknownTopic reports whether err says a topic or partition does not exist.
func isUnknownTopic(err error) bool {
	return errors.Is(err, errUnknownTopic) || errors.Is(err, errUnknownTopicID)
}

// authFailure reports whether err is Kafka refusing the client's credentials or a permission it needs.
// No retry gets past these, so they fail a task or connector (ErrUnauthorized) instead of leaving it
// running and reading nothing.
func authFailure(err error) bool {
	return errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.UnsupportedSaslMechanism) ||
		errors.Is(err, kerr.IllegalSaslState) || errors.Is(err, kerr.TopicAuthorizationFailed) ||
		errors.Is(err, kerr.ClusterAuthorizationFailed)
}
