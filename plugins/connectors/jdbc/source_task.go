package jdbc

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

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
//
// In the incrementing modes a full page means more rows may follow, so as soon as a page is scanned the
// next one is read ahead in the background from the page's last row, and so on while pages come back
// full, one page queued at most: the database's and the driver's time then overlaps the conversion and
// the engine's sending instead of adding to it, and pages are read back to back as a plain paged SELECT
// would. A read-ahead page is used only if the table's position is still the one it was read from;
// otherwise it and the rest of its chain are dropped. Stop cancels the reads.
type SourceTask struct {
	stopped  chan struct{}
	stopOnce sync.Once

	aheadCtx    context.Context // the read-ahead queries' context, cancelled by Stop
	cancelAhead context.CancelFunc
	aheads      sync.WaitGroup

	mu       sync.Mutex // serialises Poll and Stop's close
	sc       *sourceConfig
	d        dialect
	db       *sql.DB
	queriers []*querier
	next     int
}

// NewSourceTask returns an unstarted jdbc-source task.
func NewSourceTask() *SourceTask {
	ctx, cancel := context.WithCancel(context.Background())
	return &SourceTask{stopped: make(chan struct{}), aheadCtx: ctx, cancelAhead: cancel}
}

var _ plugins.SourceTask = (*SourceTask)(nil)

// querier reads one table or the query and keeps its position.
type querier struct {
	partition map[string]any
	table     tableID // zero for a query
	topic     string
	due       time.Time
	pos       tablePos

	ahead *aheadChain // the pages being read ahead; nil when none are

	bulk *sql.Rows // an open bulk read, continued by the next polls

	sig    string // column signature the converters were built for
	convs  []colConv
	value  *schema.Schema
	key    *schema.Schema
	keyIdx []int
	pc     posCols
}

// posCols locates a row's position in its scanned values: the incrementing column (-1: none) and the
// timestamp columns. prepare replaces it whole, so a copy stays valid for a read-ahead goroutine.
type posCols struct {
	incIdx int
	tsIdx  []int
}

// aheadChain is a background reader of consecutive pages.
type aheadChain struct {
	pages  chan *page // closed when the chain ends
	cancel context.CancelFunc
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
			q.pos.hasInc, q.pos.inc = true, n
		}
		if s, ok := off[OffsetTimestamp].(string); ok {
			ts, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return fmt.Errorf("jdbc-source: position of %v: %w: %s=%q", q.partition, position.ErrBadPosition,
					OffsetTimestamp, s)
			}
			q.pos.setTS(ts)
		}
	}
	db, err := sc.target.connect(ctx, maxSourceConns)
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
	pg := t.takeAhead(ctx, q)
	if pg == nil {
		if pg = t.fetch(ctx, q, q.pos); pg.err != nil {
			return nil, false, pg.err
		}
	}
	if err := t.prepare(ctx, q, pg.cols); err != nil {
		return nil, false, err
	}
	if n := pg.len(); n < t.sc.batchMaxRows {
		t.dropAhead(q) // the chain ended with this page
	} else if q.ahead == nil && t.sc.mode != ModeTimestamp {
		// ModeTimestamp may cut the page at a timestamp tie (below), so its next position is known
		// only after conversion: it is not read ahead.
		next, err := q.after(pg.row(n - 1))
		if err != nil {
			return nil, false, fmt.Errorf("jdbc-source: %s: %w", q.name(), err)
		}
		t.readAhead(q, next)
	}
	recs, err = t.convertPage(q, pg)
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
func (t *SourceTask) incrementalQuery(ctx context.Context, q *querier, pos tablePos) (string, []any, error) {
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
		if pos.hasTS {
			if t.sc.mode == ModeTimestampIncrementing && pos.hasInc {
				where = append(where, "("+ts+" > "+arg(pos.ts())+" OR ("+ts+" = "+arg(pos.ts())+" AND "+inc+" > "+arg(pos.inc)+"))")
			} else {
				where = append(where, ts+" > "+arg(pos.ts()))
			}
		} else if t.sc.mode == ModeTimestampIncrementing && pos.hasInc {
			where = append(where, inc+" > "+arg(pos.inc))
		}
		order = append(order, ts)
	}
	if t.sc.mode == ModeIncrementing || t.sc.mode == ModeTimestampIncrementing {
		if t.sc.mode == ModeIncrementing && pos.hasInc {
			where = append(where, inc+" > "+arg(pos.inc))
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
	pg := t.scan(ctx, q, 0, func() (*sql.Rows, error) {
		return t.db.QueryContext(ctx, "SELECT * FROM "+t.from(q)+" WHERE "+t.tsExpr()+" = "+t.d.placeholder(1), last)
	})
	if pg.err != nil {
		return nil, pg.err
	}
	if err := t.prepare(ctx, q, pg.cols); err != nil {
		return nil, err
	}
	return t.convertPage(q, pg)
}

// recPos is the position of a record convertPage built.
func recPos(r *schema.Record) *tablePos { return r.LazyOffset.(*tablePos) }

func recTS(r *schema.Record) time.Time { return recPos(r).ts() }

// advance moves q's position to r's.
func (q *querier) advance(r *schema.Record) {
	p := recPos(r)
	if p.hasInc {
		q.pos.hasInc, q.pos.inc = true, p.inc
	}
	if p.hasTS {
		q.pos.hasTS, q.pos.tsSec, q.pos.tsNsec = true, p.tsSec, p.tsNsec
	}
}

// after returns the position q will have once the row vals (scanned, not converted) is delivered: the
// position advance gives the row's record.
func (q *querier) after(vals []any) (tablePos, error) {
	p := q.pos
	err := q.pc.rowPos(vals, &p)
	return p, err
}

// rowPos sets the parts of p the row vals has: its incrementing value and its timestamp (the first
// non-null timestamp column, in UTC).
func (pc posCols) rowPos(vals []any, p *tablePos) error {
	if pc.incIdx >= 0 && vals[pc.incIdx] != nil {
		n, err := toInt64(vals[pc.incIdx])
		if err != nil {
			return fmt.Errorf("%s: %w", KeyIncrementingCol, err)
		}
		p.hasInc, p.inc = true, n
	}
	for _, i := range pc.tsIdx {
		if vals[i] == nil {
			continue
		}
		ts, err := toTime(vals[i])
		if err != nil {
			return fmt.Errorf("%s: %w", KeyTimestampCols, err)
		}
		p.setTS(ts)
		break
	}
	return nil
}

// tablePos is a table's position: the last delivered row's incrementing value and timestamp. A record's
// position is its LazyOffset, pointing into one slice per page. The timestamp is kept as seconds and
// nanoseconds since 1970 rather than a time.Time: a tablePos then holds no pointer, so the GC never scans
// a page's positions, and it is half the size.
type tablePos struct {
	inc    int64
	tsSec  int64
	tsNsec int32
	hasInc bool
	hasTS  bool
}

// ts is the position's timestamp in UTC, the zero time when it has none.
func (p *tablePos) ts() time.Time {
	if !p.hasTS {
		return time.Time{}
	}
	return time.Unix(p.tsSec, int64(p.tsNsec)).UTC()
}

// setTS sets the position's timestamp.
func (p *tablePos) setTS(t time.Time) {
	p.hasTS, p.tsSec, p.tsNsec = true, t.Unix(), int32(t.Nanosecond())
}

// Offset is the position as stored: {incrementing, timestamp} as far as the row has them, and {bulk: true}
// when it has neither (bulk mode), so every record has a position.
func (p *tablePos) Offset() map[string]any {
	off := make(map[string]any, 2)
	if p.hasInc {
		off[OffsetIncrementing] = p.inc
	}
	if p.hasTS {
		off[OffsetTimestamp] = p.ts().Format(time.RFC3339Nano)
	}
	if len(off) == 0 {
		off["bulk"] = true
	}
	return off
}

func (p tablePos) equal(o tablePos) bool {
	return p.hasInc == o.hasInc && p.inc == o.inc && p.hasTS == o.hasTS && p.tsSec == o.tsSec && p.tsNsec == o.tsNsec
}

// page is a query's result, scanned but not converted: the columns and the rows' values, row-major.
type page struct {
	cols []*sql.ColumnType
	vals []any
	err  error    // a query or scan failure, already wrapped
	from tablePos // the position it was read after (read-ahead pages)
}

func (pg *page) len() int {
	if len(pg.cols) == 0 {
		return 0
	}
	return len(pg.vals) / len(pg.cols)
}

func (pg *page) row(i int) []any {
	n := len(pg.cols)
	return pg.vals[i*n : (i+1)*n : (i+1)*n]
}

// fetch reads up to batch.max.rows rows of q after pos.
func (t *SourceTask) fetch(ctx context.Context, q *querier, pos tablePos) *page {
	return t.scan(ctx, q, t.sc.batchMaxRows, func() (*sql.Rows, error) {
		stmt, args, err := t.incrementalQuery(ctx, q, pos)
		if err != nil {
			return nil, err
		}
		return t.db.QueryContext(ctx, stmt, args...)
	})
}

// scan runs query and reads up to limit rows (0: all) of its result. It touches no mutable state of q, so
// it may run in the background.
func (t *SourceTask) scan(ctx context.Context, q *querier, limit int, query func() (*sql.Rows, error)) *page {
	rows, err := query()
	for range maxSourceConns { // each connection may hold the stale statement once
		if !stalePlan(err) {
			break
		}
		rows, err = query()
	}
	if err != nil {
		return &page{err: t.queryErr(q, err)}
	}
	defer rows.Close()
	return t.scanRows(q, rows, limit)
}

// maxSourceConns is how many connections a task opens at most: one for Poll's own queries, one for the
// read-ahead.
const maxSourceConns = 2

// stalePlan reports whether err is PostgreSQL refusing to run a statement a connection prepared before the
// table's columns changed ("cached plan must not change result type"). pgx drops the statement with the
// error, so the query succeeds when run again on that connection.
func stalePlan(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "0A000" && strings.Contains(pe.Message, "cached plan")
}

// scanRows reads up to limit rows (0: all) of rows, leaving it open.
func (t *SourceTask) scanRows(q *querier, rows *sql.Rows, limit int) *page {
	cols, err := rows.ColumnTypes()
	if err != nil {
		return &page{err: t.queryErr(q, err)}
	}
	pg := &page{cols: cols}
	if limit > 0 {
		pg.vals = make([]any, 0, limit*len(cols))
	}
	ptrs := make([]any, len(cols))
	var texts []*textDest // per column; MySQL text columns are scanned through one
	if t.d.kind == mysqlDialect {
		texts = make([]*textDest, len(cols))
		for i, ct := range cols {
			if mysqlText(ct.DatabaseTypeName()) {
				texts[i] = &textDest{}
			}
		}
	}
	for (limit == 0 || pg.len() < limit) && rows.Next() {
		at := len(pg.vals)
		if at+len(cols) <= cap(pg.vals) {
			pg.vals = pg.vals[:at+len(cols)] // still nil from make: no clearing
		} else {
			pg.vals = append(pg.vals, make([]any, len(cols))...)
		}
		for i := range ptrs {
			if texts != nil && texts[i] != nil {
				texts[i].v = &pg.vals[at+i]
				ptrs[i] = texts[i]
				continue
			}
			ptrs[i] = &pg.vals[at+i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return &page{err: t.queryErr(q, err)}
		}
	}
	if err := rows.Err(); err != nil {
		return &page{err: t.queryErr(q, err)}
	}
	return pg
}

// textDest scans a MySQL text column (the driver's bytes) straight into a string; database/sql, scanning
// into an *any, would first copy the bytes into a new []byte, which the conversion then copies again.
type textDest struct{ v *any }

func (d *textDest) Scan(src any) error {
	if b, ok := src.([]byte); ok {
		*d.v = string(b)
		return nil
	}
	*d.v = src
	return nil
}

// mysqlText reports whether a MySQL column type is read as text: the types whose columns become Connect
// strings, and DECIMAL, which is parsed from its text.
func mysqlText(dbType string) bool {
	switch dbType {
	case "CHAR", "VARCHAR", "TEXT", "TINYTEXT", "MEDIUMTEXT", "LONGTEXT", "ENUM", "SET", "JSON", "DECIMAL":
		return true
	}
	return false
}

// readAhead starts reading q's pages after pos in the background: the page after pos, then, while the
// pages are full and have the columns q was prepared for, the page after each one's last row. One page
// waits in the channel at most. It only reads q's immutable fields and a copy of its posCols.
func (t *SourceTask) readAhead(q *querier, pos tablePos) {
	if t.isStopped() {
		return
	}
	ctx, cancel := context.WithCancel(t.aheadCtx)
	ch := make(chan *page, 1)
	q.ahead = &aheadChain{pages: ch, cancel: cancel}
	pc, sig := q.pc, q.sig
	t.aheads.Go(func() {
		defer close(ch)
		for {
			pg := t.fetch(ctx, q, pos)
			pg.from = pos
			more := pg.err == nil && pg.len() >= t.sc.batchMaxRows && colSig(pg.cols) == sig
			if more { // before the page is handed over: its values are converted in place
				more = pc.rowPos(pg.row(pg.len()-1), &pos) == nil
			}
			select {
			case ch <- pg:
			case <-ctx.Done():
				return
			}
			if !more {
				return
			}
		}
	})
}

// takeAhead returns q's next read-ahead page if it was read from q's current position and succeeded, and
// nil otherwise (the caller then queries itself, which reports a failure properly), dropping the chain.
func (t *SourceTask) takeAhead(ctx context.Context, q *querier) *page {
	a := q.ahead
	if a == nil {
		return nil
	}
	var pg *page
	select {
	case pg = <-a.pages:
	case <-ctx.Done():
	case <-t.stopped:
	}
	if pg == nil || pg.err != nil || !pg.from.equal(q.pos) {
		t.dropAhead(q)
		return nil
	}
	return pg
}

// dropAhead cancels q's read-ahead chain.
func (t *SourceTask) dropAhead(q *querier) {
	if q.ahead != nil {
		q.ahead.cancel()
		q.ahead = nil
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
	pg := t.scanRows(q, q.bulk, t.sc.batchMaxRows)
	var recs []*schema.Record
	err := pg.err
	if err == nil {
		if err = t.prepare(ctx, q, pg.cols); err == nil {
			recs, err = t.convertPage(q, pg)
		}
	}
	if err != nil || len(recs) < t.sc.batchMaxRows {
		_ = q.bulk.Close()
		q.bulk = nil
	}
	return recs, err == nil && len(recs) == t.sc.batchMaxRows, err
}

// convertPage turns the rows of pg, which prepare has seen, into records. The page's records, their
// positions, and their value and key structs are each one allocation; the values are converted in place,
// so pg is used up.
func (t *SourceTask) convertPage(q *querier, pg *page) ([]*schema.Record, error) {
	n := pg.len()
	if n == 0 {
		return nil, nil
	}
	recs, slab := make([]*schema.Record, n), make([]schema.Record, n)
	pos := make([]tablePos, n)
	values := pg.vals
	var a arena
	nc := len(pg.cols)
	for i := range n {
		if err := q.convertRow(values[i*nc:(i+1)*nc:(i+1)*nc], &pos[i], &a); err != nil {
			return nil, fmt.Errorf("jdbc-source: %s: %w", q.name(), err)
		}
	}
	structs, err := schema.StructsFromValues(q.value, values)
	if err != nil {
		return nil, fmt.Errorf("jdbc-source: %s: %w", q.name(), err)
	}
	var keys []schema.Struct
	if q.key != nil {
		nk := len(q.keyIdx)
		kv := make([]any, n*nk)
		for i := range n {
			for j, c := range q.keyIdx {
				kv[i*nk+j] = values[i*nc+c]
			}
		}
		if keys, err = schema.StructsFromValues(q.key, kv); err != nil {
			return nil, fmt.Errorf("jdbc-source: %s: key: %w", q.name(), err)
		}
	}
	for i := range n {
		// Field by field into the zeroed slab: assigning a whole Record would copy (and, while the GC
		// marks, barrier) every one of its pointer words, most of them nil.
		r := &slab[i]
		r.Topic, r.QueueID, r.SourcePartition, r.LazyOffset = q.topic, -1, q.partition, &pos[i]
		r.ValueSchema, r.Value, r.Timestamp = q.value, &structs[i], pos[i].ts()
		if keys != nil {
			r.KeySchema, r.Key = q.key, &keys[i]
		}
		recs[i] = r
	}
	return recs, nil
}

// prepare (re)builds q's converters and schemas when the result's columns differ from the last query's
// (a column was added or changed).
func (t *SourceTask) prepare(ctx context.Context, q *querier, cts []*sql.ColumnType) error {
	sig := colSig(cts)
	if sig == q.sig {
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
	pc := posCols{incIdx: -1}
	if i, ok := byName[t.sc.incCol]; ok && t.sc.incCol != "" {
		pc.incIdx = i
	} else if t.sc.mode == ModeIncrementing || t.sc.mode == ModeTimestampIncrementing {
		return fmt.Errorf("jdbc-source: %s: no column %s (%s)", q.name(), t.sc.incCol, KeyIncrementingCol)
	}
	if t.sc.mode == ModeTimestamp || t.sc.mode == ModeTimestampIncrementing {
		for _, c := range t.sc.tsCols {
			i, ok := byName[c]
			if !ok {
				return fmt.Errorf("jdbc-source: %s: no column %s (%s)", q.name(), c, KeyTimestampCols)
			}
			pc.tsIdx = append(pc.tsIdx, i)
		}
	}
	q.sig, q.pc = sig, pc
	return nil
}

// colSig is the signature of a result's columns: their names and types.
func colSig(cts []*sql.ColumnType) string {
	var sig strings.Builder
	for _, ct := range cts {
		sig.WriteString(ct.Name() + " " + ct.DatabaseTypeName() + ",")
	}
	return sig.String()
}

// convertRow converts one scanned row in place, each value to its column's Connect value, and sets p to the
// row's position. Each converter yields exactly the Go type of its field's schema (and a NOT NULL column
// never yields nil), so the row's struct is built without Put's validation.
func (q *querier) convertRow(vals []any, p *tablePos, a *arena) error {
	if err := q.pc.rowPos(vals, p); err != nil { // from the scanned values, before they are replaced
		return err
	}
	for i := range q.convs {
		v, err := q.convs[i].value(vals[i], a)
		if err != nil {
			return err
		}
		vals[i] = v
	}
	return nil
}

// Commit does nothing: a table's position lives in the engine's store.
func (t *SourceTask) Commit(context.Context) error { return nil }

// Stop ends a waiting Poll and closes the connection. Idempotent; safe without Start.
func (t *SourceTask) Stop(context.Context) error {
	t.stopOnce.Do(func() { close(t.stopped) })
	t.cancelAhead()
	t.mu.Lock() // no Poll runs now, so no read-ahead starts
	defer t.mu.Unlock()
	t.aheads.Wait() // before the connections close under them
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
