package jdbc

import (
	"bytes"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"sync"
)

// mysqlScan is scan for a MySQL query with parameters (an incremental page). It runs the query, prepared
// once per connection, through the driver's own interface (database/sql/driver) on one of the pool's
// connections and hands each row's driver values straight to the columns' conversions: database/sql would
// lock the rows, check and dispatch every value of every row on the way (Rows.Next, Rows.Scan), a tenth
// of the task's CPU. The values are those the driver gives database/sql, so both ways map every column
// alike (TestMySQLDriverPageMatchesDatabaseSQL).
func (t *SourceTask) mysqlScan(ctx context.Context, q *querier, limit int, rc *rowConv, stmt string, args []any) *page {
	return t.onConn(ctx, q, func(dc any) (*page, error) {
		st, err := t.stmts.get(ctx, dc, stmt)
		if err != nil {
			if errors.Is(err, driver.ErrBadConn) {
				t.stmts.forget(dc)
			}
			return nil, err
		}
		named, err := namedArgs(dc, st, args)
		if err != nil {
			return nil, err
		}
		rows, err := st.(driver.StmtQueryContext).QueryContext(ctx, named)
		if err != nil {
			if errors.Is(err, driver.ErrBadConn) {
				t.stmts.forget(dc)
			}
			return nil, err
		}
		pg, err := t.driverRows(q, rows, limit, rc)
		if errors.Is(err, driver.ErrBadConn) {
			t.stmts.forget(dc)
		}
		return pg, err
	})
}

// namedArgs converts a query's arguments to driver values as database/sql does: by the statement's or
// the connection's own checker when it has one, else by the default conversion.
func namedArgs(dc any, st driver.Stmt, args []any) ([]driver.NamedValue, error) {
	checker, _ := st.(driver.NamedValueChecker)
	if checker == nil {
		checker, _ = dc.(driver.NamedValueChecker)
	}
	named := make([]driver.NamedValue, len(args))
	for i, a := range args {
		nv := &named[i]
		nv.Ordinal, nv.Value = i+1, a
		if checker != nil {
			if err := checker.CheckNamedValue(nv); err == nil {
				continue
			} else if !errors.Is(err, driver.ErrSkip) {
				return nil, fmt.Errorf("argument %d: %w", i+1, err)
			}
		}
		v, err := driver.DefaultParameterConverter.ConvertValue(a)
		if err != nil {
			return nil, fmt.Errorf("argument %d: %w", i+1, err)
		}
		nv.Value = v
	}
	return named, nil
}

// driverRows is scanRows over the driver's rows, which it closes. A failure to convert a value is returned
// as the page's error, the query's failure as the error. Values the driver hands over as bytes live in
// its buffer until the next row: a converted column copies them (or parses them) as it converts, a
// position column before the next row is read (convertPos), and an unconverted column is copied as
// database/sql's Scan into an *any copies it (a text column straight into a string, as textDest).
func (t *SourceTask) driverRows(q *querier, rows driver.Rows, limit int, rc *rowConv) (*page, error) {
	defer rows.Close()
	cols := driverMeta(rows)
	pg := newPage(cols, limit, rc)
	var a arena
	var raw []bool // per column: a position column, converted by convertPos
	var text []bool
	if pg.rc != nil {
		raw = make([]bool, len(cols))
		for _, i := range rc.posIdx {
			raw[i] = true
		}
	} else {
		text = make([]bool, len(cols))
		for i, ct := range cols {
			text[i] = mysqlText(ct.dbType)
		}
	}
	vals := make([]driver.Value, len(cols))
	for limit == 0 || pg.len() < limit {
		if err := rows.Next(vals); err != nil {
			if err == io.EOF {
				break
			}
			return nil, err
		}
		row := pg.addRow()
		if raw == nil {
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					if text[i] {
						v = string(b)
					} else {
						v = bytes.Clone(b)
					}
				}
				row[i] = v
			}
			continue
		}
		for i, v := range vals {
			if raw[i] {
				row[i] = v
				continue
			}
			cv, err := rc.convs[i].scanned(v, &a)
			if err != nil {
				return &page{err: fmt.Errorf("jdbc-source: %s: %w", q.name(), err)}, nil
			}
			row[i] = cv
		}
		var p tablePos
		if err := rc.convertPos(row, &p, &a); err != nil {
			return &page{err: fmt.Errorf("jdbc-source: %s: %w", q.name(), err)}, nil
		}
		pg.pos = append(pg.pos, p)
	}
	return pg, nil
}

// driverMeta reads the metadata of the driver's result columns, as database/sql's ColumnTypes does.
func driverMeta(rows driver.Rows) []colMeta {
	names := rows.Columns()
	out := make([]colMeta, len(names))
	for i, name := range names {
		m := &out[i]
		m.name = name
		if r, ok := rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
			m.dbType = r.ColumnTypeDatabaseTypeName(i)
		}
		if r, ok := rows.(driver.RowsColumnTypePrecisionScale); ok {
			m.prec, m.scale, m.hasScale = r.ColumnTypePrecisionScale(i)
		}
		if r, ok := rows.(driver.RowsColumnTypeNullable); ok {
			m.nullable, m.hasNullable = r.ColumnTypeNullable(i)
		}
	}
	return out
}

// stmtCache keeps the MySQL statements a task queries with, prepared on each connection they ran on: the
// driver would otherwise prepare, run and close a statement for every query with parameters, three round
// trips for each page. (pgx caches its prepared statements itself.) A statement reads the table's current
// columns at each run. A connection holds maxStmts statements at most (a task of many tables has a few per
// table), then starts again, so the server's limit of prepared statements is not used up. A connection's
// statements are used only inside database/sql's Conn.Raw on it, so never by two goroutines at once; they
// end with their connection, which the task's pool closes.
type stmtCache struct {
	mu    sync.Mutex
	conns map[any]map[string]driver.Stmt // by the driver's connection
}

// get returns the prepared statement of query on the driver connection dc, preparing it the first time.
// The caller is inside Conn.Raw on dc.
func (c *stmtCache) get(ctx context.Context, dc any, query string) (driver.Stmt, error) {
	c.mu.Lock()
	stmts := c.conns[dc]
	st, ok := stmts[query]
	c.mu.Unlock()
	if ok {
		return st, nil
	}
	pc, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return nil, fmt.Errorf("jdbc-source: the driver's connection %T cannot prepare with a context", dc)
	}
	if len(stmts) >= maxStmts {
		for _, old := range stmts {
			_ = old.Close()
		}
		stmts = nil
	}
	st, err := pc.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if _, ok := st.(driver.StmtQueryContext); !ok {
		_ = st.Close()
		return nil, fmt.Errorf("jdbc-source: the driver's statement %T cannot query with a context", st)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if stmts == nil {
		stmts = map[string]driver.Stmt{}
	}
	stmts[query] = st
	if c.conns == nil {
		c.conns = map[any]map[string]driver.Stmt{}
	}
	if len(c.conns) >= 2*maxSourceConns {
		// Connections the pool replaced: their statements ended with them.
		clear(c.conns)
	}
	c.conns[dc] = stmts
	return st, nil
}

// forget drops the statements of a connection that failed (database/sql closes it).
func (c *stmtCache) forget(dc any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.conns, dc)
}

// maxStmts is how many prepared statements a stmtCache holds at most on one connection.
const maxStmts = 64

// close forgets the statements; the connections they were prepared on close with the task's pool.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conns = nil
}
