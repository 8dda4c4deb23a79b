package jdbc

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
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
	return t.onConn(ctx, q, func(dc any) (*page, error) {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return nil, fmt.Errorf("connection is a %T, not pgx's", dc)
		}
		c := sc.Conn()
		qargs := append([]any{pgResultFormats}, args...)
		for try := 0; ; try++ {
			rows, err := c.Query(ctx, stmt, qargs...)
			var pg *page
			if err == nil {
				pg, err = t.pgRows(q, c.TypeMap(), rows, limit, rc)
			}
			// A stale statement fails before any row; pgx drops it with the error, so it runs again.
			if try == 0 && stalePlan(err) {
				continue
			}
			return pg, err
		}
	})
}

// pgResultFormats asks for the binary form of the types pgDriverValue reads from it (by hand, or through
// pgx's plans into the Go values database/sql's pgx driver gives) and the text form of every other type.
// pgx would ask for the binary form of every type it knows, but decodes that of many (arrays, interval,
// inet, cidr, ranges, …) only into types of its own, not into the text these columns become. The set is
// the driver's (stdlib's databaseSQLResultFormats), so both ways read alike, plus NUMERIC, whose binary
// form pgConnectValue reads straight into a Decimal (and pgx turns into the driver's text otherwise).
var pgResultFormats = pgx.QueryResultFormatsByOID{
	pgtype.BoolOID:        pgtype.BinaryFormatCode,
	pgtype.ByteaOID:       pgtype.BinaryFormatCode,
	pgtype.CIDOID:         pgtype.BinaryFormatCode,
	pgtype.DateOID:        pgtype.BinaryFormatCode,
	pgtype.Float4OID:      pgtype.BinaryFormatCode,
	pgtype.Float8OID:      pgtype.BinaryFormatCode,
	pgtype.Int2OID:        pgtype.BinaryFormatCode,
	pgtype.Int4OID:        pgtype.BinaryFormatCode,
	pgtype.Int8OID:        pgtype.BinaryFormatCode,
	pgtype.NumericOID:     pgtype.BinaryFormatCode,
	pgtype.OIDOID:         pgtype.BinaryFormatCode,
	pgtype.TimestampOID:   pgtype.BinaryFormatCode,
	pgtype.TimestamptzOID: pgtype.BinaryFormatCode,
	pgtype.XIDOID:         pgtype.BinaryFormatCode,
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

// pgColMeta is the metadata database/sql's pgx driver gives of a column (its ColumnTypePrecisionScale):
// a NUMERIC's precision and scale as its type modifier holds them (the scale in 11 bits, signed, which
// mapColumn decodes), a timestamp's fractional digits as its scale (6 when undeclared).
func pgColMeta(m *pgtype.Map, fd *pgconn.FieldDescription) colMeta {
	c := colMeta{name: fd.Name, dbType: strconv.FormatInt(int64(fd.DataTypeOID), 10)}
	if dt, ok := m.TypeForOID(fd.DataTypeOID); ok {
		c.dbType = strings.ToUpper(dt.Name)
	}
	switch fd.DataTypeOID {
	case pgtype.NumericOID:
		if fd.TypeModifier != -1 {
			mod := fd.TypeModifier - 4 // the header PostgreSQL counts in
			c.prec, c.scale, c.hasScale = int64((mod>>16)&0xffff), int64(mod&0xffff), true
		}
	case pgtype.TimestampOID, pgtype.TimestamptzOID, pgtype.TimeOID, pgtype.TimetzOID:
		c.scale, c.hasScale = 6, true
		if fd.TypeModifier != -1 {
			c.scale = int64(fd.TypeModifier)
		}
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

// pgConnectValue decodes a column to its Connect value: straight from the wire where the column's
// driver value (drv) already is its Connect value (int8 as an INT64, text as a STRING) or is read by
// hand as one (a finite binary timestamp, a binary NUMERIC that fits in 18 digits at the column's scale),
// anything else through its driver value and the column's conversion.
func pgConnectValue(fd *pgconn.FieldDescription, c *colConv, drv pgDecoder) pgDecoder {
	conv := func(src []byte, a *arena) (any, error) {
		v, err := drv(src, a)
		if err != nil {
			return nil, err
		}
		return c.value(v, a)
	}
	oid, binary := fd.DataTypeOID, fd.Format == pgtype.BinaryFormatCode
	switch {
	case c.kind == kInt64 && oid == pgtype.Int8OID && binary,
		c.kind == kString && (oid == pgtype.TextOID || oid == pgtype.VarcharOID || oid == pgtype.BPCharOID):
		return drv // c.value would return its value as it is
	case c.kind == kTimestamp && (oid == pgtype.TimestampOID || oid == pgtype.TimestamptzOID) && binary:
		return func(src []byte, a *arena) (any, error) {
			if t, ok := pgTimestamp(src); ok {
				return a.time(t), nil // in UTC, as c.value leaves it
			}
			return conv(src, a)
		}
	case c.kind == kDecimal && oid == pgtype.NumericOID && binary:
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
	var n uint64
	// Digit i's lowest decimal digit has the unscaled exponent e; a digit with e < 0 is cut to its
	// digits of exponent 0 and up, which needs those below to be 0.
	e := 4*weight + int(scale)
	for i := range ndigits {
		d := uint64(be.Uint16(src[8+2*i:]))
		if d > 9999 {
			return 0, false
		}
		mul := uint64(10000)
		if e < 0 {
			if e < -3 {
				if d != 0 {
					return 0, false
				}
				e -= 4
				continue
			}
			if d%pow10[-e] != 0 {
				return 0, false
			}
			d, mul = d/pow10[-e], pow10[4+e]
		}
		hi, lo := bits.Mul64(n, mul)
		n = lo + d
		if hi != 0 || n < lo || n >= limit {
			return 0, false
		}
		e -= 4
	}
	if last := e + 4; last > 0 && n != 0 { // the last digit's exponent: the value is scaled up to it
		if last > 18 || n > (limit-1)/pow10[last] {
			return 0, false
		}
		n *= pow10[last]
	}
	v := int64(n)
	if sign == 0x4000 {
		v = -v
	}
	return v, true
}

// pow10[i] is 10^i.
var pow10 = [...]uint64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}
