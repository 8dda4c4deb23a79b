package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// cannedRequest is one request the canned worker received.
type cannedRequest struct {
	Method, Path, Body string
}

// cannedWorker serves routes ("METHOD /path" → status and body) and records every request;
// RMQCONNECT_URL points at it. An unknown route fails the test.
type cannedWorker struct {
	mu   sync.Mutex
	reqs []cannedRequest
}

type canned struct {
	status int
	body   string
}

func newCannedWorker(t *testing.T, routes map[string]canned) *cannedWorker {
	t.Helper()
	cw := &cannedWorker{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		cw.mu.Lock()
		cw.reqs = append(cw.reqs, cannedRequest{Method: r.Method, Path: r.URL.EscapedPath(), Body: string(b)})
		cw.mu.Unlock()
		c, ok := routes[r.Method+" "+r.URL.EscapedPath()]
		if !ok {
			t.Errorf("unexpected %s %s", r.Method, r.URL)
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if c.status != 0 {
			w.WriteHeader(c.status)
		}
		_, _ = io.WriteString(w, c.body)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("RMQCONNECT_URL", srv.URL)
	return cw
}

func (cw *cannedWorker) last(t *testing.T) cannedRequest {
	t.Helper()
	cw.mu.Lock()
	defer cw.mu.Unlock()
	require.NotEmpty(t, cw.reqs, "no request")
	return cw.reqs[len(cw.reqs)-1]
}

func (cw *cannedWorker) count() int {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	return len(cw.reqs)
}

const notFound = `{"error_code":404,"message":"connector ghost: not found"}`

func TestAdminOffsets(t *testing.T) {
	cw := newCannedWorker(t, map[string]canned{
		"GET /connectors/out/offsets": {body: `{"offsets":[` +
			`{"partition":{"topic":"lines","broker":"b0","queue":1},"offset":{"offset":17}},` +
			`{"partition":{"topic":"lines","broker":"b0","queue":0},"offset":{"offset":12345678901234567}}]}`},
		"GET /connectors/empty/offsets":    {body: `{"offsets":[]}`},
		"GET /connectors/ghost/offsets":    {status: 404, body: notFound},
		"PATCH /connectors/out/offsets":    {body: `{"message":"The offsets for this connector have been altered successfully"}`},
		"DELETE /connectors/out/offsets":   {body: `{"message":"The offsets for this connector have been reset successfully"}`},
		"DELETE /connectors/lines/offsets": {status: 400, body: `{"error_code":400,"message":"connector lines is STARTED; stop it before changing its offsets"}`},
	})

	code, out, errOut := runAdmin(t, "offsets", "get", "out")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, ""+
		"PARTITION                                  OFFSET\n"+
		`{"broker":"b0","queue":1,"topic":"lines"}  {"offset":17}`+"\n"+
		`{"broker":"b0","queue":0,"topic":"lines"}  {"offset":12345678901234567}`+"\n", out)
	require.Equal(t, cannedRequest{Method: "GET", Path: "/connectors/out/offsets"}, cw.last(t))

	code, out, _ = runAdmin(t, "offsets", "get", "out", "-o", "json")
	require.Equal(t, 0, code)
	var offs restapi.ConnectorOffsets
	require.NoError(t, json.Unmarshal([]byte(out), &offs))
	require.Len(t, offs.Offsets, 2)
	require.Equal(t, "lines", offs.Offsets[0].Partition["topic"])

	code, out, _ = runAdmin(t, "offsets", "get", "empty")
	require.Equal(t, 0, code)
	require.Equal(t, "no committed offsets\n", out)

	// set sends the file's offsets, big numbers and null offsets intact.
	file := writeFile(t, "offsets.json", `{"offsets":[`+
		`{"partition":{"topic":"lines","broker":"b0","queue":0},"offset":{"offset":12345678901234567}},`+
		`{"partition":{"topic":"lines","broker":"b0","queue":1},"offset":null}]}`)
	code, out, errOut = runAdmin(t, "offsets", "set", "out", "-f", file)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "connector out: The offsets for this connector have been altered successfully\n", out)
	req := cw.last(t)
	require.Equal(t, "PATCH /connectors/out/offsets", req.Method+" "+req.Path)
	require.JSONEq(t, `{"offsets":[`+
		`{"partition":{"topic":"lines","broker":"b0","queue":0},"offset":{"offset":12345678901234567}},`+
		`{"partition":{"topic":"lines","broker":"b0","queue":1},"offset":null}]}`, req.Body)
	require.Contains(t, req.Body, "12345678901234567")

	code, out, _ = runAdmin(t, "-o", "json", "offsets", "reset", "out")
	require.Equal(t, 0, code)
	require.JSONEq(t, `{"message":"The offsets for this connector have been reset successfully"}`, out)
	require.Equal(t, cannedRequest{Method: "DELETE", Path: "/connectors/out/offsets"}, cw.last(t))

	// Worker errors are exit 1.
	code, _, errOut = runAdmin(t, "offsets", "reset", "lines")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "400 Bad Request: connector lines is STARTED")
	code, _, errOut = runAdmin(t, "offsets", "get", "ghost")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "404 Not Found")

	// A bad offsets file is exit 1, before any request.
	before := cw.count()
	for content, msg := range map[string]string{
		`{"offsets":[]}`:                        `"offsets" is missing or empty`,
		`{}`:                                    `"offsets" is missing or empty`,
		`[1,2]`:                                 `want {"offsets"`,
		`{"offset":[]}`:                         `unknown field "offset"`,
		`{"offsets":[{"offset":{"offset":1}}]}`: "offsets[0].partition: is required",
	} {
		code, out, errOut = runAdmin(t, "offsets", "set", "out", "-f", writeFile(t, "o.json", content))
		require.Equal(t, 1, code, content)
		require.Empty(t, out)
		require.Contains(t, errOut, msg, content)
	}
	code, _, errOut = runAdmin(t, "offsets", "set", "out", "-f", "/nonexistent/o.json")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "offsets file:")
	require.Equal(t, before, cw.count(), "a bad file calls no worker")
}

func TestAdminValidate(t *testing.T) {
	res := restapi.ConfigInfos{Name: "file-source", ErrorCount: 2, Groups: []string{"Common"}, Configs: []restapi.ConfigInfo{
		{Definition: restapi.ConfigDefinition{Name: "name"}, Value: restapi.ConfigValueInfo{Name: "name", Value: ptr("lines")}},
		{Definition: restapi.ConfigDefinition{Name: "max.tasks"}, Value: restapi.ConfigValueInfo{Name: "max.tasks", Value: ptr("x"),
			Errors: []string{"must be an integer"}}},
		{Definition: restapi.ConfigDefinition{Name: "filename"}, Value: restapi.ConfigValueInfo{Name: "filename",
			Errors: []string{"is required"}}},
	}}
	bad, _ := json.Marshal(res)
	good, _ := json.Marshal(restapi.ConfigInfos{Name: "file-source", Configs: []restapi.ConfigInfo{}})
	cw := newCannedWorker(t, map[string]canned{
		"PUT /connector-plugins/file-source/config/validate": {body: string(bad)},
		"PUT /connector-plugins/FileSink/config/validate":    {body: string(good)},
		"PUT /connector-plugins/nope/config/validate":        {status: 404, body: `{"error_code":404,"message":"plugin nope: not found"}`},
	})

	file := writeFile(t, "lines.json", `{"name":"lines","config":{"connector.class":"file-source","max.tasks":"x"}}`)
	code, out, errOut := runAdmin(t, "validate", "-f", file)
	require.Equal(t, 1, code)
	require.Equal(t, ""+
		"KEY        VALUE  ERRORS\n"+
		"filename   -      is required\n"+
		"max.tasks  x      must be an integer\n"+
		"error_count: 2\n", out)
	require.Contains(t, errOut, "rmqconnect admin validate: connector config "+file+" is not valid for file-source: 2 error(s)")
	req := cw.last(t)
	require.Equal(t, "PUT /connector-plugins/file-source/config/validate", req.Method+" "+req.Path)
	require.JSONEq(t, `{"name":"lines","connector.class":"file-source","max.tasks":"x"}`, req.Body)

	code, out, _ = runAdmin(t, "validate", "-f", file, "-o", "json")
	require.Equal(t, 1, code, "errors are exit 1 with -o json too")
	var got restapi.ConfigInfos
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.Equal(t, 2, got.ErrorCount)

	// A properties file without a name, named by --name.
	props := writeFile(t, "out.properties", "connector.class=FileSink\nfilename=/tmp/out\n")
	code, out, errOut = runAdmin(t, "validate", "-f", props, "--name", "out")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "config valid for FileSink: 0 errors\n", out)
	require.JSONEq(t, `{"name":"out","connector.class":"FileSink","filename":"/tmp/out"}`, cw.last(t).Body)

	code, _, errOut = runAdmin(t, "validate", "-f", writeFile(t, "n.json", `{"name":"n","connector.class":"nope"}`))
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "plugin nope: not found")

	before := cw.count()
	code, _, errOut = runAdmin(t, "validate", "-f", writeFile(t, "c.json", `{"name":"n","topic":"t"}`))
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "connector.class: is required")
	code, _, errOut = runAdmin(t, "validate")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "-f <file> is required")
	require.Equal(t, before, cw.count())
}

func ptr(s string) *string { return &s }

func TestAdminPluginConfig(t *testing.T) {
	defs, _ := json.Marshal([]restapi.ConfigDefinition{
		{Name: "connector.class", Type: "STRING", Required: true, Documentation: "The plugin.\nMore text."},
		{Name: "max.tasks", Type: "INT", DefaultValue: ptr("1"), Documentation: "Most tasks to run."},
		{Name: "topic.prefix", Type: "STRING", DefaultValue: ptr(""), Documentation: "A very long documentation line that goes on and on well past the width a table cell should have in a terminal."},
	})
	cw := newCannedWorker(t, map[string]canned{
		"GET /connector-plugins/file-source/config": {body: string(defs)},
		"GET /connector-plugins/nope/config":        {status: 404, body: `{"error_code":404,"message":"plugin nope: not found"}`},
	})
	code, out, errOut := runAdmin(t, "plugin-config", "file-source")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, ""+
		"NAME             TYPE    REQUIRED  DEFAULT  DOC\n"+
		"connector.class  STRING  true      -        The plugin.\n"+
		"max.tasks        INT     false     \"1\"      Most tasks to run.\n"+
		"topic.prefix     STRING  false     \"\"       A very long documentation line that goes on and on well past the width a tabl...\n", out)
	require.Equal(t, cannedRequest{Method: "GET", Path: "/connector-plugins/file-source/config"}, cw.last(t))

	code, out, _ = runAdmin(t, "plugin-config", "file-source", "-o", "json")
	require.Equal(t, 0, code)
	var got []restapi.ConfigDefinition
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.Equal(t, "The plugin.\nMore text.", got[0].Documentation)

	code, _, _ = runAdmin(t, "plugin-config", "nope")
	require.Equal(t, 1, code)
	code, _, _ = runAdmin(t, "plugin-config")
	require.Equal(t, 2, code)
}

func TestAdminLoggers(t *testing.T) {
	cw := newCannedWorker(t, map[string]canned{
		"GET /admin/loggers": {body: `{"worker":{"level":"INFO","last_modified":null},` +
			`"root":{"level":"INFO","last_modified":null},"connector.lines":{"level":"DEBUG","last_modified":1700000000123}}`},
		"GET /admin/loggers/connector.lines": {body: `{"level":"DEBUG","last_modified":1700000000123}`},
		"GET /admin/loggers/ghost":           {status: 404, body: `{"error_code":404,"message":"logger ghost: not found"}`},
		"PUT /admin/loggers/connector":       {body: `["connector","connector.lines"]`},
	})
	code, out, errOut := runAdmin(t, "loggers")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, ""+
		"LOGGER           LEVEL\n"+
		"connector.lines  DEBUG\n"+
		"root             INFO\n"+
		"worker           INFO\n", out)
	require.Equal(t, cannedRequest{Method: "GET", Path: "/admin/loggers"}, cw.last(t))

	code, out, _ = runAdmin(t, "-o", "json", "loggers")
	require.Equal(t, 0, code)
	require.JSONEq(t, `{"worker":{"level":"INFO","last_modified":null},`+
		`"root":{"level":"INFO","last_modified":null},"connector.lines":{"level":"DEBUG","last_modified":1700000000123}}`, out)

	code, out, _ = runAdmin(t, "logger", "connector.lines")
	require.Equal(t, 0, code)
	require.Equal(t, "LOGGER           LEVEL\nconnector.lines  DEBUG\n", out)
	code, out, _ = runAdmin(t, "logger", "connector.lines", "-o", "json")
	require.Equal(t, 0, code)
	require.JSONEq(t, `{"level":"DEBUG","last_modified":1700000000123}`, out)

	code, out, errOut = runAdmin(t, "logger", "connector", "debug")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "logger connector set to DEBUG on this worker; 2 logger(s) changed: connector, connector.lines\n", out)
	req := cw.last(t)
	require.Equal(t, "PUT /admin/loggers/connector", req.Method+" "+req.Path)
	require.JSONEq(t, `{"level":"DEBUG"}`, req.Body)
	code, out, _ = runAdmin(t, "logger", "connector", "WARN", "-o", "json")
	require.Equal(t, 0, code)
	require.JSONEq(t, `["connector","connector.lines"]`, out)
	require.JSONEq(t, `{"level":"WARN"}`, cw.last(t).Body)

	code, _, errOut = runAdmin(t, "logger", "ghost")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "logger ghost: not found")

	before := cw.count()
	for _, args := range [][]string{{"logger"}, {"logger", "a", "LOUD"}, {"logger", "a", "INFO", "x"}, {"loggers", "x"}} {
		code, out, errOut = runAdmin(t, args...)
		require.Equal(t, 2, code, "%v: %s", args, errOut)
		require.Empty(t, out)
	}
	require.Equal(t, before, cw.count())
}

func TestAdminTopics(t *testing.T) {
	cw := newCannedWorker(t, map[string]canned{
		"GET /connectors/out/topics":   {body: `{"out":{"topics":["lines","orders"]}}`},
		"GET /connectors/idle/topics":  {body: `{"idle":{"topics":[]}}`},
		"GET /connectors/ghost/topics": {status: 404, body: notFound},
	})
	code, out, errOut := runAdmin(t, "topics", "out")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "TOPIC\nlines\norders\n", out)
	require.Equal(t, cannedRequest{Method: "GET", Path: "/connectors/out/topics"}, cw.last(t))
	code, out, _ = runAdmin(t, "topics", "out", "-o", "json")
	require.Equal(t, 0, code)
	require.JSONEq(t, `{"out":{"topics":["lines","orders"]}}`, out)
	code, out, _ = runAdmin(t, "-o", "json", "topics", "idle")
	require.Equal(t, 0, code)
	require.JSONEq(t, `{"idle":{"topics":[]}}`, out)
	code, _, _ = runAdmin(t, "topics", "ghost")
	require.Equal(t, 1, code)
	code, _, _ = runAdmin(t, "topics")
	require.Equal(t, 2, code)
}

func TestAdminAllocated(t *testing.T) {
	tasks := `{"status":200,"body":{` +
		`"runningTasks":[{"connectorName":"lines","taskId":1,"config":{"filename":"/tmp/in"},"taskState":"RUNNING"},` +
		`{"connectorName":"lines","taskId":0,"config":{},"taskState":"RUNNING"}],` +
		`"pendingTasks":[],"stoppingTasks":[],` +
		`"stoppedTasks":[{"connectorName":"out","taskId":0,"config":{},"taskState":"STOPPED"}],` +
		`"errorTasks":[{"connectorName":"bad","taskId":0,"config":{}}]}}`
	cw := newCannedWorker(t, map[string]canned{
		"GET /allocated/connectors": {body: `{"status":200,"body":{` +
			`"out":{"connector.class":"file-sink","name":"out"},"lines":{"connector.class":"file-source","name":"lines"}}}`},
		"GET /allocated/tasks": {body: tasks},
	})
	for _, args := range [][]string{{"allocated"}, {"allocated", "connectors"}} {
		code, out, errOut := runAdmin(t, args...)
		require.Equal(t, 0, code, errOut)
		require.Equal(t, ""+
			"CONNECTOR  CLASS\n"+
			"lines      file-source\n"+
			"out        file-sink\n", out)
		require.Equal(t, cannedRequest{Method: "GET", Path: "/allocated/connectors"}, cw.last(t))
	}
	code, out, _ := runAdmin(t, "allocated", "-o", "json")
	require.Equal(t, 0, code)
	require.JSONEq(t, `{"out":{"connector.class":"file-sink","name":"out"},"lines":{"connector.class":"file-source","name":"lines"}}`, out)

	code, out, errOut := runAdmin(t, "allocated", "tasks")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, ""+
		"CONNECTOR  TASK  STATE\n"+
		"bad        0     ERROR\n"+
		"lines      0     RUNNING\n"+
		"lines      1     RUNNING\n"+
		"out        0     STOPPED\n", out)
	require.Equal(t, cannedRequest{Method: "GET", Path: "/allocated/tasks"}, cw.last(t))
	code, out, _ = runAdmin(t, "allocated", "tasks", "-o", "json")
	require.Equal(t, 0, code)
	var got struct {
		RunningTasks []struct {
			ConnectorName string            `json:"connectorName"`
			TaskID        int               `json:"taskId"`
			Config        map[string]string `json:"config"`
		} `json:"runningTasks"`
		PendingTasks []any `json:"pendingTasks"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.Equal(t, "/tmp/in", got.RunningTasks[0].Config["filename"])
	require.NotNil(t, got.PendingTasks)

	before := cw.count()
	code, _, errOut = runAdmin(t, "allocated", "workers")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `unknown argument "workers"`)
	code, _, _ = runAdmin(t, "allocated", "tasks", "x")
	require.Equal(t, 2, code)
	require.Equal(t, before, cw.count())
}

// RocketMQ Connect's routes answer failures with HTTP 200 and an error envelope.
func TestAdminAllocatedEnvelopeError(t *testing.T) {
	newCannedWorker(t, map[string]canned{
		"GET /allocated/tasks": {body: `{"errorCode":500,"message":"herder not ready"}`},
	})
	code, out, errOut := runAdmin(t, "allocated", "tasks")
	require.Equal(t, 1, code)
	require.Empty(t, out)
	require.Contains(t, errOut, "herder not ready")
}

func TestAdminOffsetsUsage(t *testing.T) {
	cw := newCannedWorker(t, map[string]canned{})
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"offsets"}, "offsets: want get <name>"},
		{[]string{"offsets", "frob", "c"}, `unknown subcommand "frob"`},
		{[]string{"offsets", "get"}, "missing argument"},
		{[]string{"offsets", "get", "a", "b"}, `unexpected argument "b"`},
		{[]string{"offsets", "set", "a"}, "-f <file.json> is required"},
		{[]string{"offsets", "reset", "a", "-f", "x.json"}, "-f is only for set"},
	} {
		code, out, errOut := runAdmin(t, tc.args...)
		require.Equal(t, 2, code, "%v: %s", tc.args, errOut)
		require.Empty(t, out)
		require.Contains(t, errOut, tc.msg, tc.args)
		require.Contains(t, errOut, "usage: rmqconnect admin offsets", tc.args)
	}
	require.Zero(t, cw.count())
}
