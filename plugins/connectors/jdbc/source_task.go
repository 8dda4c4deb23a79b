package jdbc

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/internal/position"
	"github.com/rmqconnect/rmqconnect/schema"
)

// Offset keys of a table's source position.
const (
	OffsetIncrementing = "incrementing"
	OffsetTimestamp    = "timestamp" // RFC 3339 with nanoseconds, UTC
)

// SourceTask reads its tables (or the query) in turns: each Poll queries the first table that is due and
// returns up to batch.max.rows rows. Poll and Stop may run concurrently; Stop makes a waiting Poll return.
type SourceTask struct {
	stopped  chan struct{}
	stopOnce sync.Once

	mu       sync.Mutex // serialises Poll and Stop's close
	sc       *sourceConfig
	d        dialect
	db       *sql.DB
	queriers []*querier
	next     int
}

// NewSourceTask returns an unstarted jdbc-source task.
func NewSourceTask() *SourceTask { return &SourceTask{stopped: make(chan struct{})} }

var _ plugins.SourceTask = (*SourceTask)(nil)

// querier reads one table or the query and keeps its position.
type querier struct {
	partition map[string]any
	table     tableID // zero for a query
	topic     string
	due       time.Time

	hasInc bool
	inc    int64
	hasTS  bool
	ts     time.Time

	bulk *sql.Rows // an open bulk read, continued by the next polls

	sig    string // column signature the converters were built for
	convs  []colConv
	value  *schema.Schema
	key    *schema.Schema
	keyIdx []int
	incIdx int
	tsIdx  []int
}

// Start connects and reads the committed position of every table of the task.
func (t *SourceTask) Start(ctx context.Context, tctx plugins.SourceTaskContext, _ map[string]string) error {
	sc, err := parseSourceConfig(tctx.Config())
	if err != nil {
		return err
	}
	var qs []*querier
	if sc.query != "" {
		qs = append(qs, &querier{partition: map[string]any{"query": sc.query}, topic: sc.topicPrefix})
	} else {
		for _, name := range sc.taskTables {
			id := parseTableID(name)
			qs = append(qs, &querier{partition: map[string]any{"table": id.String()}, table: id,
				topic: sc.topicPrefix + id.Name})
		}
	}
	for _, q := range qs {
		off, err := tctx.Positions().Position(ctx, q.partition)
		if err != nil {
			return fmt.Errorf("jdbc-source: read position of %v: %w", q.partition, err)
		}
		if n, ok, err := position.Int64(off, OffsetIncrementing); err != nil {
			return fmt.Errorf("jdbc-source: position of %v: %w", q.partition, err)
		} else if ok {
			q.hasInc, q.inc = true, n
		}
		if s, ok := off[OffsetTimestamp].(string); ok {
			ts, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return fmt.Errorf("jdbc-source: position of %v: %w: %s=%q", q.partition, position.ErrBadPosition,
					OffsetTimestamp, s)
			}
			q.hasTS, q.ts = true, ts
		}
	}
	db, err := sc.target.connect(ctx, 2)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	select {
	case <-t.stopped:
		_ = db.Close()
		return fmt.Errorf("jdbc-source: start: %w", ErrStopped)
	default:
	}
	t.sc, t.d, t.db, t.queriers = sc, dialect{sc.target.dialect}, db, qs
	return nil
}

// Poll returns the rows of the next due table; when none is due it waits (at most a second) for one.
func (t *SourceTask) Poll(ctx context.Context) ([]*schema.Record, error) {
	t.mu.Lock()
	if t.db == nil {
		t.mu.Unlock()
		if t.isStopped() {
			return nil, nil
		}
		return nil, fmt.Errorf("jdbc-source: poll: %w", ErrNotStarted)
	}
	now := time.Now()
	earliest := now.Add(time.Second)
	for range t.queriers {
		q := t.queriers[t.next]
		t.next = (t.next + 1) % len(t.queriers)
		if q.due.After(now) {
			earliest = minTime(earliest, q.due)
			continue
		}
		recs, more, err := t.read(ctx, q)
		if err != nil {
			t.mu.Unlock()
			if ctx.Err() != nil {
				return nil, ctx.Err() // cancelled, not a database failure
			}
			return nil, err
		}
		if !more {
			q.due = time.Now().Add(t.sc.pollInterval)
		}
		if len(recs) > 0 {
			t.mu.Unlock()
			return recs, nil
		}
		earliest = minTime(earliest, q.due)
	}
	t.mu.Unlock()
	timer := time.NewTimer(time.Until(earliest))
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-t.stopped:
	case <-timer.C:
	}
	return nil, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func (t *SourceTask) isStopped() bool {
	select {
	case <-t.stopped:
		return true
	default:
		return false
	}
}

// read runs q's query once and converts up to batch.max.rows rows; more reports that rows may remain.
func (t *SourceTask) read(ctx context.Context, q *querier) (recs []*schema.Record, more bool, err error) {
	if t.sc.mode == ModeBulk {
		return t.readBulk(ctx, q)
	}
	stmt, args, err := t.incrementalQuery(ctx, q)
	if err != nil {
		return nil, false, err
	}
	rows, err := t.db.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, false, t.queryErr(q, err)
	}
	defer rows.Close()
	recs, err = t.convertRows(ctx, q, rows, t.sc.batchMaxRows)
	if err != nil {
		return nil, false, err
	}
	if t.sc.mode == ModeTimestamp && len(recs) == t.sc.batchMaxRows {
		recs, err = t.completeTimestampTies(ctx, q, recs)
		if err != nil {
			return nil, false, err
		}
	}
	if len(recs) > 0 {
		q.advance(recs[len(recs)-1])
	}
	return recs, len(recs) >= t.sc.batchMaxRows, nil
}

func (t *SourceTask) queryErr(q *querier, err error) error {
	return t.sc.target.wrap("query "+q.name(), err)
}

func (q *querier) name() string {
	if q.table.Name != "" {
		return q.table.String()
	}
	return "query"
}

// from is the FROM clause of q.
func (t *SourceTask) from(q *querier) string {
	if q.table.Name != "" {
		return t.d.table(q.table)
	}
	return "(" + t.sc.query + ") " + t.d.quote("q")
}

// tsExpr is the timestamp expression: the column, or the first non-null of several.
func (t *SourceTask) tsExpr() string {
	if len(t.sc.tsCols) == 1 {
		return t.d.quote(t.sc.tsCols[0])
	}
	parts := make([]string, len(t.sc.tsCols))
	for i, c := range t.sc.tsCols {
		parts[i] = t.d.quote(c)
	}
	return "COALESCE(" + strings.Join(parts, ", ") + ")"
}

// incrementalQuery builds the SELECT of the incrementing and timestamp modes, past q's position.
func (t *SourceTask) incrementalQuery(ctx context.Context, q *querier) (string, []any, error) {
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return t.d.placeholder(len(args)) }
	var order []string
	inc := t.d.quote(t.sc.incCol)
	hasTS := t.sc.mode == ModeTimestamp || t.sc.mode == ModeTimestampIncrementing
	if hasTS {
		now, err := t.d.now(ctx, t.db)
		if err != nil {
			return "", nil, t.queryErr(q, err)
		}
		ts := t.tsExpr()
		where = append(where, ts+" < "+arg(now.Add(-t.sc.tsDelay)))
		if q.hasTS {
			if t.sc.mode == ModeTimestampIncrementing && q.hasInc {
				where = append(where, "("+ts+" > "+arg(q.ts)+" OR ("+ts+" = "+arg(q.ts)+" AND "+inc+" > "+arg(q.inc)+"))")
			} else {
				where = append(where, ts+" > "+arg(q.ts))
			}
		} else if t.sc.mode == ModeTimestampIncrementing && q.hasInc {
			where = append(where, inc+" > "+arg(q.inc))
		}
		order = append(order, ts)
	}
	if t.sc.mode == ModeIncrementing || t.sc.mode == ModeTimestampIncrementing {
		if t.sc.mode == ModeIncrementing && q.hasInc {
			where = append(where, inc+" > "+arg(q.inc))
		}
		order = append(order, inc)
	}
	stmt := "SELECT * FROM " + t.from(q)
	if len(where) > 0 {
		stmt += " WHERE " + strings.Join(where, " AND ")
	}
	stmt += " ORDER BY " + strings.Join(order, ", ") + t.d.limit(t.sc.batchMaxRows)
	return stmt, args, nil
}

// completeTimestampTies makes a full timestamp-mode batch end on a whole timestamp: rows sharing the last
// row's timestamp are cut (the next poll reads them), or, when every row shares it, all rows of that
// timestamp are read at once. Otherwise rows past the batch with the same timestamp would be skipped.
func (t *SourceTask) completeTimestampTies(ctx context.Context, q *querier, recs []*schema.Record) ([]*schema.Record, error) {
	last := recTS(recs[len(recs)-1])
	i := len(recs)
	for i > 0 && recTS(recs[i-1]).Equal(last) {
		i--
	}
	if i > 0 {
		return recs[:i], nil
	}
	rows, err := t.db.QueryContext(ctx, "SELECT * FROM "+t.from(q)+" WHERE "+t.tsExpr()+" = "+t.d.placeholder(1), last)
	if err != nil {
		return nil, t.queryErr(q, err)
	}
	defer rows.Close()
	return t.convertRows(ctx, q, rows, 0)
}

func recTS(r *schema.Record) time.Time {
	ts, _ := time.Parse(time.RFC3339Nano, r.SourceOffset[OffsetTimestamp].(string))
	return ts
}

// advance moves q's position to r's.
func (q *querier) advance(r *schema.Record) {
	if n, ok := r.SourceOffset[OffsetIncrementing].(int64); ok {
		q.hasInc, q.inc = true, n
	}
	if _, ok := r.SourceOffset[OffsetTimestamp].(string); ok {
		q.hasTS, q.ts = true, recTS(r)
	}
}

// readBulk continues (or starts) reading the whole table; the position is the time the read started.
func (t *SourceTask) readBulk(ctx context.Context, q *querier) ([]*schema.Record, bool, error) {
	if q.bulk == nil {
		rows, err := t.db.QueryContext(context.WithoutCancel(ctx), "SELECT * FROM "+t.from(q))
		if err != nil {
			return nil, false, t.queryErr(q, err)
		}
		q.bulk = rows
	}
	recs, err := t.convertRows(ctx, q, q.bulk, t.sc.batchMaxRows)
	if err != nil || len(recs) < t.sc.batchMaxRows {
		_ = q.bulk.Close()
		q.bulk = nil
	}
	return recs, err == nil && len(recs) == t.sc.batchMaxRows, err
}

// convertRows turns up to limit rows (0: all) into records.
func (t *SourceTask) convertRows(ctx context.Context, q *querier, rows *sql.Rows, limit int) ([]*schema.Record, error) {
	if err := t.prepare(ctx, q, rows); err != nil {
		return nil, err
	}
	vals := make([]any, len(q.convs))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var recs []*schema.Record
	var slab []schema.Record // the batch's records in one allocation
	if limit > 0 {
		recs, slab = make([]*schema.Record, 0, limit), make([]schema.Record, limit)
	}
	for (limit == 0 || len(recs) < limit) && rows.Next() {
		for i := range vals {
			vals[i] = nil
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, t.queryErr(q, err)
		}
		r := new(schema.Record)
		if slab != nil {
			r = &slab[len(recs)]
		}
		err := t.record(q, vals, r)
		if err != nil {
			return nil, fmt.Errorf("jdbc-source: %s: %w", q.name(), err)
		}
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, t.queryErr(q, err)
	}
	return recs, nil
}

// prepare (re)builds q's converters and schemas when the result's columns differ from the last query's
// (a column was added or changed).
func (t *SourceTask) prepare(ctx context.Context, q *querier, rows *sql.Rows) error {
	cts, err := rows.ColumnTypes()
	if err != nil {
		return t.queryErr(q, err)
	}
	var sig strings.Builder
	for _, ct := range cts {
		sig.WriteString(ct.Name() + " " + ct.DatabaseTypeName() + ",")
	}
	if sig.String() == q.sig {
		return nil
	}
	var cat map[string]*column
	var pk []string
	if q.table.Name != "" {
		cols, err := t.d.columns(ctx, t.db, q.table)
		if err != nil {
			return t.queryErr(q, err)
		}
		cat = map[string]*column{}
		for i := range cols {
			cat[cols[i].Name] = &cols[i]
		}
		if pk, err = t.d.primaryKey(ctx, t.db, q.table); err != nil {
			return t.queryErr(q, err)
		}
	}
	q.convs = make([]colConv, len(cts))
	vb := schema.StructBuilder().Name(q.name())
	byName := map[string]int{}
	for i, ct := range cts {
		q.convs[i] = mapColumn(t.d.kind, ct, cat[ct.Name()])
		vb.Field(ct.Name(), q.convs[i].schema)
		byName[ct.Name()] = i
	}
	value, err := vb.Build()
	if err != nil {
		return fmt.Errorf("jdbc-source: %s: schema: %w", q.name(), err)
	}
	q.value, q.key, q.keyIdx = value, nil, nil
	if len(pk) > 0 {
		kb := schema.StructBuilder().Name(q.name() + ".Key")
		for _, k := range pk {
			i, ok := byName[k]
			if !ok {
				q.keyIdx = nil
				break
			}
			kb.Field(k, q.convs[i].schema)
			q.keyIdx = append(q.keyIdx, i)
		}
		if q.keyIdx != nil {
			if q.key, err = kb.Build(); err != nil {
				return fmt.Errorf("jdbc-source: %s: key schema: %w", q.name(), err)
			}
		}
	}
	q.incIdx = -1
	if i, ok := byName[t.sc.incCol]; ok && t.sc.incCol != "" {
		q.incIdx = i
	} else if t.sc.mode == ModeIncrementing || t.sc.mode == ModeTimestampIncrementing {
		return fmt.Errorf("jdbc-source: %s: no column %s (%s)", q.name(), t.sc.incCol, KeyIncrementingCol)
	}
	q.tsIdx = nil
	if t.sc.mode == ModeTimestamp || t.sc.mode == ModeTimestampIncrementing {
		for _, c := range t.sc.tsCols {
			i, ok := byName[c]
			if !ok {
				return fmt.Errorf("jdbc-source: %s: no column %s (%s)", q.name(), c, KeyTimestampCols)
			}
			q.tsIdx = append(q.tsIdx, i)
		}
	}
	q.sig = sig.String()
	return nil
}

// record converts one scanned row. Each converter yields exactly the Go type of its field's schema
// (and a NOT NULL column never yields nil), so the structs are built without Put's validation.
func (t *SourceTask) record(q *querier, vals []any, r *schema.Record) error {
	values := make([]any, len(q.convs))
	for i := range q.convs {
		v, err := q.convs[i].value(vals[i])
		if err != nil {
			return err
		}
		values[i] = v
	}
	st, err := schema.StructFromValues(q.value, values)
	if err != nil {
		return err
	}
	var key any
	if q.key != nil {
		kv := make([]any, len(q.keyIdx))
		for j, i := range q.keyIdx {
			kv[j] = values[i]
		}
		ks, err := schema.StructFromValues(q.key, kv)
		if err != nil {
			return err
		}
		key = ks
	}
	*r = schema.Record{Topic: q.topic, QueueID: -1, KeySchema: q.key, Key: key, ValueSchema: q.value, Value: st,
		SourcePartition: q.partition}
	off := make(map[string]any, 2)
	if q.incIdx >= 0 && vals[q.incIdx] != nil {
		n, err := toInt64(vals[q.incIdx])
		if err != nil {
			return fmt.Errorf("%s: %w", KeyIncrementingCol, err)
		}
		off[OffsetIncrementing] = n
	}
	for _, i := range q.tsIdx {
		if vals[i] == nil {
			continue
		}
		ts, err := toTime(vals[i])
		if err != nil {
			return fmt.Errorf("%s: %w", KeyTimestampCols, err)
		}
		off[OffsetTimestamp] = ts.UTC().Format(time.RFC3339Nano)
		r.Timestamp = ts.UTC()
		break
	}
	if len(off) == 0 { // bulk: a marker, so every record has a position
		off["bulk"] = true
	}
	r.SourceOffset = off
	return nil
}

// Commit does nothing: a table's position lives in the engine's store.
func (t *SourceTask) Commit(context.Context) error { return nil }

// Stop ends a waiting Poll and closes the connection. Idempotent; safe without Start.
func (t *SourceTask) Stop(context.Context) error {
	t.stopOnce.Do(func() { close(t.stopped) })
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, q := range t.queriers {
		if q.bulk != nil {
			_ = q.bulk.Close()
			q.bulk = nil
		}
	}
	if t.db == nil {
		return nil
	}
	err := t.db.Close()
	t.db = nil
	return err
}
