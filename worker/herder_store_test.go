package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/external/dirlock"
	"github.com/rmqconnect/rmqconnect/worker/internal/filestore"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

func storeTestConfig(dir string) StandaloneConfig {
	return StandaloneConfig{WorkerID: "w", StoreDir: dir, KeyConverter: "string", ValueConverter: "string"}
}

// runStoreHerder runs a Standalone without a broker on dir, logging to log; stop stops it
// and returns Run's result (it may be called more than once).
func runStoreHerder(t *testing.T, dir string, log *slog.Logger) (h *Standalone, stop func() error) {
	t.Helper()
	reg := fileRegistry(t)
	require.NoError(t, reg.Register(plugins.KindSource, "gated-source", nil, func() plugins.Connector { return &gatedConnector{} }))
	h, err := NewStandalone(storeTestConfig(dir), nil, reg, log)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var runErr error
	done := make(chan struct{})
	go func() { defer close(done); runErr = h.Run(ctx) }()
	stop = func() error { cancel(); <-done; return runErr }
	t.Cleanup(func() { _ = stop() })
	<-h.Started()
	return h, stop
}

// plainConfig is a gated-source config that no gate holds up.
func plainConfig(version string) map[string]string {
	return gatedConfig("no-gate", "none", version)
}

// breakConnectorStore makes every write of dir's connectors.json fail, and no other file's:
// Write keeps the previous version as connectors.json.bak, which a non-empty directory
// there prevents. repair undoes it.
func breakConnectorStore(t *testing.T, dir string) (repair func()) {
	t.Helper()
	bak := filepath.Join(dir, "connectors.json.bak")
	require.NoError(t, os.RemoveAll(bak))
	require.NoError(t, os.MkdirAll(filepath.Join(bak, "blocker"), 0o755))
	return func() { require.NoError(t, os.RemoveAll(bak)) }
}

func storedOnDisk(t *testing.T, dir string) map[string]storedConnector {
	t.Helper()
	var m map[string]storedConnector
	require.NoError(t, filestore.Read(filepath.Join(dir, "connectors.json"), &m))
	return m
}

// TestStoreDirIsLocked: two workers on one store directory would both run every stored
// connector and overwrite each other's files; the second one fails to start instead,
// naming the directory and the holder.
func TestStoreDirIsLocked(t *testing.T) {
	dir := t.TempDir()
	first, err := NewStandalone(storeTestConfig(dir), nil, testRegistry(), quiet())
	require.NoError(t, err)

	_, err = NewStandalone(storeTestConfig(dir), nil, testRegistry(), quiet())
	require.ErrorIs(t, err, dirlock.ErrLocked)
	require.Contains(t, err.Error(), "storePathRootDir")
	require.Contains(t, err.Error(), dir)
	require.Contains(t, err.Error(), "pid "+strconv.Itoa(os.Getpid()))
	_, err = NewDistributed(DistributedConfig{ClusterID: "c", StandaloneConfig: storeTestConfig(dir)}, nil, nil, quiet())
	require.ErrorIs(t, err, dirlock.ErrLocked, "a distributed worker keeps its cache there")

	require.NoError(t, first.Close())
	second, err := NewStandalone(storeTestConfig(dir), nil, testRegistry(), quiet())
	require.NoError(t, err, "released by Close")
	require.NoError(t, second.Close())

	// Run releases it as it returns.
	_, stop := runStoreHerder(t, dir, quiet())
	_, err = NewStandalone(storeTestConfig(dir), nil, testRegistry(), quiet())
	require.ErrorIs(t, err, dirlock.ErrLocked)
	require.NoError(t, stop())
	third, err := NewStandalone(storeTestConfig(dir), nil, testRegistry(), quiet())
	require.NoError(t, err, "released by Run")
	require.NoError(t, third.Close())

	// A worker that fails to open its stores does not keep the directory.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "connectors.json"), []byte(`{`), 0o644))
	_, err = NewStandalone(storeTestConfig(dir), nil, testRegistry(), quiet())
	require.Error(t, err)
	require.NotErrorIs(t, err, dirlock.ErrLocked)
	require.NoError(t, os.Remove(filepath.Join(dir, "connectors.json")))
	fourth, err := NewStandalone(storeTestConfig(dir), nil, testRegistry(), quiet())
	require.NoError(t, err)
	require.NoError(t, fourth.Close())
}

func TestDistributedStoreDirIsLocked(t *testing.T) {
	dir := t.TempDir()
	cfg := DistributedConfig{ClusterID: "c", StandaloneConfig: storeTestConfig(dir)}
	d, err := NewDistributed(cfg, nil, nil, quiet())
	require.NoError(t, err)
	_, err = NewDistributed(cfg, nil, nil, quiet())
	require.ErrorIs(t, err, dirlock.ErrLocked)
	require.Contains(t, err.Error(), dir)
	_, err = NewStandalone(storeTestConfig(dir), nil, testRegistry(), quiet())
	require.ErrorIs(t, err, dirlock.ErrLocked)
	require.NoError(t, d.Close())
	d, err = NewDistributed(cfg, nil, nil, quiet())
	require.NoError(t, err)
	require.NoError(t, d.Close())
}

// writeStoreFiles writes connectors.json and its backup as given ("" leaves a file out).
func writeStoreFiles(t *testing.T, dir, name, main, bak string) {
	t.Helper()
	for path, body := range map[string]string{filepath.Join(dir, name): main, filepath.Join(dir, name+".bak"): bak} {
		if body != "" {
			require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
		}
	}
}

func storedEntry(name string) string {
	return fmt.Sprintf(`%q: {"config": {"connector.class": "mem-source"}, "target": "STARTED"}`, name)
}

// TestCorruptConnectorStore: a connectors.json that does not decode falls back to its
// backup as a whole, with a warning; a missing one whose backup is unusable is an error,
// never an empty store.
func TestCorruptConnectorStore(t *testing.T) {
	bak := "{" + storedEntry("old") + "}"
	cases := []struct {
		name      string
		main, bak string
		want      []string // the connectors loaded; nil: NewStandalone fails
	}{
		{name: "torn main", main: "{" + storedEntry("new"), bak: bak, want: []string{"old"}},
		// json.Unmarshal fills "new" before it meets the type error of "bad"; none of it may
		// be merged with the backup.
		{name: "type error", main: "{" + storedEntry("new") + `, "bad": {"config": 7}}`, bak: bak, want: []string{"old"}},
		{name: "missing main, torn backup", bak: `{"old": {`},
		{name: "missing main, backup of another type", bak: `[1, 2]`},
		{name: "torn main, no backup", main: `{"new": `},
		{name: "missing main, good backup", bak: bak, want: []string{"old"}},
		{name: "null main", main: "null", want: []string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeStoreFiles(t, dir, "connectors.json", c.main, c.bak)
			var logs bytes.Buffer
			h, err := NewStandalone(storeTestConfig(dir), nil, testRegistry(), slog.New(slog.NewTextHandler(&logs, nil)))
			if c.want == nil {
				require.Error(t, err, "a store that cannot be read is not an empty one")
				require.False(t, errors.Is(err, os.ErrNotExist), "%v", err)
				require.Contains(t, err.Error(), filepath.Join(dir, "connectors.json"))
				return
			}
			require.NoError(t, err)
			defer h.Close()
			names, err := h.Connectors(context.Background())
			require.NoError(t, err)
			require.ElementsMatch(t, c.want, names)
			if c.bak != "" {
				require.Contains(t, logs.String(), "level=WARN")
				require.Contains(t, logs.String(), "file="+filepath.Join(dir, "connectors.json"))
			}
			// The store still takes writes (a nil map would panic here).
			require.NoError(t, func() error { h.mu.Lock(); defer h.mu.Unlock(); return h.persistLocked() }())
		})
	}
}

// TestCorruptPositionStore: positions.json missing with an unusable backup fails the start;
// it used to come back as "no store", and every source started over from the beginning.
func TestCorruptPositionStore(t *testing.T) {
	dir := t.TempDir()
	writeStoreFiles(t, dir, "positions.json", "", `{"c": {`)
	_, err := NewStandalone(storeTestConfig(dir), nil, testRegistry(), quiet())
	require.Error(t, err)
	require.False(t, errors.Is(err, os.ErrNotExist), "%v", err)
	require.Contains(t, err.Error(), filepath.Join(dir, "positions.json"))
}

// TestDeleteThatCannotBeStored: a DELETE whose write fails changes nothing: the connector
// keeps running with its positions, a retry can delete it, and a restart finds it with
// them. It used to be gone from the API (a retry answered 404) while still on disk, and
// back after a restart with its positions deleted.
func TestDeleteThatCannotBeStored(t *testing.T) {
	dir := t.TempDir()
	h, stop := runStoreHerder(t, dir, quiet())
	ctx := context.Background()
	_, err := h.CreateConnector(ctx, "c", plainConfig("1"), "")
	require.NoError(t, err)
	pos := []plugins.PartitionPosition{{Partition: map[string]any{"file": "a"}, Offset: map[string]any{"line": int64(5)}}}
	require.NoError(t, h.positions.Put("c", pos))

	repair := breakConnectorStore(t, dir)
	require.Error(t, h.DeleteConnector(ctx, "c"))
	names, err := h.Connectors(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"c"}, names)
	st, err := h.ConnectorStatus(ctx, "c")
	require.NoError(t, err, "the connector still runs")
	require.Equal(t, restapi.StateRunning, st.Connector.State)
	got, err := h.positions.All("c")
	require.NoError(t, err)
	require.Equal(t, pos, got)

	// A restart finds the connector with its positions.
	require.NoError(t, stop())
	repair()
	h, _ = runStoreHerder(t, dir, quiet())
	_, err = h.ConnectorInfo(ctx, "c")
	require.NoError(t, err)
	got, err = h.positions.All("c")
	require.NoError(t, err)
	require.Equal(t, pos, got)

	// The retry deletes it.
	require.NoError(t, h.DeleteConnector(ctx, "c"))
	names, err = h.Connectors(ctx)
	require.NoError(t, err)
	require.Empty(t, names)
	require.NotContains(t, storedOnDisk(t, dir), "c")
	got, err = h.positions.All("c")
	require.NoError(t, err)
	require.Empty(t, got)
}

// TestTargetChangeThatCannotBeStored: a pause whose write fails leaves the connector
// running and STARTED in memory, so that the next write of the store (another connector's
// create) does not store the pause the API refused.
func TestTargetChangeThatCannotBeStored(t *testing.T) {
	dir := t.TempDir()
	h, _ := runStoreHerder(t, dir, quiet())
	ctx := context.Background()
	_, err := h.CreateConnector(ctx, "c", plainConfig("1"), "")
	require.NoError(t, err)

	repair := breakConnectorStore(t, dir)
	require.Error(t, h.PauseConnector(ctx, "c"))
	require.Error(t, h.StopConnector(ctx, "c"))
	st, err := h.ConnectorStatus(ctx, "c")
	require.NoError(t, err)
	require.Equal(t, restapi.StateRunning, st.Connector.State)
	repair()

	_, err = h.CreateConnector(ctx, "d", plainConfig("1"), "")
	require.NoError(t, err)
	require.Equal(t, restapi.TargetStarted, storedOnDisk(t, dir)["c"].Target, "the refused pause was stored by the next write")

	require.NoError(t, h.PauseConnector(ctx, "c"))
	require.Equal(t, restapi.TargetPaused, storedOnDisk(t, dir)["c"].Target)
}
