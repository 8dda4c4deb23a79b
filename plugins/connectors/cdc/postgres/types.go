package postgres

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc"
	"github.com/rmqconnect/rmqconnect/schema"
)

// Unavailable is the value of an unchanged TOASTed text column whose value the change event does not
// carry (as Debezium writes it; bytes columns hold its bytes): pgoutput leaves out a large value an UPDATE
// did not touch unless the old image the server logged has it (every column under REPLICA IDENTITY FULL,
// the key columns when it logged the old key). A key column never holds it (ErrKeyUnavailable).
const Unavailable = "__debezium_unavailable_value"

// column is one captured column: its Connect schema and the decoder of its text form (the form pgoutput
// and a text-format query send).
type column struct {
	name   string
	key    bool // a column of the record key (a required field)
	oid    uint32
	typmod int32
	schema *schema.Schema
	decode func(string) (any, error)
	// unbounded: the type stores values its Connect type cannot hold (numeric NaN and ±Infinity, date
	// and timestamp ±infinity, TIME's 24:00:00, which Connect's Time, within one day, cannot), or values
	// the JSON converter cannot write (float NaN and ±Infinity: a record holding one would fail its
	// conversion on every restart); an optional column carries them as null, a key column fails the change.
	unbounded bool
}

// newColumn maps a PostgreSQL type to a Connect schema. Types without a mapping arrive as their text
// form in an optional string, as docs/connectors.md lists.
func newColumn(name string, oid uint32, typmod int32, key bool) column {
	c := column{name: name, oid: oid, typmod: typmod, key: key}
	opt := !key
	prim := func(t schema.Type) *schema.Schema { return schema.PrimitiveSchema(t, opt) }
	logical := func(b *schema.SchemaBuilder) *schema.Schema {
		if opt {
			b.Optional()
		}
		return b.MustBuild()
	}
	switch oid {
	case pgtype.BoolOID:
		c.schema, c.decode = prim(schema.Boolean), func(s string) (any, error) { return s == "t" || s == "true", nil }
	case pgtype.Int2OID:
		c.schema, c.decode = prim(schema.Int16), func(s string) (any, error) {
			n, err := strconv.ParseInt(s, 10, 16)
			return int16(n), err
		}
	case pgtype.Int4OID:
		c.schema, c.decode = prim(schema.Int32), func(s string) (any, error) {
			n, err := strconv.ParseInt(s, 10, 32)
			return int32(n), err
		}
	case pgtype.Int8OID:
		c.schema, c.decode = prim(schema.Int64), func(s string) (any, error) { return strconv.ParseInt(s, 10, 64) }
	case pgtype.Float4OID:
		c.schema, c.unbounded, c.decode = prim(schema.Float32), true, func(s string) (any, error) {
			f, err := strconv.ParseFloat(s, 32)
			return float32(f), err
		}
	case pgtype.Float8OID:
		c.schema, c.unbounded, c.decode = prim(schema.Float64), true, func(s string) (any, error) { return strconv.ParseFloat(s, 64) }
	case pgtype.NumericOID:
		if typmod < 4 {
			break // numeric without a declared scale: text
		}
		scale := int32((typmod - 4) & 0xffff)
		c.schema, c.unbounded = logical(schema.DecimalBuilder(scale)), true
		c.decode = func(s string) (any, error) {
			d, err := cdc.ParseDecimal(s, scale)
			if err != nil {
				return nil, err
			}
			return d, nil
		}
	case pgtype.ByteaOID:
		c.schema, c.decode = prim(schema.Bytes), func(s string) (any, error) {
			if !strings.HasPrefix(s, `\x`) {
				return nil, fmt.Errorf("bytea value not in hex format")
			}
			return hex.DecodeString(s[2:])
		}
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID, pgtype.UUIDOID, pgtype.JSONOID, pgtype.JSONBOID:
		c.schema, c.decode = prim(schema.String), func(s string) (any, error) { return s, nil }
	case pgtype.DateOID:
		c.schema, c.unbounded, c.decode = logical(schema.DateBuilder()), true, func(s string) (any, error) {
			return parseEra("2006-01-02", s)
		}
	case pgtype.TimestampOID:
		c.schema, c.unbounded, c.decode = logical(schema.TimestampBuilder()), true, func(s string) (any, error) {
			return parseEra("2006-01-02 15:04:05.999999999", s)
		}
	case pgtype.TimestamptzOID:
		c.schema, c.unbounded, c.decode = logical(schema.TimestampBuilder()), true, func(s string) (any, error) {
			t, err := parseEra("2006-01-02 15:04:05.999999999Z07", s)
			if err != nil {
				t, err = parseEra("2006-01-02 15:04:05.999999999Z07:00", s)
			}
			if err != nil {
				t, err = parseEra("2006-01-02 15:04:05.999999999Z07:00:00", s) // local mean time, before 1900
			}
			return t.UTC(), err
		}
	case pgtype.TimeOID:
		c.schema, c.unbounded, c.decode = logical(schema.TimeBuilder()), true, func(s string) (any, error) {
			t, err := time.Parse("15:04:05.999999999", s)
			if err != nil {
				return nil, err
			}
			return time.UnixMilli(int64(t.Hour()*3600000 + t.Minute()*60000 + t.Second()*1000 + t.Nanosecond()/1e6)).UTC(), nil
		}
	}
	if c.schema == nil {
		c.schema, c.decode = prim(schema.String), func(s string) (any, error) { return s, nil }
	}
	return c
}

// value decodes one text-form value; a value the type's decoder rejects fails the event, naming the
// column.
func (c column) value(raw string) (any, error) {
	if c.unbounded && unboundedValue(raw) {
		if !c.schema.Optional {
			return nil, fmt.Errorf("column %s: value %q has no %s form, and the key column cannot be null", c.name, raw, c.schema.Name)
		}
		return nil, nil
	}
	v, err := c.decode(raw)
	if err != nil {
		return nil, fmt.Errorf("column %s: value %q: %w", c.name, raw, err)
	}
	return v, nil
}

// unboundedValue reports whether s is one of the special values numeric, float, date, time and timestamp
// columns hold.
func unboundedValue(s string) bool {
	switch s {
	case "NaN", "Infinity", "-Infinity", "infinity", "-infinity", "24:00:00":
		return true
	}
	return false
}

// parseEra parses a date or time PostgreSQL writes in its text form, which ends in " BC" before year 1
// (1 BC is year 0 of the proleptic Gregorian calendar Go uses, 2 BC year -1).
func parseEra(layout, s string) (time.Time, error) {
	s, bc := strings.CutSuffix(s, " BC")
	t, err := time.Parse(layout, s)
	if err != nil || !bc {
		return t, err
	}
	return time.Date(1-t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location()), nil
}
