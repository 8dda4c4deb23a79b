package jdbc

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/internal/position"
	"github.com/rmqconnect/rmqconnect/schema"
)

// OffsetKey is the offset key of a timestamp-mode position's tie key: the primary key of the last delivered
// row, one value per key column (an integer, or a string), present when the table has such a key.
const OffsetKey = "key"

// maxTieRows bounds the rows of one timestamp that timestamp mode reads in one poll when no key orders
// them (see completeTimestampTies).
const maxTieRows = 100_000

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

// incrementalQuery builds the SELECT of the incrementing and timestamp modes, past q's position pos
// (and, in timestamp mode, the tie key key), with the timestamp precision and tie key of rc.
//
// In timestamp mode a table whose primary key can order the rows of one timestamp (rc.tieKey) is read
// in (timestamp, key) order from past (pos, key), so a page ends anywhere, even inside a timestamp, and
// the position says which rows of it are delivered. Without such a key, the rows are read in timestamp
// order from past pos, and completeTimestampTies makes a page end on a whole timestamp.
func (t *SourceTask) incrementalQuery(ctx context.Context, q *querier, pos tablePos, key []any, rc *rowConv) (string, []any, error) {
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return t.d.placeholder(len(args)) }
	var order []string
	inc := t.d.quote(t.sc.incCol)
	if t.hasTS() {
		now, err := t.d.now(ctx, t.db)
		if err != nil {
			return "", nil, t.queryErr(q, err)
		}
		ts := t.tsExpr()
		where = append(where, ts+" < "+arg(t.tsBound(now, rc)))
		var tieKey []int
		if rc != nil {
			tieKey = rc.tieKey
		}
		switch {
		case !pos.hasTS:
			if t.sc.mode == ModeTimestampIncrementing && pos.hasInc {
				where = append(where, inc+" > "+arg(pos.inc))
			}
		case t.sc.mode == ModeTimestampIncrementing && pos.hasInc:
			where = append(where, "("+ts+" > "+arg(pos.ts())+" OR ("+ts+" = "+arg(pos.ts())+" AND "+inc+" > "+arg(pos.inc)+"))")
		case t.sc.mode == ModeTimestamp && key != nil && len(key) == len(tieKey):
			// Arguments in the order of their placeholders: MySQL's are positional.
			cond := "(" + ts + " > " + arg(pos.ts()) + " OR (" + ts + " = " + arg(pos.ts()) + " AND "
			cols, vals := make([]string, len(key)), make([]string, len(key))
			for i, c := range tieKey {
				cols[i], vals[i] = t.d.quote(rc.convs[c].name), arg(key[i])
			}
			if len(cols) == 1 {
				cond += cols[0] + " > " + vals[0] + "))"
			} else {
				cond += "(" + strings.Join(cols, ", ") + ") > (" + strings.Join(vals, ", ") + ")))"
			}
			where = append(where, cond)
		case t.sc.mode == ModeTimestamp && key != nil:
			// The position's key no longer orders the table's rows (its primary key changed): the rows of
			// the position's timestamp are read again rather than those not delivered yet lost.
			where = append(where, ts+" >= "+arg(pos.ts()))
		default:
			where = append(where, ts+" > "+arg(pos.ts()))
		}
		order = append(order, ts)
		for _, c := range tieKey {
			order = append(order, t.d.quote(rc.convs[c].name))
		}
	}
	if t.sc.mode == ModeIncrementing || t.sc.mode == ModeTimestampIncrementing {
		switch {
		case t.sc.mode == ModeIncrementing && pos.hasInc:
			where = append(where, inc+" > "+arg(pos.inc))
		case t.sc.mode == ModeIncrementing:
			// A row without an id has no place in id order: it would never move the position, and a page
			// ending with one was read again for ever. (In timestamp+incrementing mode the timestamp orders
			// it, and it is read; a NULL timestamp fails the bound above.)
			where = append(where, inc+" IS NOT NULL")
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

// tsBound is the (exclusive) upper bound of the timestamps a query reads: the database's clock minus
// timestamp.delay.interval.ms, truncated to the timestamp columns' precision (rc.tsUnit). A column of
// whole seconds stores every row written during the current second with that second's start: were any
// of them read before the second ended, those written after the read would be skipped, as the next query
// starts past their timestamp.
func (t *SourceTask) tsBound(now time.Time, rc *rowConv) time.Time {
	b := now.Add(-t.sc.tsDelay)
	if rc != nil && rc.tsUnit > 0 {
		b = b.Truncate(rc.tsUnit) // whole units since year 1 UTC: a day's start is midnight UTC, as the sessions' clock
	}
	return b
}

// tsUnitOf is the precision of a timestamp column: a day for a date, 10^-s seconds for a timestamp of s
// fractional digits, and a second when the driver does not tell (the coarsest a timestamp usually has).
func tsUnitOf(ct colMeta, kind colKind) time.Duration {
	switch {
	case kind == kDate:
		return 24 * time.Hour
	case kind == kTimestamp && ct.hasScale && ct.scale >= 0 && ct.scale <= 9:
		return time.Duration(pow10[9-ct.scale])
	}
	return time.Second
}

// canBreakTies reports whether the primary-key columns idx can order the rows of one timestamp, which
// needs the position to hold their values and the database to compare a value bound back with the
// column as it sorts the column: integers, and strings — any PostgreSQL type read as its text (which reads
// back as the same value), MySQL's CHAR and VARCHAR (its ENUM sorts by the member's index, not its text).
func (t *SourceTask) canBreakTies(cts []colMeta, convs []colConv, idx []int) bool {
	for _, i := range idx {
		switch convs[i].kind {
		case kInt8, kInt16, kInt32, kInt64:
		case kString:
			if t.d.kind == mysqlDialect && !slices.Contains([]string{"CHAR", "VARCHAR"}, strings.ToUpper(cts[i].dbType)) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// completeTimestampTies makes a full timestamp-mode page of a table without a tie key end on a whole
// timestamp, as the position, a timestamp, cannot tell which rows of one timestamp are delivered: rows
// sharing the last row's timestamp are cut (the next poll reads them), or, when every row shares it, all
// rows of that timestamp are read at once. That read is bounded by max(batch.max.rows, maxTieRows): a
// larger tie (an UPDATE of millions of rows at one timestamp) fails the poll rather than filling the memory.
func (t *SourceTask) completeTimestampTies(ctx context.Context, q *querier, recs []*schema.Record) ([]*schema.Record, error) {
	last := recTS(recs[len(recs)-1])
	i := len(recs)
	for i > 0 && recTS(recs[i-1]).Equal(last) {
		i--
	}
	if i > 0 {
		return recs[:i], nil
	}
	limit := max(t.sc.batchMaxRows, maxTieRows)
	pg := t.scan(ctx, q, 0, q.rc, "SELECT * FROM "+t.from(q)+" WHERE "+t.tsExpr()+" = "+t.d.placeholder(1)+
		t.d.limit(limit+1), last)
	if pg.err != nil {
		return nil, pg.err
	}
	if pg.len() > limit {
		return nil, fmt.Errorf("jdbc-source: %s: more than %d rows share the timestamp %s, and timestamp mode reads "+
			"the rows of one timestamp in one poll unless a primary key of integer or string columns orders them: "+
			"give the table such a key, or use %s=%s", q.name(), limit, last.Format(time.RFC3339Nano), KeyMode,
			ModeTimestampIncrementing)
	}
	if err := t.prepare(ctx, q, pg.cols); err != nil {
		return nil, err
	}
	return t.convertPage(q, pg)
}

// keyedPos is the position of a timestamp-mode record of a table with a tie key: its row's timestamp and
// key. A restart, like the next page, resumes right after the row, even inside a timestamp.
type keyedPos struct {
	tablePos
	key []any // per key column: int64 or string
}

// Offset is the timestamp position with the key under OffsetKey.
func (p *keyedPos) Offset() map[string]any {
	off := p.tablePos.Offset()
	off[OffsetKey] = p.key
	return off
}

// keyPositions gives the records of a page, whose converted values (nc a row) are values and whose
// positions are pos, positions with their rows' tie key (columns tieKey).
func keyPositions(recs []*schema.Record, pos []tablePos, values []any, nc int, tieKey []int) {
	nk := len(tieKey)
	kp, keys := make([]keyedPos, len(recs)), make([]any, len(recs)*nk)
	for i, r := range recs {
		k := keys[i*nk : (i+1)*nk : (i+1)*nk]
		for j, c := range tieKey {
			switch v := values[i*nc+c].(type) {
			case int8:
				k[j] = int64(v)
			case int16:
				k[j] = int64(v)
			case int32:
				k[j] = int64(v)
			default: // int64 or string (canBreakTies)
				k[j] = v
			}
		}
		kp[i] = keyedPos{tablePos: pos[i], key: k}
		r.LazyOffset = &kp[i]
	}
}

// parsePosKey reads a stored position's tie key: nil when it has none.
func parsePosKey(off map[string]any) ([]any, error) {
	raw, ok := off[OffsetKey]
	if !ok || raw == nil {
		return nil, nil
	}
	l, ok := raw.([]any)
	if !ok || len(l) == 0 {
		return nil, fmt.Errorf("%w: %s=%v: not a list of key values", position.ErrBadPosition, OffsetKey, raw)
	}
	key := make([]any, len(l))
	for i, v := range l {
		switch x := v.(type) {
		case string, int64:
			key[i] = x
		case int:
			key[i] = int64(x)
		case json.Number:
			n, err := x.Int64()
			if err != nil {
				return nil, fmt.Errorf("%w: %s=%v: %q is not an integer", position.ErrBadPosition, OffsetKey, raw, x)
			}
			key[i] = n
		case float64: // a store that decodes JSON numbers as floats
			if x != math.Trunc(x) || x >= math.MaxInt64 || x < math.MinInt64 {
				return nil, fmt.Errorf("%w: %s=%v: %v is not an integer", position.ErrBadPosition, OffsetKey, raw, x)
			}
			key[i] = int64(x)
		default:
			return nil, fmt.Errorf("%w: %s=%v: %v (%T) is neither an integer nor a string", position.ErrBadPosition,
				OffsetKey, raw, v, v)
		}
	}
	return key, nil
}
