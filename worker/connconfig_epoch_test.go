package worker

import (
	"context"
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
// task starts, task restarts, a connector restart and pause/resume resolve nothing again;
// a config update (a new epoch) resolves afresh.
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
	cfg := map[string]string{"connector.class": "block-source", "block": "false", "test.id": id, "count": "0",
		"max.tasks": "2"}
	_, err := h.CreateConnector(ctx, "c", cfg, "")
	require.NoError(t, err)
	waitStarts(2)
	require.NoError(t, h.RestartTask(ctx, restapi.TaskID{Connector: "c", Task: 0}))
	waitStarts(3)
	_, err = h.RestartConnector(ctx, "c", restapi.RestartRequest{IncludeTasks: true})
	require.NoError(t, err)
	waitStarts(5)
	require.NoError(t, h.PauseConnector(ctx, "c"))
	require.NoError(t, h.ResumeConnector(ctx, "c"))
	waitStarts(7)
	conn, task := sec.counts()
	require.Equal(t, 1, conn, "the connector config is resolved once for its epoch")
	require.Equal(t, 2, task, "each task config is resolved once")

	cfg["count"] = "1"
	_, _, err = h.PutConnectorConfig(ctx, "c", cfg)
	require.NoError(t, err)
	waitStarts(9)
	require.NoError(t, h.RestartTask(ctx, restapi.TaskID{Connector: "c", Task: 1}))
	waitStarts(10)
	conn, task = sec.counts()
	require.Equal(t, 2, conn, "a new epoch resolves its config afresh")
	require.Equal(t, 4, task, "and its task configs")
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
