package worker

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// countingSecrets counts the Resolve calls of configs whose test.id is id: connector
// configs (they carry connector.class) and task configs apart.
type countingSecrets struct {
	secretsForTest
	id         string
	mu         sync.Mutex
	conn, task int
}

func (c *countingSecrets) Resolve(cfg map[string]string) (map[string]string, []string, error) {
	if cfg["test.id"] == c.id {
		c.mu.Lock()
		if _, ok := cfg["connector.class"]; ok {
			c.conn++
		} else {
			c.task++
		}
		c.mu.Unlock()
	}
	return c.secretsForTest.Resolve(cfg)
}

func (c *countingSecrets) counts() (conn, task int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn, c.task
}

// TestParsedConfigOncePerEpoch: a connector config's placeholders are resolved once per
// (connector, epoch), when the epoch's parsed config is built, and each task config once:
// task starts and pause/resume resolve nothing again; an explicit restart resolves what it
// restarts again (as Kafka Connect does); a config update (a new epoch) resolves afresh.
func TestParsedConfigOncePerEpoch(t *testing.T) {
	id := "epoch-" + t.Name()
	sec := &countingSecrets{id: id}
	h := offlineHerder(t, StandaloneConfig{Secrets: sec}, quiet())
	ctx := context.Background()
	st := stateFor(id)
	starts := func() int { st.mu.Lock(); defer st.mu.Unlock(); return st.starts }
	waitStarts := func(n int) {
		t.Helper()
		require.Eventually(t, func() bool { return starts() >= n }, 30*time.Second, 5*time.Millisecond)
	}
	requireCounts := func(wantConn, wantTask int, why string) {
		t.Helper()
		conn, task := sec.counts()
		require.Equal(t, wantConn, conn, "connector config resolves: "+why)
		require.Equal(t, wantTask, task, "task config resolves: "+why)
	}
	cfg := map[string]string{"connector.class": "block-source", "block": "false", "test.id": id, "count": "0",
		"max.tasks": "2"}
	_, err := h.CreateConnector(ctx, "c", cfg, "")
	require.NoError(t, err)
	waitStarts(2)
	require.NoError(t, h.PauseConnector(ctx, "c"))
	require.NoError(t, h.ResumeConnector(ctx, "c"))
	waitStarts(4)
	requireCounts(1, 2, "once for the epoch, once per task config")

	require.NoError(t, h.RestartTask(ctx, restapi.TaskID{Connector: "c", Task: 0}))
	waitStarts(5)
	requireCounts(1, 3, "an explicit task restart resolves that task's config again")
	_, err = h.RestartConnector(ctx, "c", restapi.RestartRequest{IncludeTasks: true})
	require.NoError(t, err)
	waitStarts(7)
	requireCounts(2, 5, "an explicit connector restart resolves the connector's and the restarted tasks' configs again")

	cfg["count"] = "1"
	_, _, err = h.PutConnectorConfig(ctx, "c", cfg)
	require.NoError(t, err)
	waitStarts(9)
	requireCounts(3, 7, "a new epoch resolves its config afresh, and its task configs")
}

// TestExplicitRestartPicksUpRotatedSecrets: a value behind a placeholder that changed (a
// rotated secret) reaches the connector on POST …/restart and a task on its restart, as in
// Kafka Connect; pause/resume keeps the values resolved for the epoch. A placeholder that no
// longer resolves fails the connector with a trace saying so.
func TestExplicitRestartPicksUpRotatedSecrets(t *testing.T) {
	id := "rotate-" + t.Name()
	t.Setenv("RMQC_TEST_ROTATED", "3")
	h := offlineHerder(t, StandaloneConfig{}, quiet())
	ctx := context.Background()
	st := stateFor(id)
	seen := func() (conn, t0, t1 string, starts int) {
		st.mu.Lock()
		defer st.mu.Unlock()
		return st.connCount, st.taskCount["0"], st.taskCount["1"], st.starts
	}
	waitSeen := func(conn, t0, t1 string, minStarts int) {
		t.Helper()
		require.Eventually(t, func() bool {
			c, a, b, n := seen()
			return c == conn && a == t0 && b == t1 && n >= minStarts
		}, 30*time.Second, 5*time.Millisecond)
	}
	_, err := h.CreateConnector(ctx, "c", map[string]string{"connector.class": "block-source", "block": "false",
		"test.id": id, "count": "${env:RMQC_TEST_ROTATED}", "max.tasks": "2"}, "")
	require.NoError(t, err)
	waitSeen("3", "3", "3", 2)

	t.Setenv("RMQC_TEST_ROTATED", "4")
	require.NoError(t, h.PauseConnector(ctx, "c"))
	require.NoError(t, h.ResumeConnector(ctx, "c"))
	waitSeen("3", "3", "3", 4)
	require.NoError(t, h.RestartTask(ctx, restapi.TaskID{Connector: "c", Task: 0}))
	waitSeen("3", "4", "3", 5)
	_, err = h.RestartConnector(ctx, "c", restapi.RestartRequest{})
	require.NoError(t, err)
	waitSeen("4", "4", "3", 5)
	_, err = h.RestartConnector(ctx, "c", restapi.RestartRequest{IncludeTasks: true})
	require.NoError(t, err)
	waitSeen("4", "4", "4", 7)
	info, err := h.ConnectorInfo(ctx, "c")
	require.NoError(t, err)
	require.Equal(t, "${env:RMQC_TEST_ROTATED}", info.Config["count"], "the config is shown with its placeholder")

	require.NoError(t, os.Unsetenv("RMQC_TEST_ROTATED"))
	s, err := h.RestartConnector(ctx, "c", restapi.RestartRequest{})
	require.NoError(t, err)
	require.Equal(t, restapi.StateRestarting, s.Connector.State, "the answer is the restart's plan")
	s, err = h.ConnectorStatus(ctx, "c")
	require.NoError(t, err)
	require.Equal(t, restapi.StateFailed, s.Connector.State)
	require.Contains(t, s.Connector.Trace, "resolve config")
	require.Contains(t, s.Connector.Trace, "RMQC_TEST_ROTATED is not set")
}

// specCountingConnector declares a secret field (key alias "pw.old") and counts the
// instances built of it.
type specCountingConnector struct{ memSourceConnector }

var (
	specCountingBuilt atomic.Int64
	specCountingSpec  = plugins.MustConfigSpec(plugins.Field{Name: "pw", Aliases: []string{"pw.old"},
		Type: plugins.TypePassword})
)

func (c *specCountingConnector) Spec() *plugins.ConfigSpec { return specCountingSpec }

// TestDisplayReadsTheParsedConfig: showing the config of a connector this worker runs masks
// its secret keys (names and aliases: one rule) from the epoch's parsed config, building no
// plugin instance; a config it does not run (another epoch) is masked from the class's Spec.
func TestDisplayReadsTheParsedConfig(t *testing.T) {
	reg := fileRegistry(t)
	require.NoError(t, reg.Register(plugins.KindSource, "spec-counting", nil, func() plugins.Connector {
		specCountingBuilt.Add(1)
		return &specCountingConnector{}
	}))
	e := newEngine(StandaloneConfig{WorkerID: "w", Secrets: secretsForTest{}, KeyConverter: "string",
		ValueConverter: "string"}, nil, reg, quiet())
	cfg := map[string]string{"connector.class": "spec-counting", "test.id": "x", "pw.old": "inline-s3cr3t"}
	rt, err := e.newRuntime("c", cfg, resolveConfig(e.cfg.Secrets, cfg), true)
	require.NoError(t, err)
	require.Same(t, rt, e.adopt(rt))
	built := specCountingBuilt.Load()
	shown, typ := e.display("c", cfg, cfg)
	require.Equal(t, "[hidden]", shown["pw.old"])
	require.Equal(t, restapi.TypeSource, typ)
	require.Equal(t, built, specCountingBuilt.Load(), "the parsed config knows the secret keys")

	other := map[string]string{"connector.class": "spec-counting", "test.id": "y", "pw.old": "inline-s3cr3t"}
	shown, _ = e.display("c", other, other)
	require.Equal(t, "[hidden]", shown["pw.old"])
	require.Equal(t, built+1, specCountingBuilt.Load(), "another epoch's config asks the class")
}
