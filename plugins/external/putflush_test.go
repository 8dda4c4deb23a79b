package external_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/external"
	"github.com/rmqconnect/rmqconnect/schema"
)

func textRecords(values ...string) []*schema.Record {
	out := make([]*schema.Record, len(values))
	for i, v := range values {
		out[i] = schema.NewRecord("t", nil, nil, schema.StringSchema, v)
	}
	return out
}

// TestPutFlushOverProtocol: a plugin of this SDK carries a Put and its Flush in one call; the
// Flush is a PreCommit for a PreCommitter, whose answer comes back; a failed Put comes back
// as the Put's error, with no Flush made.
func TestPutFlushOverProtocol(t *testing.T) {
	_, reg, _ := newManager(t, external.Options{}, "lines", "probe")
	q := plugins.Queue{Topic: "t", BrokerName: "b", QueueID: 1}

	c, err := reg.NewSink("example-line-sink")
	require.NoError(t, err)
	file := t.TempDir() + "/out"
	cfg := map[string]string{"file": file}
	task := c.NewSinkTask()
	pf, ok := task.(plugins.PutFlusher)
	require.True(t, ok)
	require.True(t, pf.PutFlushes())
	require.NoError(t, task.Start(t.Context(), conformance.SinkContextFor(t, c.Spec(), cfg, q), cfg))
	res := pf.PutFlush(t.Context(), textRecords("a", "b"), map[plugins.Queue]int64{q: 2})
	require.Equal(t, plugins.PutFlushResult{}, res)
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Equal(t, "a\nb\n", string(data), "put and flushed")
	require.NoError(t, task.Stop(t.Context()))

	pc, err := reg.NewSink("probe-sink")
	require.NoError(t, err)
	out := t.TempDir() + "/probe"
	pcfg := map[string]string{"out": out}
	sctx := conformance.SinkContextFor(t, pc.Spec(), pcfg, q)
	ptask := pc.NewSinkTask()
	require.NoError(t, ptask.Start(t.Context(), sctx, pcfg))
	ppf := ptask.(plugins.PutFlusher)
	res = ppf.PutFlush(t.Context(), textRecords("good"), map[plugins.Queue]int64{q: 10})
	require.NoError(t, res.PutErr)
	require.NoError(t, res.FlushErr)
	require.Equal(t, map[plugins.Queue]int64{q: 9}, res.Durable, "the PreCommit's answer")
	sctx.Reporter.Fail = true
	res = ppf.PutFlush(t.Context(), textRecords("bad"), map[plugins.Queue]int64{q: 11})
	require.ErrorContains(t, res.PutErr, "probe rejects bad")
	require.NoError(t, res.FlushErr)
	require.Nil(t, res.Durable, "no PreCommit after a failed Put")
	require.NoError(t, ptask.Stop(t.Context()))
}

// TestOldSDKPluginGetsPutAndFlush: a plugin of an SDK from before PutFlush (it says nothing of
// it and does not serve it) is told apart, and gets a Put and a Flush as before.
func TestOldSDKPluginGetsPutAndFlush(t *testing.T) {
	task, file, q := startOldLineSink(t)
	pf, ok := task.(plugins.PutFlusher)
	require.True(t, ok, "every plugin sink task answers PutFlushes")
	require.False(t, pf.PutFlushes(), "the engine sends this plugin no PutFlush")
	require.NoError(t, task.Put(t.Context(), textRecords("a", "b")))
	require.NoError(t, task.Flush(t.Context(), map[plugins.Queue]int64{q: 2}))
	require.Error(t, pf.PutFlush(t.Context(), textRecords("c"), nil).PutErr, "a PutFlush it does not serve fails")
	require.NoError(t, task.Stop(t.Context()))
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "flush"}, strings.Fields(string(data)))
}

// TestPutFlushEraPluginGetsPutFlushCalls: a plugin of an SDK from between PutFlush and the Puts
// stream (it says put_flush, not put_stream) gets its Puts and PutFlushes as calls of their own.
func TestPutFlushEraPluginGetsPutFlushCalls(t *testing.T) {
	t.Setenv("OLDSDK_PUT_FLUSH", "1") // the plugin process inherits it
	task, file, q := startOldLineSink(t)
	pf := task.(plugins.PutFlusher)
	require.True(t, pf.PutFlushes())
	require.NoError(t, task.Put(t.Context(), textRecords("a")))
	require.Equal(t, plugins.PutFlushResult{}, pf.PutFlush(t.Context(), textRecords("b"), map[plugins.Queue]int64{q: 2}))
	require.NoError(t, task.Stop(t.Context()))
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "flush"}, strings.Fields(string(data)))
}

// startOldLineSink starts an old-line-sink task of the oldsdk test plugin and returns it, the
// file it appends to and the queue it is assigned.
func startOldLineSink(t *testing.T) (plugins.SinkTask, string, plugins.Queue) {
	t.Helper()
	_, reg, _ := newManager(t, external.Options{}, "oldsdk")
	c, err := reg.NewSink("old-line-sink")
	require.NoError(t, err)
	file := t.TempDir() + "/out"
	cfg := map[string]string{"file": file}
	task := c.NewSinkTask()
	q := plugins.Queue{Topic: "t", BrokerName: "b", QueueID: 1}
	require.NoError(t, task.Start(t.Context(), conformance.SinkContextFor(t, c.Spec(), cfg, q), cfg))
	return task, file, q
}
