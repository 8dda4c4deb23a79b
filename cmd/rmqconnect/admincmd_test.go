package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/admin"
	"github.com/rmqconnect/rmqconnect/admin/admintest"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// fakeServer is the fake herder served through the real admin server, with the requests it got.
type fakeServer struct {
	*admintest.Server
	W *admintest.Herder
}

// fakeWorker serves a fake herder holding a running source with a failed task and a paused
// sink through the real admin server, and points RMQCONNECT_URL at it.
func fakeWorker(t *testing.T) *fakeServer {
	t.Helper()
	w := admintest.NewHerder("w1")
	w.SetPlugins([]restapi.PluginInfo{
		{Class: "file-source", Type: "source", Version: "1.0", Aliases: []string{"org.apache.rocketmq.connect.file.FileSourceConnector"}},
		{Class: "file-sink", Type: "sink", Version: "1.0"},
		{Class: "insert-field", Type: "transformation", Version: "1.0"},
	})
	ctx := context.Background()
	_, err := w.CreateConnector(ctx, "lines", map[string]string{
		"connector.class": "file-source", "filename": "/tmp/in.txt", "connect.topicname": "lines", "max.tasks": "2",
	}, "")
	require.NoError(t, err)
	_, err = w.CreateConnector(ctx, "out", map[string]string{
		"connector.class": "file-sink", "filename": "/tmp/out.txt", "connect.topicnames": "lines",
	}, restapi.TargetPaused)
	require.NoError(t, err)
	w.SetStatus(restapi.ConnectorStatus{Name: "lines", Connector: restapi.StateInfo{State: restapi.StateRunning, WorkerID: "w1"},
		Tasks: []restapi.TaskState{
			{ID: 0, StateInfo: restapi.StateInfo{State: restapi.StateRunning, WorkerID: "w1"}},
			{ID: 1, StateInfo: restapi.StateInfo{State: restapi.StateFailed, WorkerID: "w2",
				Trace: "open /tmp/in.txt: permission denied\n\tat task.poll\n\tat loop"}},
		}})
	a := admin.NewServer("127.0.0.1:0", admin.Info{WorkerID: "w1", Version: "test"}, w, w, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := &fakeServer{Server: admintest.Serve(t, a.Handler()), W: w}
	t.Setenv("RMQCONNECT_URL", srv.URL)
	return srv
}

func runAdmin(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runCapture(t, append([]string{"admin"}, args...)...)
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

func TestAdminList(t *testing.T) {
	srv := fakeWorker(t)
	code, out, errOut := runAdmin(t, "list")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, ""+
		"NAME   TYPE    STATE    TASKS  WORKER\n"+
		"lines  source  RUNNING  1/2    w1\n"+
		"out    sink    PAUSED   0/1    w1\n", out)
	require.Equal(t, "GET /connectors?expand=status", srv.Last())

	code, out, _ = runAdmin(t, "-o", "json", "list")
	require.Equal(t, 0, code)
	var all map[string]struct {
		Status restapi.ConnectorStatus `json:"status"`
		Info   restapi.ConnectorInfo   `json:"info"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &all))
	require.Equal(t, restapi.StateFailed, all["lines"].Status.Tasks[1].State)
	require.Equal(t, "/tmp/out.txt", all["out"].Info.Config["filename"])
}

func TestAdminStatus(t *testing.T) {
	srv := fakeWorker(t)
	code, out, errOut := runAdmin(t, "status", "lines")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, ""+
		"Connector: lines\n"+
		"Type:      source\n"+
		"State:     RUNNING\n"+
		"Worker:    w1\n"+
		"\n"+
		"TASK  STATE    WORKER  TRACE\n"+
		"0     RUNNING  w1\n"+
		"1     FAILED   w2      open /tmp/in.txt: permission denied\n", out)
	require.Equal(t, "GET /connectors/lines/status", srv.Last())

	// Global flags are accepted after the command and its arguments.
	code, out, _ = runAdmin(t, "status", "lines", "-o", "json")
	require.Equal(t, 0, code)
	var st restapi.ConnectorStatus
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.Equal(t, "open /tmp/in.txt: permission denied\n\tat task.poll\n\tat loop", st.Tasks[1].Trace)

	srv.W.SetStatus(restapi.ConnectorStatus{Name: "out", Connector: restapi.StateInfo{State: restapi.StateFailed, WorkerID: "w3",
		Trace: "\n  connector.class file-sink: cannot open /tmp/out.txt\nsecond line"}})
	code, out, _ = runAdmin(t, "status", "out")
	require.Equal(t, 0, code)
	require.Equal(t, ""+
		"Connector: out\n"+
		"Type:      sink\n"+
		"State:     FAILED\n"+
		"Worker:    w3\n"+
		"Trace:     connector.class file-sink: cannot open /tmp/out.txt\n"+
		"\n"+
		"no tasks\n", out)

	code, out, _ = runAdmin(t, "task-status", "lines", "1")
	require.Equal(t, 0, code)
	require.Equal(t, "TASK  STATE   WORKER  TRACE\n1     FAILED  w2      open /tmp/in.txt: permission denied\n", out)
	require.Equal(t, "GET /connectors/lines/tasks/1/status", srv.Last())
}

func TestAdminConfigTasksPluginsCluster(t *testing.T) {
	fakeWorker(t)
	code, out, _ := runAdmin(t, "config", "out")
	require.Equal(t, 0, code)
	require.Equal(t, ""+
		"KEY                 VALUE\n"+
		"connect.topicnames  lines\n"+
		"connector.class     file-sink\n"+
		"filename            /tmp/out.txt\n"+
		"name                out\n", out)
	code, out, _ = runAdmin(t, "config", "out", "-o", "json")
	require.Equal(t, 0, code)
	require.JSONEq(t, `{"connect.topicnames":"lines","connector.class":"file-sink","filename":"/tmp/out.txt","name":"out"}`, out)

	code, out, _ = runAdmin(t, "tasks", "out")
	require.Equal(t, 0, code)
	require.Equal(t, ""+
		"TASK  KEY                 VALUE\n"+
		"0     connect.topicnames  lines\n"+
		"0     connector.class     file-sink\n"+
		"0     filename            /tmp/out.txt\n"+
		"0     name                out\n"+
		"0     task.id             0\n", out)

	code, out, _ = runAdmin(t, "plugins")
	require.Equal(t, 0, code)
	require.Equal(t, ""+
		"CLASS        TYPE    VERSION  ALIASES\n"+
		"file-source  source  1.0      org.apache.rocketmq.connect.file.FileSourceConnector\n"+
		"file-sink    sink    1.0\n", out)
	code, out, _ = runAdmin(t, "plugins", "--all")
	require.Equal(t, 0, code)
	require.Contains(t, out, "insert-field  transformation")

	code, out, _ = runAdmin(t, "cluster")
	require.Equal(t, 0, code)
	require.Equal(t, "WORKER\nw1\n", out)
	code, out, _ = runAdmin(t, "cluster", "-o", "json")
	require.Equal(t, 0, code)
	require.JSONEq(t, `["w1"]`, out)
}

func TestAdminHealth(t *testing.T) {
	srv := fakeWorker(t)
	code, out, _ := runAdmin(t, "health")
	require.Equal(t, 0, code)
	require.Equal(t, "Status:  healthy\nWorker:  w1\nVersion: test\nMessage: Worker has completed startup and is ready to handle requests.\n", out)

	srv.W.SetDown("rocketmq unreachable")
	code, out, errOut := runAdmin(t, "health")
	require.Equal(t, 1, code)
	require.Equal(t, "Status:  unhealthy\nWorker:  w1\nVersion: test\nMessage: rocketmq unreachable\n", out)
	require.Contains(t, errOut, "500 Internal Server Error: rocketmq unreachable")
	code, out, _ = runAdmin(t, "health", "-o", "json")
	require.Equal(t, 1, code)
	require.JSONEq(t, `{"status":"unhealthy","worker_id":"w1","version":"test","message":"rocketmq unreachable"}`, out)
}

func TestAdminCreateUpdate(t *testing.T) {
	srv := fakeWorker(t)
	js := writeFile(t, "src.json", `{"name":"json-src","config":{"connector.class":"file-source","filename":"/tmp/a","connect.topicname":"a","max.tasks":3}}`)
	code, out, errOut := runAdmin(t, "create", "-f", js)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "connector json-src created (source)\n", out)
	require.Equal(t, "POST /connectors", srv.Last())
	info, err := srv.W.ConnectorInfo(context.Background(), "json-src")
	require.NoError(t, err)
	require.Equal(t, "3", info.Config["max.tasks"])
	require.Len(t, info.Tasks, 3)

	props := writeFile(t, "sink.properties", "name=prop-sink\nconnector.class=file-sink\nconnect.topicnames=a\nfilename=/tmp/b\n")
	code, out, _ = runAdmin(t, "create", "--paused", "-f", props)
	require.Equal(t, 0, code)
	require.Equal(t, "connector prop-sink created (sink, paused)\n", out)
	st, err := srv.W.ConnectorStatus(context.Background(), "prop-sink")
	require.NoError(t, err)
	require.Equal(t, restapi.StatePaused, st.Connector.State)

	// A file without a name takes --name; --name also overrides a file's name.
	flat := writeFile(t, "flat.json", `{"connector.class":"file-source","filename":"/tmp/c","connect.topicname":"c"}`)
	code, out, errOut = runAdmin(t, "create", "-f", flat, "--name", "named", "--stopped", "-o", "json")
	require.Equal(t, 0, code, errOut)
	var created restapi.ConnectorInfo
	require.NoError(t, json.Unmarshal([]byte(out), &created))
	require.Equal(t, "named", created.Name)
	require.Equal(t, "named", created.Config["name"])
	noName := writeFile(t, "noname.properties", "connector.class=file-sink\nconnect.topicnames=a\n")
	code, _, _ = runAdmin(t, "create", "-f", noName, "--name", "renamed")
	require.Equal(t, 0, code)
	code, _, errOut = runAdmin(t, "create", "-f", noName)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "name: is required")

	// update replaces the config (PUT), or creates.
	code, out, _ = runAdmin(t, "update", "-f", props)
	require.Equal(t, 0, code)
	require.Equal(t, "connector prop-sink updated; it restarts with the new config\n", out)
	require.Equal(t, "PUT /connectors/prop-sink/config", srv.Last())
	code, out, _ = runAdmin(t, "update", "-f", props, "--name", "fresh")
	require.Equal(t, 0, code)
	require.Equal(t, "connector fresh created\n", out)

	// The worker's refusals are exit code 1 with the status and message.
	code, _, errOut = runAdmin(t, "create", "-f", js)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "409 Conflict: connector json-src: already exists")
	bad := writeFile(t, "bad.json", `{"name":"bad","connector.class":"nope"}`)
	code, _, errOut = runAdmin(t, "create", "-f", bad)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "400 Bad Request: connector bad: invalid config: connector.class=\"nope\"")
	code, _, errOut = runAdmin(t, "create", "-f", filepath.Join(t.TempDir(), "missing.json"))
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "no such file")
}

func TestAdminActions(t *testing.T) {
	srv := fakeWorker(t)
	for _, tc := range []struct {
		args []string
		out  string
		req  string
	}{
		{[]string{"pause", "lines"}, "connector lines: pause requested\n", "PUT /connectors/lines/pause"},
		{[]string{"resume", "lines"}, "connector lines: resume requested\n", "PUT /connectors/lines/resume"},
		{[]string{"stop", "out"}, "connector out: stop requested\n", "PUT /connectors/out/stop"},
		{[]string{"restart", "lines"}, "connector lines: restart requested\n", "POST /connectors/lines/restart"},
		{[]string{"restart-task", "lines", "1"}, "connector lines task 1: restart requested\n", "POST /connectors/lines/tasks/1/restart"},
		{[]string{"delete", "out"}, "connector out deleted\n", "DELETE /connectors/out"},
		{[]string{"-o", "json", "pause", "lines"}, "", "PUT /connectors/lines/pause"},
	} {
		code, out, errOut := runAdmin(t, tc.args...)
		require.Equal(t, 0, code, "%v: %s", tc.args, errOut)
		require.Equal(t, tc.out, out, tc.args)
		require.Equal(t, tc.req, srv.Last(), tc.args)
	}
	names, err := srv.W.Connectors(context.Background())
	require.NoError(t, err)
	require.Equal(t, []string{"lines"}, names)

	// With --include-tasks the worker answers 202 and the status as the restart began.
	srv.W.SetStatus(restapi.ConnectorStatus{Name: "lines", Connector: restapi.StateInfo{State: restapi.StateRunning, WorkerID: "w1"},
		Tasks: []restapi.TaskState{
			{ID: 0, StateInfo: restapi.StateInfo{State: restapi.StateRunning, WorkerID: "w1"}},
			{ID: 1, StateInfo: restapi.StateInfo{State: restapi.StateFailed, WorkerID: "w1", Trace: "boom"}},
		}})
	code, out, _ := runAdmin(t, "restart", "lines", "--include-tasks", "--only-failed")
	require.Equal(t, 0, code)
	require.Equal(t, "POST /connectors/lines/restart?includeTasks=true&onlyFailed=true", srv.Last())
	require.Equal(t, ""+
		"connector lines: restart requested\n"+
		"\n"+
		"Connector: lines\n"+
		"Type:      source\n"+
		"State:     RUNNING\n"+
		"Worker:    w1\n"+
		"\n"+
		"TASK  STATE       WORKER  TRACE\n"+
		"0     RUNNING     w1\n"+
		"1     RESTARTING  w1\n", out)
	code, out, _ = runAdmin(t, "restart", "lines", "--include-tasks", "-o", "json")
	require.Equal(t, 0, code)
	var st restapi.ConnectorStatus
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.Equal(t, restapi.StateRestarting, st.Connector.State)
}

func TestAdminAPIErrors(t *testing.T) {
	srv := fakeWorker(t)
	for _, args := range [][]string{
		{"status", "ghost"}, {"config", "ghost"}, {"tasks", "ghost"}, {"task-status", "lines", "9"},
		{"pause", "ghost"}, {"resume", "ghost"}, {"stop", "ghost"}, {"restart", "ghost"},
		{"restart-task", "ghost", "0"}, {"delete", "ghost"},
	} {
		code, out, errOut := runAdmin(t, args...)
		require.Equal(t, 1, code, args)
		require.Empty(t, out, args)
		require.Contains(t, errOut, "rmqconnect admin "+args[0]+": ", args)
		require.Contains(t, errOut, "404 Not Found: connector ", args)
		require.Contains(t, errOut, srv.URL, args)
	}
}

func TestAdminTransportError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	t.Setenv("RMQCONNECT_URL", url)
	code, out, errOut := runAdmin(t, "list")
	require.Equal(t, 1, code)
	require.Empty(t, out)
	require.Contains(t, errOut, "GET "+url+"/connectors?expand=status: ")
	require.Contains(t, errOut, "is a worker listening at "+url)

	// --url beats the environment.
	srv := fakeWorker(t)
	t.Setenv("RMQCONNECT_URL", url)
	code, _, errOut = runAdmin(t, "--url", srv.URL, "cluster")
	require.Equal(t, 0, code, errOut)
}

func TestAdminTimeout(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	code, out, errOut := runAdmin(t, "--url", slow.URL, "--timeout", "50ms", "health")
	require.Equal(t, 1, code)
	require.Empty(t, out)
	require.Contains(t, errOut, "GET "+slow.URL+"/health: ")
	require.Contains(t, errOut, "Client.Timeout exceeded")
}

// The usage text lists every command, and nothing else as one.
func TestAdminUsageListsCommands(t *testing.T) {
	listed := map[string]bool{}
	section := false
	for _, line := range strings.Split(adminUsage(), "\n") {
		switch {
		case line == "commands:":
			section = true
		case line == "":
			section = false
		case section && strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "   "):
			listed[strings.Fields(line)[0]] = true
		}
	}
	delete(listed, "help")
	for name := range adminCommands {
		require.True(t, listed[name], "usage misses %s", name)
		delete(listed, name)
	}
	require.Empty(t, listed, "usage lists commands that do not exist")
}

func TestAdminUsageErrors(t *testing.T) {
	srv := fakeWorker(t)
	before := len(srv.Requests())
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{nil, "usage: rmqconnect admin"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"--bogus", "list"}, "flag provided but not defined: -bogus"},
		{[]string{"list", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"status"}, "missing argument: want <name>"},
		{[]string{"status", "a", "b"}, `unexpected argument "b"`},
		{[]string{"restart-task", "lines"}, "missing argument"},
		{[]string{"restart-task", "lines", "x"}, `task id "x": want a non-negative integer`},
		{[]string{"task-status", "lines", "-1"}, "flag provided but not defined: -1"},
		{[]string{"-o", "yaml", "list"}, `-o "yaml": want table or json`},
		{[]string{"--timeout", "soon", "list"}, "invalid value"},
		{[]string{"--url", "localhost:8082", "list"}, "--url: worker URL"},
		{[]string{"create"}, "-f <file> is required"},
		{[]string{"create", "-f", "x.json", "--paused", "--stopped"}, "--paused and --stopped exclude each other"},
		{[]string{"update", "x.json"}, `unexpected argument "x.json"`},
	} {
		code, out, errOut := runAdmin(t, tc.args...)
		require.Equal(t, 2, code, "%v: %s", tc.args, errOut)
		require.Empty(t, out, tc.args)
		require.Contains(t, errOut, tc.msg, tc.args)
	}
	require.Len(t, srv.Requests(), before, "a usage error calls no worker")

	code, out, _ := runAdmin(t, "help")
	require.Equal(t, 0, code)
	require.Contains(t, out, "exit codes:")
	code, out, _ = runCapture(t, "help")
	require.Equal(t, 0, code)
	require.Contains(t, out, "admin <command>")
	code, _, _ = runAdmin(t, "status", "-h")
	require.Equal(t, 0, code)

	// "--" ends the flags: a connector may be named like a flag.
	code, _, errOut := runAdmin(t, "status", "--", "-odd")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "404 Not Found")
	require.Equal(t, "GET /connectors/-odd/status", srv.Last())
}
