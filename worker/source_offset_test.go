package worker

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
)

// countedOffset is a LazyOffset that counts how often its map is built.
type countedOffset struct {
	seq   int64
	built *int
}

func (o countedOffset) Offset() map[string]any {
	*o.built++
	return map[string]any{"seq": o.seq}
}

// TestDeliverReadsLazyOffsets: a delivered batch makes each partition's last record its position, reading
// a record's LazyOffset when it has no SourceOffset, and builds no offset of a record followed by another
// of its partition.
func TestDeliverReadsLazyOffsets(t *testing.T) {
	s := &sourceRunner{pending: map[string]plugins.PartitionPosition{}}
	p1, p2 := map[string]any{"table": "a"}, map[string]any{"table": "b"}
	built := make([]int, 5)
	var recs []*schema.Record
	for i, p := range []map[string]any{p1, p1, p1, p2, p1} {
		r := schema.NewRecord("t", nil, nil, schema.StringSchema, "v")
		r.SourcePartition, r.LazyOffset = p, countedOffset{seq: int64(i), built: &built[i]}
		recs = append(recs, r)
	}
	eager := schema.NewRecord("t", nil, nil, schema.StringSchema, "v")
	eager.SourcePartition, eager.SourceOffset = map[string]any{"table": "c"}, map[string]any{"seq": int64(9)}
	recs = append(recs, eager)
	require.NoError(t, s.deliver(context.Background(), convertedBatch{recs: recs}))

	got := map[string]any{}
	for _, pp := range s.pending {
		got[pp.Partition["table"].(string)] = pp.Offset["seq"]
	}
	require.Equal(t, map[string]any{"a": int64(4), "b": int64(3), "c": int64(9)}, got)
	require.Zero(t, built[0]+built[1], "records followed by one of their partition build no offset")
}

// panickingOffset is a LazyOffset whose map cannot be built.
type panickingOffset struct{}

func (panickingOffset) Offset() map[string]any { panic("offset of a row that is gone") }

// TestDeliverFailsTheTaskOnAPanickingLazyOffset: a LazyOffset is the task's code, run by the
// sender goroutine once a batch is acked; its panic fails the task, naming the position, as a
// panic in Poll does, instead of taking the worker and every task on it down.
func TestDeliverFailsTheTaskOnAPanickingLazyOffset(t *testing.T) {
	s := &sourceRunner{pending: map[string]plugins.PartitionPosition{}}
	r := schema.NewRecord("t", nil, nil, schema.StringSchema, "v")
	r.SourcePartition, r.LazyOffset = map[string]any{"table": "a"}, panickingOffset{}
	var err error
	require.NotPanics(t, func() { err = s.deliver(context.Background(), convertedBatch{recs: []*schema.Record{r}}) })
	require.ErrorContains(t, err, "record position")
	require.ErrorContains(t, err, "offset of a row that is gone")
	require.Empty(t, s.pending, "no position is taken from a record whose offset could not be read")
}
