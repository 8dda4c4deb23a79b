package jdbc

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// scan runs the query stmt and reads up to limit rows (0: all) of its result, converted by rc if the
// columns are rc's (rc may be nil). It touches no mutable state of q, so it may run in the background.
func (t *SourceTask) scan(ctx context.Context, q *querier, limit int, rc *rowConv, stmt string, args ...any) *page {
	if t.d.kind == postgresDialect {
		return t.pgScan(ctx, q, limit, rc, stmt, args)
	}
	if len(args) > 0 {
		return t.mysqlScan(ctx, q, limit, rc, stmt, args)
	}
	rows, err := t.db.QueryContext(ctx, stmt)
	if err != nil {
		return &page{err: t.queryErr(q, err)}
	}
	defer rows.Close()
	return t.scanRows(q, rows, limit, rc)
}

// maxSourceConns is how many connections a task opens at most: one for Poll's own queries, one for the
// read-ahead; in bulk mode, one for the open read of a table and one for Poll's other queries.
const maxSourceConns = 2

// openConns has db's pool hold n open connections, idle.
func openConns(ctx context.Context, db *sql.DB, n int) error {
	conns := make([]*sql.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			_ = c.Close() // back to the pool
		}
	}()
	for range n {
		c, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		conns = append(conns, c)
	}
	return nil
}

// stalePlan reports whether err is PostgreSQL refusing to run a statement a connection prepared before the
// table's columns changed ("cached plan must not change result type"). pgx drops the statement with the
// error, so the query succeeds when run again on that connection.
func stalePlan(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "0A000" && strings.Contains(pe.Message, "cached plan")
}

// scanRows reads up to limit rows (0: all) of rows, leaving it open. When rc is not nil and the columns
// are rc's, each row is converted as it is scanned: its columns' Scan destinations turn the driver's
// values straight into Connect values (a read-ahead page then arrives converted), the position columns
// after the row's position is read from their driver values.
func (t *SourceTask) scanRows(q *querier, rows *sql.Rows, limit int, rc *rowConv) *page {
	cts, err := rows.ColumnTypes()
	if err != nil {
		return &page{err: t.queryErr(q, err)}
	}
	cols := metaOf(cts)
	pg := newPage(cols, limit, rc)
	ptrs := make([]any, len(cols))
	var dests []convDest
	var a arena
	if pg.rc != nil {
		dests = make([]convDest, len(cols))
		for i := range dests {
			dests[i] = convDest{c: &rc.convs[i], a: &a}
			ptrs[i] = &dests[i]
		}
		for _, i := range rc.posIdx {
			dests[i].raw = true
		}
	}
	var texts []*textDest // per column; MySQL text columns are scanned through one
	if dests == nil && t.d.kind == mysqlDialect {
		texts = make([]*textDest, len(cols))
		for i, ct := range cols {
			if mysqlText(ct.dbType) {
				texts[i] = &textDest{}
			}
		}
	}
	for (limit == 0 || pg.len() < limit) && rows.Next() {
		row := pg.addRow()
		if dests != nil {
			for i := range dests {
				dests[i].out = &row[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				for i := range dests {
					if dests[i].err != nil {
						return &page{err: fmt.Errorf("jdbc-source: %s: %w", q.name(), dests[i].err)}
					}
				}
				return &page{err: t.queryErr(q, err)}
			}
			var p tablePos
			if err := rc.convertPos(row, &p, &a); err != nil {
				return &page{err: fmt.Errorf("jdbc-source: %s: %w", q.name(), err)}
			}
			pg.pos = append(pg.pos, p)
			continue
		}
		for i := range ptrs {
			if texts != nil && texts[i] != nil {
				texts[i].v = &row[i]
				ptrs[i] = texts[i]
				continue
			}
			ptrs[i] = &row[i]
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

// convDest is the Scan destination of a column of a page converted as it is scanned: it stores the
// column's Connect value in the page, or, for a position column (raw), the driver's value, which
// convertPos converts before the next row is read.
type convDest struct {
	c   *colConv
	a   *arena
	out *any
	raw bool
	err error // the conversion's failure, told apart from the driver's
}

func (d *convDest) Scan(src any) error {
	if d.raw {
		*d.out = src
		return nil
	}
	v, err := d.c.scanned(src, d.a)
	if err != nil {
		d.err = err
		return err
	}
	*d.out = v
	return nil
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

// onConn runs scan with the driver's connection of one pool connection, which it holds meanwhile, and
// returns scan's page, or scan's error (or the pool's) as the page's.
func (t *SourceTask) onConn(ctx context.Context, q *querier, scan func(dc any) (*page, error)) *page {
	conn, err := t.db.Conn(ctx)
	if err != nil {
		return &page{err: t.queryErr(q, err)}
	}
	defer conn.Close()
	var pg *page
	err = conn.Raw(func(dc any) (err error) {
		pg, err = scan(dc)
		return err
	})
	if err != nil {
		return &page{err: t.queryErr(q, err)}
	}
	return pg
}
