package admin

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/admin/admintest"
)

func TestAllocatedRoutes(t *testing.T) {
	h, _ := newTestServer(t)
	code, _ := callJSON(t, h, http.MethodPost, "/connectors", `{"name":"a","config":{"connector.class":"file-sink","x":"1"}}`)
	require.Equal(t, http.StatusCreated, code)
	code, v := callJSON(t, h, http.MethodGet, "/allocated/connectors", "")
	require.Equal(t, http.StatusOK, code)
	body := obj(t, obj(t, v)["body"])
	require.Contains(t, body, "a")
	require.Equal(t, "1", obj(t, body["a"])["x"])
	code, v = callJSON(t, h, http.MethodGet, "/allocated/tasks", "")
	require.Equal(t, http.StatusOK, code)
	lists := obj(t, obj(t, v)["body"])
	for _, k := range []string{"pendingTasks", "runningTasks", "stoppingTasks", "stoppedTasks", "errorTasks"} {
		require.Contains(t, lists, k)
	}
}

// clusterHerder is a distributed herder as the admin server sees it: members, and whether
// it is applying an assignment change.
type clusterHerder struct {
	*admintest.Herder
	members     []string
	rebalancing bool
}

func (c *clusterHerder) Members(context.Context) ([]string, error) { return c.members, nil }
func (c *clusterHerder) Rebalancing() bool                         { return c.rebalancing }

func TestClusterRoutes(t *testing.T) {
	ch := &clusterHerder{Herder: newFakeHerder(), members: []string{"w1", "w2", "w3"}}
	h := NewServer("127.0.0.1:0", Info{WorkerID: fakeWorker}, fakeHealth{}, ch, slog.New(slog.NewTextHandler(io.Discard, nil))).Handler()
	require.Equal(t, []any{"w1", "w2", "w3"}, rmqOKBody(t, h, http.MethodGet, "/getClusterInfo", ""))
	code, _ := callJSON(t, h, http.MethodGet, "/allocated/tasks", "")
	require.Equal(t, http.StatusOK, code)

	// While the worker applies an assignment change, what runs on it is not reliable: 409.
	ch.rebalancing = true
	for _, path := range []string{"/allocated/tasks", "/allocated/connectors"} {
		code, v := callJSON(t, h, http.MethodGet, path, "")
		require.Equal(t, http.StatusConflict, code, path)
		require.Contains(t, obj(t, v)["message"], "rebalance in progress")
	}
}
