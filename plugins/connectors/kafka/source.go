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
	KeyTaskPartitions  = "kafka.task.partitions" // set by TaskConfigs: the partitions of one task
	offsetEarliest     = "earliest"
	offsetLatest       = "latest"
	isolationCommitted = "read_committed"
	isolationAll       = "read_uncommitted"
)

// Source partition and offset keys of the records kafka-source emits.
const (
	PartTopic     = "kafka.topic"
	PartPartition = "kafka.partition"
	OffsetKey     = "offset"
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
		Doc:        "Where a partition without a committed position starts: earliest (the oldest record kept) or latest (only new records)."},
	plugins.Field{Name: KeyFetchMaxBytes, Type: plugins.TypeInt, Default: 16 << 20, Validators: []plugins.Validator{plugins.Between(1024, 1<<30)},
		Doc: "Most bytes one fetch request returns (Kafka's fetch.max.bytes)."},
	plugins.Field{Name: KeyFetchMaxWait, Type: plugins.TypeDuration, Default: 500 * time.Millisecond,
		Validators: []plugins.Validator{plugins.DurationBetween(time.Millisecond, 30*time.Second)},
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

// Start connects to the cluster, lists the chosen topics (a listed topic that is missing fails the start)
// and starts the watcher of topics.refresh.interval.
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
	parts, err := c.discover(ctx)
	if err != nil {
		return err
	}
	c.parts = parts
	wctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.group, wctx = errgroup.WithContext(wctx)
	c.group.Go(func() error { c.watch(wctx); return nil })
	return nil
}

// discover lists the partitions of the chosen topics, sorted. A Kafka error is retriable; a listed topic
// that does not exist, or two topics that map to one RocketMQ topic, are not.
func (c *SourceConnector) discover(ctx context.Context) ([]topicPartition, error) {
	return discoverPartitions(ctx, c.adm, c.vals)
}

func discoverPartitions(ctx context.Context, adm *kadm.Client, v plugins.Values) ([]topicPartition, error) {
	ctx, cancel := context.WithTimeout(ctx, v.Duration(KeyRequestTimeout))
	defer cancel()
	list := v.List(KeyTopics)
	details, err := adm.ListTopics(ctx, list...)
	if err != nil {
		return nil, plugins.Retriable(fmt.Errorf("list kafka topics: %w", err))
	}
	var names []string
	if len(list) > 0 {
		for _, t := range list {
			d, ok := details[t]
			if !ok || d.Err != nil {
				reason := "not found"
				if ok {
					reason = d.Err.Error()
				}
				return nil, fmt.Errorf("%w: %s: %s names %q (%s)", ErrTopicMissing, KeyTopics, t, t, reason)
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
	}
	format := v.String(KeyTopicRename)
	targets := map[string]string{}
	var parts []topicPartition
	for _, t := range names {
		target := targetTopic(format, t)
		if other, ok := targets[target]; ok {
			return nil, fmt.Errorf("%w: kafka topics %q and %q both map to RocketMQ topic %q (%s)", ErrTopicCollision, other, t, target, KeyTopicRename)
		}
		if !rmqname.Topic(target) {
			return nil, invalid(KeyTopicRename, format, fmt.Sprintf("kafka topic %q maps to %q, which is not a RocketMQ topic name", t, target))
		}
		targets[target] = t
		for _, p := range details[t].Partitions.Numbers() {
			parts = append(parts, topicPartition{t, p})
		}
	}
	sortParts(parts)
	return parts, nil
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
		parts, err := c.discover(ctx)
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
// so each task gets partitions of every topic. With no partition at all it returns no task.
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
		cfg := make(map[string]string, len(c.cfg)+1)
		for k, v := range c.cfg {
			cfg[k] = v
		}
		cfg[KeyTaskPartitions] = strings.Join(g, ",")
		out[i] = cfg
	}
	return out, nil
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

// isUnknownTopic reports whether err says a topic or partition does not exist.
func isUnknownTopic(err error) bool {
	return errors.Is(err, errUnknownTopic) || errors.Is(err, errUnknownTopicID)
}
