package worker

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
)

// batchCommitTask is a RecordsCommitter that records how it was told about delivered records.
type batchCommitTask struct {
	single int
	calls  [][]string
	mds    [][]*plugins.RecordMetadata
}

func (t *batchCommitTask) Start(context.Context, plugins.SourceTaskContext, map[string]string) error {
	return nil
}
func (t *batchCommitTask) Poll(context.Context) ([]*schema.Record, error) { return nil, nil }
func (t *batchCommitTask) Stop(context.Context) error                     { return nil }
func (t *batchCommitTask) Commit(context.Context) error                   { return nil }
func (t *batchCommitTask) CommitRecord(context.Context, *schema.Record, *plugins.RecordMetadata) error {
	t.single++
	return nil
}
func (t *batchCommitTask) CommitRecords(_ context.Context, recs []*schema.Record, mds []*plugins.RecordMetadata) error {
	var vals []string
	for _, r := range recs {
		vals = append(vals, r.Value.(string))
	}
	t.calls, t.mds = append(t.calls, vals), append(t.mds, mds)
	return nil
}

// TestRecordsCommitterToldOnceABatch: a RecordsCommitter (an out-of-process plugin's source task)
// is told about a delivered batch in one CommitRecords call, records in poll order with what
// CommitRecord would get (nil metadata for a record dropped), instead of one call a record, each
// a round trip to the plugin process.
func TestRecordsCommitterToldOnceABatch(t *testing.T) {
	task := &batchCommitTask{}
	s := &sourceRunner{pending: map[string]plugins.PartitionPosition{}, task: task, hist: newWorkerMetrics(),
		labels: []string{"w", "c", "0"}, log: quiet(), counters: &taskCounters{}, perRecord: true}
	var recs []*schema.Record
	for _, v := range []string{"a", "b", "c"} {
		r := schema.NewRecord("t", nil, nil, schema.StringSchema, v)
		r.SourcePartition, r.SourceOffset = map[string]any{"p": "x"}, map[string]any{"v": v}
		recs = append(recs, r)
	}
	recs = append(recs, nil) // a slot a transform emptied
	where := []recPlace{{-1, -1}, {-1, -1}, {-1, -1}, {-1, -1}}
	require.NoError(t, s.deliver(context.Background(), convertedBatch{recs: recs, where: where}))
	require.Zero(t, task.single)
	require.Equal(t, [][]string{{"a", "b", "c"}}, task.calls)
	require.Equal(t, []*plugins.RecordMetadata{nil, nil, nil}, task.mds[0])
}
