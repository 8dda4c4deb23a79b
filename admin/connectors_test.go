package admin

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

const srcBody = `{"name":"src","config":{"connector.class":"file-source","filename":"/tmp/in.txt","connect.topicname":"t","max.tasks":2,"batch.size":100,"ordering.msg.enable":true}}`

// obj and arr assert a decoded JSON value's kind.
func obj(t *testing.T, v any) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	require.True(t, ok, "want a JSON object, got %#v", v)
	return m
}

func arr(t *testing.T, v any) []any {
	t.Helper()
	a, ok := v.([]any)
	require.True(t, ok, "want a JSON array, got %#v", v)
	return a
}

func keys(m map[string]any) []string { return sortedKeys(m) }

func TestCreateConnectorShapes(t *testing.T) {
	h, _ := newTestServer(t)
	code, v := callJSON(t, h, http.MethodPost, "/connectors", srcBody)
	require.Equal(t, http.StatusCreated, code, v)
	info := obj(t, v)
	require.Equal(t, []string{"config", "name", "tasks", "type"}, keys(info))
	require.Equal(t, "src", info["name"])
	require.Equal(t, "source", info["type"])
	require.Equal(t, map[string]any{
		"name": "src", "connector.class": "file-source", "filename": "/tmp/in.txt", "connect.topicname": "t",
		"max.tasks": "2", "batch.size": "100", "ordering.msg.enable": "true",
	}, info["config"])
	require.Equal(t, []any{
		map[string]any{"connector": "src", "task": 0.0},
		map[string]any{"connector": "src", "task": 1.0},
	}, info["tasks"])

	code, v = callJSON(t, h, http.MethodGet, "/connectors/src", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, info, v)

	code, v = callJSON(t, h, http.MethodGet, "/connectors/src/config", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, info["config"], v)

	code, v = callJSON(t, h, http.MethodGet, "/connectors/src/status", "")
	require.Equal(t, http.StatusOK, code)
	st := obj(t, v)
	require.Equal(t, []string{"connector", "name", "tasks", "type"}, keys(st))
	require.Equal(t, map[string]any{"state": "RUNNING", "worker_id": fakeWorker}, st["connector"])
	require.Equal(t, map[string]any{"id": 0.0, "state": "RUNNING", "worker_id": fakeWorker}, arr(t, st["tasks"])[0])

	code, v = callJSON(t, h, http.MethodGet, "/connectors/src/tasks", "")
	require.Equal(t, http.StatusOK, code)
	// The fake's task config is the connector's plus task.id.
	taskCfg := func(id string) map[string]any {
		return map[string]any{"name": "src", "connector.class": "file-source", "filename": "/tmp/in.txt", "connect.topicname": "t",
			"max.tasks": "2", "batch.size": "100", "ordering.msg.enable": "true", "task.id": id}
	}
	require.Equal(t, []any{
		map[string]any{"id": map[string]any{"connector": "src", "task": 0.0}, "config": taskCfg("0")},
		map[string]any{"id": map[string]any{"connector": "src", "task": 1.0}, "config": taskCfg("1")},
	}, v)

	code, v = callJSON(t, h, http.MethodGet, "/connectors/src/tasks/1/status", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, map[string]any{"id": 1.0, "state": "RUNNING", "worker_id": fakeWorker}, v)
}

func TestCreateInitialState(t *testing.T) {
	for _, tc := range []struct{ initial, want string }{
		{"", "RUNNING"}, {"RUNNING", "RUNNING"}, {"PAUSED", "PAUSED"}, {"stopped", "STOPPED"},
	} {
		t.Run(tc.want+"/"+tc.initial, func(t *testing.T) {
			h, _ := newTestServer(t)
			body := `{"name":"c","config":{"connector.class":"file-sink"}`
			if tc.initial != "" {
				body += `,"initial_state":"` + tc.initial + `"`
			}
			code, _ := call(t, h, http.MethodPost, "/connectors", body+"}")
			require.Equal(t, http.StatusCreated, code)
			_, v := callJSON(t, h, http.MethodGet, "/connectors/c/status", "")
			require.Equal(t, tc.want, obj(t, obj(t, v)["connector"])["state"])
		})
	}
}

// badRequest checks a Kafka-route error: the status, {"error_code": status, "message"} and
// that the message mentions each of want.
func requireError(t *testing.T, h http.Handler, method, path, body string, status int, want ...string) {
	t.Helper()
	code, v := callJSON(t, h, method, path, body)
	require.Equal(t, status, code, "%s %s %s -> %v", method, path, body, v)
	e := obj(t, v)
	require.Equal(t, []string{"error_code", "message"}, keys(e))
	require.EqualValues(t, status, e["error_code"])
	for _, w := range want {
		require.Contains(t, e["message"], w)
	}
}

func TestCreateConnectorBadInput(t *testing.T) {
	long := strings.Repeat("a", 250)
	for _, tc := range []struct {
		name, body string
		status     int
		want       []string
	}{
		{"malformed JSON", `{"name":"x","config":{`, 400, []string{"not valid JSON"}},
		{"trailing garbage", `{"name":"x","config":{}} x`, 400, []string{"not valid JSON"}},
		{"empty body", ``, 400, []string{"empty"}},
		{"array body", `[1]`, 400, []string{"JSON object"}},
		{"missing name", `{"config":{"connector.class":"file-sink"}}`, 400, []string{"name is required"}},
		{"null name", `{"name":null,"config":{}}`, 400, []string{"name is required"}},
		{"numeric name", `{"name":7,"config":{}}`, 400, []string{"name must be a JSON string"}},
		{"empty name", `{"name":"","config":{}}`, 400, []string{"must not be empty"}},
		{"space in name", `{"name":"my conn","config":{}}`, 400, []string{`illegal character ' '`}},
		{"slash in name", `{"name":"a/b","config":{}}`, 400, []string{`illegal character '/'`}},
		{"non-ASCII name", `{"name":"café","config":{}}`, 400, []string{"illegal character"}},
		{"dot name", `{"name":"..","config":{}}`, 400, []string{"not allowed"}},
		{"name too long", `{"name":"` + long + `","config":{}}`, 400, []string{"250 characters"}},
		{"missing config", `{"name":"x"}`, 400, []string{"config is required"}},
		{"string config", `{"name":"x","config":"connector.class=file-sink"}`, 400, []string{"config must be a JSON object"}},
		{"array config", `{"name":"x","config":[]}`, 400, []string{"config must be a JSON object"}},
		{"nested object value", `{"name":"x","config":{"connector.class":"file-sink","nested":{"a":1}}}`, 400, []string{"config.nested", "an object"}},
		{"array value", `{"name":"x","config":{"connector.class":"file-sink","topics":["a"]}}`, 400, []string{"config.topics", "an array"}},
		{"null value", `{"name":"x","config":{"connector.class":"file-sink","file":null}}`, 400, []string{"config.file", "null"}},
		{"mismatched config name", `{"name":"x","config":{"name":"y","connector.class":"file-sink"}}`, 400, []string{`config.name "y"`, `"x"`}},
		{"bad initial_state", `{"name":"x","config":{"connector.class":"file-sink"},"initial_state":"SLEEPING"}`, 400, []string{"initial_state", "SLEEPING"}},
		{"missing class", `{"name":"x","config":{"file":"/tmp/f"}}`, 400, []string{"connector.class", "required"}},
		{"unknown class", `{"name":"x","config":{"connector.class":"nope"}}`, 400, []string{"connector.class", `"nope"`, "unknown"}},
		{"bad number", `{"name":"x","config":{"connector.class":"file-sink","max.tasks":"many"}}`, 400, []string{"max.tasks", "many"}},
		{"two bad keys", `{"name":"x","config":{"connector.class":"nope","max.tasks":0}}`, 400, []string{"connector.class", "max.tasks"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, f := newTestServer(t)
			requireError(t, h, http.MethodPost, "/connectors", tc.body, tc.status, tc.want...)
			require.Empty(t, connectorNames(t, f))
		})
	}
}

func TestCreateDuplicateConflicts(t *testing.T) {
	h, _ := newTestServer(t)
	code, _ := call(t, h, http.MethodPost, "/connectors", srcBody)
	require.Equal(t, http.StatusCreated, code)
	requireError(t, h, http.MethodPost, "/connectors", srcBody, http.StatusConflict, "src", "already exists")
}

func TestConfigValuesAreExactText(t *testing.T) {
	h, _ := newTestServer(t)
	code, v := callJSON(t, h, http.MethodPut, "/connectors/c/config",
		`{"connector.class":"file-sink","a":3,"b":-1.50,"c":1e3,"d":false,"e":"3","f":"","g":"\u00e9\n"}`)
	require.Equal(t, http.StatusCreated, code, v)
	require.Equal(t, map[string]any{
		"name": "c", "connector.class": "file-sink", "a": "3", "b": "-1.50", "c": "1e3", "d": "false", "e": "3", "f": "", "g": "é\n",
	}, obj(t, v)["config"])
}

func TestPutConnectorConfig(t *testing.T) {
	h, f := newTestServer(t)
	code, v := callJSON(t, h, http.MethodPut, "/connectors/snk/config", `{"connector.class":"file-sink","file":"/tmp/a"}`)
	require.Equal(t, http.StatusCreated, code)
	require.Equal(t, []string{"config", "name", "tasks", "type"}, keys(obj(t, v)))
	require.Equal(t, "sink", obj(t, v)["type"])

	code, v = callJSON(t, h, http.MethodPut, "/connectors/snk/config", `{"name":"snk","connector.class":"file-sink","file":"/tmp/b"}`)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "/tmp/b", obj(t, obj(t, v)["config"])["file"])
	require.Equal(t, "/tmp/b", configOf(t, f, "snk")["file"])

	requireError(t, h, http.MethodPut, "/connectors/snk/config", `{"name":"other","connector.class":"file-sink"}`, 400, `"other"`, `"snk"`)
	requireError(t, h, http.MethodPut, "/connectors/snk/config", `{"connector.class":`, 400, "not valid JSON")
	requireError(t, h, http.MethodPut, "/connectors/snk/config", `["connector.class"]`, 400, "JSON object")
	requireError(t, h, http.MethodPut, "/connectors/snk/config", `{"connector.class":"file-sink","x":{"y":1}}`, 400, "config.x")
	requireError(t, h, http.MethodPut, "/connectors/snk/config", `{"connector.class":"nope"}`, 400, "connector.class")
	requireError(t, h, http.MethodPut, "/connectors/bad%20name/config", `{"connector.class":"file-sink"}`, 400, "illegal character")
	require.Equal(t, "/tmp/b", configOf(t, f, "snk")["file"], "a rejected PUT changes nothing")
}

func TestListConnectors(t *testing.T) {
	h, f := newTestServer(t)
	code, v := callJSON(t, h, http.MethodGet, "/connectors", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, []any{}, v, "no connectors is [], not null")

	call(t, h, http.MethodPost, "/connectors", srcBody)
	call(t, h, http.MethodPut, "/connectors/b-sink/config", `{"connector.class":"file-sink"}`)
	_, v = callJSON(t, h, http.MethodGet, "/connectors", "")
	require.Equal(t, []any{"b-sink", "src"}, v)

	_, v = callJSON(t, h, http.MethodGet, "/connectors?expand=status", "")
	m := obj(t, v)
	require.Equal(t, []string{"b-sink", "src"}, keys(m))
	require.Equal(t, []string{"status"}, keys(obj(t, m["src"])))
	require.Equal(t, "RUNNING", obj(t, obj(t, obj(t, m["src"])["status"])["connector"])["state"])

	_, v = callJSON(t, h, http.MethodGet, "/connectors?expand=info", "")
	require.Equal(t, []string{"info"}, keys(obj(t, obj(t, v)["src"])))
	require.Equal(t, "file-source", obj(t, obj(t, obj(t, obj(t, v)["src"])["info"])["config"])["connector.class"])

	for _, q := range []string{"expand=status&expand=info", "expand=info,status", "expand=status&expand=info&expand=bogus"} {
		_, v = callJSON(t, h, http.MethodGet, "/connectors?"+q, "")
		require.Equal(t, []string{"info", "status"}, keys(obj(t, obj(t, v)["b-sink"])), q)
	}
	_, v = callJSON(t, h, http.MethodGet, "/connectors?expand=bogus", "")
	require.Equal(t, map[string]any{"b-sink": map[string]any{}, "src": map[string]any{}}, v)

	f.Fail(restapi.ErrStopped)
	requireError(t, h, http.MethodGet, "/connectors?expand=status", "", http.StatusServiceUnavailable, "stopping")
}

func TestDeleteConnector(t *testing.T) {
	h, f := newTestServer(t)
	call(t, h, http.MethodPost, "/connectors", srcBody)
	code, body := call(t, h, http.MethodDelete, "/connectors/src", "")
	require.Equal(t, http.StatusNoContent, code)
	require.Empty(t, body)
	require.Empty(t, connectorNames(t, f))
	requireError(t, h, http.MethodGet, "/connectors/src", "", http.StatusNotFound, "src", "not found")
	requireError(t, h, http.MethodDelete, "/connectors/src", "", http.StatusNotFound, "src")
}

func TestUnknownConnectorIs404(t *testing.T) {
	h, _ := newTestServer(t)
	for _, r := range []struct{ method, path string }{
		{"GET", "/connectors/ghost"},
		{"DELETE", "/connectors/ghost"},
		{"GET", "/connectors/ghost/config"},
		{"GET", "/connectors/ghost/status"},
		{"GET", "/connectors/ghost/tasks"},
		{"GET", "/connectors/ghost/tasks/0/status"},
		{"POST", "/connectors/ghost/restart"},
		{"POST", "/connectors/ghost/restart?includeTasks=true"},
		{"POST", "/connectors/ghost/tasks/0/restart"},
		{"PUT", "/connectors/ghost/pause"},
		{"PUT", "/connectors/ghost/resume"},
		{"PUT", "/connectors/ghost/stop"},
	} {
		requireError(t, h, r.method, r.path, "", http.StatusNotFound, "ghost")
	}
}

func TestTaskRoutes(t *testing.T) {
	h, f := newTestServer(t)
	call(t, h, http.MethodPost, "/connectors", srcBody)
	requireError(t, h, "GET", "/connectors/src/tasks/2/status", "", http.StatusNotFound, "src-2")
	requireError(t, h, "GET", "/connectors/src/tasks/x/status", "", http.StatusBadRequest, `task id "x"`)
	requireError(t, h, "GET", "/connectors/src/tasks/-1/status", "", http.StatusBadRequest, `task id "-1"`)
	requireError(t, h, "POST", "/connectors/src/tasks/one/restart", "", http.StatusBadRequest, "task id")
	requireError(t, h, "POST", "/connectors/src/tasks/5/restart", "", http.StatusNotFound, "src-5")

	code, body := call(t, h, http.MethodPost, "/connectors/src/tasks/1/restart", "")
	require.Equal(t, http.StatusNoContent, code)
	require.Empty(t, body)
	require.Equal(t, []restapi.TaskID{{Connector: "src", Task: 1}}, f.TaskRestarts())

	failTask0(f, "src")
	_, v := callJSON(t, h, http.MethodGet, "/connectors/src/tasks/0/status", "")
	require.Equal(t, map[string]any{"id": 0.0, "state": "FAILED", "worker_id": fakeWorker, "trace": "boom\n\tat task.go:1"}, v)
}

func TestRestartConnector(t *testing.T) {
	h, f := newTestServer(t)
	call(t, h, http.MethodPost, "/connectors", srcBody)
	failTask0(f, "src")

	code, body := call(t, h, http.MethodPost, "/connectors/src/restart", "")
	require.Equal(t, http.StatusNoContent, code)
	require.Empty(t, body)
	code, body = call(t, h, http.MethodPost, "/connectors/src/restart?includeTasks=false&onlyFailed=false", "")
	require.Equal(t, http.StatusNoContent, code, body)

	code, v := callJSON(t, h, http.MethodPost, "/connectors/src/restart?includeTasks=true", "")
	require.Equal(t, http.StatusAccepted, code)
	st := obj(t, v)
	require.Equal(t, []string{"connector", "name", "tasks", "type"}, keys(st))
	require.Equal(t, "RESTARTING", obj(t, st["connector"])["state"])
	require.Equal(t, "RESTARTING", obj(t, arr(t, st["tasks"])[1])["state"])

	code, v = callJSON(t, h, http.MethodPost, "/connectors/src/restart?includeTasks=true&onlyFailed=true", "")
	require.Equal(t, http.StatusAccepted, code)
	tasks := arr(t, obj(t, v)["tasks"])
	require.Equal(t, "RESTARTING", obj(t, tasks[0])["state"])
	require.Equal(t, "RUNNING", obj(t, tasks[1])["state"])

	code, _ = callJSON(t, h, http.MethodPost, "/connectors/src/restart?onlyFailed=1", "")
	require.Equal(t, http.StatusAccepted, code)

	requireError(t, h, http.MethodPost, "/connectors/src/restart?includeTasks=yes", "", 400, "includeTasks")
	requireError(t, h, http.MethodPost, "/connectors/src/restart?onlyFailed=maybe", "", 400, "onlyFailed")
	require.Equal(t, []restapi.RestartRequest{{}, {}, {IncludeTasks: true}, {IncludeTasks: true, OnlyFailed: true}, {OnlyFailed: true}}, f.Restarts())
}

func TestPauseResumeStop(t *testing.T) {
	h, _ := newTestServer(t)
	call(t, h, http.MethodPost, "/connectors", srcBody)
	for _, step := range []struct{ verb, state string }{
		{"pause", "PAUSED"}, {"resume", "RUNNING"}, {"stop", "STOPPED"}, {"stop", "STOPPED"}, {"resume", "RUNNING"},
	} {
		code, body := call(t, h, http.MethodPut, "/connectors/src/"+step.verb, "")
		want := http.StatusAccepted // Kafka Connect: 202 for pause and resume, 204 for stop
		if step.verb == "stop" {
			want = http.StatusNoContent
		}
		require.Equal(t, want, code, step.verb)
		require.Empty(t, body)
		_, v := callJSON(t, h, http.MethodGet, "/connectors/src/status", "")
		require.Equal(t, step.state, obj(t, obj(t, v)["connector"])["state"], step.verb)
		if step.state == "STOPPED" {
			require.Equal(t, []any{}, obj(t, v)["tasks"], "a stopped connector's tasks are [], not null")
		}
	}
}

func TestConnectorPlugins(t *testing.T) {
	h, _ := newTestServer(t)
	code, v := callJSON(t, h, http.MethodGet, "/connector-plugins", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, []any{
		map[string]any{"class": "file-source", "type": "source", "version": "v1", "aliases": []any{"org.apache.rocketmq.connect.file.FileSourceConnector"}},
		map[string]any{"class": "file-sink", "type": "sink", "version": "v1"},
	}, v)
	_, v = callJSON(t, h, http.MethodGet, "/connector-plugins?connectorsOnly=false", "")
	require.Len(t, arr(t, v), 3)
	requireError(t, h, http.MethodGet, "/connector-plugins?connectorsOnly=nah", "", 400, "connectorsOnly")
}

func TestHerderErrorsMapToStatus(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
	}{
		{fmt.Errorf("list: %w", restapi.ErrStopped), http.StatusServiceUnavailable},
		{fmt.Errorf("list: %w", restapi.ErrRebalancing), http.StatusConflict},
		{errors.New("disk on fire"), http.StatusInternalServerError},
	} {
		h, f := newTestServer(t)
		f.Fail(tc.err)
		requireError(t, h, http.MethodGet, "/connectors", "", tc.status, tc.err.Error())
		requireError(t, h, http.MethodGet, "/connector-plugins", "", tc.status, tc.err.Error())
	}
}

func TestBodyTooLarge(t *testing.T) {
	h, _ := newTestServer(t)
	big := `{"name":"x","config":{"connector.class":"file-sink","pad":"` + strings.Repeat("x", maxBodyBytes) + `"}}`
	requireError(t, h, http.MethodPost, "/connectors", big, http.StatusRequestEntityTooLarge)
}

func TestNoHerderNoConnectorRoutes(t *testing.T) {
	s := NewServer("127.0.0.1:0", Info{}, fakeHealth{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	requireError(t, s.Handler(), http.MethodGet, "/connectors", "", http.StatusNotFound, "no route")
	requireError(t, s.Handler(), http.MethodGet, "/connector-plugins", "", http.StatusNotFound)
	requireError(t, s.Handler(), http.MethodGet, "/connectors/list", "", http.StatusNotFound)
}

func TestWrongMethodIs405(t *testing.T) {
	h, _ := newTestServer(t)
	requireError(t, h, http.MethodDelete, "/connectors/x/config", "", http.StatusMethodNotAllowed)
	requireError(t, h, http.MethodDelete, "/connectors", "", http.StatusMethodNotAllowed)
}
