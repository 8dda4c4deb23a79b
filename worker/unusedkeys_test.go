package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/magiconair/properties"
	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/builtin"
)

// unusedOf validates cfg as the engine does (create, update, validate) and returns the keys
// it found unused, each as unusedKey.String shows it.
func unusedOf(t *testing.T, reg *plugins.Registry, cfg map[string]string) []string {
	t.Helper()
	pc, _, _ := validateConnectorConfig(reg, "c", cfg, connectorDefaults{keyConverter: "string", valueConverter: "json"}, noSecrets{})
	var out []string
	for _, u := range pc.unused() {
		out = append(out, u.String())
	}
	return out
}

func builtinRegistry(t *testing.T) *plugins.Registry {
	t.Helper()
	reg, err := builtin.Registry()
	require.NoError(t, err)
	return reg
}

// with returns base plus kv (key, value, key, value, ...).
func with(base map[string]string, kv ...string) map[string]string {
	out := maps.Clone(base)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

var (
	pgCDC = map[string]string{"name": "c", "connector.class": "postgres-cdc", "database.hostname": "db",
		"database.user": "u", "database.dbname": "shop", "topic.prefix": "shop"}
	jdbcSink = map[string]string{"name": "c", "connector.class": "jdbc-sink", "connect.topicnames": "orders",
		"connection.url": "jdbc:postgresql://db:5432/shop"}
)

// A key nothing reads is reported with the key that is read closest to it: a typo of the
// connector's keys, the runtime's, a transform's alias or a transform's own keys.
func TestUnusedKeysSuggestTypos(t *testing.T) {
	reg := builtinRegistry(t)
	for _, tc := range []struct {
		name string
		cfg  map[string]string
		want []string
	}{
		{"connector key transposed", with(pgCDC, "tabel.include.list", "public\\.orders"),
			[]string{"tabel.include.list (did you mean table.include.list?)"}},
		{"runtime key misspelt", with(pgCDC, "errors.tolerence", "all"),
			[]string{"errors.tolerence (did you mean errors.tolerance?)"}},
		{"case and separators", with(pgCDC, "Tasks_Max", "1", "ERRORS-LOG-ENABLE", "true"),
			[]string{"ERRORS-LOG-ENABLE (did you mean errors.log.enable?)", "Tasks_Max (did you mean tasks.max?)"}},
		{"a sink's key on a source", with(pgCDC, "connect.topicnames", "t"),
			[]string{"connect.topicnames (did you mean connect.topicname?)"}},
		{"transform alias", with(jdbcSink, "transforms", "unwrap", "transforms.unwrap.type", "ExtractNewRecordState",
			"transforms.unwarp.drop.tombstones", "false"),
			[]string{"transforms.unwarp.drop.tombstones (did you mean transforms.unwrap.drop.tombstones?)"}},
		{"transform key", with(jdbcSink, "transforms", "unwrap", "transforms.unwrap.type", "io.debezium.transforms.ExtractNewRecordState",
			"transforms.unwrap.delete.handling.mod", "none"),
			[]string{"transforms.unwrap.delete.handling.mod (did you mean transforms.unwrap.delete.handling.mode?)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, unusedOf(t, reg, tc.cfg))
		})
	}
}

// The keys of the listed transforms and predicates (their own and the chain's), and every
// key under a converter's prefix, are read.
func TestUnusedKeysAcceptChainAndConverterKeys(t *testing.T) {
	reg := builtinRegistry(t)
	cfg := with(jdbcSink,
		"transforms", "route, unwrap,drop", "predicates", "isOrders,tomb",
		"transforms.route.type", "org.apache.kafka.connect.transforms.RegexRouter",
		"transforms.route.regex", "(.*)", "transforms.route.replacement", "x-$1",
		"transforms.route.predicate", "isOrders", "transforms.route.negate", "true",
		"transforms.unwrap.class", "ExtractNewRecordState", "transforms.unwrap.add.fields", "op",
		"transforms.drop.type", "Filter", "transforms.drop.predicate", "tomb",
		"predicates.isOrders.type", "TopicNameMatches", "predicates.isOrders.pattern", "orders",
		"predicates.tomb.class", "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
		"key.converter", "json", "key.converter.schemas.enable", "false",
		"value.converter", "json", "value.converter.decimal.format", "NUMERIC",
		"tasks.max", "2", "connect.topicnames", "", "topics", "orders", "task.group.id", "g", "consumer.batch.size", "100",
		"errors.deadletterqueue.topic.name", "dlq", "errors.deadletterqueue.context.properties.enable", "false",
		"jdbcUrl", "jdbc:postgresql://db:5432/shop") // an alias the Spec declares
	require.Empty(t, unusedOf(t, reg, cfg))

	// A transform whose type is unknown is an error of its own; its keys are not checked.
	require.Empty(t, unusedOf(t, reg, with(jdbcSink, "transforms", "x", "transforms.x.type", "com.example.Mine", "transforms.x.anything", "1")))
}

// A key nothing reads is reported even when no key is close to it; keys Kafka Connect reads
// and this runtime does not say why they have no effect. Keys of a transform that is not
// listed are not read, nor a predicate's predicate and negate.
func TestUnusedKeysReportKeysNothingReads(t *testing.T) {
	reg := builtinRegistry(t)
	got := unusedOf(t, reg, with(jdbcSink,
		"completely.unrelated", "x",
		"transforms.old.type", "Filter",
		"predicates", "p", "predicates.p.type", "RecordIsTombstone", "predicates.p.negate", "true",
		"topics.regex", "orders.*",
		"header.converter", "org.apache.kafka.connect.storage.SimpleHeaderConverter",
		"consumer.override.max.poll.records", "100", "producer.override.linger.ms", "5", "admin.override.x", "y"))
	require.Equal(t, []string{
		"admin.override.x (Kafka client override: the worker's RocketMQ clients take none)",
		"completely.unrelated",
		"consumer.override.max.poll.records (Kafka client override: the worker's RocketMQ clients take none)",
		"header.converter (headers travel as message properties, without a converter)",
		"predicates.p.negate",
		"producer.override.linger.ms (Kafka client override: the worker's RocketMQ clients take none)",
		"topics.regex (not supported: a sink consumes the topics listed in connect.topicnames or topics)",
		"transforms.old.type",
	}, got)

	// Kafka's topics does nothing beside connect.topicnames; Kafka's names of keys read under
	// another name are suggested that name; a DLQ replication factor has no meaning here.
	require.Equal(t, []string{
		"errors.deadletterqueue.context.headers.enable (did you mean errors.deadletterqueue.context.properties.enable?)",
		"errors.deadletterqueue.topic.replication.factor (a RocketMQ topic has no replication factor: the broker's replicas (master and slaves, or DLedger) keep its copies)",
		"topics (connect.topicnames is set, and takes its place)",
	}, unusedOf(t, reg, with(jdbcSink, "topics", "other", "errors.deadletterqueue.context.headers.enable", "true",
		"errors.deadletterqueue.topic.replication.factor", "3")))
	require.Empty(t, unusedOf(t, reg, with(jdbcSink, "connect.topicnames", "", "topics", "orders")), "topics alone is read")

	// A connector that declares no keys reads none: null-sink.
	require.Equal(t, []string{"filename"}, unusedOf(t, reg, map[string]string{"name": "c", "connector.class": "null-sink",
		"connect.topicnames": "t", "filename": "/tmp/x"}))
	// An unknown class is an error; nothing is reported besides it.
	require.Empty(t, unusedOf(t, reg, map[string]string{"name": "c", "connector.class": "nope", "x": "y"}))
}

// The worker log gets one line per connector, naming it and every unused key.
func TestLogUnusedKeys(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	logUnusedKeys(log, "orders", nil)
	require.Zero(t, buf.Len(), "a config without unused keys logs nothing")

	logUnusedKeys(log, "orders", []unusedKey{{key: "errors.tolerence", suggestion: "errors.tolerance"}, {key: "foo"}})
	var line struct {
		Level, Connector string
		Keys             []string
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line))
	require.Equal(t, "WARN", line.Level)
	require.Equal(t, "orders", line.Connector)
	require.Equal(t, []string{"errors.tolerence (did you mean errors.tolerance?)", "foo"}, line.Keys)
	require.Equal(t, 1, strings.Count(buf.String(), "\n"))

	// A line names at most 50 keys, each cut to 200 bytes, and counts the others.
	buf.Reset()
	var many []unusedKey
	for i := range 70 {
		many = append(many, unusedKey{key: fmt.Sprintf("k%02d.", i) + strings.Repeat("x", 1000)})
	}
	logUnusedKeys(log, "orders", many)
	var capped struct {
		Keys     []string
		MoreKeys int `json:"more_keys"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &capped))
	require.Len(t, capped.Keys, 50)
	require.Equal(t, 20, capped.MoreKeys)
	require.Len(t, capped.Keys[0], 203)
}

// A key of a huge config is answered at once: keys beyond maxSuggested, or longer than
// maxSuggestedLen, are not compared with every known key.
func TestUnusedKeysOfHugeConfig(t *testing.T) {
	reg := builtinRegistry(t)
	cfg := maps.Clone(jdbcSink)
	cfg["table.name.formatt"+strings.Repeat("x", 1<<20)] = "1"
	// Typos one edit away from runtime keys, several hundred of them.
	typos := 0
	for _, k := range []string{"errors.deadletterqueue.topic.name", "errors.log.include.messages", "errors.retry.timeout",
		"errors.retry.delay.max.ms", "consumer.batch.size", "errors.tolerance"} {
		for i := range len(k) {
			for _, c := range "qz" {
				cfg[k[:i]+string(c)+k[i+1:]] = "1"
				typos++
			}
		}
	}
	got := unusedOf(t, reg, cfg)
	require.Greater(t, len(got), maxSuggested+100, "typos: %d", typos)
	suggested := 0
	for _, g := range got {
		if strings.Contains(g, "did you mean") {
			suggested++
		}
	}
	require.Equal(t, maxSuggested, suggested)
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"table", "tabel", 1}, {"tolerance", "tolerence", 1},
		{"ca", "abc", 3}, // optimal string alignment: no substring edited twice
		{"kitten", "sitting", 3},
	} {
		require.Equal(t, tc.want, editDistance([]rune(tc.a), []rune(tc.b)), "%s/%s", tc.a, tc.b)
		require.Equal(t, tc.want, editDistance([]rune(tc.b), []rune(tc.a)), "%s/%s", tc.b, tc.a)
	}
	require.Equal(t, "", closestKey("url", []string{"uri.path", "mode"}), "short keys need a near match")
	require.Equal(t, "url", closestKey("urls", []string{"url"}))
	require.Equal(t, "", closestKey("errors.x", []string{"errors.tolerance"}))
}

// documentedKeys are the keys docs/connectors.md documents for each built-in connector (its
// tables and text), aliases included. Every one must be read.
var documentedKeys = map[string][]string{
	"file-source": {"filename", "file", "connect.topicname", "topic", "batch.size", "max.line.bytes", "poll.interval.ms",
		"partial.line.flush.ms", "ordering.msg.enable"},
	"file-sink":        {"filename", "file", "connect.topicnames", "ordering.msg.enable"},
	"generator-source": {"connect.topicname", "record.size", "count", "rate", "keys", "batch.size"},
	"null-sink":        {"connect.topicnames"},
	"jdbc-source": {"connection.url", "jdbcUrl", "connection.user", "jdbcUsername", "connection.password", "jdbcPassword",
		"mode", "incrementing.column.name", "timestamp.column.name", "table.whitelist", "table.blacklist", "query",
		"topic.prefix", "poll.interval.ms", "batch.max.rows", "timestamp.delay.interval.ms", "table.poll.interval.ms", "tasks.max"},
	"jdbc-sink": {"connection.url", "jdbcUrl", "connection.user", "jdbcUsername", "connection.password", "jdbcPassword",
		"insert.mode", "pk.mode", "pk.fields", "auto.create", "auto.evolve", "delete.enabled", "table.name.format",
		"batch.size", "delivery.guarantee", "exactly.once.offsets.table", "ordering.msg.enable", "key.converter"},
	"postgres-cdc": {"database.hostname", "database.port", "database.user", "database.password", "database.dbname",
		"database.sslmode", "topic.prefix", "database.server.name", "table.include.list", "table.exclude.list",
		"publication.name", "publication.autocreate.mode", "publish.via.partition.root", "slot.name", "plugin.name",
		"snapshot.mode", "tombstones.on.delete", "max.batch.size", "poll.interval.ms", "retriable.restart.connector.wait.ms",
		"topic.delimiter", "ordering.msg.enable", "max.tasks"},
	"mysql-cdc": {"database.hostname", "database.port", "database.user", "database.password", "database.server.id",
		"topic.prefix", "database.server.name", "database.include.list", "table.include.list", "table.exclude.list",
		"snapshot.mode", "heartbeat.interval.ms", "heartbeat.topics.prefix", "schema.history.internal.rocketmq.topic",
		"schema.history.internal.kafka.topic", "schema.history.internal.rocketmq.namesrv", "tombstones.on.delete",
		"max.batch.size", "poll.interval.ms", "retriable.restart.connector.wait.ms", "topic.delimiter"},
	"http-sink": {"url", "method", "headers", "header.separator", "body.format", "content.type", "batch.max.records",
		"batch.format", "batch.max.bytes", "linger.ms", "max.concurrent.requests", "requests.per.second", "ordering.per.key",
		"behavior.on.null.values", "record.error.statuses", "auth.type", "auth.username", "auth.password",
		"auth.bearer.token", "hmac.secret", "hmac.header", "hmac.algorithm", "tls.client.cert.file", "tls.client.key.file",
		"tls.ca.file", "request.timeout", "retry.max.attempts", "retry.backoff.initial", "retry.backoff.max",
		"consumer.batch.size"},
	"http-source": {"mode", "url", "poll.interval", "request.body", "records.path", "record.key.path", "record.value.format",
		"headers", "auth.type", "auth.username", "auth.password", "auth.bearer.token", "pagination.mode",
		"pagination.cursor.path", "pagination.cursor.param", "pagination.next.path", "position.path", "position.initial",
		"response.max.bytes", "retry.max.attempts", "retry.backoff.initial", "retry.backoff.max", "listen.address",
		"listen.path", "listen.ack.timeout", "listen.max.body.bytes", "listen.queue.size", "listen.poll.max.records",
		"listen.auth", "listen.secret", "listen.secret.header", "hmac.header", "hmac.algorithm", "hmac.secret",
		"tls.client.cert.file", "tls.client.key.file", "tls.ca.file"},
	"rocketmq-replicator": {"source.namesrv", "src.endpoint", "source.cluster.alias", "src.cluster", "target.cluster.alias",
		"dest.cluster", "target.namesrv", "dest.endpoint", "source.acl.enable", "src.acl.enable", "source.access.key",
		"src.access.key", "source.secret.key", "src.secret.key", "target.acl.enable", "dest.acl.enable", "target.access.key",
		"dest.access.key", "target.secret.key", "dest.secret.key", "source.topics", "source.topics.regex",
		"source.topics.exclude", "src.topictags", "target.topic.format", "dest.topic", "start.position",
		"refresh.topics.interval", "poll.batch.size", "offset.syncs.topic", "emit.offset.syncs.enabled", "offset.lag.max",
		"src.region", "src.cloud", "ordering.msg.enable", "value.converter", "max.tasks"},
	"rocketmq-replicator-checkpoint": {"groups", "sync.gids", "emit.checkpoints.interval", "checkpoints.topic",
		"sync.group.offsets.enabled", "target.namesrv", "dest.endpoint", "source.namesrv", "src.endpoint",
		"source.topics", "source.topics.regex", "source.topics.exclude", "src.topictags", "offset.syncs.topic"},
	"rocketmq-replicator-heartbeat": {"heartbeats.topic", "emit.heartbeats.interval", "source.namesrv", "src.endpoint"},
	"kafka-source": append([]string{"kafka.topics", "kafka.topics.regex", "topic.rename.format", "kafka.offset.reset",
		"auto.offset.reset", "kafka.fetch.max.bytes", "kafka.fetch.max.wait", "kafka.isolation.level", "isolation.level",
		"poll.max.records", "topics.refresh.interval", "key.converter", "value.converter", "ordering.msg.enable"}, kafkaKeys...),
	"kafka-sink": append([]string{"kafka.topic", "topic.rename.format", "kafka.compression.type", "compression.type",
		"kafka.linger", "linger.ms", "kafka.batch.max.bytes", "batch.size", "kafka.max.buffered.records", "key.converter",
		"value.converter"}, kafkaKeys...),
}

var kafkaKeys = []string{"kafka.bootstrap.servers", "bootstrap.servers", "kafka.client.id", "client.id",
	"kafka.security.protocol", "security.protocol", "kafka.sasl.mechanism", "sasl.mechanism", "kafka.sasl.username",
	"kafka.sasl.password", "kafka.ssl.ca.file", "kafka.ssl.cert.file", "kafka.ssl.key.file", "kafka.ssl.server.name",
	"kafka.ssl.insecure.skip.verify", "kafka.request.timeout"}

// docExamples returns the connector configs of the fenced JSON and properties blocks of a
// markdown document that name a connector.class: {"name":..,"config":{..}} or a flat object,
// or properties.
func docExamples(t *testing.T, path string) []map[string]string {
	t.Helper()
	doc, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []map[string]string
	for _, m := range regexp.MustCompile("(?ms)^```(json|properties)\n(.*?)^```").FindAllStringSubmatch(string(doc), -1) {
		if !strings.Contains(m[2], "connector.class") {
			continue
		}
		cfg := map[string]string{}
		if m[1] == "json" {
			var obj map[string]any
			dec := json.NewDecoder(strings.NewReader(m[2]))
			dec.UseNumber()
			require.NoError(t, dec.Decode(&obj), m[2])
			if inner, ok := obj["config"].(map[string]any); ok {
				if n, ok := obj["name"].(string); ok {
					inner["name"] = n
				}
				obj = inner
			}
			for k, v := range obj {
				s, ok := v.(string)
				require.True(t, ok, "%s: %v is not a string", k, v)
				cfg[k] = s
			}
		} else {
			p, err := (&properties.Loader{Encoding: properties.UTF8, DisableExpansion: true}).LoadBytes([]byte(m[2]))
			require.NoError(t, err, m[2])
			cfg = p.Map()
		}
		out = append(out, cfg)
	}
	return out
}

// Nothing documented is reported: every worked example of docs/connectors.md, and every key
// the document gives each built-in connector, is read. This guards against false positives.
func TestDocumentedConnectorConfigsHaveNoUnusedKeys(t *testing.T) {
	reg := builtinRegistry(t)
	var names []string
	for _, info := range reg.List() {
		names = append(names, info.Name)
	}
	slices.Sort(names)
	require.Equal(t, names, slices.Sorted(maps.Keys(documentedKeys)), "documentedKeys lists every built-in connector")

	specOf := func(class string) (plugins.Kind, *plugins.ConfigSpec) {
		info, err := reg.Lookup(class)
		require.NoError(t, err, class)
		conn, err := reg.New(class)
		require.NoError(t, err)
		return info.Kind, conn.Spec()
	}
	for _, name := range names {
		cfg := map[string]string{"name": "c", "connector.class": name}
		for _, k := range documentedKeys[name] {
			cfg[k] = "x"
		}
		kind, spec := specOf(name)
		require.Empty(t, unusedKeys(cfg, kind, spec), name)
	}

	examples := docExamples(t, "../docs/connectors.md")
	require.GreaterOrEqual(t, len(examples), 9, "the worked examples of docs/connectors.md")
	for _, cfg := range examples {
		kind, spec := specOf(cfg["connector.class"])
		require.Empty(t, unusedKeys(cfg, kind, spec), "%v", cfg)
		require.Empty(t, unusedOf(t, reg, cfg), "%v", cfg)
	}
}

// TestUnusedKeysLoggedOnCreateAndUpdate: creating a connector and updating its config log the
// keys nothing reads, once per call, with the suggestion.
func TestUnusedKeysLoggedOnCreateAndUpdate(t *testing.T) {
	var logs syncBuffer
	h := offlineHerder(t, StandaloneConfig{RestartBackoffMin: time.Hour, RestartBackoffMax: time.Hour},
		slog.New(slog.NewTextHandler(&logs, nil)))
	ctx := context.Background()
	_, err := h.CreateConnector(ctx, "src", map[string]string{"connector.class": "file-source",
		"filename": "/nonexistent/x", "connect.topicname": "t", "errors.tolerence": "all"}, "")
	require.NoError(t, err)
	_, _, err = h.PutConnectorConfig(ctx, "src", map[string]string{"connector.class": "file-source",
		"filename": "/nonexistent/x", "connect.topicname": "t", "batch.sise": "1"})
	require.NoError(t, err)
	require.Equal(t, 2, strings.Count(logs.String(), "connector config keys are not read"), logs.String())
	require.Contains(t, logs.String(), "errors.tolerence (did you mean errors.tolerance?)")
}

// TestUnusedKeysOnlyWhereReported: the keys nothing reads are looked for where they are
// reported (creating, updating and validating a config), never when a reconcile builds the
// runtime of a connector it read from the config topic.
func TestUnusedKeysOnlyWhereReported(t *testing.T) {
	h := validateHerder(t)
	cfg := map[string]string{"name": "s", "connector.class": "file-sink", "connect.topicnames": "t",
		"filename": "/tmp/x", "filenmae": "/tmp/y"}
	runs := unusedKeysRuns.Load()
	_, err := h.newRuntime("s", cfg, resolveConfig(h.cfg.Secrets, cfg), false)
	require.NoError(t, err)
	require.Equal(t, runs, unusedKeysRuns.Load(), "a reconcile's runtime")

	_, err = h.newRuntime("s", cfg, resolveConfig(h.cfg.Secrets, cfg), true)
	require.NoError(t, err)
	_, err = h.validate("s", cfg)
	require.NoError(t, err)
	res, err := h.ValidateConfig(context.Background(), "file-sink", cfg)
	require.NoError(t, err)
	require.Len(t, res.Warnings, 1)
	require.Equal(t, runs+3, unusedKeysRuns.Load(), "standalone create or update, distributed create or update, validate")
}
