package transforms

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
)

// TimestampConverter converts a timestamp (the whole key/value, or one field)
// between string (format, Java SimpleDateFormat syntax), unix (an int64 in
// unix.precision), Date, Time and Timestamp. Inputs are recognised by schema
// (Timestamp/Date/Time logical types, STRING, INT64, and INT32 as unix time,
// which Kafka refuses, for INT columns holding unix seconds) or, schemaless,
// by Go type (time.Time, string, integers, float64). Null stays null. A time
// whose count in unix.precision does not fit in an int64 (9999-12-31 in
// nanoseconds) fails its record, where Kafka gives Long.MAX_VALUE. The count
// rounds down, to the unit the time falls in (1969-12-31T23:59:58.5Z is -2
// seconds, the second a string format shows), where Kafka truncates toward
// 1970 and gives -1, the following second.
//
// Strings are formatted and parsed in UTC. When parsing, a zone name (pattern
// letter z) is read only if it is UTC or GMT: any other name (PST, CEST,
// GMT+3) fails the record with an error naming it, rather than being read as
// UTC hours off; give such input a numeric offset pattern (X, XXX or Z).
type TimestampConverter struct {
	side      side
	field     string
	target    string
	layout    *javaLayout
	precision string
	cache     schemaCache
}

const (
	tsString    = "string"
	tsUnix      = "unix"
	tsDate      = "Date"
	tsTime      = "Time"
	tsTimestamp = "Timestamp"
)

var timestampConverterSpec = plugins.MustConfigSpec(
	plugins.Field{Name: "field", Type: plugins.TypeString, Default: "", Doc: "Field to convert; empty converts the whole key/value."},
	plugins.Field{Name: "target.type", Type: plugins.TypeString, Required: true,
		Validators: []plugins.Validator{plugins.OneOf(tsString, tsUnix, tsDate, tsTime, tsTimestamp)}, Doc: "Target type."},
	plugins.Field{Name: "format", Type: plugins.TypeString, Default: "", Doc: "SimpleDateFormat pattern for string input or output, in UTC. When parsing, z reads only UTC and GMT (another zone name is an error); use X, XXX or Z for offsets."},
	plugins.Field{Name: "unix.precision", Type: plugins.TypeString, Default: "milliseconds",
		Validators: []plugins.Validator{plugins.OneOf("seconds", "milliseconds", "microseconds", "nanoseconds")}, Doc: "Unit of unix timestamps. A time whose count in this unit does not fit in an int64 (before 1677-09-21 or after 2262-04-11 in nanoseconds) is an error."},
)

// Spec declares the configuration keys.
func (t *TimestampConverter) Spec() *plugins.ConfigSpec { return timestampConverterSpec }

// Configure reads the configuration.
func (t *TimestampConverter) Configure(cfg map[string]string) error {
	v, err := timestampConverterSpec.Parse(cfg)
	if err != nil {
		return err
	}
	t.field = v.String("field")
	for _, name := range []string{tsString, tsUnix, tsDate, tsTime, tsTimestamp} {
		if strings.EqualFold(name, v.String("target.type")) {
			t.target = name
		}
	}
	t.precision = strings.ToLower(v.String("unix.precision"))
	if f := v.String("format"); f != "" {
		l, err := parseJavaLayout(f)
		if err != nil {
			return &cfgerr.Error{Key: "format", Value: f, Reason: err.Error(), Err: plugins.ErrInvalidValue}
		}
		t.layout = &l
	} else if t.target == tsString {
		return &cfgerr.Error{Key: "format", Reason: "required when target.type is string", Err: plugins.ErrMissingRequired}
	}
	return nil
}

func (t *TimestampConverter) targetSchema(optional bool) *schema.Schema {
	var s *schema.Schema
	switch t.target {
	case tsString:
		return schema.PrimitiveSchema(schema.String, optional)
	case tsUnix:
		return schema.PrimitiveSchema(schema.Int64, optional)
	case tsDate:
		s = schema.DateSchema()
	case tsTime:
		s = schema.TimeSchema()
	default:
		s = schema.TimestampSchema()
	}
	s.Optional = optional
	return s
}

// Apply converts.
func (t *TimestampConverter) Apply(r *schema.Record) (*schema.Record, error) {
	sc, v := t.side.get(r)
	if t.field == "" {
		out, err := t.convert(sc, v)
		if err != nil {
			return nil, err
		}
		var outSc *schema.Schema
		if sc != nil {
			outSc = t.targetSchema(sc.Optional)
		}
		return t.side.with(r, outSc, out), nil
	}
	if sc == nil {
		if v == nil {
			return r, nil
		}
		m, err := requireMap(v, "TimestampConverter "+t.side.String())
		if err != nil {
			return nil, err
		}
		x, ok := m[t.field]
		if !ok {
			return r, nil
		}
		out := copyMap(m)
		if out[t.field], err = t.convert(nil, x); err != nil {
			return nil, err
		}
		return t.side.with(r, nil, out), nil
	}
	var st *structValue
	if v != nil {
		var err error
		if st, err = requireStruct(sc, v, "TimestampConverter "+t.side.String()); err != nil {
			return nil, err
		}
	} else if sc.Type != typeStruct {
		return r, nil
	}
	// A record without the field passes unchanged, with a schema as without one, as in Kafka: a field dropped from
	// an evolving schema must not fail every record after it.
	f, ok := sc.Field(t.field)
	if !ok {
		return r, nil
	}
	newSc, _ := t.cache.get(sc, func(sc *schema.Schema) (*schema.Schema, error) {
		fields := append([]schema.Field(nil), sc.Fields...)
		fields[f.Index].Schema = t.targetSchema(f.Schema.Optional)
		return structWith(sc, fields), nil
	})
	if v == nil {
		// A tombstone keeps its null value but takes the converted schema, so that it matches the other records'.
		return t.side.with(r, newSc, nil), nil
	}
	vals := make([]any, len(sc.Fields))
	for i := range vals {
		vals[i] = st.GetIndex(i)
	}
	converted, err := t.convert(f.Schema, fieldValue(st, f.Index))
	if err != nil {
		return nil, err
	}
	vals[f.Index] = converted
	out, err := fill(newSc, vals)
	if err != nil {
		return nil, fmt.Errorf("TimestampConverter: %w", err)
	}
	return t.side.with(r, newSc, out), nil
}

func (t *TimestampConverter) convert(sc *schema.Schema, x any) (any, error) {
	if x == nil {
		return nil, nil
	}
	ts, err := t.toTime(sc, x)
	if err != nil {
		return nil, fmt.Errorf("TimestampConverter %s: %w", t.side, err)
	}
	switch t.target {
	case tsString:
		return t.layout.format(ts), nil
	case tsUnix:
		return t.toUnix(ts)
	case tsDate:
		y, m, d := ts.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
	case tsTime:
		h, mi, s := ts.Clock()
		return time.Date(1970, 1, 1, h, mi, s, ts.Nanosecond()/1e6*1e6, time.UTC), nil
	}
	return ts, nil
}

// unixRange holds, per unix.precision, the times whose count in that unit fits in an int64; outside it Go's
// UnixNano (and UnixMicro, UnixMilli) give an undefined number. Nanoseconds only reach 1677-09-21 to 2262-04-11,
// so a date such as 9999-12-31, which databases use for "no end", does not fit.
var unixRange = map[string][2]time.Time{
	// The upper bounds include the last unit's fractions, which the count rounds down.
	"milliseconds": {time.UnixMilli(math.MinInt64), time.UnixMilli(math.MaxInt64).Add(time.Millisecond - 1)},
	"microseconds": {time.UnixMicro(math.MinInt64), time.UnixMicro(math.MaxInt64).Add(time.Microsecond - 1)},
	"nanoseconds":  {time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64)},
}

// toUnix counts ts in unix.precision units; a time whose count does not fit in an int64 is an error, where Kafka
// saturates at Long.MIN_VALUE/MAX_VALUE.
func (t *TimestampConverter) toUnix(ts time.Time) (int64, error) {
	if r, ok := unixRange[t.precision]; ok && (ts.Before(r[0]) || ts.After(r[1])) {
		return 0, fmt.Errorf("TimestampConverter %s: %w", t.side,
			unsupported("%s is out of the range of unix %s in an int64", ts.Format(time.RFC3339Nano), t.precision))
	}
	switch t.precision {
	case "seconds":
		return ts.Unix(), nil
	case "microseconds":
		return ts.UnixMicro(), nil
	case "nanoseconds":
		return ts.UnixNano(), nil
	}
	return ts.UnixMilli(), nil
}

func (t *TimestampConverter) fromUnix(n int64) time.Time {
	switch t.precision {
	case "seconds":
		return time.Unix(n, 0).UTC()
	case "microseconds":
		return time.UnixMicro(n).UTC()
	case "nanoseconds":
		return time.Unix(0, n).UTC()
	}
	return time.UnixMilli(n).UTC()
}

func (t *TimestampConverter) toTime(sc *schema.Schema, x any) (time.Time, error) {
	switch v := x.(type) {
	case time.Time:
		return v.UTC(), nil
	case string:
		if t.layout == nil {
			if sc == nil {
				if n, err := strconv.ParseInt(v, 10, 64); err == nil {
					return t.fromUnix(n), nil
				}
			}
			return time.Time{}, unsupported("string timestamp %q needs format to be set", v)
		}
		ts, err := t.layout.parse(v)
		if err != nil {
			return time.Time{}, unsupported("%v", err)
		}
		return ts, nil
	case int64:
		return t.fromUnix(v), nil
	case int32:
		return t.fromUnix(int64(v)), nil
	case int:
		return t.fromUnix(int64(v)), nil
	case float64:
		if !(v >= math.MinInt64 && v < math.MaxInt64) { // NaN, ±Inf, or beyond an int64: int64(v) would be undefined
			return time.Time{}, unsupported("cannot read a timestamp from %v", v)
		}
		return t.fromUnix(int64(v)), nil
	}
	return time.Time{}, unsupported("cannot read a timestamp from %T", x)
}
