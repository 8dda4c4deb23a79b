package postgres

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/url"
	"regexp"
	"time"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
)

// Name and aliases of postgres-cdc as plugins/builtin registers them: RocketMQ Connect's and Debezium's
// class names.
const Name = "postgres-cdc"

// Aliases are the Java class names postgres-cdc answers to.
var Aliases = []string{
	"org.apache.rocketmq.connect.debezium.postgres.DebeziumPostgresConnector",
	"io.debezium.connector.postgresql.PostgresConnector",
}

// Configuration keys (Debezium's names).
const (
	KeyHost             = "database.hostname"
	KeyPort             = "database.port"
	KeyUser             = "database.user"
	KeyPassword         = "database.password"
	KeyDBName           = "database.dbname"
	KeySSLMode          = "database.sslmode"
	KeyTopicPrefix      = "topic.prefix"
	KeyTopicDelimiter   = "topic.delimiter"
	KeyTableInclude     = "table.include.list"
	KeyTableExclude     = "table.exclude.list"
	KeyPublication      = "publication.name"
	KeyPublicationMode  = "publication.autocreate.mode"
	KeyPublishViaRoot   = "publish.via.partition.root"
	KeySlot             = "slot.name"
	KeyPlugin           = "plugin.name"
	KeySnapshotMode     = "snapshot.mode"
	KeyTombstones       = "tombstones.on.delete"
	KeyMaxBatch         = "max.batch.size"
	KeyPollInterval     = "poll.interval.ms"
	KeyReconnectBackoff = "retriable.restart.connector.wait.ms"
)

// Snapshot modes.
const (
	SnapshotInitial = "initial"
	SnapshotNever   = "never"
	SnapshotNoData  = "no_data"
)

// Publication auto-create modes.
const (
	PubAllTables = "all_tables"
	PubFiltered  = "filtered"
	PubDisabled  = "disabled"
)

var spec = plugins.MustConfigSpec(
	plugins.Field{Name: KeyHost, Type: plugins.TypeString, Required: true, Validators: []plugins.Validator{plugins.NonEmpty()},
		Doc: "PostgreSQL server host."},
	plugins.Field{Name: KeyPort, Type: plugins.TypeInt, Default: 5432, Validators: []plugins.Validator{plugins.Between(1, 65535)},
		Doc: "PostgreSQL server port."},
	plugins.Field{Name: KeyUser, Type: plugins.TypeString, Required: true, Validators: []plugins.Validator{plugins.NonEmpty()},
		Doc: "User with the REPLICATION attribute (see the grants in docs/connectors.md)."},
	plugins.Field{Name: KeyPassword, Type: plugins.TypePassword, Doc: "The user's password."},
	plugins.Field{Name: KeyDBName, Type: plugins.TypeString, Required: true, Validators: []plugins.Validator{plugins.NonEmpty()},
		Doc: "Database to capture."},
	plugins.Field{Name: KeySSLMode, Type: plugins.TypeString, Default: "prefer",
		Validators: []plugins.Validator{plugins.OneOf("disable", "allow", "prefer", "require", "verify-ca", "verify-full")},
		Doc:        "libpq sslmode of both connections."},
	plugins.Field{Name: KeyTopicPrefix, Type: plugins.TypeString, Required: true, Aliases: []string{"database.server.name"},
		Validators: []plugins.Validator{plugins.MatchesRegex(`^[A-Za-z0-9_-]+$`)},
		Doc:        "Logical server name: the first part of every topic and the source partition."},
	plugins.Field{Name: KeyTopicDelimiter, Type: plugins.TypeString, Default: "-",
		Validators: []plugins.Validator{plugins.MatchesRegex(`^[A-Za-z0-9_%|-]*$`)},
		Doc:        "Separator of topic.prefix, schema and table in topic names (RocketMQ topics cannot hold Debezium's dot)."},
	plugins.Field{Name: KeyTableInclude, Type: plugins.TypeList, Validators: []plugins.Validator{plugins.IsRegex()},
		Doc: "Regular expressions matching the whole schema.table of captured tables; empty captures every table of the publication."},
	plugins.Field{Name: KeyTableExclude, Type: plugins.TypeList, Validators: []plugins.Validator{plugins.IsRegex()},
		Doc: "Regular expressions matching the whole schema.table of tables not captured."},
	plugins.Field{Name: KeyPublication, Type: plugins.TypeString, Default: "dbz_publication",
		Validators: []plugins.Validator{plugins.MatchesRegex(`^[A-Za-z0-9_]{1,63}$`)},
		Doc:        "Publication the stream reads; created when absent and no position is stored."},
	plugins.Field{Name: KeyPublicationMode, Type: plugins.TypeString, Default: PubAllTables,
		Validators: []plugins.Validator{plugins.OneOf(PubAllTables, PubFiltered, PubDisabled)},
		Doc:        "How an absent publication is created: FOR ALL TABLES (needs a superuser), FOR TABLE the included tables (filtered: each start adds those it lacks, never removes one), or not at all (disabled: its absence is an error)."},
	plugins.Field{Name: KeyPublishViaRoot, Type: plugins.TypeBoolean, Default: false,
		Doc: "Create the publication WITH (publish_via_partition_root = true): a partitioned table's changes, and its snapshot, come under its own name (one topic) instead of under each partition's. Applies when the connector creates the publication; an existing one is left as it is (a start that finds it otherwise, with the key set, warns)."},
	plugins.Field{Name: KeySlot, Type: plugins.TypeString, Default: "debezium",
		Validators: []plugins.Validator{plugins.MatchesRegex(`^[a-z0-9_]{1,63}$`)},
		Doc:        "Logical replication slot; created when absent and no position is stored."},
	plugins.Field{Name: KeyPlugin, Type: plugins.TypeString, Default: "pgoutput", Validators: []plugins.Validator{plugins.OneOf("pgoutput")},
		Doc: "Logical decoding plugin; only pgoutput."},
	plugins.Field{Name: KeySnapshotMode, Type: plugins.TypeString, Default: SnapshotInitial,
		Validators: []plugins.Validator{plugins.OneOf(SnapshotInitial, SnapshotNever, SnapshotNoData)},
		Doc:        "initial: read the tables (op r) before streaming when no position is stored; never / no_data: stream only."},
	plugins.Field{Name: KeyTombstones, Type: plugins.TypeBoolean, Default: true, Doc: "Follow each delete with a tombstone."},
	plugins.Field{Name: KeyMaxBatch, Type: plugins.TypeInt, Default: 2048, Validators: []plugins.Validator{plugins.Between(1, 1<<20)},
		Doc: "Most records one poll returns."},
	// A poll of 0 would end each read before anything arrives (streaming stops without an error); a long
	// one holds back Commit, which runs between polls, and so the LSN confirmed to the server.
	plugins.Field{Name: KeyPollInterval, Type: plugins.TypeDuration, Default: "500ms",
		Validators: []plugins.Validator{plugins.DurationBetween(time.Millisecond, time.Minute)},
		Doc:        "How long a poll waits for changes before returning what it has (a number is milliseconds)."},
	plugins.Field{Name: KeyReconnectBackoff, Type: plugins.TypeDuration, Default: "1s",
		Validators: []plugins.Validator{plugins.DurationBetween(time.Millisecond, time.Hour)},
		Doc:        "Wait between reconnect attempts after the connection to the server was lost."},
)

// config is a task's parsed configuration.
type config struct {
	host, user, password, dbname, sslmode string
	port                                  int
	prefix, delim                         string
	include, exclude                      []*regexp.Regexp
	publication, pubMode, slot, snapshot  string
	viaRoot, viaRootSet                   bool // publish.via.partition.root, and whether the config sets it
	tombstones                            bool
	maxBatch                              int
	poll, backoff                         time.Duration
}

func parseConfig(v plugins.Values) (*config, error) {
	c := &config{
		host: v.String(KeyHost), port: v.Int(KeyPort), user: v.String(KeyUser), password: v.Password(KeyPassword).Value(),
		dbname: v.String(KeyDBName), sslmode: v.String(KeySSLMode), prefix: v.String(KeyTopicPrefix),
		delim: v.String(KeyTopicDelimiter), publication: v.String(KeyPublication), pubMode: v.String(KeyPublicationMode),
		slot: v.String(KeySlot), snapshot: v.String(KeySnapshotMode), tombstones: v.Bool(KeyTombstones),
		maxBatch: v.Int(KeyMaxBatch), poll: v.Duration(KeyPollInterval), backoff: v.Duration(KeyReconnectBackoff),
		viaRoot: v.Bool(KeyPublishViaRoot), viaRootSet: v.IsSet(KeyPublishViaRoot),
	}
	var err error
	if c.include, err = compileAll(KeyTableInclude, v.List(KeyTableInclude)); err != nil {
		return nil, err
	}
	if c.exclude, err = compileAll(KeyTableExclude, v.List(KeyTableExclude)); err != nil {
		return nil, err
	}
	return c, nil
}

func compileAll(key string, pats []string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, p := range pats {
		re, err := regexp.Compile(`^(?:` + p + `)$`)
		if err != nil {
			return nil, &cfgerr.Error{Key: key, Value: p, Reason: err.Error(), Err: plugins.ErrInvalidValue}
		}
		out = append(out, re)
	}
	return out, nil
}

// captured reports whether schema.table is captured under the include and exclude lists.
func (c *config) captured(schemaName, table string) bool {
	id := schemaName + "." + table
	if len(c.include) > 0 {
		for _, re := range c.include {
			if re.MatchString(id) {
				return true
			}
		}
		return false
	}
	for _, re := range c.exclude {
		if re.MatchString(id) {
			return false
		}
	}
	return true
}

// connString is the connection URL; replication adds replication=database for the streaming connection.
// Both sessions fix the settings that shape the text form of the values the task parses (pgoutput writes
// them with the walsender's settings, the snapshot reads them with the query connection's), which a
// database or role default (ALTER DATABASE … SET DateStyle) could otherwise change: ISO dates, hex bytea,
// and floats that read back exactly.
func (c *config) connString(replication bool) string {
	q := url.Values{"sslmode": {c.sslmode}, "application_name": {"rmqconnect-" + c.slot},
		"DateStyle": {"ISO"}, "bytea_output": {"hex"}, "extra_float_digits": {"3"}}
	if replication {
		q.Set("replication", "database")
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(c.user, c.password),
		Host: net.JoinHostPort(c.host, fmt.Sprint(c.port)), Path: "/" + c.dbname, RawQuery: q.Encode()}
	return u.String()
}

// Connector is postgres-cdc. It runs one task: a replication slot has one reader.
type Connector struct {
	cfg map[string]string
}

// NewConnector returns an unstarted postgres-cdc connector.
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
