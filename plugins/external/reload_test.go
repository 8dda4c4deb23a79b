package external_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/external"
)

// linesConfig is the config of an example-line-source reading a new file of three lines.
func linesConfig(t *testing.T) map[string]string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "in")
	require.NoError(t, os.WriteFile(f, []byte("a\nb\nc\n"), 0o644))
	return map[string]string{"file": f}
}

// startLines starts a task of the example-line-source connector c and returns its Start error.
func startLines(t *testing.T, c plugins.SourceConnector, cfg map[string]string) (plugins.SourceTask, error) {
	t.Helper()
	task := c.NewSourceTask()
	err := task.Start(t.Context(), conformance.SourceContextFor(t, c.Spec(), nil, cfg), cfg)
	t.Cleanup(func() { _ = task.Stop(context.Background()) })
	return task, err
}

// TestReplacedBinaryRefusedUntilReload: the worker drives a plugin connector by its binary's
// description (a sink that is a PreCommitter or not, ...), so an instance of a connector
// described from a file since replaced (renamed over: another inode) or rewritten (another
// modification time) does not run the new file: its task, connector and Validate are refused,
// saying what to do, until a reload describes the new file; then the old instance's new tasks
// run it (it serves the connector with the same abilities: runnable_internal_test.go has the
// other case), and so does a connector taken from the registry.
func TestReplacedBinaryRefusedUntilReload(t *testing.T) {
	for _, tc := range []struct {
		name    string
		replace func(t *testing.T, path string)
	}{
		{"renamed over", func(t *testing.T, path string) { copyBinary(t, filepath.Join(binDir, "lines"), path) }},
		{"rewritten", func(t *testing.T, path string) {
			later := time.Now().Add(time.Hour)
			require.NoError(t, os.Chtimes(path, later, later))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, reg, dir := newManager(t, external.Options{}, "lines")
			bin := filepath.Join(dir, "lines")
			old, err := reg.NewSource("example-line-source")
			require.NoError(t, err)
			cfg := linesConfig(t)
			tc.replace(t, bin)
			want := "plugin binary " + bin + " changed since it was described; run /plugin/reload and restart the connector"

			_, err = startLines(t, old, cfg)
			require.ErrorIs(t, err, external.ErrBinaryChanged)
			require.EqualError(t, err, want)
			err = old.Start(t.Context(), conformance.NewConnectorContext(), cfg)
			require.ErrorIs(t, err, external.ErrBinaryChanged)
			_, err = conformance.Validate(old, cfg)
			require.ErrorIs(t, err, external.ErrBinaryChanged)
			require.Empty(t, m.Processes(), "no process ran the replaced file")

			rep, err := m.Reload(t.Context())
			require.NoError(t, err)
			require.Empty(t, rep.Refused)
			_, err = startLines(t, old, cfg)
			require.NoError(t, err, "the new file serves the instance's connector with the same abilities")

			fresh, err := reg.NewSource("example-line-source")
			require.NoError(t, err)
			task, err := startLines(t, fresh, cfg)
			require.NoError(t, err)
			var got []string
			for len(got) < 3 {
				recs, err := task.Poll(t.Context())
				require.NoError(t, err)
				for _, r := range recs {
					got = append(got, r.Value.(string))
				}
			}
			require.Equal(t, []string{"a", "b", "c"}, got)
		})
	}
}

// TestReloadNotCutShortByItsCaller: a reload whose caller gives up (an HTTP client's timeout
// cancels the request's context) still describes a replaced binary, instead of refusing it
// and dropping its connectors.
func TestReloadNotCutShortByItsCaller(t *testing.T) {
	m, reg, dir := newManager(t, external.Options{}, "lines")
	copyBinary(t, filepath.Join(binDir, "lines"), filepath.Join(dir, "lines"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	rep, err := m.Reload(ctx)
	require.NoError(t, err)
	require.Empty(t, rep.Refused)
	c, err := reg.NewSource("example-line-source")
	require.NoError(t, err)
	_, err = startLines(t, c, linesConfig(t))
	require.NoError(t, err)
}

// reloadOf is a manager of dir that registers in reg.
func reloadOf(t *testing.T, reg *plugins.Registry, dir string) *external.Manager {
	m := external.New(reg, external.Options{Dirs: []string{dir}, Logger: discard()})
	t.Cleanup(m.Close)
	return m
}

// writeScript installs a shell script as an administrator installs a plugin (renamed into
// place).
func writeScript(t *testing.T, path, body string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	require.NoError(t, os.WriteFile(tmp, []byte("#!/bin/sh\n"+body+"\n"), 0o755))
	require.NoError(t, os.Rename(tmp, path))
}

// TestChangedBinaryThatFailsToDescribeKeepsItsConnectors: a binary replaced by one whose
// Describe fails for a reason that may pass (here it never answers the handshake in time)
// keeps the connectors it was described with before; the reload reports the failure, new
// instances of those connectors are refused as started from a changed binary, and a later
// reload describes the file again.
func TestChangedBinaryThatFailsToDescribeKeepsItsConnectors(t *testing.T) {
	m, reg, dir := newManager(t, external.Options{StartTimeout: time.Second}, "lines")
	bin := filepath.Join(dir, "lines")
	writeScript(t, bin, "exec sleep 60")
	rep, err := m.Reload(t.Context())
	require.NoError(t, err)
	require.Len(t, rep.Refused, 1)
	require.Equal(t, bin, rep.Refused[0].Path)
	require.ErrorContains(t, rep.Refused[0].Err, "timeout while waiting for plugin to start")
	require.ErrorContains(t, rep.Refused[0].Err, "stay registered")
	c, err := reg.NewSource("example-line-source")
	require.NoError(t, err, "the connectors described before stay registered")
	_, err = startLines(t, c, linesConfig(t))
	require.ErrorIs(t, err, external.ErrBinaryChanged)

	copyBinary(t, filepath.Join(binDir, "lines"), bin)
	rep, err = m.Reload(t.Context())
	require.NoError(t, err)
	require.Empty(t, rep.Refused)
	c, err = reg.NewSource("example-line-source")
	require.NoError(t, err)
	_, err = startLines(t, c, linesConfig(t))
	require.NoError(t, err)
}

// TestBadDescriptionRefusedAlone: a binary whose connectors break the registry's rules (a name
// given twice, a connector's name as its own alias, a blank alias) is refused by itself; the
// reload registers the others (at the worker's start, a failed reload stops the worker).
func TestBadDescriptionRefusedAlone(t *testing.T) {
	for _, variant := range []string{"dupname", "dupalias", "blankalias"} {
		t.Run(variant, func(t *testing.T) {
			t.Setenv("BADDESCRIBE", variant) // the plugin process inherits it
			dir := t.TempDir()
			copyBinary(t, filepath.Join(binDir, "baddescribe"), filepath.Join(dir, "baddescribe"))
			copyBinary(t, filepath.Join(binDir, "lines"), filepath.Join(dir, "lines"))
			reg := plugins.NewRegistry()
			rep, err := reloadOf(t, reg, dir).Reload(t.Context())
			require.NoError(t, err)
			require.Len(t, rep.Refused, 1)
			require.Equal(t, filepath.Join(dir, "baddescribe"), rep.Refused[0].Path)
			require.ErrorIs(t, rep.Refused[0].Err, external.ErrBadDescription)
			_, err = reg.Lookup("example-line-source")
			require.NoError(t, err)
			_, err = reg.Lookup("bad-source")
			require.ErrorIs(t, err, plugins.ErrUnknownPlugin)
		})
	}
}

// TestRefusedBinaryNotRunAgain: an executable refused for what it is (here not a plugin) is
// run once, not at every reload, and run again once it changes.
func TestRefusedBinaryNotRunAgain(t *testing.T) {
	dir, runs := t.TempDir(), filepath.Join(t.TempDir(), "runs")
	script := filepath.Join(dir, "tool")
	writeScript(t, script, "echo run >> "+runs)
	m := reloadOf(t, plugins.NewRegistry(), dir)
	count := func() int {
		b, _ := os.ReadFile(runs)
		return strings.Count(string(b), "run")
	}
	for range 3 {
		rep, err := m.Reload(t.Context())
		require.NoError(t, err)
		require.Len(t, rep.Refused, 1, "each reload reports it")
		require.ErrorIs(t, rep.Refused[0].Err, external.ErrNotPlugin)
	}
	require.Equal(t, 1, count(), "an unchanged refused file is not run again")

	writeScript(t, script, "echo run >> "+runs)
	_, err := m.Reload(t.Context())
	require.NoError(t, err)
	require.Equal(t, 2, count(), "a changed one is")
}
