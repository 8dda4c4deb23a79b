package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

// loggerLevel is GET /admin/loggers/{name}'s level, "" for an unknown logger.
func loggerLevel(t *testing.T, w *workerProc, name string) string {
	t.Helper()
	var l struct{ Level string }
	if w.Call(t, "GET", "/admin/loggers/"+name, nil, &l) != http.StatusOK {
		return ""
	}
	return l.Level
}

// TestLoggerClusterScope: PUT /admin/loggers/{name}?scope=cluster (KIP-976) on one worker
// sets the level on every worker of the cluster; scope=worker changes the asked worker only;
// a worker started later does not replay the change.
func TestLoggerClusterScope(t *testing.T) {
	rmqtest.Require(t)
	c := newCluster(t)
	w1, w2 := c.start("worker-1"), c.start("worker-2")
	w3 := c.start("worker-3")

	require.Equal(t, http.StatusNoContent, w2.Call(t, "PUT", "/admin/loggers/connector.audit?scope=cluster",
		map[string]string{"level": "DEBUG"}, nil))
	require.Equal(t, "DEBUG", loggerLevel(t, w2, "connector.audit"), "read-your-writes on the worker asked")
	for _, w := range []*workerProc{w1, w3} {
		require.Eventually(t, func() bool { return loggerLevel(t, w, "connector.audit") == "DEBUG" },
			30*time.Second, 50*time.Millisecond, "%s never applied the cluster-scoped level", w.URL)
	}
	var l struct {
		LastModified *int64 `json:"last_modified"`
	}
	require.Equal(t, http.StatusOK, w1.Call(t, "GET", "/admin/loggers/connector.audit", nil, &l))
	require.NotNil(t, l.LastModified, "an API change stamps last_modified on every worker")

	var affected []string
	require.Equal(t, http.StatusOK, w1.Call(t, "PUT", "/admin/loggers/connector.local?scope=worker",
		map[string]string{"level": "ERROR"}, &affected))
	require.Equal(t, []string{"connector.local"}, affected)
	require.Equal(t, "ERROR", loggerLevel(t, w1, "connector.local"))
	require.Equal(t, "", loggerLevel(t, w2, "connector.local"), "worker scope stays on the worker asked")

	// The root logger at cluster scope sets every logger on every worker.
	require.Equal(t, http.StatusNoContent, w3.Call(t, "PUT", "/admin/loggers/root?scope=cluster",
		map[string]string{"level": "WARN"}, nil))
	for _, w := range []*workerProc{w1, w2, w3} {
		require.Eventually(t, func() bool {
			return loggerLevel(t, w, "connector.audit") == "WARN" && loggerLevel(t, w, "worker") == "WARN"
		}, 30*time.Second, 50*time.Millisecond, "%s never applied root=WARN", w.URL)
	}

	c.Workers["worker-2"].Stop(t, 90*time.Second)
	w2 = c.start("worker-2")
	require.Equal(t, "", loggerLevel(t, w2, "connector.audit"), "a restarted worker does not replay level changes")
	require.Equal(t, "INFO", loggerLevel(t, w2, "worker"))
}
