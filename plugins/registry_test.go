package plugins

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema"
)

// fakeConnector is a state-based fake used to exercise the registry.
type fakeConnector struct{ started bool }

func (c *fakeConnector) Spec() *ConfigSpec                { return nil }
func (c *fakeConnector) Validate(map[string]string) error { return nil }
func (c *fakeConnector) Start(context.Context, ConnectorContext, map[string]string) error {
	c.started = true
	return nil
}
func (c *fakeConnector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	out := make([]map[string]string, maxTasks)
	for i := range out {
		out[i] = map[string]string{"task": fmt.Sprint(i)}
	}
	return out, nil
}
func (c *fakeConnector) Stop(context.Context) error { return nil }

type fakeSource struct{ fakeConnector }

func (fakeSource) NewSourceTask() SourceTask { return &fakeSourceTask{} }

type fakeSink struct{ fakeConnector }

func (fakeSink) NewSinkTask() SinkTask { return &fakeSinkTask{} }

type fakeSourceTask struct{ n int }

func (t *fakeSourceTask) Start(context.Context, SourceTaskContext, map[string]string) error {
	return nil
}
func (t *fakeSourceTask) Poll(context.Context) ([]*schema.Record, error) {
	t.n++
	return []*schema.Record{{Topic: "t", QueueID: -1, Value: t.n}}, nil
}
func (t *fakeSourceTask) Commit(context.Context) error { return nil }
func (t *fakeSourceTask) Stop(context.Context) error   { return nil }

type fakeSinkTask struct{ got []*schema.Record }

func (t *fakeSinkTask) Start(context.Context, SinkTaskContext, map[string]string) error { return nil }
func (t *fakeSinkTask) Put(_ context.Context, rs []*schema.Record) error {
	t.got = append(t.got, rs...)
	return nil
}
func (t *fakeSinkTask) Flush(context.Context, map[Queue]int64) error { return nil }
func (t *fakeSinkTask) Stop(context.Context) error                   { return nil }

const fileSourceClass = "org.apache.rocketmq.connect.file.FileSourceConnector"

func testRegistry(t *testing.T) *Registry {
	t.Helper()
	r := NewRegistry()
	require.NoError(t, r.Register(KindSource, "file-source", []string{fileSourceClass}, func() Connector { return &fakeSource{} }))
	require.NoError(t, r.Register(KindSink, "file-sink", []string{"org.apache.rocketmq.connect.file.FileSinkConnector"}, func() Connector { return &fakeSink{} }))
	return r
}

func TestRegistryLookup(t *testing.T) {
	r := testRegistry(t)
	for _, name := range []string{"file-source", fileSourceClass, " file-source "} {
		info, err := r.Lookup(name)
		require.NoError(t, err, name)
		require.Equal(t, "file-source", info.Name)
		require.Equal(t, KindSource, info.Kind)
	}
	_, err := r.Lookup("FILE-SOURCE")
	require.ErrorIs(t, err, ErrUnknownPlugin)
	require.Contains(t, err.Error(), "FILE-SOURCE")

	src, err := r.NewSource(fileSourceClass)
	require.NoError(t, err)
	require.NoError(t, src.Start(context.Background(), nil, nil))
	tc, err := src.TaskConfigs(3)
	require.NoError(t, err)
	require.Len(t, tc, 3)
	task := src.NewSourceTask()
	recs, err := task.Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, recs, 1)

	snk, err := r.NewSink("file-sink")
	require.NoError(t, err)
	st := snk.NewSinkTask()
	require.NoError(t, st.Put(context.Background(), recs))
	_, isPre := st.(PreCommitter)
	require.False(t, isPre)

	_, err = r.NewSink("file-source")
	require.ErrorIs(t, err, ErrKindMismatch)
	_, err = r.NewSource("file-sink")
	require.ErrorIs(t, err, ErrKindMismatch)
	_, err = r.New("nope")
	require.ErrorIs(t, err, ErrUnknownPlugin)

	list := r.List()
	require.Len(t, list, 2)
	require.Equal(t, "file-sink", list[0].Name)
	list[1].Aliases[0] = "mutated"
	info, _ := r.Lookup("file-source")
	require.Equal(t, fileSourceClass, info.Aliases[0])
}

func TestRegistryRejects(t *testing.T) {
	r := testRegistry(t)
	f := func() Connector { return &fakeSource{} }
	cases := []struct {
		name    string
		kind    Kind
		plugin  string
		aliases []string
		factory Factory
		dup     bool
	}{
		{"dup name", KindSource, "file-source", nil, f, true},
		{"dup name as alias", KindSource, "x", []string{"file-sink"}, f, true},
		{"dup alias", KindSource, "y", []string{fileSourceClass}, f, true},
		{"alias twice", KindSource, "z", []string{"q", "q"}, f, true},
		{"empty name", KindSource, " ", nil, f, false},
		{"empty alias", KindSource, "w", []string{""}, f, false},
		{"nil factory", KindSource, "v", nil, nil, false},
		{"bad kind", "both", "u", nil, f, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := r.Register(tc.kind, tc.plugin, tc.aliases, tc.factory)
			require.Error(t, err)
			if tc.dup {
				require.ErrorIs(t, err, ErrDuplicatePlugin)
			}
		})
	}
	require.Len(t, r.List(), 2, "failed registrations leave the registry unchanged")
	_, err := r.Lookup("q")
	require.ErrorIs(t, err, ErrUnknownPlugin)
}

func TestRegistryKindMismatchAndNilFactory(t *testing.T) {
	r := NewRegistry()
	require.NoError(t, r.Register(KindSource, "plain", nil, func() Connector { return &fakeConnector{} }))
	require.NoError(t, r.Register(KindSink, "nil", nil, func() Connector { return nil }))
	_, err := r.New("plain")
	require.ErrorIs(t, err, ErrKindMismatch)
	_, err = r.New("nil")
	require.Error(t, err)
}

func TestRegistryConcurrent(t *testing.T) {
	r := NewRegistry()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			_ = r.Register(KindSink, fmt.Sprintf("s%d", i), nil, func() Connector { return &fakeSink{} })
			_, _ = r.Lookup("s0")
			_ = r.List()
		})
	}
	wg.Wait()
	require.Len(t, r.List(), 8)
}
