package jdbc

import (
	"time"

	"github.com/rmqconnect/rmqconnect/plugins"
)

// Names and aliases of the jdbc connectors, as registered by plugins/builtin.
const (
	SourceName = "jdbc-source"
	SinkName   = "jdbc-sink"
)

// SourceAliases are the Java class names accepted for jdbc-source.
var SourceAliases = []string{
	"org.apache.rocketmq.connect.jdbc.connector.JdbcSourceConnector",
	"io.confluent.connect.jdbc.JdbcSourceConnector",
}

// SinkAliases are the Java class names accepted for jdbc-sink.
var SinkAliases = []string{
	"org.apache.rocketmq.connect.jdbc.connector.JdbcSinkConnector",
	"io.confluent.connect.jdbc.JdbcSinkConnector",
}

// Configuration keys, named as Confluent's JDBC connector names them.
const (
	KeyURL      = "connection.url"
	KeyUser     = "connection.user"
	KeyPassword = "connection.password"

	KeyMode              = "mode"
	KeyIncrementingCol   = "incrementing.column.name"
	KeyTimestampCols     = "timestamp.column.name"
	KeyQuery             = "query"
	KeyWhitelist         = "table.whitelist"
	KeyBlacklist         = "table.blacklist"
	KeyTopicPrefix       = "topic.prefix"
	KeyPollInterval      = "poll.interval.ms"
	KeyBatchMaxRows      = "batch.max.rows"
	KeyTimestampDelay    = "timestamp.delay.interval.ms"
	KeyTablePollInterval = "table.poll.interval.ms"
	KeyTaskTables        = "task.tables"

	KeyInsertMode      = "insert.mode"
	KeyPKMode          = "pk.mode"
	KeyPKFields        = "pk.fields"
	KeyAutoCreate      = "auto.create"
	KeyAutoEvolve      = "auto.evolve"
	KeyDeleteEnabled   = "delete.enabled"
	KeyTableNameFormat = "table.name.format"
	KeyBatchSize       = "batch.size"
	KeyDelivery        = "delivery.guarantee"
	KeyOffsetsTable    = "exactly.once.offsets.table"
)

// Values of mode, insert.mode, pk.mode and delivery.guarantee.
const (
	ModeBulk                  = "bulk"
	ModeIncrementing          = "incrementing"
	ModeTimestamp             = "timestamp"
	ModeTimestampIncrementing = "timestamp+incrementing"

	InsertInsert = "insert"
	InsertUpsert = "upsert"
	InsertUpdate = "update"

	PKNone        = "none"
	PKRecordKey   = "record_key"
	PKRecordValue = "record_value"

	AtLeastOnce = "at_least_once"
	ExactlyOnce = "exactly_once"
)

func connectionFields() []plugins.Field {
	return []plugins.Field{
		{Name: KeyURL, Type: plugins.TypeString, Required: true, Aliases: []string{"jdbcUrl"},
			Validators: []plugins.Validator{plugins.NonEmpty()},
			Doc: "The database: a JDBC URL (jdbc:postgresql://host:port/db, jdbc:mysql://host:port/db, " +
				"jdbc:mariadb://host:port/db) or the Go driver's own DSN (postgres://…, host=… dbname=…, " +
				"user:password@tcp(host:port)/db)."},
		{Name: KeyUser, Type: plugins.TypeString, Aliases: []string{"jdbcUsername"},
			Doc: "User name; overrides one in connection.url."},
		{Name: KeyPassword, Type: plugins.TypePassword, Aliases: []string{"jdbcPassword"},
			Doc: "Password; overrides one in connection.url. Never logged or shown in a trace."},
	}
}

var sourceSpec = plugins.MustConfigSpec(append(connectionFields(),
	plugins.Field{Name: KeyMode, Type: plugins.TypeString, Default: ModeBulk,
		Validators: []plugins.Validator{plugins.OneOf(ModeBulk, ModeIncrementing, ModeTimestamp, ModeTimestampIncrementing)},
		Doc: "bulk: the whole table at every poll; incrementing: new rows by a strictly increasing column " +
			"(ids must become visible in increasing order); timestamp: new and changed rows by a timestamp column; " +
			"timestamp+incrementing: both. The timestamp modes miss no row only when timestamp.delay.interval.ms " +
			"exceeds the longest transaction writing the table."},
	plugins.Field{Name: KeyIncrementingCol, Type: plugins.TypeString,
		Doc: "Strictly increasing integer column (incrementing modes)."},
	plugins.Field{Name: KeyTimestampCols, Type: plugins.TypeList,
		Doc: "Timestamp column, or several whose first non-null value counts (timestamp modes)."},
	plugins.Field{Name: KeyQuery, Type: plugins.TypeString,
		Doc: "A SELECT to read instead of tables; its rows go to topic.prefix. Filters of the incrementing and " +
			"timestamp modes are applied around it."},
	plugins.Field{Name: KeyWhitelist, Type: plugins.TypeList, Aliases: []string{"table.include.list"},
		Doc: "Tables or views to read; a bare name is found as a query finds it (PostgreSQL's search path, " +
			"MySQL's database), and a name that is none fails the start (empty: every table of the current " +
			"schema/database, minus table.blacklist; a PostgreSQL partition is read through its partitioned table)."},
	plugins.Field{Name: KeyBlacklist, Type: plugins.TypeList, Aliases: []string{"table.exclude.list"},
		Doc: "Tables never read (when table.whitelist is empty): a bare name, or one qualified by the current " +
			"schema (PostgreSQL) or database (MySQL), such as public.secrets."},
	plugins.Field{Name: KeyTopicPrefix, Type: plugins.TypeString, Default: "",
		Doc: "Topic of a table's rows is this prefix followed by the table name; with query, the topic itself."},
	plugins.Field{Name: KeyPollInterval, Type: plugins.TypeDuration, Default: 5 * time.Second,
		Validators: []plugins.Validator{plugins.DurationBetween(time.Millisecond, 24*time.Hour)},
		Doc:        "How often a table that had no more rows is queried again."},
	plugins.Field{Name: KeyBatchMaxRows, Type: plugins.TypeInt, Default: 1000,
		Validators: []plugins.Validator{plugins.Between(1, 1<<20)},
		Doc:        "Most rows one poll returns for one table."},
	plugins.Field{Name: KeyTimestampDelay, Type: plugins.TypeDuration, Default: time.Duration(0),
		Validators: []plugins.Validator{plugins.DurationBetween(0, 24*time.Hour)},
		Doc: "Rows whose timestamp is newer than the database clock minus this delay wait for a later poll " +
			"(lets transactions with earlier timestamps commit first: set it above the longest writing transaction)."},
	plugins.Field{Name: KeyTablePollInterval, Type: plugins.TypeDuration, Default: time.Minute,
		Validators: []plugins.Validator{plugins.DurationBetween(time.Millisecond, 24*time.Hour)},
		Doc:        "How often the connector looks for new or dropped tables (and reassigns the tasks' tables)."},
	plugins.Field{Name: KeyTaskTables, Type: plugins.TypeList,
		Doc: "Set by the connector in task configurations: the tables one task reads. Not for users."},
)...)

var sinkSpec = plugins.MustConfigSpec(append(connectionFields(),
	plugins.Field{Name: KeyInsertMode, Type: plugins.TypeString, Default: InsertInsert,
		Validators: []plugins.Validator{plugins.OneOf(InsertInsert, InsertUpsert, InsertUpdate)},
		Doc: "insert: plain INSERT; upsert: insert or update by primary key (idempotent); update: UPDATE by " +
			"primary key only."},
	plugins.Field{Name: KeyPKMode, Type: plugins.TypeString, Default: PKNone,
		Validators: []plugins.Validator{plugins.OneOf(PKNone, PKRecordKey, PKRecordValue)},
		Doc:        "Where the primary key comes from: none, the record key, or fields of the record value."},
	plugins.Field{Name: KeyPKFields, Type: plugins.TypeList,
		Doc: "Primary-key fields: with record_value, value fields (empty: all); with record_key, key struct " +
			"fields (empty: all), or the column name of a primitive key (default __connect_key)."},
	plugins.Field{Name: KeyAutoCreate, Type: plugins.TypeBoolean, Default: false,
		Doc: "Create a missing table from the record schema (CREATE TABLE with the primary key)."},
	plugins.Field{Name: KeyAutoEvolve, Type: plugins.TypeBoolean, Default: false,
		Doc: "Add a nullable column for a record field the table lacks (ALTER TABLE … ADD)."},
	plugins.Field{Name: KeyDeleteEnabled, Type: plugins.TypeBoolean, Default: false,
		Doc: "A record with a null value deletes the row of its key (needs pk.mode=record_key)."},
	plugins.Field{Name: KeyTableNameFormat, Type: plugins.TypeString, Default: "${topic}",
		Validators: []plugins.Validator{plugins.NonEmpty()},
		Doc: "Destination table; ${topic} is replaced by the record's topic. A dot in the format (not in the " +
			"topic) separates schema and table. Always quoted."},
	plugins.Field{Name: KeyBatchSize, Type: plugins.TypeInt, Default: 3000,
		Validators: []plugins.Validator{plugins.Between(1, 1<<20)},
		Doc:        "Most rows written by one statement."},
	plugins.Field{Name: KeyDelivery, Type: plugins.TypeString, Default: AtLeastOnce,
		Validators: []plugins.Validator{plugins.OneOf(AtLeastOnce, ExactlyOnce)},
		Doc: "exactly_once: store the consumed queue offsets in exactly.once.offsets.table in the same " +
			"transaction as the rows and skip records at or below them when redelivered."},
	plugins.Field{Name: KeyOffsetsTable, Type: plugins.TypeString, Default: "rmqconnect_sink_offsets",
		Validators: []plugins.Validator{plugins.NonEmpty()},
		Doc:        "Table (created when missing) holding the exactly-once sink's offsets."},
)...)
