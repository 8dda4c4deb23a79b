package client_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/admin"
	"github.com/rmqconnect/rmqconnect/admin/admintest"
	"github.com/rmqconnect/rmqconnect/admin/client"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// start serves a fresh fake herder named w1 through the real admin server and returns a
// client of it and the herder.
func start(t *testing.T) (*client.Client, *admintest.Herder) {
	t.Helper()
	w := admintest.NewHerder("w1")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(admin.NewServer("127.0.0.1:0", admin.Info{WorkerID: "w1", Version: "test"}, w, w, log).Handler())
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL + "/")
	require.NoError(t, err)
	return c, w
}

func requireAPIError(t *testing.T, err error, status int, msg string) *client.APIError {
	t.Helper()
	var ae *client.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, status, ae.Status)
	require.Equal(t, status, ae.Code)
	require.Contains(t, ae.Message, msg)
	require.Contains(t, ae.Error(), http.StatusText(status))
	return ae
}

func TestClientLifecycle(t *testing.T) {
	c, w := start(t)
	ctx := context.Background()

	names, err := c.List(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{}, names)

	cfg := map[string]string{"connector.class": "file-source", "filename": "/tmp/in.txt", "connect.topicname": "t", "max.tasks": "2"}
	info, err := c.Create(ctx, "src", cfg, "")
	require.NoError(t, err)
	require.Equal(t, "src", info.Name)
	require.Equal(t, restapi.TypeSource, info.Type)
	require.Equal(t, "src", info.Config["name"])
	require.Equal(t, []restapi.TaskID{{Connector: "src", Task: 0}, {Connector: "src", Task: 1}}, info.Tasks)

	_, err = c.Create(ctx, "src", cfg, "")
	requireAPIError(t, err, http.StatusConflict, "already exists")
	_, err = c.Create(ctx, "bad", map[string]string{"connector.class": "nope"}, "")
	requireAPIError(t, err, http.StatusBadRequest, "connector.class")

	_, err = c.Create(ctx, "snk", map[string]string{"connector.class": "file-sink", "connect.topicnames": "t"}, client.InitialPaused)
	require.NoError(t, err)
	st, err := c.Status(ctx, "snk")
	require.NoError(t, err)
	require.Equal(t, restapi.StatePaused, st.Connector.State)

	names, err = c.List(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"snk", "src"}, names)
	all, err := c.ListExpanded(ctx, client.ExpandStatus, client.ExpandInfo)
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Equal(t, restapi.StateRunning, all["src"].Status.Connector.State)
	require.Len(t, all["src"].Status.Tasks, 2)
	require.Equal(t, "/tmp/in.txt", all["src"].Info.Config["filename"])
	only, err := c.ListExpanded(ctx)
	require.NoError(t, err)
	require.NotNil(t, only["src"].Status)
	require.Nil(t, only["src"].Info)

	got, err := c.Get(ctx, "src")
	require.NoError(t, err)
	require.Equal(t, info, got)
	gotCfg, err := c.Config(ctx, "src")
	require.NoError(t, err)
	require.Equal(t, info.Config, gotCfg)
	tasks, err := c.Tasks(ctx, "src")
	require.NoError(t, err)
	require.Len(t, tasks, 2)
	require.Equal(t, restapi.TaskID{Connector: "src", Task: 1}, tasks[1].ID)
	require.Equal(t, "/tmp/in.txt", tasks[1].Config["filename"])

	w.SetStatus(restapi.ConnectorStatus{Name: "src", Connector: restapi.StateInfo{State: restapi.StateRunning, WorkerID: "w1"},
		Tasks: []restapi.TaskState{
			{ID: 0, StateInfo: restapi.StateInfo{State: restapi.StateRunning, WorkerID: "w1"}},
			{ID: 1, StateInfo: restapi.StateInfo{State: restapi.StateFailed, WorkerID: "w2", Trace: "boom\n\tat x"}},
		}})
	ts, err := c.TaskStatus(ctx, "src", 1)
	require.NoError(t, err)
	require.Equal(t, restapi.TaskState{ID: 1, StateInfo: restapi.StateInfo{State: restapi.StateFailed, WorkerID: "w2", Trace: "boom\n\tat x"}}, ts)
	_, err = c.TaskStatus(ctx, "src", 7)
	requireAPIError(t, err, http.StatusNotFound, "not found")

	rs, err := c.Restart(ctx, "src", true, true)
	require.NoError(t, err)
	require.NotNil(t, rs)
	require.Equal(t, restapi.StateRunning, rs.Tasks[0].State)
	require.Equal(t, restapi.StateRestarting, rs.Tasks[1].State)
	rs, err = c.Restart(ctx, "src", false, false)
	require.NoError(t, err)
	require.Nil(t, rs, "a plain restart is a 204 with no status")
	require.NoError(t, c.RestartTask(ctx, "src", 1))
	ts, err = c.TaskStatus(ctx, "src", 1)
	require.NoError(t, err)
	require.Equal(t, restapi.StateRunning, ts.State)

	require.NoError(t, c.Pause(ctx, "src"))
	st, err = c.Status(ctx, "src")
	require.NoError(t, err)
	require.Equal(t, restapi.StatePaused, st.Connector.State)
	require.NoError(t, c.Stop(ctx, "src"))
	st, err = c.Status(ctx, "src")
	require.NoError(t, err)
	require.Equal(t, restapi.StateStopped, st.Connector.State)
	require.NoError(t, c.Resume(ctx, "src"))
	st, err = c.Status(ctx, "src")
	require.NoError(t, err)
	require.Equal(t, restapi.StateRunning, st.Connector.State)

	cfg["filename"] = "/tmp/other.txt"
	info, created, err := c.PutConfig(ctx, "src", cfg)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, "/tmp/other.txt", info.Config["filename"])
	_, created, err = c.PutConfig(ctx, "third", map[string]string{"connector.class": "file-source", "filename": "f", "connect.topicname": "t"})
	require.NoError(t, err)
	require.True(t, created)

	require.NoError(t, c.Delete(ctx, "src"))
	err = c.Delete(ctx, "src")
	requireAPIError(t, err, http.StatusNotFound, "src")
	require.True(t, client.IsNotFound(err))
	for _, call := range []func() error{
		func() error { _, err := c.Get(ctx, "src"); return err },
		func() error { _, err := c.Config(ctx, "src"); return err },
		func() error { _, err := c.Status(ctx, "src"); return err },
		func() error { _, err := c.Tasks(ctx, "src"); return err },
		func() error { return c.Pause(ctx, "src") },
		func() error { return c.Resume(ctx, "src") },
		func() error { return c.Stop(ctx, "src") },
		func() error { _, err := c.Restart(ctx, "src", false, false); return err },
		func() error { return c.RestartTask(ctx, "src", 0) },
	} {
		require.True(t, client.IsNotFound(call()))
	}
}

func TestClientPluginsHealthCluster(t *testing.T) {
	c, w := start(t)
	ctx := context.Background()

	ps, err := c.Plugins(ctx, false)
	require.NoError(t, err)
	require.Len(t, ps, 2)
	require.Equal(t, "file-source", ps[0].Class)
	require.Equal(t, []string{"org.apache.rocketmq.connect.file.FileSourceConnector"}, ps[0].Aliases)
	ps, err = c.Plugins(ctx, true)
	require.NoError(t, err)
	require.Len(t, ps, 3)

	workers, err := c.ClusterInfo(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"w1"}, workers)

	h, err := c.Health(ctx)
	require.NoError(t, err)
	require.Equal(t, client.HealthHealthy, h.Status)
	require.Equal(t, "w1", h.WorkerID)
	w.SetDown("broker unreachable")
	h, err = c.Health(ctx)
	requireAPIErrorNoCode(t, err, http.StatusInternalServerError)
	require.Equal(t, client.Health{Status: client.HealthUnhealthy, WorkerID: "w1", Version: "test", Message: "broker unreachable"}, h)
}

// The health body has no error_code; the status is the signal.
func requireAPIErrorNoCode(t *testing.T, err error, status int) {
	t.Helper()
	var ae *client.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, status, ae.Status)
}

// A connector named "list" is reachable although GET /connectors/list is RocketMQ's list.
func TestClientConnectorNamedList(t *testing.T) {
	c, _ := start(t)
	ctx := context.Background()
	created, err := c.Create(ctx, "list", map[string]string{"connector.class": "file-sink", "connect.topicnames": "t"}, "")
	require.NoError(t, err)
	got, err := c.Get(ctx, "list")
	require.NoError(t, err)
	require.Equal(t, created, got)
	_, err = c.Get(ctx, "ghost")
	require.True(t, client.IsNotFound(err))
}
