package admin

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// rmqOKBody checks RocketMQ Connect's success envelope and returns its body.
func rmqOKBody(t *testing.T, h http.Handler, method, path, body string) any {
	t.Helper()
	code, v := callJSON(t, h, method, path, body)
	require.Equal(t, http.StatusOK, code, "%s %s -> %v", method, path, v)
	env := obj(t, v)
	require.Equal(t, []string{"body", "status"}, keys(env))
	require.EqualValues(t, 200, env["status"])
	return env["body"]
}

// requireRmqError checks RocketMQ Connect's error envelope, sent with the real HTTP status.
func requireRmqError(t *testing.T, h http.Handler, method, path, body string, status int, want ...string) {
	t.Helper()
	code, v := callJSON(t, h, method, path, body)
	require.Equal(t, status, code, "%s %s -> %v", method, path, v)
	e := obj(t, v)
	require.Equal(t, []string{"errorCode", "message"}, keys(e))
	require.EqualValues(t, status, e["errorCode"])
	for _, w := range want {
		require.Contains(t, e["message"], w)
	}
}

const rmqSource = `{"connector.class":"file-source","filename":"/tmp/in.txt","connect.topicname":"fileTopic","max.tasks":1}`

func TestRmqCreate(t *testing.T) {
	h, f := newRmqTestServer(t)
	body := rmqOKBody(t, h, http.MethodPost, "/connectors/fileSourceConnector", rmqSource)
	want := map[string]any{
		"name": "fileSourceConnector", "connector.class": "file-source", "filename": "/tmp/in.txt",
		"connect.topicname": "fileTopic", "max.tasks": "1",
	}
	require.Equal(t, want, body)
	require.Contains(t, connectorNames(t, f), "fileSourceConnector")

	// POST again replaces, as RocketMQ Connect's create-or-update does.
	rmqOKBody(t, h, http.MethodPost, "/connectors/fileSourceConnector", `{"connector.class":"file-source","filename":"/tmp/other"}`)
	require.Equal(t, "/tmp/other", configOf(t, f, "fileSourceConnector")["filename"])

	// GET with ?config= creates; GET without it is Kafka's info route.
	body = rmqOKBody(t, h, http.MethodGet, "/connectors/sink1?config="+url.QueryEscape(`{"connector.class":"file-sink","connect.topicnames":"fileTopic"}`), "")
	require.Equal(t, "file-sink", obj(t, body)["connector.class"])
	code, v := callJSON(t, h, http.MethodGet, "/connectors/sink1", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, []string{"config", "name", "tasks", "type"}, keys(obj(t, v)))
	require.Equal(t, "sink", obj(t, v)["type"])
}

func TestRmqCreateBadInput(t *testing.T) {
	h, f := newRmqTestServer(t)
	requireRmqError(t, h, http.MethodGet, "/connectors/x?config=", "", 400, "query parameter config is required")
	requireRmqError(t, h, http.MethodGet, "/connectors/x?config=%20", "", 400, "required")
	requireRmqError(t, h, http.MethodPost, "/connectors/x", "", 400, "request body is required")
	requireRmqError(t, h, http.MethodGet, "/connectors/x?config="+url.QueryEscape(`{"connector.class":`), "", 400, "not valid JSON")
	requireRmqError(t, h, http.MethodPost, "/connectors/x", `{"connector.class":`, 400, "not valid JSON")
	requireRmqError(t, h, http.MethodPost, "/connectors/x", `"file-sink"`, 400, "JSON object")
	requireRmqError(t, h, http.MethodPost, "/connectors/x", `{"connector.class":"file-sink","t":{"a":1}}`, 400, "config.t")
	requireRmqError(t, h, http.MethodPost, "/connectors/x", `{"connector.class":"file-sink","name":"y"}`, 400, `"y"`)
	requireRmqError(t, h, http.MethodPost, "/connectors/x", `{"connector.class":"nope"}`, 400, "connector.class", "nope")
	requireRmqError(t, h, http.MethodPost, "/connectors/a%20b", `{"connector.class":"file-sink"}`, 400, "illegal character")
	require.Empty(t, connectorNames(t, f))
}

func TestRmqList(t *testing.T) {
	h, f := newRmqTestServer(t)
	require.Equal(t, map[string]any{}, rmqOKBody(t, h, http.MethodGet, "/connectors/list", ""))

	rmqOKBody(t, h, http.MethodPost, "/connectors/src", rmqSource)
	failTask0(f, "src")
	body := obj(t, rmqOKBody(t, h, http.MethodGet, "/connectors/list", ""))
	require.Equal(t, map[string]any{
		"src": map[string]any{
			"status": map[string]any{
				"name":      "src",
				"connector": map[string]any{"state": "RUNNING", "trace": nil, "workerId": fakeWorker},
				"tasks":     []any{map[string]any{"id": 0.0, "state": "FAILED", "trace": "boom\n\tat task.go:1", "workerId": fakeWorker}},
				"type":      "SOURCE",
			},
			"info": map[string]any{
				"name": "src",
				"config": map[string]any{
					"name": "src", "connector.class": "file-source", "filename": "/tmp/in.txt", "connect.topicname": "fileTopic", "max.tasks": "1",
				},
				"tasks": []any{map[string]any{"connector": "src", "task": 0.0}},
				"type":  "SOURCE",
			},
		},
	}, body)

	f.Fail(restapi.ErrStopped)
	requireRmqError(t, h, http.MethodGet, "/connectors/list", "", http.StatusServiceUnavailable, "stopping")
}

func TestRmqPauseResumeStop(t *testing.T) {
	h, f := newRmqTestServer(t)
	rmqOKBody(t, h, http.MethodPost, "/connectors/c1", rmqSource)
	require.Equal(t, "Connector [c1] paused successfully", rmqOKBody(t, h, http.MethodGet, "/connectors/c1/pause", ""))
	require.Equal(t, restapi.TargetPaused, targetOf(t, f, "c1"))
	require.Equal(t, "Connector [c1] resumed successfully", rmqOKBody(t, h, http.MethodGet, "/connectors/c1/resume", ""))
	require.Equal(t, restapi.TargetStarted, targetOf(t, f, "c1"))
	require.Equal(t, "Connector [c1] deleted successfully", rmqOKBody(t, h, http.MethodGet, "/connectors/c1/stop", ""))
	require.Empty(t, connectorNames(t, f))

	for _, verb := range []string{"pause", "resume", "stop"} {
		requireRmqError(t, h, http.MethodGet, "/connectors/ghost/"+verb, "", http.StatusNotFound, "ghost")
	}
}

func TestRmqAll(t *testing.T) {
	h, f := newRmqTestServer(t)
	require.Equal(t, "No connector needs to be paused, please add connector first", rmqOKBody(t, h, http.MethodGet, "/connectors/pause/all", ""))
	require.Equal(t, "No connector needs to be resumed, please add connector first", rmqOKBody(t, h, http.MethodGet, "/connectors/resume/all", ""))
	require.Equal(t, "No connector needs to be deleted, please add connector first", rmqOKBody(t, h, http.MethodGet, "/connectors/stop/all", ""))

	rmqOKBody(t, h, http.MethodPost, "/connectors/a", rmqSource)
	rmqOKBody(t, h, http.MethodPost, "/connectors/b", rmqSource)
	require.Equal(t, "2 connectors are suspended", rmqOKBody(t, h, http.MethodGet, "/connectors/pause/all", ""))
	require.Equal(t, restapi.TargetPaused, targetOf(t, f, "a"))
	require.Equal(t, restapi.TargetPaused, targetOf(t, f, "b"))
	require.Equal(t, "2 connectors are resumed", rmqOKBody(t, h, http.MethodGet, "/connectors/resume/all", ""))
	require.Equal(t, restapi.TargetStarted, targetOf(t, f, "b"))
	require.Equal(t, "[a, b] connectors are deleted", rmqOKBody(t, h, http.MethodGet, "/connectors/stop/all", ""))
	require.Empty(t, connectorNames(t, f))
}

// TestRoutingReservedWords: a connector may be named like a RocketMQ static segment (stop,
// pause, resume, list); the static routes and the connector's own routes both answer.
func TestRoutingReservedWords(t *testing.T) {
	h, f := newRmqTestServer(t)
	for _, name := range []string{"stop", "pause", "resume", "list", "all"} {
		code, _ := call(t, h, http.MethodPost, "/connectors", `{"name":"`+name+`","config":{"connector.class":"file-sink"}}`)
		require.Equal(t, http.StatusCreated, code, name)
	}
	for _, name := range []string{"stop", "pause", "resume", "all"} {
		code, v := callJSON(t, h, http.MethodGet, "/connectors/"+name, "")
		require.Equal(t, http.StatusOK, code, name)
		require.Equal(t, name, obj(t, v)["name"])
	}
	for _, name := range []string{"stop", "pause", "resume", "list", "all"} {
		code, v := callJSON(t, h, http.MethodGet, "/connectors/"+name+"/status", "")
		require.Equal(t, http.StatusOK, code, name)
		require.Equal(t, name, obj(t, v)["name"])
		code, v = callJSON(t, h, http.MethodGet, "/connectors/"+name+"/config", "")
		require.Equal(t, http.StatusOK, code, name)
		require.Equal(t, name, obj(t, v)["name"])
		code, _ = call(t, h, http.MethodGet, "/connectors/"+name+"/tasks/0/status", "")
		require.Equal(t, http.StatusOK, code, name)
		code, _ = call(t, h, http.MethodPut, "/connectors/"+name+"/pause", "")
		require.Equal(t, http.StatusAccepted, code, name)
	}
	// GET /connectors/list is RocketMQ's list, which includes the connector named list.
	require.Len(t, obj(t, rmqOKBody(t, h, http.MethodGet, "/connectors/list", "")), 5)
	require.Equal(t, "Connector [stop] resumed successfully", rmqOKBody(t, h, http.MethodGet, "/connectors/stop/resume", ""))
	require.Equal(t, "Connector [pause] deleted successfully", rmqOKBody(t, h, http.MethodGet, "/connectors/pause/stop", ""))
	code, _ := call(t, h, http.MethodDelete, "/connectors/list", "")
	require.Equal(t, http.StatusNoContent, code)
	require.Equal(t, "[all, resume, stop] connectors are deleted", rmqOKBody(t, h, http.MethodGet, "/connectors/stop/all", ""))
	require.Empty(t, connectorNames(t, f))
}

func TestRmqPluginsAndCluster(t *testing.T) {
	h, f := newRmqTestServer(t)
	require.Equal(t, []any{
		map[string]any{"className": "file-source", "type": "SOURCE", "version": "v1"},
		map[string]any{"className": "file-sink", "type": "SINK", "version": "v1"},
		map[string]any{"className": "insert-field", "type": "TRANSFORMATION", "version": "v1"},
	}, rmqOKBody(t, h, http.MethodGet, "/plugin/list", ""))
	require.Len(t, rmqOKBody(t, h, http.MethodGet, "/plugin/list/connectors", ""), 2)
	require.Equal(t, []any{fakeWorker}, rmqOKBody(t, h, http.MethodGet, "/getClusterInfo", ""))

	f.Fail(restapi.ErrStopped)
	requireRmqError(t, h, http.MethodGet, "/plugin/list", "", http.StatusServiceUnavailable)
}
