package jdbc

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
)

// pgScan is scan for PostgreSQL. It runs the query through pgx's own interface on one of the pool's
// connections: pgx hands over each column's wire bytes, which the column's decoder turns into its value
// directly, where database/sql would have the driver box a value of its own choosing (a decimal as text)
// for every column and then copy it into a destination. The values are those database/sql's pgx driver
// gives (or, converted, the Connect values they convert to), so both ways map every column alike.
func (t *SourceTask) pgScan(ctx context.Context, q *querier, limit int, rc *rowConv, stmt string, args []any) *page {
	conn, err := t.db.Conn(ctx)
	if err != nil {
		return &page{err: t.queryErr(q, err)}
	}
	defer conn.Close()
	var pg *page
	err = conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("connection is a %T, not pgx's", dc)
		}
		c := sc.Conn()
		for try := 0; ; try++ {
			rows, err := c.Query(ctx, stmt, args...)
			if err == nil {
				pg, err = t.pgRows(q, c.TypeMap(), rows, limit, rc)
			}
			// A stale statement fails before any row; pgx drops it with the error, so it runs again.
			if try == 0 && stalePlan(err) {
				continue
			}
			return err
		}
	})
	if err != nil {
		return &page{err: t.queryErr(q, err)}
	}
	return pg
}

// pgRows reads up to limit rows (0: all) of rows and closes it. A failure to convert a value is returned
// as the page's error, the query's failure as the error.
func (t *SourceTask) pgRows(q *querier, m *pgtype.Map, rows pgx.Rows, limit int, rc *rowConv) (*page, error) {
	defer rows.Close()
	fds := rows.FieldDescriptions()
	cols := make([]colMeta, len(fds))
	for i := range fds {
		cols[i] = pgColMeta(m, &fds[i])
	}
	pg := newPage(cols, limit, rc)
	decs := make([]pgDecoder, len(fds))
	for i := range fds {
		decs[i] = pgDriverValue(m, &fds[i])
		if pg.rc != nil && !slices.Contains(rc.posIdx, i) { // a position column is converted after the position is read
			decs[i] = pgConnectValue(&fds[i], &rc.convs[i], decs[i])
		}
	}
	var a arena
	for (limit == 0 || pg.len() < limit) && rows.Next() {
		row := pg.addRow()
		for i, src := range rows.RawValues() {
			if src == nil {
				continue // NULL: nil, as it is
			}
			v, err := decs[i](src, &a)
			if err != nil {
				return &page{err: fmt.Errorf("jdbc-source: %s: column %s: %w", q.name(), cols[i].name, err)}, nil
			}
			row[i] = v
		}
		if pg.rc != nil {
			var p tablePos
			if err := rc.convertPos(row, &p, &a); err != nil {
				return &page{err: fmt.Errorf("jdbc-source: %s: %w", q.name(), err)}, nil
			}
			pg.pos = append(pg.pos, p)
		}
	}
	rows.Close()
	return pg, rows.Err()
}

// pgColMeta is the metadata database/sql's pgx driver gives of a column.
func pgColMeta(m *pgtype.Map, fd *pgconn.FieldDescription) colMeta {
	c := colMeta{name: fd.Name, dbType: strconv.FormatInt(int64(fd.DataTypeOID), 10)}
	if dt, ok := m.TypeForOID(fd.DataTypeOID); ok {
		c.dbType = strings.ToUpper(dt.Name)
	}
	if fd.DataTypeOID == pgtype.NumericOID && fd.TypeModifier != -1 {
		mod := fd.TypeModifier - 4 // the header PostgreSQL counts in
		c.prec, c.scale, c.hasScale = int64((mod>>16)&0xffff), int64(mod&0xffff), true
	}
	return c
}

// pgDecoder turns a column's wire bytes (never NULL) into a value, whose memory comes from a.
type pgDecoder func(src []byte, a *arena) (any, error)

// pgDriverValue decodes a column as database/sql's pgx driver does: integers as int64, floats as
// float64, bool, bytea and json as []byte, date and timestamps as time.Time, everything else as its text.
// The common binary forms are read by hand, the rest by pgx's scan plans.
func pgDriverValue(m *pgtype.Map, fd *pgconn.FieldDescription) pgDecoder {
	oid, format := fd.DataTypeOID, fd.Format
	binary := format == pgtype.BinaryFormatCode
	switch {
	case oid == pgtype.Int8OID && binary:
		return func(src []byte, a *arena) (any, error) {
			if len(src) != 8 {
				return nil, errWireLength(oid, src)
			}
			return a.int64(int64(be.Uint64(src))), nil
		}
	case oid == pgtype.Int4OID && binary:
		return func(src []byte, a *arena) (any, error) {
			if len(src) != 4 {
				return nil, errWireLength(oid, src)
			}
			return a.int64(int64(int32(be.Uint32(src)))), nil
		}
	case oid == pgtype.Int2OID && binary:
		return func(src []byte, a *arena) (any, error) {
			if len(src) != 2 {
				return nil, errWireLength(oid, src)
			}
			return a.int64(int64(int16(be.Uint16(src)))), nil
		}
	case oid == pgtype.TextOID, oid == pgtype.VarcharOID, oid == pgtype.BPCharOID:
		return func(src []byte, a *arena) (any, error) { return a.text(src), nil }
	case (oid == pgtype.TimestampOID || oid == pgtype.TimestamptzOID) && binary:
		slow := pgPlanned(m, fd)
		return func(src []byte, a *arena) (any, error) {
			if t, ok := pgTimestamp(src); ok {
				return a.time(t), nil
			}
			return slow(src, a) // infinity, or not 8 bytes
		}
	}
	return pgPlanned(m, fd)
}

// pgPlanned decodes a column through pgx's scan plan into the Go type database/sql's pgx driver uses for it.
func pgPlanned(m *pgtype.Map, fd *pgconn.FieldDescription) pgDecoder {
	switch fd.DataTypeOID {
	case pgtype.BoolOID:
		return planned(m, fd, func(d bool) (any, error) { return d, nil })
	case pgtype.ByteaOID, pgtype.JSONOID, pgtype.JSONBOID, pgtype.XMLOID:
		return planned(m, fd, func(d []byte) (any, error) { return d, nil })
	case pgtype.CIDOID, pgtype.OIDOID, pgtype.XIDOID:
		return planned(m, fd, func(d pgtype.Uint32) (any, error) { return d.Value() })
	case pgtype.DateOID:
		return planned(m, fd, func(d pgtype.Date) (any, error) { return d.Value() })
	case pgtype.Float4OID:
		return planned(m, fd, func(d float32) (any, error) { return float64(d), nil })
	case pgtype.Float8OID:
		return planned(m, fd, func(d float64) (any, error) { return d, nil })
	case pgtype.Int2OID:
		return planned(m, fd, func(d int16) (any, error) { return int64(d), nil })
	case pgtype.Int4OID:
		return planned(m, fd, func(d int32) (any, error) { return int64(d), nil })
	case pgtype.Int8OID:
		return planned(m, fd, func(d int64) (any, error) { return d, nil })
	case pgtype.TimestampOID:
		return planned(m, fd, func(d pgtype.Timestamp) (any, error) { return d.Value() })
	case pgtype.TimestamptzOID:
		return planned(m, fd, func(d pgtype.Timestamptz) (any, error) { return d.Value() })
	}
	return planned(m, fd, func(d string) (any, error) { return d, nil })
}

// planned decodes a column with pgx's plan for scanning it into a T, then val. The decoder is used by one
// goroutine, so it scans into the same T each time.
func planned[T any](m *pgtype.Map, fd *pgconn.FieldDescription, val func(T) (any, error)) pgDecoder {
	var d T
	plan := m.PlanScan(fd.DataTypeOID, fd.Format, &d)
	return func(src []byte, _ *arena) (any, error) {
		if err := plan.Scan(src, &d); err != nil {
			return nil, err
		}
		return val(d)
	}
}

// pgConnectValue decodes a column to its Connect value: a binary NUMERIC that fits in 18 digits at the
// column's scale straight from its base-10000 digits, anything else through its driver value (drv) and
// the column's conversion.
func pgConnectValue(fd *pgconn.FieldDescription, c *colConv, drv pgDecoder) pgDecoder {
	conv := func(src []byte, a *arena) (any, error) {
		v, err := drv(src, a)
		if err != nil {
			return nil, err
		}
		return c.value(v, a)
	}
	if c.kind == kDecimal && fd.DataTypeOID == pgtype.NumericOID && fd.Format == pgtype.BinaryFormatCode {
		return func(src []byte, a *arena) (any, error) {
			if n, ok := pgNumericUnscaled(src, c.scale); ok {
				return a.decimal(n, c.scale), nil
			}
			return conv(src, a)
		}
	}
	return conv
}

var be = binary.BigEndian

func errWireLength(oid uint32, src []byte) error {
	return fmt.Errorf("type %d: %d bytes on the wire", oid, len(src))
}

// pgEpoch is PostgreSQL's timestamp epoch, 2000-01-01 UTC, in Unix seconds.
const pgEpoch = 946684800

// pgTimestamp reads a finite binary timestamp or timestamptz (microseconds since 2000-01-01 UTC) in UTC.
func pgTimestamp(src []byte) (time.Time, bool) {
	if len(src) != 8 {
		return time.Time{}, false
	}
	us := int64(be.Uint64(src))
	if us == math.MaxInt64 || us == math.MinInt64 { // ±infinity
		return time.Time{}, false
	}
	return time.Unix(pgEpoch+us/1e6, us%1e6*1e3).UTC(), true
}

// pgNumericUnscaled reads a binary NUMERIC (digit count, weight, sign, display scale, then base-10000
// digits, the first of weight 10000^weight) as its unscaled value at scale: false when it is not a
// finite number, has more fraction digits than scale, or needs more than 18 digits.
func pgNumericUnscaled(src []byte, scale int32) (int64, bool) {
	if len(src) < 8 {
		return 0, false
	}
	ndigits := int(be.Uint16(src))
	weight := int(int16(be.Uint16(src[2:])))
	sign := be.Uint16(src[4:])
	dscale := int(int16(be.Uint16(src[6:])))
	if (sign != 0 && sign != 0x4000) || len(src) != 8+2*ndigits || dscale < 0 || dscale > int(scale) {
		return 0, false
	}
	const limit = 1_000_000_000_000_000_000 // 10^18: 18 digits at most
	var n int64
	for i := range ndigits {
		d := int64(be.Uint16(src[8+2*i:]))
		if d > 9999 {
			return 0, false
		}
		// The group's decimal digits, most significant first; the k-th from the right has the unscaled
		// exponent 4*(weight-i)+k+scale, and those below 0 must be 0.
		for k, div := 3, int64(1000); k >= 0; k, div = k-1, div/10 {
			digit := d / div % 10
			if 4*(weight-i)+k+int(scale) < 0 {
				if digit != 0 {
					return 0, false
				}
				continue
			}
			if n > (limit-1-digit)/10 {
				return 0, false
			}
			n = n*10 + digit
		}
	}
	if ndigits > 0 {
		for e := 4*(weight-ndigits+1) + int(scale); e > 0; e-- { // the last digit's exponent
			if n >= limit/10 {
				return 0, false
			}
			n *= 10
		}
	}
	if sign == 0x4000 {
		n = -n
	}
	return n, true
}
