package cdc_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc"
	"github.com/rmqconnect/rmqconnect/schema"
)

// Pieces of a slab never overlap: appending to one leaves the next as it was.
func TestSlabPiecesIndependent(t *testing.T) {
	var s cdc.Slab
	a := s.Values(2)
	b := s.Values(3)
	a[0], a[1] = "a0", "a1"
	b[0], b[1], b[2] = "b0", "b1", "b2"
	_ = append(a, "over")
	require.Equal(t, []any{"b0", "b1", "b2"}, b)
	r1, r2 := s.Record(), s.Record()
	r1.Topic = "one"
	require.NotSame(t, r1, r2)
	require.Empty(t, r2.Topic)
	var none *cdc.Slab // a nil slab allocates each piece
	require.Len(t, none.Values(4), 4)
	require.NotNil(t, none.Record())
}

// AppendRecords appends what Records returns, from a slab or not, after what dst holds: here a key change
// (a delete with its tombstone, then a create).
func TestAppendRecordsAsRecords(t *testing.T) {
	tb, src := testTable(t)
	e := event(t, src, cdc.OpUpdate, []any{int32(1), "a"}, []any{int32(2), "a"})
	want, err := tb.Records(e, true)
	require.NoError(t, err)
	require.Len(t, want, 3)
	first := schema.NewRecord("other", nil, nil, nil, nil)
	e.Slab = &cdc.Slab{}
	got, err := tb.AppendRecords([]*schema.Record{first}, e, true)
	require.NoError(t, err)
	require.Len(t, got, 4)
	require.Same(t, first, got[0])
	require.Equal(t, want, got[1:])
}

// The records of a streamed insert take few allocations of their own with a slab: the row, envelope and key
// structs and the boxed ts_ms (the values and records come from the slab's chunks).
func TestAppendRecordsAllocations(t *testing.T) {
	tb, src := testTable(t)
	v, err := src.Varying(cdc.SourceInfo{Connector: "postgresql", Name: "srv", Ts: time.UnixMilli(1000), DB: "d",
		Schema: "public", Table: "users", Position: []any{int64(42)}})
	require.NoError(t, err)
	slab := &cdc.Slab{}
	part, off := map[string]any{"server": "srv"}, map[string]any{"lsn": int64(42)}
	out := make([]*schema.Record, 0, 8)
	now := time.UnixMilli(1_700_000_000_000)
	allocs := testing.AllocsPerRun(1000, func() {
		after := slab.Values(2)
		after[0], after[1] = int32(1), "a"
		var err error
		out, err = tb.AppendRecords(out[:0], cdc.Event{Op: cdc.OpCreate, After: after, Source: v.StructIn(slab, int64(1)),
			Partition: part, Offset: off, Now: now, Slab: slab}, true)
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("%.2f allocations per insert", allocs)
	require.LessOrEqual(t, allocs, 5.5)
}
