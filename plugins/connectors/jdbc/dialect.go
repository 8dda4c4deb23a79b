package jdbc

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rmqconnect/rmqconnect/schema"
)

// tableID names a table, optionally in a schema (PostgreSQL) or database (MySQL).
type tableID struct {
	Schema, Name string
}

func (t tableID) String() string {
	if t.Schema == "" {
		return t.Name
	}
	return t.Schema + "." + t.Name
}

// parseTableID splits "schema.table" (a name with no dot is a bare table).
func parseTableID(s string) tableID {
	if i := strings.LastIndexByte(s, '.'); i > 0 {
		return tableID{Schema: s[:i], Name: s[i+1:]}
	}
	return tableID{Name: s}
}

// column is what the catalog says about one column.
type column struct {
	Name     string
	Type     string // catalog type name, lower case: "integer", "numeric", "tinyint(1)", …
	Nullable bool
}

// dialect is the SQL spoken by one database family.
type dialect struct {
	kind dialectKind
}

func (d dialect) quote(id string) string {
	if d.kind == postgresDialect {
		return `"` + strings.ReplaceAll(id, `"`, `""`) + `"`
	}
	return "`" + strings.ReplaceAll(id, "`", "``") + "`"
}

func (d dialect) table(t tableID) string {
	if t.Schema == "" {
		return d.quote(t.Name)
	}
	return d.quote(t.Schema) + "." + d.quote(t.Name)
}

// placeholder returns the i-th (1-based) bind parameter.
func (d dialect) placeholder(i int) string {
	if d.kind == postgresDialect {
		return "$" + strconv.Itoa(i)
	}
	return "?"
}

// maxParams is how many bind parameters one statement may carry.
func (d dialect) maxParams() int { return 65535 }

// sqlType is the column type auto.create and auto.evolve use for a Connect field; key columns get types
// that can be indexed.
func (d dialect) sqlType(s *schema.Schema, key bool) (string, error) {
	pg := d.kind == postgresDialect
	switch s.Name {
	case schema.DecimalName:
		scale, err := schema.DecimalScale(s)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrBadRecord, err) // the record's schema, not the database, is wrong
		}
		return fmt.Sprintf("DECIMAL(65,%d)", scale), nil
	case schema.DateName:
		return "DATE", nil
	case schema.TimeName:
		return "TIME(3)", nil
	case schema.TimestampName:
		if pg {
			return "TIMESTAMP(3)", nil
		}
		return "DATETIME(3)", nil
	}
	switch s.Type {
	case schema.Int8:
		if pg {
			return "SMALLINT", nil
		}
		return "TINYINT", nil
	case schema.Int16:
		return "SMALLINT", nil
	case schema.Int32:
		return "INT", nil
	case schema.Int64:
		return "BIGINT", nil
	case schema.Float32:
		return "REAL", nil
	case schema.Float64:
		if pg {
			return "DOUBLE PRECISION", nil
		}
		return "DOUBLE", nil
	case schema.Boolean:
		return "BOOLEAN", nil
	case schema.String:
		switch {
		case pg:
			return "TEXT", nil
		case key:
			return "VARCHAR(255)", nil
		}
		return "LONGTEXT", nil
	case schema.Bytes:
		switch {
		case pg:
			return "BYTEA", nil
		case key:
			return "VARBINARY(255)", nil
		}
		return "LONGBLOB", nil
	}
	return "", fmt.Errorf("%w: field type %s", ErrUnsupportedType, s.Type)
}

// columns reads the columns of t in ordinal order; none means the table does not exist.
func (d dialect) columns(ctx context.Context, db *sql.DB, t tableID) ([]column, error) {
	var q string
	if d.kind == postgresDialect {
		q = `SELECT a.attname, lower(format_type(a.atttypid, a.atttypmod)), NOT a.attnotnull
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname = $1 AND n.nspname = COALESCE(NULLIF($2, ''), current_schema()) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`
	} else {
		q = `SELECT COLUMN_NAME, LOWER(COLUMN_TYPE), IS_NULLABLE = 'YES' FROM information_schema.COLUMNS
WHERE TABLE_NAME = ? AND TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE()) ORDER BY ORDINAL_POSITION`
	}
	rows, err := db.QueryContext(ctx, q, t.Name, t.Schema)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []column
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.Name, &c.Type, &c.Nullable); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// primaryKey reads the primary-key columns of t in key order.
func (d dialect) primaryKey(ctx context.Context, db *sql.DB, t tableID) ([]string, error) {
	var q string
	if d.kind == postgresDialect {
		q = `SELECT a.attname FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
WHERE i.indisprimary AND c.relname = $1 AND n.nspname = COALESCE(NULLIF($2, ''), current_schema())
ORDER BY k.ord`
	} else {
		q = `SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE
WHERE CONSTRAINT_NAME = 'PRIMARY' AND TABLE_NAME = ? AND TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE())
ORDER BY ORDINAL_POSITION`
	}
	rows, err := db.QueryContext(ctx, q, t.Name, t.Schema)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// tables lists the base tables of the connection's current schema (PostgreSQL) or database (MySQL), by
// their bare names, and that schema's (database's) name. A PostgreSQL partition is left out: its rows are
// read through its partitioned table, which is listed.
func (d dialect) tables(ctx context.Context, db *sql.DB) (_ []tableID, current string, err error) {
	var q string
	if d.kind == postgresDialect {
		q = `SELECT current_schema(), t.table_name FROM information_schema.tables t
JOIN pg_namespace n ON n.nspname = t.table_schema JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.table_name
WHERE t.table_schema = current_schema() AND t.table_type = 'BASE TABLE' AND NOT c.relispartition
ORDER BY t.table_name`
	} else {
		// MariaDB's system-versioned tables are tables too; a plain SELECT reads their current rows.
		q = `SELECT DATABASE(), TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()
AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') ORDER BY TABLE_NAME`
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []tableID
	for rows.Next() {
		var n string
		if err := rows.Scan(&current, &n); err != nil {
			return nil, "", err
		}
		out = append(out, tableID{Name: n})
	}
	return out, current, rows.Err()
}

// resolve finds the table, view or materialized view id names as a query names it: a bare name through
// PostgreSQL's search path, or in MySQL's current database. It returns the id queries and the catalog
// reads then use: a bare name found outside PostgreSQL's current schema gets its schema, as the catalog
// reads look for a bare name there; one found in it stays bare (its source partition is named so).
// ok is false when there is no such relation.
func (d dialect) resolve(ctx context.Context, db *sql.DB, id tableID) (_ tableID, ok bool, err error) {
	if d.kind == postgresDialect {
		var schema string
		var current bool
		err := db.QueryRowContext(ctx, `SELECT n.nspname, n.nspname = current_schema()
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')`, d.table(id)).Scan(&schema, &current)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return id, false, nil
		case err != nil:
			return id, false, err
		}
		if id.Schema == "" && !current {
			id.Schema = schema
		}
		return id, true, nil
	}
	var n int
	err = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.TABLES
WHERE TABLE_NAME = ? AND TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE())`, id.Name, id.Schema).Scan(&n)
	return id, n > 0, err
}

// now reads the database's clock (UTC), which bounds timestamp-mode queries.
func (d dialect) now(ctx context.Context, db *sql.DB) (time.Time, error) {
	q := "SELECT CURRENT_TIMESTAMP"
	if d.kind == mysqlDialect {
		q = "SELECT UTC_TIMESTAMP(6)"
	}
	var t time.Time
	if err := db.QueryRowContext(ctx, q).Scan(&t); err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// limit renders a LIMIT clause.
func (d dialect) limit(n int) string { return " LIMIT " + strconv.Itoa(n) }
