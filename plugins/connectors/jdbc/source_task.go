package jdbc

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
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
//
// In the incrementing modes a full page means more rows may follow, so as soon as a page is scanned the
// next one is read ahead in the background from the page's last row, and so on while pages come back
// full, one page queued at most: the database's and the driver's time then overlaps the conversion and
// the engine's sending instead of adding to it, and pages are read back to back as a plain paged SELECT
// would. A read-ahead page is used only if the table's position is still the one it was read from;
// otherwise it and the rest of its chain are dropped.
//
// Stop cancels every query of the task, Poll's own included, and every wait for a connection, so it never
// waits for the database: Poll holds mu while it queries, and Stop needs mu to close the pool.
type SourceTask struct {
	stopped  chan struct{}
	stopOnce sync.Once

	stopCtx    context.Context // cancelled by Stop: the context of the task's queries, Poll's and the read-ahead's
	cancelStop context.CancelFunc
	aheads     sync.WaitGroup

	stmts stmtCache // MySQL's prepared queries

	mu       sync.Mutex // serialises Poll and Stop's close
	log      *slog.Logger
	sc       *sourceConfig
	d        dialect
	db       *sql.DB
	queriers []*querier
	next     int
}

// NewSourceTask returns an unstarted jdbc-source task.
func NewSourceTask() *SourceTask {
	ctx, cancel := context.WithCancel(context.Background())
	return &SourceTask{stopped: make(chan struct{}), stopCtx: ctx, cancelStop: cancel}
}

var _ plugins.SourceTask = (*SourceTask)(nil)

// querier reads one table or the query and keeps its position.
type querier struct {
	partition map[string]any
	table     tableID // zero for a query
	topic     string
	due       time.Time
	pos       tablePos
	posKey    []any // timestamp mode: the key of the last delivered row within its timestamp (see keyedPos)

	nullWarned bool // the warning that rows with a NULL position column are never read was logged

	ahead *aheadChain // the pages being read ahead; nil when none are

	bulk *bulkRead // an open bulk read, continued by the next polls

	rc     *rowConv // nil until the first result is prepared
	value  *schema.Schema
	key    *schema.Schema
	keyIdx []int // the key's columns in the row
	keyRun int   // the first of them when they are consecutive (see keyStructs), -1 otherwise
}

// rowConv converts the rows of one column signature. prepare replaces it whole when the columns change,
// so a read-ahead goroutine may keep converting with the one it started with. It also holds what the
// incremental queries take from the columns: the timestamp columns' precision and the tie-breaking key.
type rowConv struct {
	sig    string // column signature the converters were built for
	convs  []colConv
	pc     posCols
	posIdx []int // the position columns, each once

	tsUnit time.Duration // the coarsest timestamp column's precision (see tsUnitOf); 0 outside the timestamp modes
	tieKey []int         // timestamp mode: the primary-key columns that order a timestamp's rows; nil when none may
}

// posCols locates a row's position in its scanned values: the incrementing column (-1: none) and the
// timestamp columns.
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
		// A timestamp-mode position has no incrementing value (position.SignedInt64 refuses a missing one);
		// ids may be negative.
		if _, has := off[OffsetIncrementing]; has {
			n, _, err := position.SignedInt64(off, OffsetIncrementing)
			if err != nil {
				return fmt.Errorf("jdbc-source: position of %v: %w", q.partition, err)
			}
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
		if q.posKey, err = parsePosKey(off); err != nil {
			return fmt.Errorf("jdbc-source: position of %v: %w", q.partition, err)
		}
	}
	db, err := sc.target.connect(ctx, maxSourceConns)
	if err != nil {
		return err
	}
	if sc.mode != ModeBulk {
		// The read-ahead's connection is opened now rather than by the first read-ahead, which would
		// otherwise wait for it while a full table is being read.
		if err := openConns(ctx, db, maxSourceConns); err != nil {
			_ = db.Close()
			return sc.target.wrap("connect", err)
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	select {
	case <-t.stopped:
		_ = db.Close()
		return fmt.Errorf("jdbc-source: start: %w", ErrStopped)
	default:
	}
	t.sc, t.d, t.db, t.queriers, t.log = sc, dialect{sc.target.dialect}, db, qs, tctx.Logger()
	return nil
}

// Poll returns the rows of the next due table; when none is due it waits (at most a second) for one. A
// Poll that Stop ends returns nothing and no error.
func (t *SourceTask) Poll(ctx context.Context) ([]*schema.Record, error) {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(t.stopCtx, cancel)()
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
		i := t.next
		q := t.queriers[i]
		t.next = (i + 1) % len(t.queriers)
		if q.due.After(now) {
			earliest = minTime(earliest, q.due)
			continue
		}
		recs, more, err := t.read(ctx, q)
		if q.bulk != nil {
			// Its open read holds a connection: it is read to its end before any other table is read,
			// so that a connection stays free for the catalog reads and no read waits for another.
			t.next = i
		}
		if err != nil {
			t.mu.Unlock()
			switch {
			case parent.Err() != nil:
				return nil, parent.Err() // cancelled, not a database failure
			case t.isStopped():
				return nil, nil
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
	if q.rc == nil && t.hasTS() {
		// The query's bound and, in timestamp mode, its order depend on the columns: learn them first.
		pg := t.scan(ctx, q, 0, nil, "SELECT * FROM "+t.from(q)+" WHERE 1 = 0")
		if pg.err != nil {
			return nil, false, pg.err
		}
		if err := t.prepare(ctx, q, pg.cols); err != nil {
			return nil, false, err
		}
	}
	pg := t.takeAhead(ctx, q)
	for try := 1; ; try++ {
		if pg == nil {
			if pg = t.fetch(ctx, q, q.pos, q.posKey, q.rc); pg.err != nil {
				return nil, false, pg.err
			}
		}
		if err := t.prepare(ctx, q, pg.cols); err != nil {
			return nil, false, err
		}
		// A page converted by converters prepare has replaced since (the columns changed and changed back
		// while it was read ahead), or, in the timestamp modes, queried with another column's precision
		// or key than the current columns', is read again.
		if (pg.rc == nil || pg.rc == q.rc) && (!t.hasTS() || pg.by == q.rc) {
			break
		}
		t.dropAhead(q)
		if try == 3 {
			return nil, false, fmt.Errorf("jdbc-source: %s: the columns changed at each of %d reads", q.name(), try)
		}
		pg = nil
	}
	full := pg.len() >= t.sc.batchMaxRows
	if !full {
		t.dropAhead(q) // the chain ended with this page
	} else if q.ahead == nil && t.sc.mode != ModeTimestamp {
		// ModeTimestamp may cut the page at a timestamp tie (below), and its position holds a key, so
		// its next position is known only after conversion: it is not read ahead.
		next, err := pg.lastPos(q.pos, q.rc.pc)
		if err != nil {
			return nil, false, fmt.Errorf("jdbc-source: %s: %w", q.name(), err)
		}
		t.readAhead(q, next)
	}
	recs, err = t.convertPage(q, pg)
	if err != nil {
		return nil, false, err
	}
	if t.sc.mode == ModeTimestamp && full && q.rc.tieKey == nil {
		recs, err = t.completeTimestampTies(ctx, q, recs)
		if err != nil {
			return nil, false, err
		}
	}
	if len(recs) > 0 {
		q.advance(recs[len(recs)-1])
	}
	// A full page means more rows may follow even when its last timestamp's rows were cut off.
	return recs, full, nil
}

// hasTS reports whether the mode reads by a timestamp.
func (t *SourceTask) hasTS() bool {
	return t.sc.mode == ModeTimestamp || t.sc.mode == ModeTimestampIncrementing
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

// recPos is the position of a record convertPage built.
func recPos(r *schema.Record) *tablePos {
	if kp, ok := r.LazyOffset.(*keyedPos); ok {
		return &kp.tablePos
	}
	return r.LazyOffset.(*tablePos)
}

func recTS(r *schema.Record) time.Time { return recPos(r).ts() }

// advance moves q's position to r's.
func (q *querier) advance(r *schema.Record) {
	q.pos.merge(recPos(r))
	q.posKey = nil // without a key, a timestamp position means every row of the timestamp is delivered
	if kp, ok := r.LazyOffset.(*keyedPos); ok {
		q.posKey = kp.key
	}
}

// merge sets the parts of p that the row position r has.
func (p *tablePos) merge(r *tablePos) {
	if r.hasInc {
		p.hasInc, p.inc = true, r.inc
	}
	if r.hasTS {
		p.hasTS, p.tsSec, p.tsNsec = true, r.tsSec, r.tsNsec
	}
}

// lastPos returns the position a table at pos has once pg's last row is delivered: the position advance
// gives the row's record. pc locates the position in the row when pg is not converted yet.
func (pg *page) lastPos(pos tablePos, pc posCols) (tablePos, error) {
	n := pg.len()
	if pg.rc != nil {
		pos.merge(&pg.pos[n-1])
		return pos, nil
	}
	err := pc.rowPos(pg.row(n-1), &pos)
	return pos, err
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

// page is a query's result: the columns and the rows' values, row-major. Its values are either the
// scanned driver values or, when rc is set, the Connect values rc converted them to, with each row's
// position in pos.
type page struct {
	cols []colMeta
	vals []any
	rc   *rowConv
	by   *rowConv // the converters whose timestamp precision and tie key the query was built with
	pos  []tablePos
	err  error    // a query, scan or conversion failure, already wrapped
	from tablePos // the position it was read after (read-ahead pages)
}

// maxPagePrealloc is the most rows a new page has room for before it grows: a query of a large
// batch.max.rows that returns a few rows, the common case once a table is caught up, allocates for those.
const maxPagePrealloc = 1024

// newPage returns an empty page of columns cols for up to limit rows (0: no limit), converted as it is
// scanned when rc is not nil and the columns are rc's.
func newPage(cols []colMeta, limit int, rc *rowConv) *page {
	pg := &page{cols: cols}
	room := min(limit, maxPagePrealloc)
	if room > 0 {
		pg.vals = make([]any, 0, room*len(cols))
	}
	if rc != nil && colSig(cols) == rc.sig {
		pg.rc, pg.pos = rc, make([]tablePos, 0, room)
	}
	return pg
}

// addRow appends a row of nil values and returns it.
func (pg *page) addRow() []any {
	n, at := len(pg.cols), len(pg.vals)
	if at+n <= cap(pg.vals) {
		pg.vals = pg.vals[:at+n] // still nil from make: no clearing
	} else {
		pg.vals = append(pg.vals, make([]any, n)...)
	}
	return pg.vals[at : at+n : at+n]
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

// fetch reads up to batch.max.rows rows of q after pos (and, in timestamp mode, key), converted by rc if
// the columns are rc's; the query takes the timestamp columns' precision and the tie key from rc.
func (t *SourceTask) fetch(ctx context.Context, q *querier, pos tablePos, key []any, rc *rowConv) *page {
	stmt, args, err := t.incrementalQuery(ctx, q, pos, key, rc)
	if err != nil {
		return &page{err: err}
	}
	pg := t.scan(ctx, q, t.sc.batchMaxRows, rc, stmt, args...)
	pg.by = rc
	return pg
}

// readAhead starts reading q's pages after pos in the background: the page after pos, then, while the
// pages are full and have the columns q was prepared for, the page after each one's last row. The pages
// are converted as they are scanned, by the converters q has now. One page waits in the channel at most.
// It only reads q's immutable fields and its current rowConv, which prepare replaces rather than changes.
func (t *SourceTask) readAhead(q *querier, pos tablePos) {
	if t.isStopped() {
		return
	}
	ctx, cancel := context.WithCancel(t.stopCtx)
	ch := make(chan *page, 1)
	q.ahead = &aheadChain{pages: ch, cancel: cancel}
	rc := q.rc
	t.aheads.Go(func() {
		defer close(ch)
		for {
			pg := t.fetch(ctx, q, pos, nil, rc)
			pg.from = pos
			// Only pages of rc's columns, which come converted, continue the chain.
			more := rc != nil && pg.err == nil && pg.len() >= t.sc.batchMaxRows && pg.rc == rc
			if more {
				pos, _ = pg.lastPos(pos, rc.pc)
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

// convertPage turns the rows of pg, which prepare has seen, into records. The page's records, their
// positions, and their value and key structs are each one allocation; values not converted yet are
// converted in place, so pg is used up.
func (t *SourceTask) convertPage(q *querier, pg *page) ([]*schema.Record, error) {
	n := pg.len()
	if n == 0 {
		return nil, nil
	}
	recs, slab := make([]*schema.Record, n), make([]schema.Record, n)
	pos := pg.pos
	values := pg.vals
	nc := len(pg.cols)
	if pg.rc == nil {
		pos = make([]tablePos, n)
		var a arena
		for i := range n {
			if err := q.rc.convertRow(values[i*nc:(i+1)*nc:(i+1)*nc], &pos[i], &a); err != nil {
				return nil, fmt.Errorf("jdbc-source: %s: %w", q.name(), err)
			}
		}
	}
	structs, err := schema.StructsFromValues(q.value, values)
	if err != nil {
		return nil, fmt.Errorf("jdbc-source: %s: %w", q.name(), err)
	}
	var keys []schema.Struct
	if q.key != nil {
		if keys, err = q.keyStructs(values, nc); err != nil {
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
	if q.rc.tieKey != nil {
		keyPositions(recs, pos, values, nc, q.rc.tieKey)
	}
	return recs, nil
}

// keyStructs returns the key structs of the rows values holds (nc values each). When the key's columns
// are consecutive columns of the row in the key's order (a single-column key always is), each key holds
// a window of its row's values rather than copies of them: nothing changes a record's structs in place
// (transforms make new ones), so the two never differ.
func (q *querier) keyStructs(values []any, nc int) ([]schema.Struct, error) {
	n, nk := len(values)/nc, len(q.keyIdx)
	if q.keyRun < 0 {
		kv := make([]any, n*nk)
		for i := range n {
			for j, c := range q.keyIdx {
				kv[i*nk+j] = values[i*nc+c]
			}
		}
		return schema.StructsFromValues(q.key, kv)
	}
	keys := make([]schema.Struct, n)
	for i := range keys {
		at := i*nc + q.keyRun
		if _, err := schema.StructAt(&keys[i], q.key, values[at:at+nk:at+nk]); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// convertRow converts one scanned row in place, each value to its column's Connect value, and sets p to the
// row's position. Each converter yields exactly the Go type of its field's schema (and a NOT NULL column
// never yields nil), so the row's struct is built without Put's validation.
func (rc *rowConv) convertRow(vals []any, p *tablePos, a *arena) error {
	if err := rc.pc.rowPos(vals, p); err != nil { // from the scanned values, before they are replaced
		return err
	}
	for i := range rc.convs {
		v, err := rc.convs[i].value(vals[i], a)
		if err != nil {
			return err
		}
		vals[i] = v
	}
	return nil
}

// convertPos finishes a row scanned through convDests: it sets p to the row's position, then converts
// the position columns, which hold the driver's values still.
func (rc *rowConv) convertPos(vals []any, p *tablePos, a *arena) error {
	if err := rc.pc.rowPos(vals, p); err != nil {
		return err
	}
	for _, i := range rc.posIdx {
		v, err := rc.convs[i].scanned(vals[i], a)
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
	t.cancelStop() // ends a Poll's query or wait for a connection, so mu is soon free
	t.mu.Lock()    // no Poll runs now, so no read-ahead starts
	defer t.mu.Unlock()
	t.aheads.Wait() // before the connections close under them
	for _, q := range t.queriers {
		q.closeBulk()
	}
	t.stmts.close()
	if t.db == nil {
		return nil
	}
	err := t.db.Close()
	t.db = nil
	return err
}
