package mysql

import (
	"context"
	"hash/fnv"
	"maps"
	"regexp"
	"strings"
	"time"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
)

// Name of mysql-cdc as plugins/builtin registers it.
const Name = "mysql-cdc"

// Aliases are the Java class names mysql-cdc answers to: RocketMQ Connect's and Debezium's.
var Aliases = []string{
	"org.apache.rocketmq.connect.debezium.mysql.DebeziumMysqlConnector",
	"io.debezium.connector.mysql.MySqlConnector",
	"io.debezium.connector.mariadb.MariaDbConnector",
}

// Configuration keys (Debezium's names).
const (
	KeyHost             = "database.hostname"
	KeyPort             = "database.port"
	KeyUser             = "database.user"
	KeyPassword         = "database.password"
	KeyServerID         = "database.server.id"
	KeyTopicPrefix      = "topic.prefix"
	KeyTopicDelimiter   = "topic.delimiter"
	KeyDBInclude        = "database.include.list"
	KeyTableInclude     = "table.include.list"
	KeyTableExclude     = "table.exclude.list"
	KeySnapshotMode     = "snapshot.mode"
	KeyTombstones       = "tombstones.on.delete"
	KeyHeartbeat        = "heartbeat.interval.ms"
	KeyHeartbeatPrefix  = "heartbeat.topics.prefix"
	KeyMaxBatch         = "max.batch.size"
	KeyPollInterval     = "poll.interval.ms"
	KeyReconnectBackoff = "retriable.restart.connector.wait.ms"
	KeyHistoryTopic     = "schema.history.internal.rocketmq.topic"
	KeyHistoryNamesrv   = "schema.history.internal.rocketmq.namesrv"
)

// DefaultHistoryPrefix starts the default schema history topic, __debezium-schema-history<delimiter><topic.prefix>.
const DefaultHistoryPrefix = "__debezium-schema-history"

// Snapshot modes.
const (
	SnapshotInitial    = "initial"
	SnapshotNever      = "never"
	SnapshotWhenNeeded = "when_needed"
	SnapshotSchemaOnly = "schema_only"
	SnapshotNoData     = "no_data"
)

var spec = plugins.MustConfigSpec(
	plugins.Field{Name: KeyHost, Type: plugins.TypeString, Required: true, Validators: []plugins.Validator{plugins.NonEmpty()},
		Doc: "MySQL/MariaDB server host."},
	plugins.Field{Name: KeyPort, Type: plugins.TypeInt, Default: 3306, Validators: []plugins.Validator{plugins.Between(1, 65535)},
		Doc: "Server port."},
	plugins.Field{Name: KeyUser, Type: plugins.TypeString, Required: true, Validators: []plugins.Validator{plugins.NonEmpty()},
		Doc: "User with REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR, RELOAD and SELECT (see docs/connectors.md)."},
	plugins.Field{Name: KeyPassword, Type: plugins.TypePassword, Doc: "The user's password."},
	plugins.Field{Name: KeyServerID, Type: plugins.TypeLong, Validators: []plugins.Validator{plugins.Between(1, 4294967295)},
		Doc: "Replica server id the connector registers with; unique among the server's replicas. Default: 5400 plus a hash of topic.prefix below 1000."},
	plugins.Field{Name: KeyTopicPrefix, Type: plugins.TypeString, Required: true, Aliases: []string{"database.server.name"},
		Validators: []plugins.Validator{plugins.MatchesRegex(`^[A-Za-z0-9_-]+$`)},
		Doc:        "Logical server name: the first part of every topic and the source partition."},
	plugins.Field{Name: KeyTopicDelimiter, Type: plugins.TypeString, Default: "-",
		Validators: []plugins.Validator{plugins.MatchesRegex(`^[A-Za-z0-9_%|-]*$`)},
		Doc:        "Separator of topic.prefix, database and table in topic names (RocketMQ topics cannot hold Debezium's dot)."},
	plugins.Field{Name: KeyDBInclude, Type: plugins.TypeList, Validators: []plugins.Validator{plugins.IsRegex()},
		Doc: "Regular expressions matching the whole name of captured databases; empty captures every non-system database."},
	plugins.Field{Name: KeyTableInclude, Type: plugins.TypeList, Validators: []plugins.Validator{plugins.IsRegex()},
		Doc: "Regular expressions matching the whole database.table of captured tables."},
	plugins.Field{Name: KeyTableExclude, Type: plugins.TypeList, Validators: []plugins.Validator{plugins.IsRegex()},
		Doc: "Regular expressions matching the whole database.table of tables not captured."},
	plugins.Field{Name: KeySnapshotMode, Type: plugins.TypeString, Default: SnapshotInitial,
		Validators: []plugins.Validator{plugins.OneOf(SnapshotInitial, SnapshotNever, SnapshotWhenNeeded, SnapshotSchemaOnly, SnapshotNoData)},
		Doc: "initial: read the tables (op r) when no position is stored, then stream; when_needed: also when the stored position was purged; " +
			"schema_only / no_data: stream from the current position; never: stream from the oldest binlog on the server."},
	plugins.Field{Name: KeyHistoryTopic, Type: plugins.TypeString, Aliases: []string{"schema.history.internal.kafka.topic"},
		Validators: []plugins.Validator{plugins.MatchesRegex(`^[A-Za-z0-9_%|-]{1,127}$`)},
		Doc: "RocketMQ topic (one queue) keeping the captured tables' schemas at each DDL and snapshot, so a restart decodes old binlog events " +
			"with the columns they were written under. Default: " + DefaultHistoryPrefix + "<topic.delimiter><topic.prefix>. Never delete it while the connector has stored offsets."},
	plugins.Field{Name: KeyHistoryNamesrv, Type: plugins.TypeString,
		Doc: "Name servers (host:port, separated by ';') of the RocketMQ cluster holding the schema history topic; default: the worker's own cluster."},
	plugins.Field{Name: KeyTombstones, Type: plugins.TypeBoolean, Default: true, Doc: "Follow each delete with a tombstone."},
	plugins.Field{Name: KeyHeartbeat, Type: plugins.TypeDuration, Default: "0",
		Doc: "When positive, a heartbeat record carrying the current position goes to <heartbeat.topics.prefix><delimiter><topic.prefix> at this interval while changes to uncaptured tables move the binlog but produce no record, so the stored position advances."},
	plugins.Field{Name: KeyHeartbeatPrefix, Type: plugins.TypeString, Default: "__debezium-heartbeat",
		Validators: []plugins.Validator{plugins.MatchesRegex(`^[A-Za-z0-9_%|-]+$`)}, Doc: "First part of the heartbeat topic."},
	plugins.Field{Name: KeyMaxBatch, Type: plugins.TypeInt, Default: 2048, Validators: []plugins.Validator{plugins.Between(1, 1<<20)},
		Doc: "Most records one poll returns."},
	plugins.Field{Name: KeyPollInterval, Type: plugins.TypeDuration, Default: "500ms",
		Doc: "How long a poll waits for changes before returning what it has (a number is milliseconds)."},
	plugins.Field{Name: KeyReconnectBackoff, Type: plugins.TypeDuration, Default: "1s",
		Doc: "Wait between reconnect attempts after the connection to the server was lost."},
)

type config struct {
	host, user, password string
	port                 int
	serverID             uint32
	prefix, delim        string
	dbInclude            []*regexp.Regexp
	include, exclude     []*regexp.Regexp
	snapshot             string
	tombstones           bool
	heartbeat            time.Duration
	heartbeatTopic       string
	maxBatch             int
	poll, backoff        time.Duration
	historyTopic         string
	historyNamesrv       []string
}

func parseConfig(v plugins.Values) (*config, error) {
	c := &config{host: v.String(KeyHost), port: v.Int(KeyPort), user: v.String(KeyUser), password: v.Password(KeyPassword).Value(),
		prefix: v.String(KeyTopicPrefix), delim: v.String(KeyTopicDelimiter), snapshot: v.String(KeySnapshotMode),
		tombstones: v.Bool(KeyTombstones), heartbeat: v.Duration(KeyHeartbeat), maxBatch: v.Int(KeyMaxBatch),
		poll: v.Duration(KeyPollInterval), backoff: v.Duration(KeyReconnectBackoff)}
	c.heartbeatTopic = v.String(KeyHeartbeatPrefix) + c.delim + c.prefix
	c.historyTopic = v.String(KeyHistoryTopic)
	if c.historyTopic == "" {
		c.historyTopic = DefaultHistoryPrefix + c.delim + c.prefix
	}
	c.historyNamesrv = strings.FieldsFunc(v.String(KeyHistoryNamesrv), func(r rune) bool { return r == ';' || r == ',' || r == ' ' })
	if v.IsSet(KeyServerID) {
		c.serverID = uint32(v.Long(KeyServerID))
	} else {
		h := fnv.New32a()
		_, _ = h.Write([]byte(c.prefix))
		c.serverID = 5400 + h.Sum32()%1000
	}
	var err error
	for _, l := range []struct {
		key string
		dst *[]*regexp.Regexp
	}{{KeyDBInclude, &c.dbInclude}, {KeyTableInclude, &c.include}, {KeyTableExclude, &c.exclude}} {
		for _, p := range v.List(l.key) {
			re, cerr := regexp.Compile(`^(?:` + p + `)$`)
			if cerr != nil {
				return nil, &cfgerr.Error{Key: l.key, Value: p, Reason: cerr.Error(), Err: plugins.ErrInvalidValue}
			}
			*l.dst = append(*l.dst, re)
		}
	}
	return c, err
}

var systemDBs = map[string]bool{"mysql": true, "information_schema": true, "performance_schema": true, "sys": true}

// captured reports whether db.table is captured.
func (c *config) captured(db, table string) bool {
	if systemDBs[db] {
		return false
	}
	if len(c.dbInclude) > 0 && !anyMatch(c.dbInclude, db) {
		return false
	}
	id := db + "." + table
	if len(c.include) > 0 {
		return anyMatch(c.include, id)
	}
	return !anyMatch(c.exclude, id)
}

func anyMatch(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// Connector is mysql-cdc. It runs one task: the binlog is one ordered stream.
type Connector struct {
	cfg map[string]string
}

// NewConnector returns an unstarted mysql-cdc connector.
func NewConnector() *Connector { return &Connector{} }

var _ plugins.SourceConnector = (*Connector)(nil)

// Spec declares the configuration keys.
func (c *Connector) Spec() *plugins.ConfigSpec { return spec }

// Validate checks the cross-field rules: table.include.list and table.exclude.list exclude each other.
func (c *Connector) Validate(cfg map[string]string) error {
	v, err := spec.Parse(cfg)
	if err != nil {
		return err
	}
	if len(v.List(KeyTableInclude)) > 0 && len(v.List(KeyTableExclude)) > 0 {
		return &cfgerr.Error{Key: KeyTableExclude, Value: cfg[KeyTableExclude],
			Reason: "cannot be set together with " + KeyTableInclude, Err: plugins.ErrInvalidValue}
	}
	return nil
}

// Start keeps the configuration for TaskConfigs.
func (c *Connector) Start(_ context.Context, _ plugins.ConnectorContext, cfg map[string]string) error {
	c.cfg = maps.Clone(cfg)
	return nil
}

// TaskConfigs returns one task config whatever maxTasks is.
func (c *Connector) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{maps.Clone(c.cfg)}, nil
}

// Stop does nothing: the task holds every resource.
func (c *Connector) Stop(context.Context) error { return nil }

// NewSourceTask returns an unstarted task.
func (c *Connector) NewSourceTask() plugins.SourceTask { return newTask() }
