package main

import (
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/golden/*.txt from the current output")

// goldenRoutes are the canned answers of the worker the golden tests talk to, keyed by
// "METHOD /path" or, where the query matters, "METHOD /path?query". The bodies are what the
// admin server sends: Kafka Connect shapes, and the {"status", "body"} envelope on the
// RocketMQ Connect routes.
var goldenRoutes = map[string]string{
	"GET /connectors?expand=status": `{
		"lines": {"status": {"name": "lines", "type": "source",
			"connector": {"state": "RUNNING", "worker_id": "worker-1"},
			"tasks": [{"id": 0, "state": "RUNNING", "worker_id": "worker-1"},
			          {"id": 1, "state": "FAILED", "worker_id": "worker-2", "trace": "boom"}]}},
		"orders-to-file": {"status": {"name": "orders-to-file", "type": "sink",
			"connector": {"state": "PAUSED", "worker_id": "worker-1"},
			"tasks": [{"id": 0, "state": "PAUSED", "worker_id": "worker-1"}]}},
		"new": {"status": {"name": "new", "type": "source",
			"connector": {"state": "UNASSIGNED", "worker_id": ""}, "tasks": []}},
		"gone": {}}`,
	"GET /connectors/lines/status": `{"name": "lines", "type": "source",
		"connector": {"state": "RUNNING", "worker_id": "worker-1"},
		"tasks": [{"id": 0, "state": "RUNNING", "worker_id": "worker-1"},
		          {"id": 1, "state": "FAILED", "worker_id": "worker-2",
		           "trace": "open /var/data/in.txt: permission denied\n\tat file-source task.poll\n\tat worker loop"},
		          {"id": 2, "state": "UNASSIGNED", "worker_id": ""}]}`,
	"GET /connectors/broken/status": `{"name": "broken", "type": "sink",
		"connector": {"state": "FAILED", "worker_id": "worker-3",
		  "trace": "\n  connector.class file-sink: cannot open /var/out/orders.txt: the parent directory does not exist, and file-sink does not create directories; create it or point filename elsewhere\nsecond line"},
		"tasks": []}`,
	"GET /connectors/lines/tasks/1/status": `{"id": 1, "state": "FAILED", "worker_id": "worker-2",
		"trace": "open /var/data/in.txt: permission denied\n\tat file-source task.poll"}`,
	"POST /connectors/lines/restart?includeTasks=true": `{"name": "lines", "type": "source",
		"connector": {"state": "RESTARTING", "worker_id": "worker-1"},
		"tasks": [{"id": 0, "state": "RESTARTING", "worker_id": "worker-1"},
		          {"id": 1, "state": "RESTARTING", "worker_id": "worker-2"}]}`,
	"GET /connectors/lines/config": `{"connector.class": "file-source", "filename": "/var/data/in.txt",
		"connect.topicname": "lines", "max.tasks": "2", "name": "lines",
		"db.password": "[hidden]", "api.token": "${env:API_TOKEN}",
		"transforms.tag.value": "multi\nline\tvalue"}`,
	"GET /connectors/lines/tasks": `[
		{"id": {"connector": "lines", "task": 0}, "config": {"connector.class": "file-source", "filename": "/var/data/in.txt", "task.id": "0"}},
		{"id": {"connector": "lines", "task": 1}, "config": {"connector.class": "file-source", "filename": "/var/data/in.txt", "task.id": "1"}}]`,
	"GET /connector-plugins": `[
		{"class": "file-source", "type": "source", "version": "1.0", "aliases": ["org.apache.rocketmq.connect.file.FileSourceConnector", "FileSource"]},
		{"class": "file-sink", "type": "sink", "version": "1.0", "aliases": ["org.apache.rocketmq.connect.file.FileSinkConnector"]},
		{"class": "jdbc-sink", "type": "sink", "version": ""}]`,
	"GET /connector-plugins?connectorsOnly=false": `[
		{"class": "file-source", "type": "source", "version": "builtin", "aliases": ["FileSource"]},
		{"class": "file-sink", "type": "sink", "version": "builtin"},
		{"class": "InsertField$Value", "type": "transformation", "version": "builtin",
		 "aliases": ["org.apache.kafka.connect.transforms.InsertField$Value"]},
		{"class": "RegexRouter", "type": "transformation", "version": "builtin",
		 "aliases": ["org.apache.kafka.connect.transforms.RegexRouter", "org.apache.rocketmq.connect.transforms.RegexRouter"]},
		{"class": "TopicNameMatches", "type": "predicate", "version": "builtin",
		 "aliases": ["org.apache.kafka.connect.transforms.predicates.TopicNameMatches"]},
		{"class": "bytearray", "type": "converter", "version": "builtin",
		 "aliases": ["org.apache.kafka.connect.converters.ByteArrayConverter", "org.apache.rocketmq.connect.runtime.converter.record.ByteArrayConverter"]},
		{"class": "json", "type": "converter", "version": "builtin",
		 "aliases": ["org.apache.kafka.connect.json.JsonConverter", "org.apache.rocketmq.connect.runtime.converter.record.json.JsonConverter"]}]`,
	"GET /getClusterInfo": `{"status": 200, "body": ["worker-1", "worker-2"]}`,
	"GET /health":         `{"status": "healthy", "message": "Worker has completed startup and is ready to handle requests.", "worker_id": "worker-1", "version": "v1.4.0"}`,
	"GET /connectors/c/dlq?limit=50": `{"dlq_topic": "orders-dlq", "next": "0-5", "records": [
		{"id": "0-4", "topic": "orders", "partition": "3", "offset": "17", "connector": "c", "task": "0",
		 "stage": "VALUE_CONVERTER", "class_name": "json", "exception_class": "SyntaxError",
		 "exception_message": "invalid character 'b' looking for beginning of value\nat offset 1",
		 "time": "2026-01-02T03:04:05Z", "body_size": 7, "body_preview": "{broken",
		 "replayed": {"at": "2026-01-03T10:00:00Z", "msg_id": "AC11000100002A9F0000000000000042"}},
		{"id": "0-5", "topic": "orders", "partition": "0", "offset": "12345678", "connector": "c", "task": "1",
		 "stage": "TASK_PUT", "class_name": "file-sink", "exception_class": "PathError",
		 "exception_message": "write /var/out/orders.txt: no space left on device",
		 "time": "2026-01-02T03:04:06Z", "body_size": 300,
		 "body_preview": "{\"customer\":\"Zoë Müller\",\"city\":\"Zürich\",\"items\":[1,2]}"}]}`,
	"GET /connectors/empty/dlq?limit=50": `{"dlq_topic": "empty-dlq", "records": []}`,
	"GET /connectors/c/dlq/0-4": `{"id": "0-4", "topic": "orders", "partition": "3", "offset": "17", "connector": "c", "task": "0",
		"stage": "VALUE_CONVERTER", "class_name": "json", "exception_class": "SyntaxError",
		"exception_message": "invalid character 'b' looking for beginning of value",
		"stacktrace": "converter json: decode value\n\tat worker.sink.convert\n",
		"time": "2026-01-02T03:04:05Z", "keys": ["order-17"], "properties": {"source": "web"},
		"body_size": 7, "body_preview": "{broken", "body": "e2Jyb2tlbg==",
		"replayed": {"at": "2026-01-03T10:00:00Z", "msg_id": "AC11000100002A9F0000000000000042"}}`,
	"GET /connectors/lines/offsets": `{"offsets": [
		{"partition": {"filename": "/var/data/in.txt"}, "offset": {"position": 1048576, "line": 20000}}]}`,
	"GET /connectors/orders-to-file/offsets": `{"offsets": [
		{"partition": {"topic": "orders", "broker": "broker-a", "queue": 0}, "offset": {"offset": 12345678901234567}},
		{"partition": {"topic": "orders", "broker": "broker-a", "queue": 1}, "offset": {"offset": 17}},
		{"partition": {"topic": "orders", "broker": "broker-a", "queue": 2}, "offset": null}]}`,
	"GET /connectors/new/offsets": `{"offsets": []}`,
	"GET /allocated/connectors": `{"status": 200, "body": {
		"orders-to-file": {"connector.class": "file-sink", "name": "orders-to-file"},
		"lines": {"connector.class": "file-source", "name": "lines"},
		"odd": {"name": "odd"}}}`,
	"GET /allocated/tasks": `{"status": 200, "body": {
		"runningTasks": [{"connectorName": "lines", "taskId": 1, "config": {}, "taskState": "RUNNING"},
		                 {"connectorName": "lines", "taskId": 0, "config": {}, "taskState": "RUNNING"}],
		"pendingTasks": [{"connectorName": "new", "taskId": 0, "config": {}}],
		"stoppingTasks": [],
		"stoppedTasks": [{"connectorName": "orders-to-file", "taskId": 0, "config": {}, "taskState": "STOPPED"}],
		"errorTasks": [{"connectorName": "broken", "taskId": 0, "config": {}, "taskState": "ERROR"}]}}`,
	"GET /admin/loggers": `{"root": {"level": "INFO", "last_modified": null},
		"worker": {"level": "INFO", "last_modified": null},
		"rocketmq-client": {"level": "WARN", "last_modified": null},
		"connector.lines": {"level": "DEBUG", "last_modified": 1700000000123}}`,
	"GET /admin/loggers/connector.lines":    `{"level": "DEBUG", "last_modified": 1700000000123}`,
	"GET /connectors/orders-to-file/topics": `{"orders-to-file": {"topics": ["orders", "orders-retry"]}}`,
	"GET /connectors/new/topics":            `{"new": {"topics": []}}`,
	"PUT /connector-plugins/file-source/config/validate": `{"name": "file-source", "error_count": 3, "groups": ["Common"], "configs": [
		{"definition": {"name": "name"}, "value": {"name": "name", "value": "lines", "errors": []}},
		{"definition": {"name": "max.tasks"}, "value": {"name": "max.tasks", "value": "two", "errors": ["must be an integer"]}},
		{"definition": {"name": "filename"}, "value": {"name": "filename", "value": null, "errors": ["is required"]}},
		{"definition": {"name": "connect.topicname"}, "value": {"name": "connect.topicname", "value": "a-topic-name-that-is-far-too-long-for-rocketmq-to-accept-as-it-is",
		  "errors": ["must be at most 127 characters", "must match ^[%|a-zA-Z0-9_-]+$"]}}]}`,
	"PUT /connector-plugins/file-sink/config/validate": `{"name": "file-sink", "error_count": 0, "groups": ["Common"], "configs": []}`,
	"PUT /connector-plugins/postgres-cdc/config/validate": `{"name": "postgres-cdc", "error_count": 0, "groups": ["Common", "Connector"], "configs": [],
		"warnings": [
		  {"key": "consumer.override.max.poll.records", "message": "not read by the runtime or the connector; Kafka client override: the worker's RocketMQ clients take none"},
		  {"key": "owner", "message": "not read by the runtime or the connector"},
		  {"key": "tabel.include.list", "message": "not read by the runtime or the connector; did you mean table.include.list?", "suggestion": "table.include.list"}]}`,
	"PUT /connector-plugins/jdbc-sink/config/validate": `{"name": "jdbc-sink", "error_count": 1, "groups": ["Common", "Connector"], "configs": [
		{"definition": {"name": "connection.url"}, "value": {"name": "connection.url", "value": null, "errors": ["is required"]}}],
		"warnings": [
		  {"key": "conection.url", "message": "not read by the runtime or the connector; did you mean connection.url?", "suggestion": "connection.url"}]}`,
	"GET /connector-plugins/file-source/config": `[
		{"name": "connector.class", "type": "STRING", "required": true, "default_value": null, "documentation": "The plugin.\nMore text."},
		{"name": "max.tasks", "type": "INT", "required": false, "default_value": "1", "documentation": "Most tasks to run."},
		{"name": "topic.prefix", "type": "STRING", "required": false, "default_value": "", "documentation": "A very long documentation line that goes on and on well past the width a table cell should have in a terminal."},
		{"name": "batch.size", "type": "", "required": false, "default_value": null, "documentation": ""}]`,
}

// goldenServer serves goldenRoutes and points RMQCONNECT_URL at itself. A request that matches
// no route fails the test.
func goldenServer(t *testing.T, routes map[string]string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := routes[r.Method+" "+r.URL.RequestURI()]
		if !ok && r.URL.RawQuery == "" {
			body, ok = routes[r.Method+" "+r.URL.EscapedPath()]
		}
		if !ok {
			t.Errorf("golden worker: unexpected %s %s", r.Method, r.URL.RequestURI())
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("RMQCONNECT_URL", srv.URL)
	t.Setenv("RMQCONNECT_USER", "")
	t.Setenv("RMQCONNECT_PASSWORD", "")
}

// TestAdminGolden renders every table view of `rmqconnect admin` against canned worker answers
// and compares stdout with testdata/golden/<name>.txt. `go test ./cmd/rmqconnect -run Golden
// -update` rewrites the files; read the diff before committing it.
func TestAdminGolden(t *testing.T) {
	invalid := writeFile(t, "lines.json", `{"name": "lines", "config": {"connector.class": "file-source", "max.tasks": "two"}}`)
	valid := writeFile(t, "out.properties", "name=out\nconnector.class=file-sink\nfilename=/tmp/out\nconnect.topicnames=orders\n")
	unread := writeFile(t, "shop.json", `{"name": "shop", "config": {"connector.class": "postgres-cdc", "tabel.include.list": "public.orders",
		"consumer.override.max.poll.records": "500", "owner": "team-a"}}`)
	typo := writeFile(t, "sink.json", `{"name": "sink", "config": {"connector.class": "jdbc-sink", "conection.url": "jdbc:postgresql://db/shop"}}`)
	for _, tc := range []struct {
		name string
		args []string
		code int // exit code; validate with errors and health DOWN print their view and exit 1
		// verbatim views print a text as the worker sent it (dlq show's body and stack trace),
		// so tabs in it are kept.
		verbatim bool
	}{
		{name: "list", args: []string{"list"}},
		{name: "status", args: []string{"status", "lines"}},
		{name: "status-failed", args: []string{"status", "broken"}},
		{name: "task-status", args: []string{"task-status", "lines", "1"}},
		{name: "restart-include-tasks", args: []string{"restart", "lines", "--include-tasks"}},
		{name: "config", args: []string{"config", "lines"}},
		{name: "tasks", args: []string{"tasks", "lines"}},
		{name: "plugins", args: []string{"plugins"}},
		{name: "plugins-all", args: []string{"plugins", "--all"}},
		{name: "cluster", args: []string{"cluster"}},
		{name: "health", args: []string{"health"}},
		{name: "dlq-list", args: []string{"dlq", "list", "c"}},
		{name: "dlq-list-empty", args: []string{"dlq", "list", "empty"}},
		{name: "dlq-show", args: []string{"dlq", "show", "c", "0-4"}, verbatim: true},
		{name: "offsets-source", args: []string{"offsets", "get", "lines"}},
		{name: "offsets-sink", args: []string{"offsets", "get", "orders-to-file"}},
		{name: "offsets-empty", args: []string{"offsets", "get", "new"}},
		{name: "allocated-connectors", args: []string{"allocated"}},
		{name: "allocated-tasks", args: []string{"allocated", "tasks"}},
		{name: "loggers", args: []string{"loggers"}},
		{name: "logger", args: []string{"logger", "connector.lines"}},
		{name: "topics", args: []string{"topics", "orders-to-file"}},
		{name: "topics-empty", args: []string{"topics", "new"}},
		{name: "validate-errors", args: []string{"validate", "-f", invalid}, code: 1},
		{name: "validate-ok", args: []string{"validate", "-f", valid}},
		// Warnings follow the errors and leave the exit code alone.
		{name: "validate-warnings", args: []string{"validate", "-f", unread}},
		{name: "validate-errors-warnings", args: []string{"validate", "-f", typo}, code: 1},
		{name: "plugin-config", args: []string{"plugin-config", "file-source"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			goldenServer(t, goldenRoutes)
			code, out, errOut := runAdmin(t, tc.args...)
			require.Equal(t, tc.code, code, "stderr: %s", errOut)
			checkGolden(t, tc.name, out)
			requireReadable(t, out, tc.verbatim)
		})
	}
}

// TestAdminGoldenHealthDown is the health view of a worker that is starting (503).
func TestAdminGoldenHealthDown(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			t.Errorf("unexpected %s %s", r.Method, r.URL)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"status": "starting", "worker_id": "worker-1", "version": "v1.4.0", "message": "worker is still starting up: the stored connectors are not started yet"}`)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("RMQCONNECT_URL", srv.URL)
	code, out, errOut := runAdmin(t, "health")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "503 Service Unavailable")
	checkGolden(t, "health-down", out)
	requireReadable(t, out, false)
}

// TestAdminGoldenListEmpty is `list` on a worker without connectors.
func TestAdminGoldenListEmpty(t *testing.T) {
	goldenServer(t, map[string]string{"GET /connectors?expand=status": `{}`})
	code, out, errOut := runAdmin(t, "list")
	require.Equal(t, 0, code, errOut)
	checkGolden(t, "list-empty", out)
	requireReadable(t, out, false)
}

// checkGolden compares got with testdata/golden/<name>.txt, or rewrites the file with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".txt")
	if *updateGolden {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test ./cmd/rmqconnect -run Golden -update")
	require.Equal(t, string(want), got, "output differs from %s; if the change is intended, run with -update", path)
}

// goIsms are fragments of Go's default formatting that a table must never show.
var goIsms = []string{"map[", "<nil>", "%!", "[]string", "&{", "0001-01-01", "\\u00"}

// requireReadable checks what a person reads: valid UTF-8, no tabs (unless verbatim) or
// carriage returns, no trailing blanks, no Go-isms, and a newline at the end.
func requireReadable(t *testing.T, out string, verbatim bool) {
	t.Helper()
	require.NotEmpty(t, out)
	require.True(t, utf8.ValidString(out), "output is not valid UTF-8:\n%s", out)
	require.True(t, strings.HasSuffix(out, "\n"), "output does not end with a newline:\n%s", out)
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !verbatim {
			require.NotContains(t, line, "\t", "line %d has a tab: %q", i+1, line)
		}
		require.NotContains(t, line, "\r", "line %d has a carriage return: %q", i+1, line)
		require.Equal(t, strings.TrimRight(line, " "), line, "line %d has trailing blanks: %q", i+1, line)
		for _, g := range goIsms {
			require.NotContains(t, line, g, "line %d shows Go formatting: %q", i+1, line)
		}
	}
}

// TestAdminDLQListCells: dlq list cuts long cells on a rune boundary, shows times in UTC and
// a dash for a record never replayed.
func TestAdminDLQListCells(t *testing.T) {
	goldenServer(t, map[string]string{"GET /connectors/c/dlq?limit=50": `{"dlq_topic": "c-dlq", "records": [
		{"id": "0-1", "topic": "orders", "offset": "1", "stage": "TASK_PUT", "time": "2026-01-02T05:04:05+02:00",
		 "exception_message": "Ungültiger Wert für Feld Größe in Datensatz Nummer 1 (erwartet: Zahl)",
		 "body_preview": "{\"name\":\"Jürgen Groß\",\"city\":\"Köln-Mülheim\"}"},
		{"id": "0-2", "topic": "orders", "offset": "2", "stage": "TASK_PUT", "time": "2026-01-02T01:04:05-02:00",
		 "exception_message": "m", "body_preview": "b", "replayed": {"at": "2026-01-03T12:00:00+02:00", "msg_id": "X"}}]}`})
	code, out, errOut := runAdmin(t, "dlq", "list", "c")
	require.Equal(t, 0, code, errOut)
	requireReadable(t, out, false)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 3, out)
	first, second := strings.Fields(lines[1]), strings.Fields(lines[2])
	require.Equal(t, []string{"0-1", "2026-01-02T03:04:05Z", "TASK_PUT", "orders", "1", "-"}, first[:6], "a record never replayed shows -")
	require.Equal(t, []string{"0-2", "2026-01-02T03:04:05Z", "TASK_PUT", "orders", "2", "2026-01-03T10:00:00Z"}, second[:6])
	require.Contains(t, lines[1], "  Ungültiger Wert für Feld Größe in Datensatz Nummer 1 (erwart...  ", "60 runes of ERROR")
	require.True(t, strings.HasSuffix(lines[1], `  {"name":"Jürgen Groß","city":"Köln-Mülhe...`), "40 runes of BODY: %s", lines[1])
}

// TestAdminDLQShowUTC: dlq show prints the record's and the replay's times in UTC.
func TestAdminDLQShowUTC(t *testing.T) {
	goldenServer(t, map[string]string{"GET /connectors/c/dlq/0-1": `{"id": "0-1", "topic": "orders", "partition": "3", "offset": "1",
		"connector": "c", "task": "0", "stage": "TASK_PUT", "class_name": "file-sink", "exception_class": "PathError",
		"exception_message": "disk full", "time": "2026-01-02T05:04:05+02:00", "body": "e30=", "body_size": 2,
		"replayed": {"at": "2026-01-03T07:00:00-03:00", "msg_id": "X"}}`})
	code, out, errOut := runAdmin(t, "dlq", "show", "c", "0-1")
	require.Equal(t, 0, code, errOut)
	requireReadable(t, out, true)
	require.Contains(t, out, "Time:      2026-01-02T03:04:05Z\n")
	require.Contains(t, out, "Replayed:  2026-01-03T10:00:00Z (message X)\n")
}

// TestOneLine: a cell is kept on one line and cut after n runes, never inside a rune.
func TestOneLine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"a\nb\tc", 10, "a b c"},
		{"abcdefghijk", 10, "abcdefghij..."},
		{"Größe-Größe-Größe", 5, "Größe..."},
		{"日本語のテキスト", 3, "日本語..."},
		{"ab😀cd", 3, "ab😀..."},
	} {
		got := oneLine(tc.in, tc.n)
		require.Equal(t, tc.want, got, "oneLine(%q, %d)", tc.in, tc.n)
		require.True(t, utf8.ValidString(got), got)
	}
}
