package mysql

import (
	"encoding/binary"
	"testing"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
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

// A statement logged inside a transaction that does not end it (SAVEPOINT, ROLLBACK TO, XA END) leaves the
// transaction open: the rows after it resume from the transaction's start with the GTID set before it, and
// the set names the transaction only once its XID comes. The savepoint was taken for the end of the
// transaction: the rows after it claimed a start past the GTID, which a resume then skipped.
func TestSavepointKeepsTheTransaction(t *testing.T) {
	for _, stmt := range []string{"SAVEPOINT `s1`", "ROLLBACK TO SAVEPOINT `s1`", "RELEASE SAVEPOINT s1"} {
		tk, _, ev, h := streamFixture(t, 1)
		set, err := gmysql.ParseMariadbGTIDSet("0-1-10")
		require.NoError(t, err)
		tk.str.gtids = set.(*gmysql.MariadbGTIDSet)
		at := func(pos uint32, typ replication.EventType) *replication.EventHeader {
			hh := *h
			hh.LogPos, hh.EventSize, hh.EventType = pos, 50, typ
			return &hh
		}
		handle := func(hh *replication.EventHeader, e replication.Event) []*schema.Record {
			out, err := tk.handle(nil, binlogEvent(hh, e))
			require.NoError(t, err, stmt)
			return out
		}
		handle(at(500, replication.MARIADB_GTID_EVENT), &replication.MariadbGTIDEvent{GTID: gmysql.MariadbGTID{DomainID: 0, ServerID: 1, SequenceNumber: 11}})
		first := handle(at(600, replication.WRITE_ROWS_EVENTv2), ev)
		handle(at(650, replication.QUERY_EVENT), &replication.QueryEvent{Query: []byte(stmt)})
		second := handle(at(750, replication.WRITE_ROWS_EVENTv2), ev)
		require.Len(t, first, 1, stmt)
		require.Len(t, second, 1, stmt)
		want := map[string]any{OffsetFile: "binlog.000001", OffsetPos: int64(450), OffsetGTIDs: "0-1-10", OffsetRow: int64(2)}
		require.Equal(t, want, second[0].Offset(), stmt)
		require.Equal(t, "0-1-10", tk.str.gtids.String(), "%s: the transaction is not done yet", stmt)
		handle(at(800, replication.XID_EVENT), &replication.XIDEvent{})
		require.Equal(t, "0-1-11", tk.str.gtids.String(), stmt)
		require.Equal(t, resumePoint{file: "binlog.000001", pos: 800, gtids: "0-1-11"}, tk.resume, stmt)
	}
}

// Which statements start, continue and end a transaction; a statement of its own (a standalone DDL,
// the COMMIT of a non-transactional engine) still ends its group, and a transaction whose end went
// unrecognised ends where the next GTID event starts.
func TestQueryEventsAndTheTransaction(t *testing.T) {
	for q, want := range map[string]int{
		"BEGIN": queryBegin, "XA START X'01'": queryBegin, "SAVEPOINT a": queryInTx, "savepoint `a`": queryInTx,
		"ROLLBACK TO a": queryInTx, "rollback to savepoint a": queryInTx, "RELEASE SAVEPOINT a": queryInTx,
		"XA END X'01'": queryInTx, "COMMIT": queryEnd, "ROLLBACK": queryEnd, "XA COMMIT X'01'": queryEnd,
		"XA ROLLBACK X'01'": queryEnd, "CREATE TABLE t (id int)": queryOther, "": queryOther,
	} {
		require.Equal(t, want, queryKind(q), q)
	}
	tk, _, ev, h := streamFixture(t, 1)
	set, err := gmysql.ParseMariadbGTIDSet("0-1-10")
	require.NoError(t, err)
	tk.str.gtids = set.(*gmysql.MariadbGTIDSet)
	at := func(pos uint32) *replication.EventHeader {
		hh := *h
		hh.LogPos, hh.EventSize = pos, 50
		return &hh
	}
	handle := func(hh *replication.EventHeader, e replication.Event) {
		_, err := tk.handle(nil, binlogEvent(hh, e))
		require.NoError(t, err)
	}
	// A standalone group: its statement ends it.
	handle(at(100), &replication.MariadbGTIDEvent{GTID: gmysql.MariadbGTID{ServerID: 1, SequenceNumber: 11}, Flags: replication.BINLOG_MARIADB_FL_STANDALONE})
	handle(at(200), &replication.QueryEvent{Query: []byte("FLUSH PRIVILEGES")})
	require.Equal(t, resumePoint{file: "binlog.000001", pos: 200, gtids: "0-1-11"}, tk.resume)
	// A non-transactional engine's group ends with a COMMIT statement.
	handle(at(300), &replication.MariadbGTIDEvent{GTID: gmysql.MariadbGTID{ServerID: 1, SequenceNumber: 12}})
	_, err = tk.rows(nil, at(400), ev)
	require.NoError(t, err)
	handle(at(500), &replication.QueryEvent{Query: []byte("COMMIT")})
	require.Equal(t, resumePoint{file: "binlog.000001", pos: 500, gtids: "0-1-12"}, tk.resume)
	// A group whose end is not recognised ends where the next one starts.
	handle(at(600), &replication.MariadbGTIDEvent{GTID: gmysql.MariadbGTID{ServerID: 1, SequenceNumber: 13}})
	_, err = tk.rows(nil, at(700), ev)
	require.NoError(t, err)
	handle(at(800), &replication.MariadbGTIDEvent{GTID: gmysql.MariadbGTID{ServerID: 1, SequenceNumber: 14}})
	require.Equal(t, resumePoint{file: "binlog.000001", pos: 750, gtids: "0-1-13"}, tk.resume)
	require.True(t, tk.str.tx.open)
}

// A domain's GTIDs from a second server (a switchover, a multi-source replica) replace the first's: the
// set the task resumes from names one GTID a domain, which MariaDB requires of a slave connect state; a
// stored set naming two keeps the later. Two were kept, and every resume failed as if the binlog were purged.
func TestOneGTIDPerDomain(t *testing.T) {
	tk, _, _, h := streamFixture(t, 1)
	set, err := gmysql.ParseMariadbGTIDSet("0-1-100,1-1-7")
	require.NoError(t, err)
	tk.str.gtids = set.(*gmysql.MariadbGTIDSet)
	hh := *h
	for _, e := range []replication.Event{
		&replication.MariadbGTIDEvent{GTID: gmysql.MariadbGTID{DomainID: 0, ServerID: 2, SequenceNumber: 101}},
		&replication.XIDEvent{},
	} {
		_, err := tk.handle(nil, binlogEvent(&hh, e))
		require.NoError(t, err)
	}
	require.Equal(t, "0-2-101,1-1-7", tk.resume.gtids)

	stored, err := gmysql.ParseMariadbGTIDSet("0-1-100,0-2-101,1-1-7")
	require.NoError(t, err)
	s := stored.(*gmysql.MariadbGTIDSet)
	oneGTIDPerDomain(s)
	require.Equal(t, "0-2-101,1-1-7", s.String())
}

// binlogEvent is e as the binlog reader hands it over: a MariaDB GTID event's GTID is also in its bytes and
// its server in the header, where the task reads them.
func binlogEvent(h *replication.EventHeader, e replication.Event) *replication.BinlogEvent {
	g, ok := e.(*replication.MariadbGTIDEvent)
	if !ok {
		return &replication.BinlogEvent{Header: h, Event: e}
	}
	hh := *h
	hh.ServerID = g.GTID.ServerID
	raw := make([]byte, replication.EventHeaderSize, replication.EventHeaderSize+13)
	raw = binary.LittleEndian.AppendUint64(raw, g.GTID.SequenceNumber)
	raw = binary.LittleEndian.AppendUint32(raw, g.GTID.DomainID)
	raw = append(raw, g.Flags)
	return &replication.BinlogEvent{Header: &hh, Event: e, RawData: raw}
}
