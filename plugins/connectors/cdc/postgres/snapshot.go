package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc"
	"github.com/rmqconnect/rmqconnect/schema"
)

// snapshot reads the captured tables, one after the other, in the transaction that imported the slot's
// exported snapshot. The tables are those the publication publishes changes under (see partitions.go), each
// read by itself, so that every row is read once, under the table its changes come with. The newest row is
// held back until the next one is read, so the very last row can be marked last and carry the offset that
// says the snapshot is complete.
type snapshot struct {
	tables []listedTable
	i      int
	cp     pglogrepl.LSN
	at     time.Time
	rel    *relation
	rr     *pgconn.ResultReader
	held   *heldRow
	ack    *txAck
}

type heldRow struct {
	rel  *relation
	vals []any
}

func (t *task) beginSnapshot(ctx context.Context, name string, cp pglogrepl.LSN) error {
	if _, err := t.db.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		return fmt.Errorf("begin snapshot transaction: %w", err)
	}
	if _, err := t.db.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+strings.ReplaceAll(name, "'", "''")+"'"); err != nil {
		return fmt.Errorf("import the slot's snapshot %s: %w", name, err)
	}
	tables, err := t.listTables(ctx, true)
	if err != nil {
		return err
	}
	ack := &txAck{commit: cp}
	t.mu.Lock()
	t.inflight = append(t.inflight, ack)
	t.mu.Unlock()
	t.snap = &snapshot{tables: tables, cp: cp, at: time.Now(), ack: ack}
	t.log.Info("snapshot started", "tables", len(tables), "lsn", cp.String())
	return nil
}

// pollSnapshot returns up to max.batch.size snapshot records; once every table is read it commits the
// snapshot transaction and clears t.snap.
func (t *task) pollSnapshot(ctx context.Context) ([]*schema.Record, error) {
	s := t.snap
	var out []*schema.Record
	for len(out) < t.cfg.maxBatch {
		if s.rr == nil {
			if s.i >= len(s.tables) {
				return t.finishSnapshot(ctx, out)
			}
			tb := s.tables[s.i]
			rel, _, err := t.relationFromCatalog(ctx, tb.tableName)
			if err != nil {
				return nil, err
			}
			s.rel = rel
			cols := make([]string, len(rel.cols))
			for i, c := range rel.cols {
				cols[i] = pgx.Identifier{c.name}.Sanitize()
			}
			// ONLY: a table's INHERITS children publish their rows themselves. A partitioned table (listed
			// under publish_via_partition_root) has no rows of its own: its partitions' are its.
			from := " FROM ONLY "
			if tb.partitioned {
				from = " FROM "
			}
			q := "SELECT " + strings.Join(cols, ", ") + from + pgx.Identifier{tb.schema, tb.name}.Sanitize()
			s.rr = t.db.PgConn().ExecParams(t.life, q, nil, nil, nil, nil)
		}
		if !s.rr.NextRow() {
			_, err := s.rr.Close()
			s.rr = nil
			if err != nil {
				return nil, fmt.Errorf("snapshot of %s.%s: %w", s.rel.schema, s.rel.name, err)
			}
			s.i++
			continue
		}
		raw := s.rr.Values()
		vals := make([]any, len(raw))
		for i, b := range raw {
			if b == nil {
				continue
			}
			v, err := s.rel.cols[i].value(string(b))
			if err != nil {
				return nil, fmt.Errorf("snapshot of %s.%s: %w", s.rel.schema, s.rel.name, err)
			}
			vals[i] = v
		}
		if s.held != nil {
			recs, err := t.snapshotRecords(s.held, false)
			if err != nil {
				return nil, err
			}
			out = append(out, recs...)
		}
		s.held = &heldRow{rel: s.rel, vals: vals}
	}
	return out, nil
}

func (t *task) finishSnapshot(ctx context.Context, out []*schema.Record) ([]*schema.Record, error) {
	s := t.snap
	if s.held != nil {
		recs, err := t.snapshotRecords(s.held, true)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
		s.held = nil
	}
	if _, err := t.db.Exec(ctx, "COMMIT"); err != nil {
		return nil, fmt.Errorf("end snapshot transaction: %w", err)
	}
	t.mu.Lock()
	s.ack.closed, s.ack.end = true, s.cp
	t.drainLocked()
	t.mu.Unlock()
	t.last = pos{commit: s.cp}
	t.snap = nil
	t.log.Info("snapshot done", "tables", len(s.tables), "lsn", s.cp.String())
	return out, nil
}

func (t *task) snapshotRecords(h *heldRow, last bool) ([]*schema.Record, error) {
	s := t.snap
	flag := "true"
	off := map[string]any{OffsetCommitLSN: s.cp.String(), OffsetSeq: int64(0), OffsetSnapshot: true}
	if last {
		flag = "last"
		delete(off, OffsetSnapshot)
	}
	src, err := t.src.Struct(cdc.SourceInfo{Connector: "postgresql", Name: t.cfg.prefix, Ts: s.at, Snapshot: flag,
		DB: t.cfg.dbname, Schema: h.rel.schema, Table: h.rel.name, Position: []any{nil, int64(s.cp)}})
	if err != nil {
		return nil, err
	}
	recs, err := h.rel.table.Records(cdc.Event{Op: cdc.OpRead, After: h.vals, Source: src, Partition: t.partition,
		Offset: off, Now: time.Now()}, false)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	s.ack.pending += len(recs)
	s.ack.records = s.ack.records || len(recs) > 0
	t.mu.Unlock()
	return recs, nil
}
