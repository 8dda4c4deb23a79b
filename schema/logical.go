package schema

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Logical type names (the Kafka Connect class names, which travel in Schema.Name).
const (
	DecimalName   = "org.apache.kafka.connect.data.Decimal"
	DateName      = "org.apache.kafka.connect.data.Date"
	TimeName      = "org.apache.kafka.connect.data.Time"
	TimestampName = "org.apache.kafka.connect.data.Timestamp"
	// DecimalScaleParam is the Decimal schema parameter holding the scale.
	DecimalScaleParam = "scale"
)

const millisPerDay = 24 * 60 * 60 * 1000

type logicalKind uint8

const (
	logicalNone logicalKind = iota
	logicalDecimal
	logicalDate
	logicalTime
	logicalTimestamp
)

// logicalKindOf recognises a logical type by name and underlying type together; a logical name on another type
// is an ordinary named schema.
func logicalKindOf(s *Schema) logicalKind {
	if s == nil || s.Name == "" {
		return logicalNone
	}
	switch {
	case s.Name == DecimalName && s.Type == Bytes:
		return logicalDecimal
	case s.Name == DateName && s.Type == Int32:
		return logicalDate
	case s.Name == TimeName && s.Type == Int32:
		return logicalTime
	case s.Name == TimestampName && s.Type == Int64:
		return logicalTimestamp
	}
	return logicalNone
}

// IsLogical reports whether s is one of the Decimal, Date, Time or Timestamp logical types.
func IsLogical(s *Schema) bool { return logicalKindOf(s) != logicalNone }

// Decimal is an arbitrary-precision decimal: Unscaled × 10^-Scale. It is the value of a Decimal schema, whose
// scale parameter must equal Scale.
type Decimal struct {
	Unscaled *big.Int
	Scale    int32
}

// NewDecimal returns unscaled × 10^-scale.
func NewDecimal(unscaled int64, scale int32) Decimal {
	return Decimal{Unscaled: big.NewInt(unscaled), Scale: scale}
}

// MaxDecimalDigits bounds the digits of the unscaled value ParseDecimal reads. Java's BigDecimal has no such
// bound, but reading decimal digits takes time quadratic in their number (a 4-million-digit number costs
// seconds); SQL decimals with a declared precision hold far fewer (PostgreSQL's numeric at most 1000).
const MaxDecimalDigits = 10000

// ParseDecimal parses a plain decimal such as "-12.345" or one with an exponent such as "1.5E+3"; the scale is
// the number of digits after the point minus the exponent (as Java's BigDecimal does). An unscaled value of more
// than MaxDecimalDigits digits (leading zeros aside) is refused before it is read.
func ParseDecimal(s string) (Decimal, error) {
	orig := s
	exp := int64(0)
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.ParseInt(s[i+1:], 10, 32)
		if err != nil {
			return Decimal{}, fmt.Errorf("decimal %s: bad exponent: %w", quoteShort(orig), ErrInvalidValue)
		}
		exp, s = e, s[:i]
	}
	scale := int64(0)
	if i := strings.IndexByte(s, '.'); i >= 0 {
		scale = int64(len(s) - i - 1)
		s = s[:i] + s[i+1:]
	}
	sign := s[:len(s)-len(strings.TrimLeft(s, "+-"))]
	digits := s[len(sign):]
	if digits == "" || len(sign) > 1 || strings.ContainsAny(digits, "+-") {
		return Decimal{}, fmt.Errorf("decimal %s: %w", quoteShort(orig), ErrInvalidValue)
	}
	if digits = strings.TrimLeft(digits, "0"); digits == "" {
		digits = "0"
	}
	if len(digits) > MaxDecimalDigits {
		return Decimal{}, fmt.Errorf("decimal %s: %d digits, more than the %d a decimal may have: %w",
			quoteShort(orig), len(digits), MaxDecimalDigits, ErrInvalidValue)
	}
	u, ok := new(big.Int).SetString(sign+digits, 10)
	if !ok {
		return Decimal{}, fmt.Errorf("decimal %s: %w", quoteShort(orig), ErrInvalidValue)
	}
	scale -= exp
	if scale > math.MaxInt32 || scale < math.MinInt32 {
		return Decimal{}, fmt.Errorf("decimal %s: scale out of range: %w", quoteShort(orig), ErrInvalidValue)
	}
	return Decimal{Unscaled: u, Scale: int32(scale)}, nil
}

// quoteShort quotes s for an error message, cut to its first 40 bytes and its length when it is longer.
func quoteShort(s string) string {
	if len(s) <= 64 {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:40]) + "… (" + strconv.Itoa(len(s)) + " bytes)"
}

// FitsDigits reports whether |u| has at most digits decimal digits. It decides by bit length when that is enough
// and otherwise compares with 10^digits; it never formats u (which takes time superlinear in its size).
func FitsDigits(u *big.Int, digits int) bool {
	if u == nil {
		return true
	}
	// 2^(bits-1) <= |u| < 2^bits, and 0.30102 < log10(2) < 0.30103.
	bits := int64(u.BitLen())
	if bits*30103 <= int64(digits)*100000 { // |u| < 2^bits <= 10^digits
		return true
	}
	if (bits-1)*30102 >= int64(digits)*100000 { // |u| >= 2^(bits-1) >= 10^digits
		return false
	}
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(digits)), nil)
	return u.CmpAbs(limit) < 0
}

func (d Decimal) unscaled() *big.Int {
	if d.Unscaled == nil {
		return new(big.Int)
	}
	return d.Unscaled
}

// String renders the decimal in plain notation, e.g. "-1.50" for unscaled -150, scale 2 (with an exponent,
// "15E-5000", when the scale is beyond ±4096, to keep the string short).
func (d Decimal) String() string {
	u := d.unscaled()
	if d.Scale > maxRescale || d.Scale < -maxRescale {
		return u.String() + "E" + strconv.FormatInt(-int64(d.Scale), 10)
	}
	if d.Scale <= 0 {
		s := u.String()
		if d.Scale < 0 && u.Sign() != 0 {
			s += strings.Repeat("0", int(-d.Scale))
		}
		return s
	}
	neg := u.Sign() < 0
	digits := new(big.Int).Abs(u).String()
	if len(digits) <= int(d.Scale) {
		digits = strings.Repeat("0", int(d.Scale)-len(digits)+1) + digits
	}
	p := len(digits) - int(d.Scale)
	s := digits[:p] + "." + digits[p:]
	if neg {
		s = "-" + s
	}
	return s
}

// brief renders d for an error message: in full when short, else by its size, as formatting a huge decimal
// costs more than the message is worth.
func (d Decimal) brief() string {
	if bits := d.unscaled().BitLen(); bits > 256 {
		return "of " + strconv.Itoa(bits) + " bits (scale " + strconv.Itoa(int(d.Scale)) + ")"
	}
	return d.String()
}

// Equal reports whether both the unscaled value and the scale are equal (1.0 and 1.00 differ, as in a Decimal
// schema the scale is fixed).
func (d Decimal) Equal(o Decimal) bool {
	return d.Scale == o.Scale && d.unscaled().Cmp(o.unscaled()) == 0
}

// maxRescale bounds the work Rescale does (10^maxRescale), so hostile input cannot ask for a huge power of ten.
const maxRescale = 1 << 12

// Rescale returns d with the given scale if that loses no digits (scale changes above 4096 are refused).
func (d Decimal) Rescale(scale int32) (Decimal, error) {
	if scale == d.Scale {
		return d, nil
	}
	u := d.unscaled()
	diff := int64(scale) - int64(d.Scale)
	if diff > maxRescale || -diff > maxRescale {
		return Decimal{}, fmt.Errorf("decimal %s: cannot rescale to %d: %w", d.brief(), scale, ErrInvalidValue)
	}
	if diff > 0 {
		m := new(big.Int).Exp(big.NewInt(10), big.NewInt(diff), nil)
		return Decimal{Unscaled: m.Mul(m, u), Scale: scale}, nil
	}
	m := new(big.Int).Exp(big.NewInt(10), big.NewInt(-diff), nil)
	q, r := new(big.Int).QuoRem(u, m, new(big.Int))
	if r.Sign() != 0 {
		return Decimal{}, fmt.Errorf("decimal %s: rescaling to %d would lose digits: %w", d.brief(), scale, ErrInvalidValue)
	}
	return Decimal{Unscaled: q, Scale: scale}, nil
}

// Float64 returns the nearest float64.
func (d Decimal) Float64() float64 {
	f, _ := strconv.ParseFloat(d.String(), 64)
	return f
}

// Bytes returns the unscaled value as minimal big-endian two's complement bytes (Java BigInteger.toByteArray),
// the wire form of a Decimal.
func (d Decimal) Bytes() []byte {
	u := d.unscaled()
	switch u.Sign() {
	case 0:
		return []byte{0}
	case 1:
		b := u.Bytes()
		if b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// Negative: n is the smallest width with -2^(8n-1) <= u; the bytes are 2^(8n) + u, whose top bit is set.
	n := (new(big.Int).Not(u).BitLen() + 8) / 8 // Not(u) = -u-1
	b := new(big.Int).Lsh(big.NewInt(1), uint(n*8))
	return b.Add(b, u).Bytes()
}

// DecimalFromBytes decodes big-endian two's complement bytes (see Decimal.Bytes). Empty input is zero.
func DecimalFromBytes(b []byte, scale int32) Decimal {
	u := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		u.Sub(u, new(big.Int).Lsh(big.NewInt(1), uint(len(b)*8)))
	}
	return Decimal{Unscaled: u, Scale: scale}
}

// DecimalBuilder starts a Decimal schema (BYTES named DecimalName, version 1, parameter scale).
func DecimalBuilder(scale int32) *SchemaBuilder {
	return NewBuilder(Bytes).Name(DecimalName).Version(1).Parameter(DecimalScaleParam, strconv.Itoa(int(scale)))
}

// DecimalSchema returns a new required Decimal schema with the given scale.
func DecimalSchema(scale int32) *Schema { return DecimalBuilder(scale).MustBuild() }

// DecimalScale returns the scale parameter of a Decimal schema, or a *FieldError wrapping ErrInvalidSchema.
func DecimalScale(s *Schema) (int32, error) {
	v, ok := "", false
	if s != nil {
		v, ok = s.Parameters[DecimalScaleParam]
	}
	if !ok {
		return 0, &FieldError{Reason: fmt.Sprintf("decimal schema has no %q parameter", DecimalScaleParam), Err: ErrInvalidSchema}
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, &FieldError{Reason: fmt.Sprintf("decimal schema scale %q is not a 32-bit integer", v), Err: ErrInvalidSchema}
	}
	return int32(n), nil
}

// DateBuilder starts a Date schema (INT32 days since the epoch, named DateName, version 1).
func DateBuilder() *SchemaBuilder { return NewBuilder(Int32).Name(DateName).Version(1) }

// DateSchema returns a new required Date schema.
func DateSchema() *Schema { return DateBuilder().MustBuild() }

// TimeBuilder starts a Time schema (INT32 milliseconds since midnight, named TimeName, version 1).
func TimeBuilder() *SchemaBuilder { return NewBuilder(Int32).Name(TimeName).Version(1) }

// TimeSchema returns a new required Time schema.
func TimeSchema() *Schema { return TimeBuilder().MustBuild() }

// TimestampBuilder starts a Timestamp schema (INT64 milliseconds since the epoch, named TimestampName, version 1).
func TimestampBuilder() *SchemaBuilder { return NewBuilder(Int64).Name(TimestampName).Version(1) }

// TimestampSchema returns a new required Timestamp schema.
func TimestampSchema() *Schema { return TimestampBuilder().MustBuild() }

// DateToDays encodes a Date value: t must be midnight UTC; the result is days since 1970-01-01. Errors are
// *FieldError wrapping ErrInvalidValue.
func DateToDays(t time.Time) (int32, error) {
	ms := t.UnixMilli()
	if ms%millisPerDay != 0 || t.Nanosecond() != 0 {
		return 0, &FieldError{Reason: fmt.Sprintf("date %s has a time of day", t.UTC().Format(time.RFC3339Nano)), Err: ErrInvalidValue}
	}
	days := ms / millisPerDay
	if days > math.MaxInt32 || days < math.MinInt32 {
		return 0, &FieldError{Reason: fmt.Sprintf("date %s out of range", t.UTC().Format(time.RFC3339)), Err: ErrInvalidValue}
	}
	return int32(days), nil
}

// DaysToDate decodes a Date value (midnight UTC).
func DaysToDate(days int32) time.Time {
	return time.UnixMilli(int64(days) * millisPerDay).UTC()
}

// TimeToMillis encodes a Time value: t must lie on 1970-01-01 UTC (as in Kafka Connect, a time of day carries no
// date); the result is milliseconds since midnight. Sub-millisecond precision is dropped. Errors are *FieldError
// wrapping ErrInvalidValue.
func TimeToMillis(t time.Time) (int32, error) {
	ms := t.UnixMilli()
	if ms < 0 || ms >= millisPerDay {
		return 0, &FieldError{Reason: fmt.Sprintf("time %s has a date other than 1970-01-01", t.UTC().Format(time.RFC3339Nano)), Err: ErrInvalidValue}
	}
	return int32(ms), nil
}

// MillisToTime decodes a Time value (on 1970-01-01 UTC).
func MillisToTime(ms int32) time.Time { return time.UnixMilli(int64(ms)).UTC() }

// TimestampToMillis encodes a Timestamp value; sub-millisecond precision is dropped.
func TimestampToMillis(t time.Time) int64 { return t.UnixMilli() }

// MillisToTimestamp decodes a Timestamp value (UTC).
func MillisToTimestamp(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func validateLogical(k logicalKind, s *Schema, v any) error {
	switch k {
	case logicalDecimal:
		d, ok := v.(Decimal)
		if !ok {
			return mismatch(s, v)
		}
		scale, err := DecimalScale(s)
		if err != nil {
			return err
		}
		if d.Scale != scale {
			return &FieldError{Reason: fmt.Sprintf("decimal scale %d does not match schema scale %d", d.Scale, scale), Err: ErrInvalidValue}
		}
		return nil
	}
	t, ok := v.(time.Time)
	if !ok {
		return mismatch(s, v)
	}
	var err error
	switch k {
	case logicalDate:
		_, err = DateToDays(t)
	case logicalTime:
		_, err = TimeToMillis(t)
	}
	return err
}
