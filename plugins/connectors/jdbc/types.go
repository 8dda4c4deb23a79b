package jdbc

import (
	"bytes"
	"database/sql"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/rmqconnect/rmqconnect/schema"
)

// colKind is how a result column is turned into a Connect value.
type colKind int

const (
	kInt8 colKind = iota + 1
	kInt16
	kInt32
	kInt64
	kFloat32
	kFloat64
	kBool
	kString
	kBytes
	kDecimal
	kDate
	kTime
	kTimestamp
)

// colConv converts one result column.
type colConv struct {
	name   string
	kind   colKind
	scale  int32 // kDecimal
	schema *schema.Schema
}

// colMeta is what the driver tells of a result column, as database/sql's ColumnType has it.
type colMeta struct {
	name        string
	dbType      string // the driver's type name
	prec, scale int64
	hasScale    bool // prec and scale are known
	nullable    bool
	hasNullable bool // nullable is known
}

// metaOf reads the metadata of database/sql's columns.
func metaOf(cts []*sql.ColumnType) []colMeta {
	out := make([]colMeta, len(cts))
	for i, ct := range cts {
		m := &out[i]
		m.name, m.dbType = ct.Name(), ct.DatabaseTypeName()
		m.prec, m.scale, m.hasScale = ct.DecimalSize()
		m.nullable, m.hasNullable = ct.Nullable()
	}
	return out
}

// mapColumn derives the Connect schema of a result column from the driver's metadata and, when the
// column belongs to a known table, the catalog's declared type and nullability (cat may be nil).
func mapColumn(d dialectKind, ct colMeta, cat *column) colConv {
	c := colConv{name: ct.name}
	tn := strings.ToUpper(ct.dbType)
	decl := ""
	if cat != nil {
		decl = cat.Type
	}
	prec, scale, hasScale := ct.prec, ct.scale, ct.hasScale
	if d == postgresDialect {
		switch tn {
		case "INT2":
			c.kind = kInt16
		case "INT4":
			c.kind = kInt32
		case "INT8", "OID":
			c.kind = kInt64
		case "NUMERIC":
			// The type modifier holds the scale in 11 bits, signed: PostgreSQL 15 allows -1000 to 1000.
			if scale &= 0x7ff; scale >= 1<<10 {
				scale -= 1 << 11
			}
			// A negative scale rounds to tens, hundreds, …: the values are whole numbers, held exactly at
			// scale 0. A Decimal of negative scale is no portable Connect schema: Avro refuses one, and a
			// sink would declare DECIMAL(p,-s).
			c.kind, c.scale = kDecimal, int32(max(scale, 0))
			if !hasScale || prec == 0 {
				c.kind = kString // unconstrained NUMERIC has no fixed scale: exact as text
			}
		case "FLOAT4":
			c.kind = kFloat32
		case "FLOAT8":
			c.kind = kFloat64
		case "BOOL":
			c.kind = kBool
		case "BYTEA":
			c.kind = kBytes
		case "DATE":
			c.kind = kDate
		case "TIME", "TIMETZ", "1266":
			c.kind = kTime
		case "TIMESTAMP", "TIMESTAMPTZ":
			c.kind = kTimestamp
		default: // text, varchar, bpchar, uuid, json, jsonb, enums, …: their text form
			c.kind = kString
		}
	} else {
		unsigned := strings.HasPrefix(tn, "UNSIGNED ")
		switch strings.TrimPrefix(tn, "UNSIGNED ") {
		case "TINYINT":
			switch {
			case strings.HasPrefix(decl, "tinyint(1)") && !unsigned:
				c.kind = kBool
			case unsigned:
				c.kind = kInt16
			default:
				c.kind = kInt8
			}
		case "SMALLINT":
			c.kind = map[bool]colKind{false: kInt16, true: kInt32}[unsigned]
		case "MEDIUMINT", "YEAR":
			c.kind = kInt32
		case "INT":
			c.kind = map[bool]colKind{false: kInt32, true: kInt64}[unsigned]
		case "BIGINT":
			c.kind = kInt64
			if unsigned {
				c.kind, c.scale = kDecimal, 0
			}
		case "DECIMAL":
			c.kind, c.scale = kDecimal, int32(scale)
		case "FLOAT":
			c.kind = kFloat32
		case "DOUBLE":
			c.kind = kFloat64
		case "BIT":
			c.kind = kBytes
			if decl == "bit(1)" {
				c.kind = kBool
			}
		case "BLOB", "TINYBLOB", "MEDIUMBLOB", "LONGBLOB", "BINARY", "VARBINARY", "GEOMETRY":
			c.kind = kBytes
		case "DATE":
			c.kind = kDate
		case "TIME":
			c.kind = kTime
		case "DATETIME", "TIMESTAMP":
			c.kind = kTimestamp
		default: // char, varchar, text, enum, set, json
			c.kind = kString
		}
	}
	optional := true
	if cat != nil {
		optional = cat.Nullable
	} else if ct.hasNullable {
		optional = ct.nullable
	}
	var b *schema.SchemaBuilder
	switch c.kind {
	case kInt8:
		b = schema.NewBuilder(schema.Int8)
	case kInt16:
		b = schema.NewBuilder(schema.Int16)
	case kInt32:
		b = schema.NewBuilder(schema.Int32)
	case kInt64:
		b = schema.NewBuilder(schema.Int64)
	case kFloat32:
		b = schema.NewBuilder(schema.Float32)
	case kFloat64:
		b = schema.NewBuilder(schema.Float64)
	case kBool:
		b = schema.NewBuilder(schema.Boolean)
	case kBytes:
		b = schema.NewBuilder(schema.Bytes)
	case kDecimal:
		b = schema.DecimalBuilder(c.scale)
	case kDate:
		b = schema.DateBuilder()
	case kTime:
		b = schema.TimeBuilder()
	case kTimestamp:
		b = schema.TimestampBuilder()
	default:
		b = schema.NewBuilder(schema.String)
	}
	if optional {
		b = b.Optional()
	}
	c.schema = b.MustBuild()
	return c
}

// value converts a scanned driver value (nil for NULL) to the column's Connect value, its memory from a
// (nil: allocated on its own). A driver value that already is the Connect value is returned as it is,
// without boxing it again.
func (c *colConv) value(v any, a *arena) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch c.kind {
	case kInt8, kInt16, kInt32, kInt64:
		if _, ok := v.(int64); ok && c.kind == kInt64 {
			return v, nil
		}
		n, err := toInt64(v)
		if err != nil {
			return nil, err
		}
		switch c.kind {
		case kInt8:
			return int8(n), nil
		case kInt16:
			return int16(n), nil
		case kInt32:
			return int32(n), nil
		}
		return n, nil
	case kFloat32, kFloat64:
		var f float64
		switch x := v.(type) {
		case float64:
			if c.kind == kFloat64 {
				return v, nil
			}
			f = x
		case float32:
			f = float64(x)
		default:
			p, err := strconv.ParseFloat(toString(v), 64)
			if err != nil {
				return nil, fmt.Errorf("column %s: %w", c.name, err)
			}
			f = p
		}
		if c.kind == kFloat32 {
			return float32(f), nil
		}
		return f, nil
	case kBool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case []byte:
			if len(x) == 1 && x[0] <= 1 { // BIT(1)
				return x[0] == 1, nil
			}
		}
		n, err := toInt64(v)
		if err != nil {
			return nil, err
		}
		return n != 0, nil
	case kBytes:
		if b, ok := v.([]byte); ok {
			if len(b) > 0 {
				return v, nil // database/sql's Scan into *any already copied it
			}
			return []byte(nil), nil
		}
		return []byte(toString(v)), nil
	case kDecimal:
		var d schema.Decimal
		switch x := v.(type) {
		case uint64:
			d = schema.Decimal{Unscaled: new(big.Int).SetUint64(x)}
		case []byte: // MySQL's text form, parsed without a string copy when small
			if n, ok := smallDecimal(x, c.scale); ok {
				return a.decimal(n, c.scale), nil
			}
			p, err := schema.ParseDecimal(string(x))
			if err != nil {
				return nil, fmt.Errorf("column %s: %w", c.name, err)
			}
			d = p
		default:
			str := toString(v)
			if n, ok := smallDecimal(str, c.scale); ok {
				return a.decimal(n, c.scale), nil
			}
			p, err := schema.ParseDecimal(str)
			if err != nil {
				return nil, fmt.Errorf("column %s: %w", c.name, err)
			}
			d = p
		}
		r, err := d.Rescale(c.scale)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c.name, err)
		}
		return r, nil
	case kDate:
		t, err := toTime(v)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c.name, err)
		}
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), nil
	case kTime:
		return parseTimeOfDay(c.name, v)
	case kTimestamp:
		t, err := toTime(v)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c.name, err)
		}
		if u := t.UTC(); u != t {
			return u, nil
		}
		if _, ok := v.(time.Time); ok {
			return v, nil
		}
		return t, nil
	}
	switch x := v.(type) {
	case string:
		return v, nil
	case []byte:
		return a.text(x), nil
	}
	return toString(v), nil
}

// scanned is value for a driver value handed to a sql.Scanner, which, unlike a value scanned into an
// *any, may be the driver's buffer, valid only until the next row: bytes are copied. Every other
// conversion of bytes already copies them.
func (c *colConv) scanned(v any, a *arena) (any, error) {
	if b, ok := v.([]byte); ok && c.kind == kBytes && len(b) > 0 {
		return bytes.Clone(b), nil
	}
	return c.value(v, a)
}

// smallDecimal parses a plain decimal ("-12.34") that has exactly scale digits after the point (none and
// no point for scale 0, or a trailing point) and at most 18 digits, the common case, into its unscaled
// value, without going through big.Int's string parsing. It reports false for anything else, which the
// caller parses in full.
func smallDecimal[T string | []byte](s T, scale int32) (int64, bool) {
	neg := false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg, s = s[0] == '-', s[1:]
	}
	var n int64
	digits, frac := 0, int32(-1) // frac: digits after the point, -1 before it
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			if digits++; digits > 18 {
				return 0, false
			}
			n = n*10 + int64(c-'0')
			if frac >= 0 {
				frac++
			}
		case c == '.' && frac < 0 && digits > 0:
			frac = 0
		default:
			return 0, false
		}
	}
	if digits == 0 || max(frac, 0) != scale {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

func toInt64(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int32:
		return int64(x), nil
	case int:
		return int64(x), nil
	case uint64:
		return int64(x), nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	}
	return strconv.ParseInt(strings.TrimSpace(toString(v)), 10, 64)
}

func toTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x, nil
	}
	s := toString(v)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a date or timestamp: %q", s)
}

// parseTimeOfDay reads "15:04:05[.fff][±hh[:mm]]" (a time with a zone is moved to UTC) as a Connect Time.
func parseTimeOfDay(col string, v any) (time.Time, error) {
	if t, ok := v.(time.Time); ok {
		return time.Date(1970, 1, 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond()/1e6*1e6, time.UTC), nil
	}
	s := toString(v)
	for _, layout := range []string{"15:04:05.999999999Z07:00", "15:04:05.999999999Z07", "15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC()
			return time.Date(1970, 1, 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond()/1e6*1e6, time.UTC), nil
		}
	}
	return time.Time{}, fmt.Errorf("column %s: not a time of day in [00:00, 24:00): %q", col, s)
}

// bindValue converts a Connect value of schema s to what the drivers bind.
func bindValue(s *schema.Schema, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch s.Name {
	case schema.DecimalName:
		d, ok := v.(schema.Decimal)
		if !ok {
			return nil, fmt.Errorf("%w: decimal field holds %T", ErrBadRecord, v)
		}
		return d.String(), nil
	case schema.TimeName:
		t, ok := v.(time.Time)
		if !ok {
			return nil, fmt.Errorf("%w: time field holds %T", ErrBadRecord, v)
		}
		return t.UTC().Format("15:04:05.000"), nil
	case schema.DateName, schema.TimestampName:
		t, ok := v.(time.Time)
		if !ok {
			return nil, fmt.Errorf("%w: %s field holds %T", ErrBadRecord, s.Name, v)
		}
		if u := t.UTC(); u != t {
			return u, nil
		}
		return v, nil // already UTC: not boxed again
	}
	switch x := v.(type) {
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int64, float64, bool, string, []byte:
		return v, nil
	case float32:
		return float64(x), nil
	}
	return nil, fmt.Errorf("%w: field of type %s holds %T", ErrUnsupportedType, s.Type, v)
}
