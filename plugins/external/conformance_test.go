package external_test

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/external"
	"github.com/rmqconnect/rmqconnect/schema"
)

// newManager returns a manager over a directory holding copies of the named built plugins,
// loaded, with the registry it fills; it is closed when the test ends.
func newManager(t *testing.T, opts external.Options, names ...string) (*external.Manager, *plugins.Registry, string) {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		copyBinary(t, filepath.Join(binDir, n), filepath.Join(dir, n))
	}
	reg := plugins.NewRegistry()
	opts.Dirs = []string{dir}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	m := external.New(reg, opts)
	t.Cleanup(m.Close)
	rep, err := m.Reload(t.Context())
	require.NoError(t, err)
	require.Empty(t, rep.Refused)
	return m, reg, dir
}

// copyBinary copies an executable, as an administrator installs a plugin.
func copyBinary(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	tmp := to + ".tmp"
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(to), "."+filepath.Base(tmp)), b, 0o755))
	require.NoError(t, os.Rename(filepath.Join(filepath.Dir(to), "."+filepath.Base(tmp)), to))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func TestConformanceOverProtocol(t *testing.T) {
	_, reg, _ := newManager(t, external.Options{}, "lines")
	data := t.TempDir()
	n := 0
	setup := func(*testing.T) map[string]string {
		n++
		p := filepath.Join(data, fmt.Sprint("file-", n))
		require.NoError(t, os.WriteFile(p, nil, 0o644))
		return map[string]string{"file": p, "batch.size": "7"}
	}
	item := func(i int) string { return "line " + strconv.Itoa(i) }
	conformance.TestSource(t, conformance.SourceHarness{
		NewConnector: func() plugins.SourceConnector {
			c, err := reg.NewSource("example-line-source")
			require.NoError(t, err)
			return c
		},
		Setup: setup,
		Append: func(t *testing.T, cfg map[string]string, first, n int) {
			f, err := os.OpenFile(cfg["file"], os.O_APPEND|os.O_WRONLY, 0)
			require.NoError(t, err)
			defer f.Close()
			for i := first; i < first+n; i++ {
				_, err := fmt.Fprintln(f, item(i))
				require.NoError(t, err)
			}
		},
		Check: func(t *testing.T, i int, r *schema.Record) {
			require.Equal(t, item(i), r.Value)
			require.True(t, schema.StringSchema.Equal(r.ValueSchema))
		},
	})
	conformance.TestSink(t, conformance.SinkHarness{
		NewConnector: func() plugins.SinkConnector {
			c, err := reg.NewSink("com.example.connect.LineSinkConnector")
			require.NoError(t, err)
			return c
		},
		Setup:  setup,
		Record: func(i int) *schema.Record { return schema.NewRecord("", nil, nil, schema.StringSchema, item(i)) },
		Verify: func(t *testing.T, cfg map[string]string, n int) {
			f, err := os.Open(cfg["file"])
			require.NoError(t, err)
			defer f.Close()
			var got []string
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				got = append(got, sc.Text())
			}
			want := make([]string, n)
			for i := range want {
				want[i] = item(i)
			}
			require.Equal(t, want, append([]string{}, got...))
		},
	})
}

// TestLargeBatches: batches beyond gRPC's default 4 MiB message limit cross both ways.
func TestLargeBatches(t *testing.T) {
	_, reg, _ := newManager(t, external.Options{}, "lines")
	p := filepath.Join(t.TempDir(), "big")
	cfg := map[string]string{"file": p, "batch.size": "10"}
	big := strings.Repeat("x", 1<<20)

	sink, err := reg.NewSink("example-line-sink")
	require.NoError(t, err)
	task := sink.NewSinkTask()
	require.NoError(t, task.Start(t.Context(), conformance.SinkContextFor(t, sink.Spec(), cfg, conformance.Queue), cfg))
	var batch []*schema.Record
	for range 6 {
		batch = append(batch, schema.NewRecord("t", nil, nil, schema.StringSchema, big))
	}
	require.NoError(t, task.Put(t.Context(), batch), "a 6 MiB Put")
	require.NoError(t, task.Flush(t.Context(), nil))
	require.NoError(t, task.Stop(t.Context()))

	src, err := reg.NewSource("example-line-source")
	require.NoError(t, err)
	st := src.NewSourceTask()
	require.NoError(t, st.Start(t.Context(), conformance.SourceContextFor(t, src.Spec(), nil, cfg), cfg))
	recs := conformance.PollN(t, st, 6, 30*time.Second)
	require.Len(t, recs, 6, "a 6 MiB Poll answer")
	require.Equal(t, big, recs[5].Value)
	require.NoError(t, st.Stop(t.Context()))
}
