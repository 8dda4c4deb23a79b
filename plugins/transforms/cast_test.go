package transforms

import (
	"fmt"
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema"
)

var (
	castDay  = time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC) // 19724 days after the epoch
	castTime = time.Date(1970, 1, 1, 3, 4, 5, 6e6, time.UTC)
)

// bigDec returns unscaled × 10^-scale from the decimal digits of unscaled.
func bigDec(unscaled string, scale int32) schema.Decimal {
	u, ok := new(big.Int).SetString(unscaled, 10)
	if !ok {
		panic(unscaled)
	}
	return schema.Decimal{Unscaled: u, Scale: scale}
}

// TestCastKafkaValues pins castValue to the values Kafka's Cast gives (Cast.encodeLogicalType, then Java's
// Number.byteValue/intValue/longValue, Byte.parseByte, Integer.parseInt...).
func TestCastKafkaValues(t *testing.T) {
	cases := []struct {
		sc   *schema.Schema
		in   any
		to   schema.Type
		want any
	}{
		// Logical types are encoded first: a Date is days, a Time millis of the day, a Timestamp epoch millis.
		{schema.DateSchema(), castDay, schema.Int32, int32(19724)},
		{schema.DateSchema(), castDay, schema.Int64, int64(19724)},
		{schema.DateSchema(), castDay, schema.Int8, int8(12)}, // Integer.byteValue: 19724 mod 256
		{schema.DateSchema(), castDay, schema.Float64, 19724.0},
		{schema.DateSchema(), castDay, schema.Boolean, true},
		{schema.TimeSchema(), castTime, schema.Int32, int32(11045006)},
		{schema.TimeSchema(), castTime, schema.Int64, int64(11045006)},
		{schema.TimestampSchema(), recTime, schema.Int64, recTime.UnixMilli()},
		{schema.TimestampSchema(), recTime, schema.Int32, int32(recTime.UnixMilli())}, // Long.intValue
		{nil, recTime, schema.Int64, recTime.UnixMilli()},                             // schemaless: a Timestamp
		{schema.DateSchema(), castDay, schema.String, "2024-01-02"},
		{schema.TimeSchema(), castTime, schema.String, "03:04:05.006Z"},
		{schema.TimestampSchema(), recTime, schema.String, "2024-01-02T03:04:05.000Z"},
		{nil, castDay, schema.String, "2024-01-02T00:00:00.000Z"},

		// Decimals convert exactly, truncating toward zero; in int64 range they narrow as integers do.
		{schema.DecimalSchema(0), bigDec("12345678901234567", 0), schema.Int64, int64(12345678901234567)},
		{schema.DecimalSchema(1), bigDec("1234567890123456789", 1), schema.Int64, int64(123456789012345678)},
		{schema.DecimalSchema(1), bigDec("-27", 1), schema.Int32, int32(-2)},
		{schema.DecimalSchema(2), bigDec("-999", 2), schema.Int64, int64(-9)},
		{schema.DecimalSchema(0), bigDec("300", 0), schema.Int8, int8(44)}, // BigDecimal.byteValue
		{schema.DecimalSchema(-2), bigDec("3", -2), schema.Int16, int16(300)},
		{schema.DecimalSchema(1), bigDec("5", 1), schema.Boolean, false}, // longValue() of 0.5 is 0
		{schema.DecimalSchema(1), bigDec("-15", 1), schema.Boolean, true},
		{schema.DecimalSchema(-30), bigDec("1", -30), schema.Boolean, true},
		{schema.DecimalSchema(1 << 30), bigDec("1", 1<<30), schema.Int64, int64(0)}, // no 10^(2^30) computed
		{schema.DecimalSchema(0), bigDec("12345678901234567", 0), schema.Float64, 1.2345678901234568e16},
		{schema.DecimalSchema(1), bigDec("1", 1), schema.Float32, float32(0.1)},
		{schema.DecimalSchema(0), schema.Decimal{}, schema.Int32, int32(0)},

		// Numbers narrow as Java narrows them: integers keep the low-order bits, floats truncate and saturate.
		{nil, int64(300), schema.Int8, int8(44)},
		{nil, int32(70000), schema.Int16, int16(4464)},
		{nil, int64(1<<60 + 1<<36 + 1), schema.Float32, float32(1<<60 + 1<<37)}, // rounded once, not via float64
		{nil, 300.7, schema.Int8, int8(44)},
		{nil, -2.7, schema.Int64, int64(-2)},
		{nil, 1e20, schema.Int64, int64(math.MaxInt64)},
		{nil, -1e20, schema.Int64, int64(math.MinInt64)},
		{nil, 1e20, schema.Int32, int32(math.MaxInt32)},
		{nil, 1e10, schema.Int8, int8(-1)}, // (byte)(int)1e10 = (byte)0x7fffffff
		{nil, -1e10, schema.Int16, int16(0)},
		{nil, float32(3.9), schema.Int16, int16(3)},
		{nil, 0.5, schema.Boolean, false},
		{nil, -1.0, schema.Boolean, true},
		{nil, math.NaN(), schema.Boolean, false},
		{nil, math.Inf(-1), schema.Boolean, true},

		// Strings parse as the target type.
		{nil, "-128", schema.Int8, int8(-128)},
		{nil, "+7", schema.Int16, int16(7)},
		{nil, " 12 ", schema.Int32, int32(12)},
		{nil, "9223372036854775807", schema.Int64, int64(math.MaxInt64)},
		{nil, "0.1", schema.Float32, float32(0.1)},
		{nil, "1e3", schema.Float64, 1000.0},
	}
	for _, tc := range cases {
		what := fmt.Sprintf("%v (%T, schema %v) to %s", tc.in, tc.in, tc.sc, tc.to)
		t.Run(what, func(t *testing.T) {
			got, err := castValue(tc.sc, tc.in, tc.to)
			require.NoError(t, err)
			requireValueEqual(t, tc.want, got, what)
		})
	}

	for _, bad := range []struct {
		sc *schema.Schema
		in any
		to schema.Type
	}{
		{nil, "300", schema.Int8}, {nil, "-129", schema.Int8}, {nil, "40000", schema.Int16}, {nil, "2147483648", schema.Int32},
		{nil, "9223372036854775808", schema.Int64}, {nil, "1.5", schema.Int32}, {nil, "1e3", schema.Int64},
		{nil, "1e39", schema.Float32}, {nil, "1e309", schema.Float64},
		{schema.DecimalSchema(0), bigDec("100000000000000000000", 0), schema.Int64},
		{schema.DecimalSchema(-30), bigDec("1", -30), schema.Int32},
		{schema.DateSchema(), recTime, schema.Int32}, // a Date with a time of day
		{schema.TimeSchema(), recTime, schema.Int32}, // a Time on another day
	} {
		t.Run(fmt.Sprintf("%v (schema %v) to %s fails", bad.in, bad.sc, bad.to), func(t *testing.T) {
			_, err := castValue(bad.sc, bad.in, bad.to)
			require.ErrorIs(t, err, ErrUnsupportedValue)
		})
	}
}

// TestCastLogicalFields runs Cast over struct fields and whole values of logical types: the field's schema
// decides the encoding, for its value and for its default.
func TestCastLogicalFields(t *testing.T) {
	inSc := schema.StructBuilder().
		Field("day", schema.DateBuilder().Optional().Default(castDay).MustBuild()).
		Field("at", schema.TimeSchema()).
		Field("amount", schema.DecimalSchema(0)).
		Field("n", schema.StringSchema).MustBuild()
	outSc := schema.StructBuilder().
		Field("day", schema.NewBuilder(schema.Int32).Optional().Default(int32(19724)).MustBuild()).
		Field("at", schema.StringSchema).
		Field("amount", schema.Int64Schema).
		Field("n", schema.StringSchema).MustBuild()
	in := mk(inSc, "day", castDay, "at", castTime, "amount", bigDec("12345678901234567", 0), "n", "x")
	tooBig := mk(inSc, "day", castDay, "at", castTime, "amount", bigDec("12345678901234567", 0), "n", "300")
	spec := map[string]string{"spec": "day:int32,at:string,amount:int64"}
	runOpCases(t, []opCase{
		{name: "fields", typ: "Cast", cfg: spec, inSc: inSc, in: in, outSc: outSc,
			out: mk(outSc, "day", int32(19724), "at", "03:04:05.006Z", "amount", int64(12345678901234567), "n", "x")},
		{name: "whole Date", typ: "Cast", cfg: map[string]string{"spec": "int64"}, inSc: schema.DateSchema(), in: castDay,
			outSc: schema.Int64Schema, out: int64(19724)},
		{name: "whole Date to string", typ: "Cast", cfg: map[string]string{"spec": "string"}, inSc: schema.DateSchema(), in: castDay,
			outSc: schema.StringSchema, out: "2024-01-02"},
		{name: "string out of range", typ: "Cast", cfg: map[string]string{"spec": "n:int8"}, inSc: inSc, in: tooBig, err: ErrUnsupportedValue},
		{name: "schemaless string out of range", typ: "Cast", cfg: map[string]string{"spec": "n:int8"},
			in: map[string]any{"n": "300"}, err: ErrUnsupportedValue},
	})
}
