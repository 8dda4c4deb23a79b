package admin

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
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
