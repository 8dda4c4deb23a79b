package postgres

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc"
	"github.com/rmqconnect/rmqconnect/schema"
)

// insertMessage is a pgoutput Insert of relation 7 with text columns vals.
func insertMessage(vals ...string) []byte {
	b := []byte{'I', 0, 0, 0, 7, 'N'}
	b = binary.BigEndian.AppendUint16(b, uint16(len(vals)))
	for _, v := range vals {
		b = append(b, 't')
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	return b
}

// decode shares each column's bytes with the values it makes, which holds only while pglogrepl copies
// them out of the message buffer (pgconn reuses that buffer for the next message): overwriting the buffer
// must leave the decoded values as they were.
func TestDecodedValuesOwnTheirBytes(t *testing.T) {
	buf := insertMessage("42", "alice", "12.50")
	msg, err := pglogrepl.Parse(buf)
	require.NoError(t, err)
	ins := msg.(*pglogrepl.InsertMessage)
	r := &relation{schema: "public", name: "t", captured: true, cols: []column{
		newColumn("id", pgtype.Int4OID, -1, true), newColumn("name", pgtype.TextOID, -1, false),
		newColumn("amount", pgtype.NumericOID, (10<<16|2)+4, false)}}
	vals, err := r.decode(ins.Tuple, nil, &cdc.Slab{})
	require.NoError(t, err)
	for i := range buf {
		buf[i] = 'x'
	}
	require.Equal(t, int32(42), vals[0])
	require.Equal(t, "alice", vals[1])
	require.Equal(t, "12.50", vals[2].(interface{ String() string }).String())
}

// xlog wraps a pgoutput message as the replication stream's XLogData at lsn.
func xlog(lsn uint64, msg []byte) []byte {
	b := []byte{pglogrepl.XLogDataByteID}
	b = binary.BigEndian.AppendUint64(b, lsn)
	b = binary.BigEndian.AppendUint64(b, lsn)
	b = binary.BigEndian.AppendUint64(b, 0)
	return append(b, msg...)
}

// BenchmarkStreamInserts is the task's own cost per streamed insert: pgoutput messages of transactions of
// 100 inserts into the bench table of tests/bench (BIGINT key, VARCHAR, NUMERIC(12,2), BIGINT) turned into
// records, without a server. pglogrepl's parsing, which a raw reader pays too, is in it.
func BenchmarkStreamInserts(b *testing.B) {
	const rows = 100
	t := newTask()
	t.cfg = &config{prefix: "bench", dbname: "db"}
	t.src = newSource()
	t.partition = map[string]any{PartitionServer: "bench"}
	cols := []column{newColumn("id", pgtype.Int8OID, -1, true), newColumn("name", pgtype.VarcharOID, 104, false),
		newColumn("amount", pgtype.NumericOID, (12<<16|2)+4, false), newColumn("at", pgtype.Int8OID, -1, false)}
	rb := schema.StructBuilder().Name("bench.public.ev.Value")
	for _, c := range cols {
		rb.Field(c.name, c.schema)
	}
	tb, err := cdc.NewTable("bench.public.ev", "bench.public.ev", rb.MustBuild(), []string{"id"}, t.src)
	if err != nil {
		b.Fatal(err)
	}
	t.rels[7] = &relation{schema: "public", name: "ev", captured: true, cols: cols, table: tb}
	var msgs [][]byte
	begin := []byte{'B'}
	begin = binary.BigEndian.AppendUint64(begin, 1<<20)
	begin = binary.BigEndian.AppendUint64(begin, 0)
	begin = binary.BigEndian.AppendUint32(begin, 42)
	msgs = append(msgs, xlog(1000, begin))
	for i := range rows {
		msgs = append(msgs, xlog(uint64(1000+i), insertMessage(fmt.Sprint(i), fmt.Sprintf("name %d", i), fmt.Sprintf("%d.%02d", i, i%100),
			fmt.Sprint(time.Now().UnixNano()))))
	}
	commit := []byte{'C', 0}
	commit = binary.BigEndian.AppendUint64(commit, 1<<20)
	commit = binary.BigEndian.AppendUint64(commit, 1<<20+1)
	commit = binary.BigEndian.AppendUint64(commit, 0)
	msgs = append(msgs, xlog(1<<20, commit))
	ctx := context.Background()
	out := make([]*schema.Record, 0, rows)
	b.ReportAllocs()
	for b.Loop() {
		t.last = pos{} // every round is new to the task
		out = out[:0]
		for _, m := range msgs {
			if out, err = t.handleCopyData(ctx, out, m); err != nil {
				b.Fatal(err)
			}
		}
		t.flushPending()
		t.mu.Lock()
		t.inflight = t.inflight[:0] // as if all were acknowledged
		t.mu.Unlock()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/event")
}

// TestReplayAfterLossKeepsConfirming: the connection is lost inside transaction B while the
// transaction A before it is acknowledged but not yet confirmed to the server, which replays A
// and then B. B's entry goes on counting (it was the last entry only until A's replay got one),
// so every transaction's end becomes confirmable; the LSN to confirm stalled at A before.
func TestReplayAfterLossKeepsConfirming(t *testing.T) {
	tk := newTask()
	tk.log, tk.cfg = slog.New(slog.DiscardHandler), &config{}
	ctx := context.Background()
	h := func(m pglogrepl.Message) {
		t.Helper()
		_, err := tk.handleMessage(ctx, nil, 0, m)
		require.NoError(t, err)
	}
	h(&pglogrepl.BeginMessage{FinalLSN: 100, Xid: 1, CommitTime: time.Now()})
	h(&pglogrepl.CommitMessage{CommitLSN: 100, TransactionEndLSN: 110})
	h(&pglogrepl.BeginMessage{FinalLSN: 200, Xid: 2, CommitTime: time.Now()})
	tk.lost(errors.New("connection reset")) // inside B
	h(&pglogrepl.BeginMessage{FinalLSN: 100, Xid: 1, CommitTime: time.Now()})
	h(&pglogrepl.CommitMessage{CommitLSN: 100, TransactionEndLSN: 110})
	h(&pglogrepl.BeginMessage{FinalLSN: 200, Xid: 2, CommitTime: time.Now()})
	h(&pglogrepl.CommitMessage{CommitLSN: 200, TransactionEndLSN: 210})
	h(&pglogrepl.BeginMessage{FinalLSN: 300, Xid: 3, CommitTime: time.Now()})
	h(&pglogrepl.CommitMessage{CommitLSN: 300, TransactionEndLSN: 310})
	require.Empty(t, tk.inflight)
	require.Equal(t, pglogrepl.LSN(310), tk.acked)
}

// TestSpecialValues: values PostgreSQL stores that the Connect types cannot hold (numeric NaN and
// ±Infinity, date and timestamp ±infinity) or the JSON converter cannot write (float NaN and ±Infinity)
// are null in an optional column and fail a key column,
// naming it, as is TIME's 24:00:00 (Connect's Time lies within one day); dates before year 1 (" BC")
// and local-mean-time offsets decode. Each stopped the task at the same change on every restart.
func TestSpecialValues(t *testing.T) {
	num := newColumn("amount", pgtype.NumericOID, (10<<16|2)+4, false)
	for _, raw := range []string{"NaN", "Infinity", "-Infinity"} {
		v, err := num.value(raw)
		require.NoError(t, err, raw)
		require.Nil(t, v, raw)
	}
	for _, oid := range []uint32{pgtype.DateOID, pgtype.TimestampOID, pgtype.TimestamptzOID} {
		for _, raw := range []string{"infinity", "-infinity"} {
			v, err := newColumn("at", oid, -1, false).value(raw)
			require.NoError(t, err, raw)
			require.Nil(t, v, raw)
		}
	}
	for _, oid := range []uint32{pgtype.Float4OID, pgtype.Float8OID} {
		for _, raw := range []string{"NaN", "Infinity", "-Infinity"} {
			v, err := newColumn("f", oid, -1, false).value(raw)
			require.NoError(t, err, raw)
			require.Nil(t, v, raw)
		}
		_, err := newColumn("fk", oid, -1, true).value("NaN")
		require.ErrorContains(t, err, "column fk")
	}
	_, err := newColumn("id", pgtype.NumericOID, (10<<16|2)+4, true).value("NaN")
	require.ErrorContains(t, err, "column id")

	v, err := newColumn("d", pgtype.DateOID, -1, false).value("0044-03-15 BC")
	require.NoError(t, err)
	require.Equal(t, time.Date(-43, 3, 15, 0, 0, 0, 0, time.UTC), v)
	v, err = newColumn("ts", pgtype.TimestampOID, -1, false).value("0001-12-31 23:59:59.5 BC")
	require.NoError(t, err)
	require.Equal(t, time.Date(0, 12, 31, 23, 59, 59, 5e8, time.UTC), v)
	v, err = newColumn("tz", pgtype.TimestamptzOID, -1, false).value("1800-01-01 00:00:00+00:53:28")
	require.NoError(t, err)
	require.Equal(t, time.Date(1799, 12, 31, 23, 6, 32, 0, time.UTC), v)
	v, err = newColumn("tm", pgtype.TimeOID, -1, false).value("24:00:00")
	require.NoError(t, err)
	require.Nil(t, v)
	v, err = newColumn("tm", pgtype.TimeOID, -1, false).value("13:45:10.123456")
	require.NoError(t, err)
	require.Equal(t, int64(13*3600000+45*60000+10123), v.(time.Time).UnixMilli())
}
