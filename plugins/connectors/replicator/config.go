package replicator

import (
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// Configuration keys. The RocketMQ Connect replicator's names are accepted as aliases
// (src.endpoint, src.topictags, dest.topic, sync.gids, the ACL keys, ...).
const (
	KeySourceAlias    = "source.cluster.alias"
	KeyTargetAlias    = "target.cluster.alias"
	KeySourceNamesrv  = "source.namesrv"
	KeyTargetNamesrv  = "target.namesrv"
	KeySourceACL      = "source.acl.enable"
	KeySourceAK       = "source.access.key"
	KeySourceSK       = "source.secret.key"
	KeyTargetACL      = "target.acl.enable"
	KeyTargetAK       = "target.access.key"
	KeyTargetSK       = "target.secret.key"
	KeyTopics         = "source.topics"
	KeyTopicsRegex    = "source.topics.regex"
	KeyTopicsExclude  = "source.topics.exclude"
	KeyTopicTags      = "src.topictags"
	KeyTopicFormat    = "target.topic.format"
	KeyDestTopic      = "dest.topic"
	KeyStart          = "start.position"
	KeyRefresh        = "refresh.topics.interval"
	KeyPollBatch      = "poll.batch.size"
	KeyOffsetSyncs    = "offset.syncs.topic"
	KeyEmitSyncs      = "emit.offset.syncs.enabled"
	KeyOffsetLagMax   = "offset.lag.max"
	KeyGroups         = "groups"
	KeyCheckpoints    = "checkpoints.topic"
	KeyCheckpointIntv = "emit.checkpoints.interval"
	KeySyncGroups     = "sync.group.offsets.enabled"
	KeyHeartbeats     = "heartbeats.topic"
	KeyHeartbeatIntv  = "emit.heartbeats.interval"

	// keyQueues is set by TaskConfigs: the source queues of one task.
	keyQueues = "replicator.task.queues"
)

// Defaults that other code refers to.
const (
	DefaultTopicFormat    = "${alias}_${topic}"
	DefaultOffsetSyncs    = "rmq_replicator_offset_syncs"
	DefaultCheckpoints    = "rmq_replicator_checkpoints"
	DefaultHeartbeats     = "rmq_replicator_heartbeats"
	defaultExcludePattern = `^(RMQ_SYS_.*|rmq_sys_.*|TBW102|SCHEDULE_TOPIC_XXXX|%RETRY%.*|%DLQ%.*|OFFSET_MOVED_EVENT|` +
		`TRANS_CHECK_MAX_TIME_TOPIC|SELF_TEST_TOPIC|BenchmarkTest|DefaultHeartBeatSyncerTopic|` +
		`rmq_replicator_offset_syncs|rmq_replicator_checkpoints|connector-.*-topic|connect-.*)$`
)

// RocketMQ topic names allow no '.', so the MirrorMaker-like default joins alias and
// topic with '_'. topicName validates a config value naming one (rmqname.TopicPattern:
// characters and length apart, never a counted repetition, whose program is ~120 KB).
func topicName() []plugins.Validator {
	return []plugins.Validator{plugins.MatchesRegex(`[%|a-zA-Z0-9_-]+`), plugins.MaxLength(127)}
}

// aliasName validates a cluster alias: 1-64 letters, digits, '_' or '-'.
func aliasName() []plugins.Validator {
	return []plugins.Validator{plugins.MatchesRegex(`[A-Za-z0-9_-]+`), plugins.MaxLength(64)}
}

// Fields shared by the three connectors: the source cluster, its credentials and the
// engine defaults (bytes pass through unchanged, each source queue stays on one target
// queue).
func clusterFields() []plugins.Field {
	return []plugins.Field{
		{Name: KeySourceAlias, Type: plugins.TypeString, Validators: aliasName(),
			Doc: "Alias of the source cluster: the prefix of renamed topics and the key of offset syncs and checkpoints. Default: src.cluster when set, else \"source\"."},
		{Name: KeyTargetAlias, Type: plugins.TypeString, Validators: aliasName(),
			Doc: "Alias of the target cluster (the worker's): messages that came from it are never replicated back. Default: dest.cluster when set, else \"target\"; it must differ from the source alias."},
		{Name: "src.cluster", Type: plugins.TypeString, Doc: "RocketMQ Connect's source cluster name; the default source alias."},
		{Name: "dest.cluster", Type: plugins.TypeString, Doc: "RocketMQ Connect's target cluster name; the default target alias."},
		{Name: KeySourceNamesrv, Type: plugins.TypeString, Required: true, Aliases: []string{"src.endpoint"},
			Validators: []plugins.Validator{plugins.NonEmpty()}, Doc: "Name servers of the source cluster, host:port separated by ';' or ','."},
		{Name: KeySourceACL, Type: plugins.TypeBoolean, Default: true, Aliases: []string{"src.acl.enable"},
			Doc: "Sign requests to the source cluster with the access and secret keys (when both are set)."},
		{Name: KeySourceAK, Type: plugins.TypeString, Aliases: []string{"src.access.key"}, Doc: "Access key for the source cluster's ACL."},
		{Name: KeySourceSK, Type: plugins.TypePassword, Aliases: []string{"src.secret.key"}, Doc: "Secret key for the source cluster's ACL."},
		{Name: "value.converter", Type: plugins.TypeString, Default: "bytearray",
			Doc: "Engine key, defaulted by this connector: message bodies pass through unchanged."},
		{Name: "key.converter", Type: plugins.TypeString, Default: "bytearray", Doc: "Engine key, defaulted by this connector."},
		{Name: "ordering.msg.enable", Type: plugins.TypeBoolean, Default: true,
			Doc: "Engine key, defaulted by this connector: the messages of one source queue go, in order, to one target queue. The replicator needs it while emit.offset.syncs.enabled=true."},
		// Accepted for RocketMQ Connect configs and ignored: regions and clouds name where
		// the clusters run, which this connector has no use for.
		{Name: "src.region", Type: plugins.TypeString, Doc: "Accepted and ignored (RocketMQ Connect)."},
		{Name: "dest.region", Type: plugins.TypeString, Doc: "Accepted and ignored (RocketMQ Connect)."},
		{Name: "src.cloud", Type: plugins.TypeString, Doc: "Accepted and ignored (RocketMQ Connect)."},
		{Name: "source.cloud", Type: plugins.TypeString, Doc: "Accepted and ignored (RocketMQ Connect)."},
		{Name: "dest.cloud", Type: plugins.TypeString, Doc: "Accepted and ignored (RocketMQ Connect)."},
		{Name: "source.cluster", Type: plugins.TypeString, Doc: "Accepted and ignored (RocketMQ Connect)."},
	}
}

func targetFields(required bool) []plugins.Field {
	f := []plugins.Field{
		{Name: KeyTargetNamesrv, Type: plugins.TypeString, Aliases: []string{"dest.endpoint"},
			Doc: "Name servers of the target cluster (the worker's), host:port separated by ';' or ','."},
		{Name: KeyTargetACL, Type: plugins.TypeBoolean, Default: true, Aliases: []string{"dest.acl.enable"},
			Doc: "Sign requests to the target cluster with the access and secret keys (when both are set)."},
		{Name: KeyTargetAK, Type: plugins.TypeString, Aliases: []string{"dest.access.key"}, Doc: "Access key for the target cluster's ACL."},
		{Name: KeyTargetSK, Type: plugins.TypePassword, Aliases: []string{"dest.secret.key"}, Doc: "Secret key for the target cluster's ACL."},
	}
	if required {
		f[0].Required = true
		f[0].Validators = []plugins.Validator{plugins.NonEmpty()}
	}
	return f
}

func selectionFields() []plugins.Field {
	return []plugins.Field{
		{Name: KeyTopics, Type: plugins.TypeList, Doc: "Source topics to replicate (a list)."},
		{Name: KeyTopicsRegex, Type: plugins.TypeString, Validators: []plugins.Validator{plugins.IsRegex()},
			Doc: "Source topics to replicate: every topic whose whole name matches; new matching topics are picked up while running."},
		{Name: KeyTopicsExclude, Type: plugins.TypeString, Default: defaultExcludePattern, Validators: []plugins.Validator{plugins.IsRegex()},
			Doc: "Topics never replicated (whole-name match); by default RocketMQ's system topics and the connectors' own."},
		{Name: KeyTopicTags, Type: plugins.TypeString,
			Doc: "RocketMQ Connect's topic selection: \"topic,tagExpression\" pairs separated by ';' (tag expression \"*\" or \"TagA||TagB\")."},
		{Name: KeyTopicFormat, Type: plugins.TypeString, Default: DefaultTopicFormat,
			Doc: "Target topic name: ${alias} is the source alias, ${topic} the source topic. \"${topic}\" keeps names (identity; loops are prevented by a property)."},
		{Name: KeyDestTopic, Type: plugins.TypeString, Doc: "One target topic for every replicated topic (RocketMQ Connect); overrides target.topic.format."},
		{Name: KeyOffsetSyncs, Type: plugins.TypeString, Default: DefaultOffsetSyncs,
			Validators: topicName(), Doc: "Target topic of the offset syncs."},
	}
}

// clusterConf is how to reach one cluster.
type clusterConf struct {
	alias    string
	namesrvs []string
	ak, sk   string
}

func splitAddrs(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' || r == ' ' })
}

func aliases(v plugins.Values) (src, dst string) {
	src, dst = v.String(KeySourceAlias), v.String(KeyTargetAlias)
	if src == "" {
		src = sanitizeAlias(v.String("src.cluster"), "source")
	}
	if dst == "" {
		dst = sanitizeAlias(v.String("dest.cluster"), "target")
	}
	return src, dst
}

var nonAlias = regexp.MustCompile(`[^A-Za-z0-9_-]`)

func sanitizeAlias(s, def string) string {
	if s = nonAlias.ReplaceAllString(strings.TrimSpace(s), "_"); s == "" {
		return def
	}
	return s
}

func sourceCluster(v plugins.Values) clusterConf {
	src, _ := aliases(v)
	c := clusterConf{alias: src, namesrvs: splitAddrs(v.String(KeySourceNamesrv))}
	if v.Bool(KeySourceACL) {
		c.ak, c.sk = v.String(KeySourceAK), v.Password(KeySourceSK).Value()
	}
	return c
}

func targetCluster(v plugins.Values) clusterConf {
	_, dst := aliases(v)
	c := clusterConf{alias: dst, namesrvs: splitAddrs(v.String(KeyTargetNamesrv))}
	if v.Bool(KeyTargetACL) {
		c.ak, c.sk = v.String(KeyTargetAK), v.Password(KeyTargetSK).Value()
	}
	return c
}

// clientSeq makes instance names unique within the process.
var clientSeq atomic.Int64

// newClient makes a client of one cluster whose instance name is unique to the cluster's
// alias, the role (connector and task), the process and the call: the client library
// hands back one client per IP and instance name, and a second cluster reached under a
// name already used would get the first cluster's client (or none).
func newClient(c clusterConf, role string, log *slog.Logger) (*rmqclient.Client, error) {
	if len(c.namesrvs) == 0 {
		return nil, fmt.Errorf("no name server for cluster %s", c.alias)
	}
	inst := fmt.Sprintf("repl-%s-%s-%d-%d", c.alias, role, os.Getpid(), clientSeq.Add(1))
	cl, err := rmqclient.New(rmqclient.Config{NameServers: c.namesrvs, Instance: inst, Logger: log,
		AccessKey: c.ak, SecretKey: c.sk, OperationTimeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", c.alias, err)
	}
	return cl, nil
}
