package external

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
)

// TestRunnableFollowsAReloadOnlyWithTheSameAbilities: an instance described from a file a
// reload has since described again runs the new file only when the new description serves
// its connector (same kind and name) with the same abilities; otherwise it keeps the old
// file's identity, which launch then refuses (ChangedError).
func TestRunnableFollowsAReloadOnlyWithTheSameAbilities(t *testing.T) {
	oldBin := &binary{path: "/p/x", id: identity{ino: 1}, putStream: true}
	d := &description{bin: oldBin, kind: plugins.KindSink, name: "x-sink", preCommit: false}
	oldBin.conns = []*description{d}
	m := &Manager{binaries: map[string]*binary{"/p/x": oldBin}}
	require.Equal(t, oldBin.id, m.runnable(d), "not reloaded")

	reloaded := func(mod func(b *binary, n *description)) identity {
		b := &binary{path: "/p/x", id: identity{ino: 2}, putStream: true}
		n := &description{bin: b, kind: plugins.KindSink, name: "x-sink"}
		b.conns = []*description{n}
		mod(b, n)
		m.binaries["/p/x"] = b
		return m.runnable(d)
	}
	require.Equal(t, identity{ino: 2}, reloaded(func(*binary, *description) {}), "same abilities")
	require.Equal(t, oldBin.id, reloaded(func(_ *binary, n *description) { n.preCommit = true }), "a sink that pre-commits now")
	require.Equal(t, oldBin.id, reloaded(func(b *binary, _ *description) { b.putStream = false }), "no Puts stream")
	require.Equal(t, oldBin.id, reloaded(func(_ *binary, n *description) { n.name = "y-sink" }), "the connector is gone")
	require.Equal(t, oldBin.id, reloaded(func(_ *binary, n *description) { n.kind = plugins.KindSource }), "another kind")
	delete(m.binaries, "/p/x")
	require.Equal(t, oldBin.id, m.runnable(d), "removed")
}
