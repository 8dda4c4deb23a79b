package cdc_test

import (
	"runtime"
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
	require.LessOrEqual(t, allocs, 2.5)
}

// A task's slab keeps alive only the chunks its live records use: records dropped after their batch are
// collected, however many changes a task streams (each chunk would otherwise keep the previous one alive
// through a record whose pieces straddle both, and with it every record ever made).
func TestSlabReleasesDroppedRecords(t *testing.T) {
	tb, src := testTable(t)
	slab := &cdc.Slab{}
	part := map[string]any{"server": "srv"}
	out := make([]*schema.Record, 0, 100)
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	stream := func(events int) {
		for i := 0; i < events; i += 100 {
			v, err := src.Varying(cdc.SourceInfo{Connector: "postgresql", Name: "srv", Ts: time.UnixMilli(1000), DB: "d",
				Schema: "public", Table: "users", Position: []any{int64(i)}})
			require.NoError(t, err)
			out = out[:0]
			for j := range 100 {
				after := slab.Values(2) // 2 + 1 (key) leaf values: records straddle chunk ends
				after[0], after[1] = int32(i+j), "a name"
				out, err = tb.AppendRecords(out, cdc.Event{Op: cdc.OpCreate, After: after, Source: v.StructIn(slab, int64(j)),
					Partition: part, Offset: part, Now: time.Now(), Slab: slab}, false)
				require.NoError(t, err)
			}
		}
	}
	stream(10_000)
	base := heap()
	stream(200_000) // some 100 MB of records if they were all kept
	grown := int64(heap()) - int64(base)
	t.Logf("heap grew by %d KiB over 200,000 dropped records", grown/1024)
	require.Less(t, grown, int64(8<<20))
	require.Len(t, out, 100)
}
