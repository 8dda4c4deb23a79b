package client_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/admin"
	"github.com/rmqconnect/rmqconnect/admin/admintest"
	"github.com/rmqconnect/rmqconnect/admin/client"
)

// The logger methods against the real admin routes.
func TestClientLoggers(t *testing.T) {
	w := admintest.NewHerder("w1")
	s := admin.NewServer("127.0.0.1:0", admin.Info{WorkerID: "w1", Version: "test"}, w, w, slog.New(slog.NewTextHandler(io.Discard, nil)))
	reg := admin.NewLevelRegistry()
	reg.Level("connector.lines")
	s.EnableLoggers(reg)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL)
	require.NoError(t, err)
	ctx := context.Background()

	ls, err := c.Loggers(ctx)
	require.NoError(t, err)
	require.Equal(t, "INFO", ls["root"].Level)
	require.Nil(t, ls["root"].LastModified)

	affected, err := c.SetLogger(ctx, "connector", "DEBUG")
	require.NoError(t, err)
	require.Equal(t, []string{"connector", "connector.lines"}, affected)
	l, err := c.Logger(ctx, "connector.lines")
	require.NoError(t, err)
	require.Equal(t, "DEBUG", l.Level)
	require.NotNil(t, l.LastModified)

	_, err = c.Logger(ctx, "ghost")
	require.True(t, client.IsNotFound(err), "%v", err)
	_, err = c.SetLogger(ctx, "x", "LOUD")
	requireAPIError(t, err, http.StatusBadRequest, "must be DEBUG, INFO, WARN or ERROR")
}

func TestClientOffsetsTopicsAllocated(t *testing.T) {
	var gotMethod, gotPath, gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotMethod, gotPath, gotBody = r.Method, r.URL.Path, string(b)
		switch r.Method + " " + r.URL.Path {
		case "GET /connectors/s/offsets":
			_, _ = io.WriteString(w, `{"offsets":[{"partition":{"file":"a"},"offset":{"pos":9007199254740993}}]}`)
		case "PATCH /connectors/s/offsets", "DELETE /connectors/s/offsets":
			_, _ = io.WriteString(w, `{"message":"done"}`)
		case "GET /connectors/s/topics":
			_, _ = io.WriteString(w, `{"s":{"topics":["t1"]}}`)
		case "GET /allocated/connectors":
			_, _ = io.WriteString(w, `{"status":200,"body":{"s":{"connector.class":"x"}}}`)
		case "GET /allocated/tasks":
			_, _ = io.WriteString(w, `{"status":200,"body":{"runningTasks":[{"connectorName":"s","taskId":0,"config":{"k":"v"},"taskState":"RUNNING"}]}}`)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL)
	require.NoError(t, err)
	ctx := context.Background()

	offs, err := c.Offsets(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, json.Number("9007199254740993"), offs.Offsets[0].Offset["pos"], "large offsets keep their digits")

	msg, err := c.AlterOffsets(ctx, "s", offs.Offsets)
	require.NoError(t, err)
	require.Equal(t, "done", msg)
	require.Equal(t, "PATCH", gotMethod)
	require.JSONEq(t, `{"offsets":[{"partition":{"file":"a"},"offset":{"pos":9007199254740993}}]}`, gotBody)
	require.Contains(t, gotBody, "9007199254740993")
	msg, err = c.ResetOffsets(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, "done", msg)
	require.Equal(t, "DELETE /connectors/s/offsets", gotMethod+" "+gotPath)

	topics, err := c.Topics(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, []string{"t1"}, topics)

	conns, err := c.AllocatedConnectors(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]map[string]string{"s": {"connector.class": "x"}}, conns)
	tasks, err := c.AllocatedTasks(ctx)
	require.NoError(t, err)
	require.Equal(t, []client.AllocatedTask{{ConnectorName: "s", Config: map[string]string{"k": "v"}, TaskState: "RUNNING"}}, tasks.RunningTasks)
	require.NotNil(t, tasks.PendingTasks)
	require.NotNil(t, tasks.ErrorTasks)

	_, err = c.Topics(ctx, "ghost")
	require.True(t, client.IsNotFound(err))
}
