package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"strings"
	"time"
	"unsafe"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc"
	"github.com/rmqconnect/rmqconnect/schema"
)

// startStreaming (re)connects when needed and issues START_REPLICATION. A missing or invalidated slot, a
// missing publication, or the server refusing to stream from the slot (SQLSTATE 55000) is returned as a
// task failure; anything else makes the caller wait and try again.
func (t *task) startStreaming(ctx context.Context) error {
	if t.repl == nil {
		if err := t.connect(ctx); err != nil {
			return err
		}
		slot, err := t.slotInfo(ctx)
		if err != nil {
			return err
		}
		if !slot.exists {
			return t.slotMissing(max(t.last.commit, t.startLSN))
		}
		if slot.lost {
			return t.slotInvalidated(max(t.last.commit, t.startLSN))
		}
		if err := t.checkPublication(ctx); err != nil {
			return err
		}
	}
	err := pglogrepl.StartReplication(ctx, t.repl, t.cfg.slot, t.startLSN, pglogrepl.StartReplicationOptions{
		// Quoted as the task creates it, so that pgoutput keeps the name's case (it folds unquoted names
		// to lower case); the name is letters, digits and underscores (validated), nothing to escape.
		PluginArgs: []string{"proto_version '1'", "publication_names '" + pgx.Identifier{t.cfg.publication}.Sanitize() + "'"}})
	if err != nil {
		return t.refused(fmt.Errorf("start replication from slot %s: %w", t.cfg.slot, err))
	}
	t.tx.open = false
	t.outage.Resumed(t.log, "replication resumed", "slot", t.cfg.slot)
	t.streaming = true
	return nil
}

// refused wraps START_REPLICATION's SQLSTATE 55000 (object not in prerequisite state) in ErrSlotUnusable,
// which fails the task: the server answers it for a slot it invalidated and for a server that cannot
// decode at all (wal_level below logical, a standby), neither of which a reconnect changes.
func (t *task) refused(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "55000" {
		return err
	}
	detail := ""
	if pe.Detail != "" {
		detail = " (" + pe.Detail + ")"
	}
	return fmt.Errorf("%w: the server refuses to stream from replication slot %q (%s) on %s:%d/%s: %v%s. Reconnecting cannot "+
		"change this. If the slot was invalidated, the changes it held are gone: drop it (SELECT pg_drop_replication_slot('%s')), "+
		"delete the connector's stored offsets (or set %s to a new name) and restart the task to start over with a new "+
		"snapshot; otherwise correct what the server names and restart the task",
		ErrSlotUnusable, t.cfg.slot, KeySlot, t.cfg.host, t.cfg.port, t.cfg.dbname, err, detail, t.cfg.slot, KeySlot)
}

// lost drops the connections after a failure; the next poll reconnects after the back-off.
func (t *task) lost(err error) {
	t.disconnect()
	t.nextConnect = time.Now().Add(t.cfg.backoff)
	t.outage.Lost(t.log, "connection to PostgreSQL lost", err, "slot", t.cfg.slot)
}

// disconnect closes the connections; the next poll opens new ones and starts streaming again.
func (t *task) disconnect() {
	t.closeConns()
	t.streaming = false
	t.tx.open = false
}

// queryConnLost is a failure of the query connection that closed it (a killed session, a network
// failure): the stream treats it as a lost connection, to reconnect, not as a failure of the task.
type queryConnLost struct{ err error }

func (e *queryConnLost) Error() string { return "query connection lost: " + e.err.Error() }
func (e *queryConnLost) Unwrap() error { return e.err }

// queryErr marks err as a lost query connection when the query connection is closed after it.
func (t *task) queryErr(err error) error {
	if err != nil && t.db != nil && t.db.IsClosed() {
		return &queryConnLost{err: err}
	}
	return err
}

func fatal(err error) bool {
	return errors.Is(err, ErrSlotMissing) || errors.Is(err, ErrSlotUnusable) || errors.Is(err, ErrPublicationMissing) ||
		errors.Is(err, ErrAccessDenied)
}

// denied wraps a refusal of the connector's user (a wrong password, a missing privilege: SQLSTATE classes
// 28 and 42501) in ErrAccessDenied, which fails the task: reconnecting would fail the same way until
// someone changes the user or the config.
func (t *task) denied(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "28") || pe.Code == "42501") {
		return fmt.Errorf("%w: as user %q: %v (the user needs the REPLICATION attribute and SELECT on the captured tables)",
			ErrAccessDenied, t.cfg.user, err)
	}
	return err
}

// pollStream reads the replication stream for up to poll.interval.ms or max.batch.size records.
func (t *task) pollStream(ctx context.Context) ([]*schema.Record, error) {
	deadline := time.Now().Add(t.cfg.poll)
	if ctx.Err() != nil {
		return nil, nil
	}
	if !t.streaming {
		if wait := time.Until(t.nextConnect); wait > 0 {
			sleep(ctx, min(wait, t.cfg.poll))
			return nil, nil
		}
		if err := t.startStreaming(ctx); err != nil {
			err = t.denied(err)
			if fatal(err) {
				return nil, err
			}
			if ctx.Err() != nil {
				// The poll was cancelled, the server not lost: no warning and no back-off. START_REPLICATION may
				// have been sent, so the next poll starts on fresh connections.
				t.disconnect()
				return nil, nil
			}
			t.lost(err)
			return nil, nil
		}
	}
	// One read deadline for the whole poll, on the connection itself: a context per read would cost a timer
	// and a context watcher per message. The poll's context still interrupts a read, by moving the deadline.
	conn := t.repl.Conn()
	if err := conn.SetReadDeadline(deadline); err != nil {
		t.lost(err)
		return nil, nil
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer func() {
		stop()
		_ = conn.SetReadDeadline(time.Time{}) // fails harmlessly on a connection lost meanwhile
		t.flushPending()
	}()
	var out []*schema.Record
	// A lost connection (t.lost) ends the loop: t.repl is gone.
	for len(out) < t.cfg.maxBatch && ctx.Err() == nil && t.streaming {
		msg, err := t.repl.ReceiveMessage(context.Background())
		if err != nil {
			// The poll's deadline, or its context moving the deadline: a read timeout leaves the connection
			// usable (pgconn closes it only on other errors), so neither is a lost connection.
			if ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) || pgconn.Timeout(err) {
				break
			}
			t.lost(err)
			break
		}
		switch m := msg.(type) {
		case *pgproto3.ErrorResponse:
			t.lost(pgconn.ErrorResponseToPgError(m))
			return out, nil
		case *pgproto3.CopyData:
			more, err := t.handleCopyData(ctx, out, m.Data)
			var ql *queryConnLost
			if errors.As(err, &ql) {
				// The records before the message are kept: the new session replays from the LSN confirmed,
				// and the ones already emitted are skipped (t.last).
				if ctx.Err() != nil {
					t.disconnect()
				} else {
					t.lost(err)
				}
				return out, nil
			}
			if err != nil {
				return nil, err
			}
			out = more
		}
	}
	t.confirmQuiet(ctx)
	return out, nil
}

// quietConfirmEvery bounds how often a poll confirms an LSN itself (confirmQuiet).
const quietConfirmEvery = time.Second

// confirmQuiet confirms to the server, at most once every quietConfirmEvery, the progress no record waits
// for (confirmable). The engine calls Commit only after records were produced: without this, the slot of a
// connector whose captured tables are quiet would stay where it is while other tables (not captured, or not
// in the publication) fill the WAL, which the server keeps for the slot.
func (t *task) confirmQuiet(ctx context.Context) {
	if ctx.Err() != nil || !t.streaming || time.Since(t.quietAt) < quietConfirmEvery {
		return
	}
	if lsn := t.confirmable(); lsn > t.confirmed {
		t.reply(lsn)
		t.quietAt = time.Now()
	}
}

// reply sends the server a standby status update confirming lsn (at least the LSN already confirmed,
// which a reply must repeat); a failure drops the connection.
func (t *task) reply(lsn pglogrepl.LSN) {
	lsn = max(lsn, t.confirmed)
	if err := pglogrepl.SendStandbyStatusUpdate(context.Background(), t.repl, pglogrepl.StandbyStatusUpdate{WALWritePosition: lsn}); err != nil {
		t.lost(fmt.Errorf("confirm LSN %s to the server: %w", lsn, err))
		return
	}
	t.confirmed = lsn
}

func sleep(ctx context.Context, d time.Duration) {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
	case <-tm.C:
	}
}

// handleCopyData handles one message of the replication stream, appending its records to out.
func (t *task) handleCopyData(ctx context.Context, out []*schema.Record, data []byte) ([]*schema.Record, error) {
	if len(data) == 0 {
		return out, nil
	}
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		pkm, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return nil, err
		}
		if !t.tx.open {
			// Everything the server decoded before WALEnd has been read; with nothing unacknowledged, no
			// captured change lies before it.
			t.mu.Lock()
			if len(t.inflight) == 0 && pkm.ServerWALEnd > t.acked {
				t.acked = pkm.ServerWALEnd
			}
			t.mu.Unlock()
		}
		if pkm.ReplyRequested {
			t.reply(t.confirmable())
		}
		return out, nil
	case pglogrepl.XLogDataByteID:
		xld, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return nil, err
		}
		msg, err := pglogrepl.Parse(xld.WALData)
		if err != nil {
			return nil, fmt.Errorf("decode pgoutput message at %s: %w", xld.WALStart, err)
		}
		return t.handleMessage(ctx, out, xld.WALStart, msg)
	}
	return out, nil
}

func (t *task) handleMessage(ctx context.Context, out []*schema.Record, at pglogrepl.LSN, msg pglogrepl.Message) ([]*schema.Record, error) {
	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		t.described[m.RelationID] = m
		delete(t.rels, m.RelationID)
	case *pglogrepl.BeginMessage:
		t.tx.open, t.tx.commit, t.tx.xid, t.tx.time, t.tx.seq = true, m.FinalLSN, m.Xid, m.CommitTime, 0
		t.tx.src, t.tx.srcRel, t.tx.offset = nil, nil, nil
		t.mu.Lock()
		t.flushPendingLocked()
		// A transaction read again after a reconnect keeps counting in its entry. The server replays
		// from the LSN last confirmed to it, so transactions read in full before may come first and get
		// entries of their own after it (their changes are not emitted again: they close with nothing
		// pending); the interrupted one is not always the last entry.
		t.tx.ack = nil
		for i := len(t.inflight) - 1; i >= 0; i-- {
			if e := t.inflight[i]; !e.closed && e.commit == m.FinalLSN {
				t.tx.ack = e
				break
			}
		}
		if t.tx.ack == nil {
			t.tx.ack = &txAck{commit: m.FinalLSN}
			t.inflight = append(t.inflight, t.tx.ack)
		}
		t.mu.Unlock()
	case *pglogrepl.CommitMessage:
		t.tx.open = false
		if t.tx.ack != nil {
			t.mu.Lock()
			t.flushPendingLocked()
			t.tx.ack.closed, t.tx.ack.end = true, m.TransactionEndLSN
			t.drainLocked()
			t.mu.Unlock()
		}
	case *pglogrepl.InsertMessage:
		return t.change(ctx, out, m.RelationID, at, cdc.OpCreate, nil, m.Tuple)
	case *pglogrepl.UpdateMessage:
		return t.change(ctx, out, m.RelationID, at, cdc.OpUpdate, m.OldTuple, m.NewTuple)
	case *pglogrepl.DeleteMessage:
		return t.change(ctx, out, m.RelationID, at, cdc.OpDelete, m.OldTuple, nil)
	}
	return out, nil
}

// change appends one row change's records to out, unless a replay already emitted it.
func (t *task) change(ctx context.Context, out []*schema.Record, relID uint32, at pglogrepl.LSN, op cdc.Op, oldTup, newTup *pglogrepl.TupleData) ([]*schema.Record, error) {
	if !t.tx.open {
		return nil, fmt.Errorf("pgoutput sent a change at %s outside a transaction", at)
	}
	t.tx.seq++
	p := pos{commit: t.tx.commit, seq: t.tx.seq}
	if !p.after(t.last) {
		return out, nil
	}
	rel, err := t.relation(ctx, relID)
	if err != nil {
		return nil, err
	}
	if rel == nil {
		return nil, fmt.Errorf("pgoutput sent a change at %s for relation %d before describing it", at, relID)
	}
	t.last = p
	if !rel.captured {
		return out, nil
	}
	var before, after []any
	if oldTup != nil {
		if before, err = rel.decode(oldTup, nil, &t.slab); err != nil {
			return nil, t.changeErr(err, rel, at, op)
		}
	}
	if newTup != nil {
		// Unchanged TOAST values come from the old image when it has them: every column under REPLICA
		// IDENTITY FULL ('O'); the key columns, the others null, when the server logged the old key ('K'),
		// which it does for an update that changes the key or leaves a key value stored out of line alone.
		if after, err = rel.decode(newTup, before, &t.slab); err != nil {
			return nil, t.changeErr(err, rel, at, op)
		}
	}
	// The source block and the offset differ within a transaction only in the event's LSN and number: what
	// the rest costs (boxing, the commit LSN's text) is paid once per transaction and table.
	if t.tx.src == nil || t.tx.srcRel != rel {
		if t.tx.src, err = t.src.Varying(cdc.SourceInfo{Connector: "postgresql", Name: t.cfg.prefix, Ts: t.tx.time, DB: t.cfg.dbname,
			Schema: rel.schema, Table: rel.name, Position: []any{int64(t.tx.xid), int64(at)}}); err != nil {
			return nil, err
		}
		t.tx.srcRel = rel
	}
	if t.tx.offset == nil {
		t.tx.offset = map[string]any{OffsetCommitLSN: p.commit.String(), OffsetSeq: int64(0)}
	}
	off := &lazyOffset{tx: t.tx.offset, n: p.seq}
	n := len(out)
	if out, err = rel.table.AppendRecords(out, cdc.Event{Op: op, Before: before, After: after, Source: t.tx.src.StructIn(&t.slab, int64(at)),
		Partition: t.partition, LazyOffset: off, Now: time.Now(), Slab: &t.slab}, t.cfg.tombstones); err != nil {
		return nil, err
	}
	t.tx.unflushed += len(out) - n
	return out, nil
}

// flushPending adds the records emitted since the last call to their transaction's pending count (once per
// poll and transaction, not once per record).
func (t *task) flushPending() {
	t.mu.Lock()
	t.flushPendingLocked()
	t.mu.Unlock()
}

func (t *task) flushPendingLocked() {
	if t.tx.unflushed != 0 && t.tx.ack != nil {
		t.tx.ack.pending += t.tx.unflushed
		t.tx.ack.records = true
	}
	t.tx.unflushed = 0
}

// changeErr is a change that cannot be decoded; a key the WAL does not hold says what to do.
func (t *task) changeErr(err error, rel *relation, at pglogrepl.LSN, op cdc.Op) error {
	if !errors.Is(err, ErrKeyUnavailable) {
		return err
	}
	return fmt.Errorf("%w (op %s at LSN %s, in the transaction committed at %s). PostgreSQL logs the old key beside such a "+
		"value from 15 and from the February 2022 minor releases (14.2, 13.6, 12.10) on; this server did not. Upgrade it, or "+
		"give the table REPLICA IDENTITY FULL (ALTER TABLE %s REPLICA IDENTITY FULL), so that later changes carry the key. "+
		"This change stays without one: to go past it (it is then not captured), advance the slot past LSN %s "+
		"(pg_replication_slot_advance('%s', …)) and restart the task",
		err, op, at, t.tx.commit, pgx.Identifier{rel.schema, rel.name}.Sanitize(), t.tx.commit, t.cfg.slot)
}

// decode reads a tuple. An unchanged TOAST value ('u') is taken from old when it has one. Otherwise it is
// Unavailable in a text or bytes column and null in another (a NUMERIC with a scale, the only other type
// that can be stored out of line: its Decimal cannot hold a placeholder; decode warns once per column), and
// fails with ErrKeyUnavailable in a key column: a record under a made-up key would make consumers that
// keep one row per key drop the row, or keep a wrong one.
// The values come in slices from slab.
func (r *relation) decode(tup *pglogrepl.TupleData, old []any, slab *cdc.Slab) ([]any, error) {
	if len(tup.Columns) != len(r.cols) {
		return nil, fmt.Errorf("table %s.%s: a row with %d columns, the relation has %d", r.schema, r.name, len(tup.Columns), len(r.cols))
	}
	vals := slab.Values(len(r.cols))
	for i, c := range tup.Columns {
		switch c.DataType {
		case pglogrepl.TupleDataTypeNull:
		case pglogrepl.TupleDataTypeToast:
			switch {
			case old != nil && old[i] != nil:
				vals[i] = old[i]
			case r.cols[i].key:
				return nil, fmt.Errorf("%w: table %s.%s: key column %s holds a value stored out of line (TOAST) that the "+
					"change left unchanged, and the server did not log it", ErrKeyUnavailable, r.schema, r.name, r.cols[i].name)
			case r.cols[i].schema.Type == schema.String:
				vals[i] = Unavailable
			case r.cols[i].schema.Type == schema.Bytes && r.cols[i].schema.Name == "": // not a Decimal
				vals[i] = []byte(Unavailable)
			default:
				r.warnNulled(i)
			}
		case pglogrepl.TupleDataTypeText:
			// pglogrepl decodes each column's bytes into a slice of their own (TupleData.Decode copies them
			// out of the message) that nothing writes afterwards: a string may share them.
			v, err := r.cols[i].value(unsafe.String(unsafe.SliceData(c.Data), len(c.Data)))
			if err != nil {
				return nil, fmt.Errorf("table %s.%s: %w", r.schema, r.name, err)
			}
			vals[i] = v
		default:
			return nil, fmt.Errorf("table %s.%s column %s: unexpected tuple data type %q", r.schema, r.name, r.cols[i].name, c.DataType)
		}
	}
	return vals, nil
}

// warnNulled warns, once per column of the relation, that an unchanged TOASTed value arrives as null.
func (r *relation) warnNulled(i int) {
	if r.log == nil || r.nulled[i] {
		return
	}
	r.nulled[i] = true
	r.log.Warn("unchanged TOASTed value arrives as null: its type cannot hold the placeholder; give the table REPLICA IDENTITY FULL",
		"table", r.schema+"."+r.name, "column", r.cols[i].name, "type", r.cols[i].schema.Name)
}

type lazyOffset struct {
	tx map[string]any
	n  int64
}

func (o *lazyOffset) Offset() map[string]any {
	m := maps.Clone(o.tx)
	m[OffsetSeq] = o.n
	return m
}
