package postgres

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc"
	"github.com/rmqconnect/rmqconnect/schema"
)

// streamTask is a task without a server whose relation 7 (public.t: id INT8 key, name TEXT) is captured,
// fed with handleCopyData.
func streamTask(tb testing.TB) *task {
	tk := newTask()
	tk.log = slog.New(slog.DiscardHandler)
	tk.cfg = &config{prefix: "srv", dbname: "db", slot: "s", maxBatch: 100, poll: time.Second, backoff: time.Second}
	tk.src = newSource()
	tk.partition = map[string]any{PartitionServer: "srv"}
	cols := []column{newColumn("id", pgtype.Int8OID, -1, true), newColumn("name", pgtype.TextOID, -1, false)}
	rb := schema.StructBuilder().Name("srv.public.t.Value")
	for _, c := range cols {
		rb.Field(c.name, c.schema)
	}
	tb2, err := cdc.NewTable("srv-public-t", "srv.public.t", rb.MustBuild(), []string{"id"}, tk.src)
	require.NoError(tb, err)
	tk.rels[7] = &relation{schema: "public", name: "t", captured: true, cols: cols, table: tb2}
	return tk
}

// feedTx feeds one transaction committed at commit and ending at end, with an insert of each id, and returns
// its records, as a poll does.
func feedTx(t *testing.T, tk *task, commit, end uint64, ids ...string) []*schema.Record {
	t.Helper()
	out := feed(t, tk, txChanges(commit, ids...)...)
	feed(t, tk, txCommit(commit, end))
	require.Len(t, out, len(ids))
	return out
}

// txChanges is the start of a transaction committed at commit, with an insert of each id; txCommit ends it.
func txChanges(commit uint64, ids ...string) [][]byte {
	begin := []byte{'B'}
	begin = binary.BigEndian.AppendUint64(begin, commit)
	begin = binary.BigEndian.AppendUint64(begin, 0)
	begin = binary.BigEndian.AppendUint32(begin, 42)
	msgs := [][]byte{xlog(commit-5, begin)}
	for i, id := range ids {
		msgs = append(msgs, xlog(commit-4+uint64(i), insertMessage(id, "n"+id)))
	}
	return msgs
}

func txCommit(commit, end uint64) []byte {
	c := []byte{'C', 0}
	c = binary.BigEndian.AppendUint64(c, commit)
	c = binary.BigEndian.AppendUint64(c, end)
	c = binary.BigEndian.AppendUint64(c, 0)
	return xlog(commit, c)
}

// feed hands msgs to the task as a poll does and returns the records they made.
func feed(t *testing.T, tk *task, msgs ...[]byte) []*schema.Record {
	t.Helper()
	var out []*schema.Record
	for _, m := range msgs {
		var err error
		out, err = tk.handleCopyData(context.Background(), out, m)
		require.NoError(t, err)
	}
	tk.flushPending()
	return out
}

func keepalive(walEnd uint64, reply bool) []byte {
	b := []byte{pglogrepl.PrimaryKeepaliveMessageByteID}
	b = binary.BigEndian.AppendUint64(b, walEnd)
	b = binary.BigEndian.AppendUint64(b, 0)
	if reply {
		return append(b, 1)
	}
	return append(b, 0)
}

// TestConfirmableNeverPassesARecordNotConfirmedByCommit: what a poll confirms on its own (to keep a quiet
// slot moving while the engine calls Commit only after records) stops before every record not yet
// acknowledged, and before every acknowledged record whose position Commit has not confirmed yet.
func TestConfirmableNeverPassesARecordNotConfirmedByCommit(t *testing.T) {
	tk := streamTask(t)
	ack := func(recs []*schema.Record) {
		for _, r := range recs {
			require.NoError(t, tk.CommitRecord(context.Background(), r, &plugins.RecordMetadata{}))
		}
	}
	a := feedTx(t, tk, 100, 110, "1")
	feedTx(t, tk, 200, 210) // no record (a table not captured)
	require.Equal(t, pglogrepl.LSN(0), tk.confirmable(), "a's record is not acknowledged")
	ack(a)
	require.Equal(t, pglogrepl.LSN(210), tk.acked)
	require.Equal(t, pglogrepl.LSN(0), tk.confirmable(), "a's position has not gone through Commit")
	tk.confirmed = tk.acked // as Commit does, after the engine stored the positions
	feedTx(t, tk, 300, 310)
	require.Equal(t, pglogrepl.LSN(310), tk.confirmable(), "no record since the last Commit")
	tk.confirmed = tk.confirmable() // as a poll does (confirmQuiet)

	d := feedTx(t, tk, 400, 410, "2")
	feedTx(t, tk, 500, 510)
	_, err := tk.handleCopyData(context.Background(), nil, keepalive(600, false))
	require.NoError(t, err)
	require.Equal(t, pglogrepl.LSN(310), tk.confirmable(), "d's record is not acknowledged")
	ack(d)
	require.Equal(t, pglogrepl.LSN(510), tk.acked)
	require.Equal(t, pglogrepl.LSN(310), tk.confirmable(), "d's position has not gone through Commit")
	tk.confirmed = tk.acked
	_, err = tk.handleCopyData(context.Background(), nil, keepalive(600, false))
	require.NoError(t, err)
	require.Equal(t, pglogrepl.LSN(600), tk.confirmable())
}

// TestConfirmableAfterCommitBeforeTheTransactionEnded: the engine may store a transaction's records and call
// Commit before the poll that reads the transaction's commit message; it calls Commit again only after more
// records. The transaction's end, read later, is then confirmable by a poll: its records went through Commit.
// It stayed unconfirmable until the next captured change, while tables not captured filled the WAL the server
// keeps for the slot (TestQuietSlotAdvances failed when the poll returned between the insert and the commit).
func TestConfirmableAfterCommitBeforeTheTransactionEnded(t *testing.T) {
	tk := streamTask(t)
	recs := feed(t, tk, txChanges(100, "1")...)
	require.Len(t, recs, 1)
	require.NoError(t, tk.CommitRecord(context.Background(), recs[0], &plugins.RecordMetadata{}))
	require.NoError(t, tk.Commit(context.Background()), "nothing to confirm yet: the commit message is not read")
	feed(t, tk, txCommit(100, 110))
	require.Equal(t, pglogrepl.LSN(110), tk.acked)
	require.Equal(t, pglogrepl.LSN(110), tk.confirmable(), "the record went through Commit")
	tk.confirmed = tk.confirmable() // as a poll does (confirmQuiet)

	// A record acknowledged after the last Commit still holds its transaction's end back.
	recs = feed(t, tk, txChanges(200, "2")...)
	require.NoError(t, tk.CommitRecord(context.Background(), recs[0], &plugins.RecordMetadata{}))
	feed(t, tk, txCommit(200, 210))
	require.Equal(t, pglogrepl.LSN(210), tk.acked)
	require.Equal(t, pglogrepl.LSN(110), tk.confirmable(), "the record has not gone through Commit")
}

// fakeReplication is a replication connection to a fake server that sends msgs (CopyData payloads) after
// the startup and then closes the connection, as a server whose connection breaks after them.
func fakeReplication(t *testing.T, msgs ...[]byte) *pgconn.PgConn {
	cfg, err := pgconn.ParseConfig("postgres://u@127.0.0.1:1/db?sslmode=disable")
	require.NoError(t, err)
	client, server := net.Pipe()
	cfg.DialFunc = func(context.Context, string, string) (net.Conn, error) { return client, nil }
	var g errgroup.Group
	g.Go(func() error {
		defer server.Close()
		be := pgproto3.NewBackend(server, server)
		if _, err := be.ReceiveStartupMessage(); err != nil {
			return err
		}
		be.Send(&pgproto3.AuthenticationOk{})
		be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
		for _, m := range msgs {
			be.Send(&pgproto3.CopyData{Data: m})
		}
		return be.Flush()
	})
	t.Cleanup(func() { require.NoError(t, g.Wait()) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// TestFailedKeepaliveReplyEndsThePoll: the server asks for a reply and the connection breaks before it is
// written. The poll ends as for any lost connection (no error, reconnect later); reading on from the
// connection the failure closed was a nil dereference.
func TestFailedKeepaliveReplyEndsThePoll(t *testing.T) {
	tk := streamTask(t)
	tk.repl = fakeReplication(t, keepalive(100, true))
	tk.streaming = true
	recs, err := tk.pollStream(context.Background())
	require.NoError(t, err)
	require.Empty(t, recs)
	require.False(t, tk.streaming)
	require.Nil(t, tk.repl)
	require.False(t, tk.nextConnect.IsZero(), "a reconnect is scheduled")
}

// TestStartReplicationRefusedIsFatal: START_REPLICATION's SQLSTATE 55000 (the server answers it for an
// invalidated slot, or when it cannot decode at all) fails the task with ErrSlotUnusable, saying what to
// do; other errors stay retriable.
func TestStartReplicationRefusedIsFatal(t *testing.T) {
	tk := streamTask(t)
	tk.cfg.host, tk.cfg.port = "db.example", 5432
	pe := &pgconn.PgError{Severity: "ERROR", Code: "55000", Message: `can no longer get changes from replication slot "s"`,
		Detail: "This slot has been invalidated because it exceeded the maximum reserved size."}
	err := tk.refused(fmt.Errorf("start replication from slot s: %w", pe))
	require.ErrorIs(t, err, ErrSlotUnusable)
	require.True(t, fatal(err))
	require.ErrorContains(t, err, "can no longer get changes")
	require.ErrorContains(t, err, "exceeded the maximum reserved size")
	require.ErrorContains(t, err, "pg_drop_replication_slot('s')")
	require.ErrorContains(t, err, KeySlot)

	for _, other := range []error{&pgconn.PgError{Severity: "ERROR", Code: "55006", Message: `replication slot "s" is active for PID 7`},
		errors.New("connection reset")} {
		err := tk.refused(other)
		require.Same(t, other, err)
		require.False(t, fatal(err))
	}
}
