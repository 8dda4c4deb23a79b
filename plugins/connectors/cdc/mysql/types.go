package mysql

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/encoding"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc"
	"github.com/rmqconnect/rmqconnect/schema"
)

// kind is how a column's values are represented.
type kind int

const (
	kString kind = iota // also every type without a mapping: the value's text
	kInt16
	kInt32
	kInt64
	kFloat32
	kFloat64
	kDecimal
	kBytes
	kDate
	kTimestamp
	kBit
)

// column is one captured column.
type column struct {
	name     string
	kind     kind
	unsigned bool
	// width is the byte width of an integer column (3 for MEDIUMINT), from the binlog.
	width int
	scale int32
	// enum and set hold the member names of ENUM and SET columns (the binlog sends indexes and bitmasks).
	enum, set []string
	// charset is a text column's character set when its binlog bytes are not UTF-8, and decoder its
	// conversion (nil for a character set the connector cannot convert).
	charset string
	decoder encoding.Encoding
	// binaryType is uuid, inet6 or inet4 for MariaDB's types whose binlog value is binary (mariadbtypes.go).
	binaryType string
	// rowEnd and hidden are a system-versioned table's (colDef.RowEnd, colDef.Hidden).
	rowEnd, hidden bool
	schema         *schema.Schema
}

func (c *column) build(required bool) {
	opt := !required
	prim := func(t schema.Type) *schema.Schema { return schema.PrimitiveSchema(t, opt) }
	logical := func(b *schema.SchemaBuilder) *schema.Schema {
		if opt {
			b.Optional()
		}
		return b.MustBuild()
	}
	switch c.kind {
	case kInt16:
		c.schema = prim(schema.Int16)
	case kInt32:
		c.schema = prim(schema.Int32)
	case kInt64, kBit:
		c.schema = prim(schema.Int64)
	case kFloat32:
		c.schema = prim(schema.Float32)
	case kFloat64:
		c.schema = prim(schema.Float64)
	case kDecimal:
		c.schema = logical(schema.DecimalBuilder(c.scale))
	case kBytes:
		c.schema = prim(schema.Bytes)
	case kDate:
		c.schema = logical(schema.DateBuilder())
	case kTimestamp:
		c.schema = logical(schema.TimestampBuilder())
	default:
		c.schema = prim(schema.String)
	}
}

// intKind is the kind of an integer column: wide enough for its unsigned range too.
func intKind(bytes int, unsigned bool) kind {
	switch {
	case bytes == 1 || (bytes == 2 && !unsigned):
		return kInt16
	case bytes <= 3 || (bytes == 4 && !unsigned):
		return kInt32
	}
	return kInt64
}

// kindFromDataType maps information_schema.COLUMNS.DATA_TYPE (for the snapshot).
func kindFromDataType(dataType string, unsigned bool) kind {
	switch strings.ToLower(dataType) {
	case "tinyint":
		return intKind(1, unsigned)
	case "smallint":
		return intKind(2, unsigned)
	case "mediumint":
		return intKind(3, unsigned)
	case "int", "integer":
		return intKind(4, unsigned)
	case "bigint":
		return kInt64
	case "float":
		return kFloat32
	case "double", "real":
		return kFloat64
	case "decimal", "numeric":
		return kDecimal
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return kBytes
	case "date":
		return kDate
	case "datetime", "timestamp":
		return kTimestamp
	case "bit":
		return kBit
	case "year":
		return kInt32
	}
	return kString
}

// value converts a value as the binlog decoder or the SQL driver gives it.
func (c *column) value(raw any) (any, error) {
	if raw == nil {
		return nil, nil
	}
	if n, ok := raw.(int64); ok && (c.enum != nil || c.set != nil) {
		return c.members(n), nil
	}
	if c.kind == kBytes {
		switch v := raw.(type) {
		case []byte:
			return append([]byte(nil), v...), nil
		case string:
			return []byte(v), nil
		}
	}
	if c.kind == kBit {
		if b, ok := raw.([]byte); ok { // the SQL driver sends BIT as big-endian bytes
			var n int64
			for _, x := range b {
				n = n<<8 | int64(x)
			}
			return n, nil
		}
	}
	if v, ok := c.direct(raw); ok {
		return v, nil
	}
	s := c.text(raw)
	v, err := c.parse(s)
	if err != nil {
		return nil, fmt.Errorf("column %s: value %q: %w", c.name, s, err)
	}
	return v, nil
}

// valueIn is value for the binlog decoder's values: a decimal's unscaled value from slab, text converted
// from the column's character set.
func (c *column) valueIn(raw any, slab *cdc.Slab) (any, error) {
	if c.binaryType != "" {
		switch v := raw.(type) {
		case string:
			return c.streamBinaryText(v)
		case []byte:
			return c.streamBinaryText(string(v))
		}
	}
	if c.charset != "" {
		switch v := raw.(type) {
		case string:
			return c.streamText(v)
		case []byte: // TEXT columns
			return c.streamText(string(v))
		}
	}
	if s, ok := raw.(string); ok && c.kind == kDecimal {
		d, err := slab.ParseDecimal(s, c.scale)
		if err != nil {
			return nil, fmt.Errorf("column %s: value %q: %w", c.name, s, err)
		}
		return d, nil
	}
	return c.value(raw)
}

// direct converts the binlog decoder's integers, floats and strings without going through
// text; ok is false for anything else (and for an integer out of the column's range, which
// parse then reports).
func (c *column) direct(raw any) (any, bool) {
	// A value already of the column's type is returned as it came, not boxed again.
	switch c.kind {
	case kString:
		_, ok := raw.(string)
		return raw, ok
	case kFloat64:
		_, ok := raw.(float64)
		return raw, ok
	case kFloat32:
		_, ok := raw.(float32)
		return raw, ok
	case kInt16, kInt32, kInt64:
	default:
		return nil, false
	}
	if !c.unsigned {
		switch raw.(type) {
		case int16:
			if c.kind == kInt16 {
				return raw, true
			}
		case int32:
			if c.kind == kInt32 {
				return raw, true
			}
		case int64:
			if c.kind == kInt64 {
				return raw, true
			}
		}
	}
	var n int64
	switch v := raw.(type) {
	case int8:
		n = int64(v)
		if c.unsigned {
			n = int64(uint8(v))
		}
	case int16:
		n = int64(v)
		if c.unsigned {
			n = int64(uint16(v))
		}
	case int32:
		n = int64(v)
		if c.unsigned {
			n = int64(uint32(v))
			if c.width == 3 { // MEDIUMINT arrives sign-extended from 24 bits
				n &= 0xffffff
			}
		}
	case int64:
		if v < 0 && c.unsigned && c.kind != kInt64 {
			return nil, false
		}
		n = v // BIGINT UNSIGNED above 2^63-1 wraps, as in parse
	default:
		return nil, false
	}
	switch c.kind {
	case kInt16:
		if n < math.MinInt16 || n > math.MaxInt16 {
			return nil, false
		}
		return int16(n), true
	case kInt32:
		if n < math.MinInt32 || n > math.MaxInt32 {
			return nil, false
		}
		return int32(n), true
	}
	return n, true
}

func (c *column) members(n int64) string {
	if c.enum != nil {
		if n >= 1 && int(n) <= len(c.enum) {
			return c.enum[n-1]
		}
		return ""
	}
	var out []string
	for i, m := range c.set {
		if n&(1<<i) != 0 {
			out = append(out, m)
		}
	}
	return strings.Join(out, ",")
}

// text renders a decoded value in MySQL's text form; signed binlog integers of unsigned columns are
// reinterpreted at their width.
func (c *column) text(raw any) string {
	switch v := raw.(type) {
	case []byte:
		return string(v)
	case string:
		return v
	case int8:
		if c.unsigned {
			return strconv.FormatUint(uint64(uint8(v)), 10)
		}
		return strconv.FormatInt(int64(v), 10)
	case int16:
		if c.unsigned {
			return strconv.FormatUint(uint64(uint16(v)), 10)
		}
		return strconv.FormatInt(int64(v), 10)
	case int32:
		if c.unsigned {
			u := uint64(uint32(v))
			if c.width == 3 { // MEDIUMINT arrives sign-extended from 24 bits
				u &= 0xffffff
			}
			return strconv.FormatUint(u, 10)
		}
		return strconv.FormatInt(int64(v), 10)
	case int64:
		if c.unsigned {
			return strconv.FormatUint(uint64(v), 10)
		}
		return strconv.FormatInt(v, 10)
	case int:
		return strconv.Itoa(v)
	case float32:
		return strconv.FormatFloat(float64(v), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case time.Time:
		return v.UTC().Format("2006-01-02 15:04:05.999999")
	}
	return fmt.Sprint(raw)
}

func (c *column) parse(s string) (any, error) {
	switch c.kind {
	case kInt16:
		n, err := strconv.ParseInt(s, 10, 16)
		return int16(n), err
	case kInt32:
		n, err := strconv.ParseInt(s, 10, 32)
		return int32(n), err
	case kInt64, kBit:
		if c.unsigned {
			// BIGINT UNSIGNED above 2^63-1 wraps, as Debezium's default bigint.unsigned.handling.mode=long does.
			n, err := strconv.ParseUint(s, 10, 64)
			return int64(n), err
		}
		return strconv.ParseInt(s, 10, 64)
	case kFloat32:
		f, err := strconv.ParseFloat(s, 32)
		return float32(f), err
	case kFloat64:
		return strconv.ParseFloat(s, 64)
	case kDecimal:
		d, err := cdc.ParseDecimal(s, c.scale)
		if err != nil {
			return nil, err
		}
		return d, nil
	case kBytes:
		return []byte(s), nil
	case kDate:
		if zeroInDate(s) {
			return nil, nil // MySQL's zero date has no calendar value: null, as Debezium writes it
		}
		return time.Parse("2006-01-02", s)
	case kTimestamp:
		if zeroInDate(s) {
			return nil, nil
		}
		return time.Parse("2006-01-02 15:04:05.999999999", s)
	}
	return s, nil
}

// zeroInDate reports whether a date's text (yyyy-mm-dd…) has a zero month or day, as the zero date and
// the dates MariaDB's default sql_mode accepts (2024-00-00, 2024-01-00) have: no calendar value, null.
func zeroInDate(s string) bool {
	return len(s) >= 10 && s[4] == '-' && s[7] == '-' && (s[5:7] == "00" || s[8:10] == "00")
}
