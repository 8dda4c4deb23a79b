package mysql

import (
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc"
	"github.com/rmqconnect/rmqconnect/schema"
)

// Events the task cannot read in full fail it with what to change on the server, never pass as
// something else: MySQL 8's compressed transactions (whose rows would be skipped) and partial JSON
// updates (which go-mysql reports as rows events of no kind, which would be read as inserts).
func TestUnreadableEventsFailTheTask(t *testing.T) {
	tk, _, ev, h := streamFixture(t, 1)
	for _, tt := range []struct {
		name, says string
		ev         replication.Event
		typ        replication.EventType
	}{
		{"compressed transaction", "binlog_transaction_compression", &replication.TransactionPayloadEvent{}, replication.TRANSACTION_PAYLOAD_EVENT},
		{"partial JSON update", "binlog_row_value_options", ev, replication.PARTIAL_UPDATE_ROWS_EVENT},
	} {
		hh := *h
		hh.EventType = tt.typ
		out, err := tk.handle(nil, &replication.BinlogEvent{Header: &hh, Event: tt.ev})
		require.ErrorIs(t, err, ErrServerConfig, tt.name)
		require.ErrorContains(t, err, tt.says, tt.name)
		require.ErrorContains(t, err, "binlog.000001:1000", tt.name)
		require.Empty(t, out, tt.name)
	}
	// The same rows event as a plain insert is read.
	hh := *h
	hh.EventType = replication.WRITE_ROWS_EVENTv2
	out, err := tk.handle(nil, &replication.BinlogEvent{Header: &hh, Event: ev})
	require.NoError(t, err)
	require.Len(t, out, 1)
}

// The rows of one event share their source block's values (all but the row number): each record's block
// is still its own after later events of the same and later polls are read (with other positions and
// times), and a change made to one record's block shows in no other record.
func TestSourceBlocksStayPerRecord(t *testing.T) {
	tk, _, ev, h := streamFixture(t, 3)
	want := func(h *replication.EventHeader, row int32) *schema.Struct {
		st, err := tk.src.Struct(cdc.SourceInfo{Connector: "mysql", Name: "bench", Ts: time.Unix(int64(h.Timestamp), 0), DB: "db",
			Table: "ev", Position: []any{int64(h.ServerID), "", "binlog.000001", int64(h.LogPos - h.EventSize), row}})
		require.NoError(t, err)
		return st
	}
	source := func(r *schema.Record) *schema.Struct {
		v, err := r.Value.(*schema.Struct).Get("source")
		require.NoError(t, err)
		return v.(*schema.Struct)
	}
	poll := func(h *replication.EventHeader) []*schema.Record {
		tk.beginTx(h, nil)
		var out []*schema.Record
		for range 2 { // two events of one transaction
			var err error
			out, err = tk.rows(out, h, ev)
			require.NoError(t, err)
		}
		tk.commitTx(h)
		return out
	}
	h1 := *h
	first := poll(&h1)
	require.Len(t, first, 6)
	check := func(skip int) {
		for i, r := range first {
			if i == skip {
				continue
			}
			require.Empty(t, cmp.Diff(want(&h1, int32(i%3)), source(r)), "record %d", i)
		}
	}
	check(-1)
	for k := range 3 {
		h2 := *h
		h2.Timestamp += uint32(k + 1)
		h2.LogPos += uint32(1000 * (k + 1))
		later := poll(&h2)
		for i, r := range later {
			require.Empty(t, cmp.Diff(want(&h2, int32(i%3)), source(r)), "later poll %d, record %d", k, i)
		}
		check(-1)
	}
	_, err := source(first[1]).Put("file", "changed")
	require.NoError(t, err)
	require.Equal(t, "changed", source(first[1]).GetIndex(10))
	check(1)
}
