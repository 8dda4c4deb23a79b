package jdbc

import (
	"context"
	"database/sql"

	"github.com/rmqconnect/rmqconnect/schema"
)

// bulkRead is an open bulk read of a table, continued by the next polls: the rows, the pool connection
// they hold until the read ends, and the table's catalog, read before the rows were opened.
type bulkRead struct {
	ctx    context.Context // the read's: a child of the task's, so Stop ends it
	cancel context.CancelFunc
	meta   *tableMeta
	conn   *sql.Conn
	rows   *sql.Rows
}

// readBulk continues (or starts) reading the whole table; the position is the time the read started.
//
// An open read holds one of the task's two connections, so no query may need two more while it is open:
// the catalog is read before the rows are opened, and Poll reads the table to its end before any other.
// The read outlives the Poll that opens it, so it ends with the task; while a Poll reads it, that Poll's
// context ends it too, so a cancelled Poll does not wait for the database.
func (t *SourceTask) readBulk(ctx context.Context, q *querier) ([]*schema.Record, bool, error) {
	if q.bulk == nil {
		meta, err := t.readMeta(ctx, q)
		if err != nil {
			return nil, false, err
		}
		rctx, cancel := context.WithCancel(t.stopCtx)
		q.bulk = &bulkRead{ctx: rctx, cancel: cancel, meta: meta}
	}
	detach := context.AfterFunc(ctx, q.bulk.cancel)
	recs, err := t.readBulkPage(q, q.bulk)
	if !detach() { // the Poll's context ended the read, perhaps in the middle of the page
		q.closeBulk()
		return nil, false, ctx.Err()
	}
	if err != nil || len(recs) < t.sc.batchMaxRows {
		q.closeBulk()
	}
	return recs, err == nil && len(recs) == t.sc.batchMaxRows, err
}

// readBulkPage reads the next batch.max.rows rows of b, opening it first if needed.
func (t *SourceTask) readBulkPage(q *querier, b *bulkRead) ([]*schema.Record, error) {
	if b.rows == nil {
		conn, err := t.db.Conn(b.ctx)
		if err != nil {
			return nil, t.queryErr(q, err)
		}
		b.conn = conn
		if b.rows, err = conn.QueryContext(b.ctx, "SELECT * FROM "+t.from(q)); err != nil {
			return nil, t.queryErr(q, err)
		}
	}
	pg := t.scanRows(q, b.rows, t.sc.batchMaxRows, q.rc)
	if pg.err != nil {
		return nil, pg.err
	}
	if err := t.prepareWith(q, pg.cols, b.meta); err != nil {
		return nil, err
	}
	return t.convertPage(q, pg)
}

// closeBulk ends q's open bulk read, if any, and gives its connection back to the pool.
func (q *querier) closeBulk() {
	b := q.bulk
	if b == nil {
		return
	}
	if b.rows != nil {
		_ = b.rows.Close()
	}
	if b.conn != nil {
		_ = b.conn.Close()
	}
	b.cancel()
	q.bulk = nil
}
