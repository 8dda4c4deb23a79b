package client_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/admin/client"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// canned serves one fixed answer and records the request.
type canned struct {
	status int
	body   string

	mu     sync.Mutex
	method string
	uri    string
	got    string
}

func (c *canned) start(t *testing.T) *client.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.method, c.uri, c.got = r.Method, r.URL.RequestURI(), string(b)
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(c.status)
		_, _ = io.WriteString(w, c.body)
	}))
	t.Cleanup(srv.Close)
	cl, err := client.New(srv.URL)
	require.NoError(t, err)
	return cl
}

func (c *canned) request() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.method + " " + c.uri
}

// The shapes of docs/rest-api.md decode into worker's types.
func TestDecodeDocumentedShapes(t *testing.T) {
	ctx := context.Background()

	cs := &canned{status: 200, body: `{"name":"src","connector":{"state":"RUNNING","worker_id":"w1"},
 "tasks":[{"id":0,"state":"FAILED","worker_id":"w1","trace":"java.lang.Exception: x\n\tat y"}],"type":"source"}`}
	c := cs.start(t)
	st, err := c.Status(ctx, "src")
	require.NoError(t, err)
	require.Equal(t, "GET /connectors/src/status", cs.request())
	require.Equal(t, restapi.ConnectorStatus{Name: "src", Connector: restapi.StateInfo{State: restapi.StateRunning, WorkerID: "w1"},
		Tasks: []restapi.TaskState{{ID: 0, StateInfo: restapi.StateInfo{State: restapi.StateFailed, WorkerID: "w1", Trace: "java.lang.Exception: x\n\tat y"}}},
		Type:  restapi.TypeSource}, st)

	ci := &canned{status: 201, body: `{"name":"src","config":{"connector.class":"file-source","name":"src"},"tasks":[{"connector":"src","task":0}],"type":"source"}`}
	c = ci.start(t)
	info, err := c.Create(ctx, "src", map[string]string{"connector.class": "file-source"}, client.InitialStopped)
	require.NoError(t, err)
	require.Equal(t, "POST /connectors", ci.request())
	require.JSONEq(t, `{"name":"src","config":{"connector.class":"file-source"},"initial_state":"STOPPED"}`, ci.got)
	require.Equal(t, []restapi.TaskID{{Connector: "src", Task: 0}}, info.Tasks)

	_, err = c.Create(ctx, "src", nil, "")
	require.NoError(t, err)
	require.JSONEq(t, `{"name":"src","config":{}}`, ci.got, "no initial_state unless asked; config never null")

	ce := &canned{status: 200, body: `{"a":{"status":{"name":"a","connector":{"state":"PAUSED","worker_id":"w1"},"tasks":[],"type":"sink"}}}`}
	c = ce.start(t)
	all, err := c.ListExpanded(ctx, client.ExpandStatus)
	require.NoError(t, err)
	require.Equal(t, "GET /connectors?expand=status", ce.request())
	require.Equal(t, restapi.StatePaused, all["a"].Status.Connector.State)
	require.Nil(t, all["a"].Info)

	cr := &canned{status: 202, body: `{"name":"a","connector":{"state":"RESTARTING","worker_id":"w1"},"tasks":[],"type":"sink"}`}
	c = cr.start(t)
	rs, err := c.Restart(ctx, "a", true, false)
	require.NoError(t, err)
	require.Equal(t, "POST /connectors/a/restart?includeTasks=true", cr.request())
	require.Equal(t, restapi.StateRestarting, rs.Connector.State)
	_, err = c.Restart(ctx, "a", true, true)
	require.NoError(t, err)
	require.Equal(t, "POST /connectors/a/restart?includeTasks=true&onlyFailed=true", cr.request())

	cp := &canned{status: 200, body: `[{"class":"file-source","type":"source","version":"1"}]`}
	c = cp.start(t)
	ps, err := c.Plugins(ctx, true)
	require.NoError(t, err)
	require.Equal(t, "GET /connector-plugins?connectorsOnly=false", cp.request())
	require.Equal(t, []restapi.PluginInfo{{Class: "file-source", Type: "source", Version: "1"}}, ps)
}

func TestErrorBodies(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name           string
		status         int
		body           string
		code           int
		msg            string
		wantInErrorMsg string
	}{
		{"kafka", 404, `{"error_code":404,"message":"connector ghost: not found"}`, 404, "connector ghost: not found", "404 Not Found: connector ghost: not found"},
		{"kafka 400", 400, `{"error_code":400,"message":"connector x: invalid config: max.tasks=\"a\": not a number"}`, 400, `connector x: invalid config: max.tasks="a": not a number`, "400 Bad Request"},
		{"rocketmq", 409, `{"errorCode":409,"message":"exists"}`, 409, "exists", "409 Conflict: exists"},
		{"proxy html", 502, "<html>bad gateway</html>\n", 0, "<html>bad gateway</html>", "502 Bad Gateway: <html>bad gateway</html>"},
		{"empty", 500, "", 0, "", "500 Internal Server Error: (no message)"},
		{"long text", 500, strings.Repeat("x", 2000), 0, strings.Repeat("x", 512) + "...", "500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := (&canned{status: tc.status, body: tc.body}).start(t)
			_, err := c.Get(ctx, "ghost")
			var ae *client.APIError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, tc.status, ae.Status)
			require.Equal(t, tc.code, ae.Code)
			require.Equal(t, tc.msg, ae.Message)
			require.Contains(t, err.Error(), "GET http://")
			require.Contains(t, err.Error(), "/connectors/ghost: "+tc.wantInErrorMsg)
		})
	}
}

// RocketMQ Connect answers failures with HTTP 200 and an errorCode; that is an APIError.
func TestClusterInfoEnvelope(t *testing.T) {
	ctx := context.Background()
	c := (&canned{status: 200, body: `{"status":200,"body":["w1","w2"]}`}).start(t)
	ws, err := c.ClusterInfo(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"w1", "w2"}, ws)

	c = (&canned{status: 200, body: `{"errorCode":500,"message":"cluster unavailable"}`}).start(t)
	_, err = c.ClusterInfo(ctx)
	var ae *client.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, 500, ae.Code)
	require.Equal(t, "cluster unavailable", ae.Message)
	require.Contains(t, ae.URL, "/getClusterInfo")

	c = (&canned{status: 200, body: `{"status":200,"body":{"not":"a list"}}`}).start(t)
	_, err = c.ClusterInfo(ctx)
	var te *client.TransportError
	require.ErrorAs(t, err, &te)
}

func TestTransportErrors(t *testing.T) {
	ctx := context.Background()

	// Nothing listens on a port we just closed.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	c, err := client.New("http://" + addr)
	require.NoError(t, err)
	_, err = c.List(ctx)
	var te *client.TransportError
	require.ErrorAs(t, err, &te)
	require.Equal(t, "GET http://"+addr+"/connectors", te.Method+" "+te.URL)
	require.True(t, strings.HasPrefix(err.Error(), "GET http://"+addr+"/connectors: "), err.Error())
	require.False(t, te.Timeout())

	// A worker that never answers hits the client timeout.
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	c, err = client.New(slow.URL, client.WithTimeout(50*time.Millisecond))
	require.NoError(t, err)
	_, err = c.Status(ctx, "x")
	require.ErrorAs(t, err, &te)
	require.True(t, te.Timeout(), err.Error())

	// A cancelled context ends the call too.
	c, err = client.New(slow.URL)
	require.NoError(t, err)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = c.Status(cctx, "x")
	require.ErrorIs(t, err, context.Canceled)

	// A 2xx body that is not the documented shape is a decode failure, not a silent zero value.
	c = (&canned{status: 200, body: `["not","an","object"]`}).start(t)
	_, err = c.Status(ctx, "x")
	require.ErrorAs(t, err, &te)
	require.Contains(t, err.Error(), "decode response")
}

func TestNewAndPaths(t *testing.T) {
	for _, bad := range []string{"", "127.0.0.1:8082", "ftp://h", "http://", "http://h/?q=1", "http://h/#f", "http://[::1"} {
		_, err := client.New(bad)
		require.Error(t, err, bad)
	}
	cs := &canned{status: 200, body: `{}`}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cs.mu.Lock()
		cs.method, cs.uri = r.Method, r.URL.RawPath
		if cs.uri == "" {
			cs.uri = r.URL.Path
		}
		cs.mu.Unlock()
		_, _ = io.WriteString(w, `{}`)
	}))
	t.Cleanup(srv.Close)

	// A base path (a reverse proxy's prefix) is kept; names are one escaped path segment.
	c, err := client.New(srv.URL + "/connect/")
	require.NoError(t, err)
	require.Equal(t, srv.URL+"/connect", c.BaseURL())
	_, err = c.Config(context.Background(), "a b/c")
	require.NoError(t, err)
	require.Equal(t, "GET /connect/connectors/a%20b%2Fc/config", cs.request())
	require.NoError(t, c.Pause(context.Background(), "p"))
	require.Equal(t, "PUT /connect/connectors/p/pause", cs.request())
	require.NoError(t, c.RestartTask(context.Background(), "p", 3))
	require.Equal(t, "POST /connect/connectors/p/tasks/3/restart", cs.request())
	require.NoError(t, c.Delete(context.Background(), "p"))
	require.Equal(t, "DELETE /connect/connectors/p", cs.request())
}
