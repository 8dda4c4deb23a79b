package jdbc

import (
	"math/big"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema"
)

// TestPgNumericAgreesWithText: a binary NUMERIC decodes to the Connect value its text form (what
// database/sql's pgx driver gives) converts to, or to the same failure, whether or not the short path
// takes it.
func TestPgNumericAgreesWithText(t *testing.T) {
	m := pgtype.NewMap()
	fd := &pgconn.FieldDescription{Name: "x", DataTypeOID: pgtype.NumericOID, Format: pgtype.BinaryFormatCode}
	for _, tt := range []struct {
		s     string
		scale int32
		short bool // the short path takes it
	}{{"12.34", 2, true}, {"-0.05", 2, true}, {"0", 0, true}, {"0", 4, true}, {"-17", 0, true}, {"1.5", 2, true},
		{"123456789012345.6789", 4, false}, {"10000", 0, true}, {"-9999.9999", 4, true}, {"0.0001", 4, true},
		{"99999999999999999.9", 1, true}, {"1000000000000000000", 0, false}, {"9223372036854775807", 0, false},
		{"123456789012345678901234567890", 0, false}, {"1.234", 2, false}, {"NaN", 2, false}, {"-100000000000000000000", 0, false}, {"-100000000000000000", 0, true},
		{"12345678901234.5678", 4, true}, {"120000", 2, true}} {
		var n pgtype.Numeric
		require.NoError(t, n.Scan(tt.s), tt.s)
		src, err := m.Encode(pgtype.NumericOID, pgtype.BinaryFormatCode, n, nil)
		require.NoError(t, err, tt.s)
		c := colConv{name: "x", kind: kDecimal, scale: tt.scale}
		drv := pgDriverValue(m, fd)
		text, err := drv(src, nil)
		require.NoError(t, err, tt.s)
		want, wantErr := c.value(text, nil)
		var a arena
		got, err := pgConnectValue(fd, &c, drv)(src, &a)
		if wantErr != nil {
			require.Error(t, err, tt.s)
			continue
		}
		require.NoError(t, err, tt.s)
		require.True(t, want.(schema.Decimal).Equal(got.(schema.Decimal)), "%s: %v vs %v", tt.s, got, want)
		require.Equal(t, tt.scale, got.(schema.Decimal).Scale, tt.s)
		_, short := pgNumericUnscaled(src, tt.scale)
		require.Equal(t, tt.short, short, tt.s)
	}
}

// TestPgTimestampAgreesWithPgx: the hand-read binary timestamp is the instant pgx reads.
func TestPgTimestampAgreesWithPgx(t *testing.T) {
	m := pgtype.NewMap()
	for _, oid := range []uint32{pgtype.TimestampOID, pgtype.TimestamptzOID} {
		fd := &pgconn.FieldDescription{Name: "x", DataTypeOID: oid, Format: pgtype.BinaryFormatCode}
		for _, ts := range []time.Time{time.Date(2024, 2, 29, 13, 14, 15, 678e6, time.UTC),
			time.Date(1999, 12, 31, 23, 59, 59, 999999e3, time.UTC), time.Date(1969, 7, 20, 20, 17, 40, 1e3, time.UTC),
			time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)} {
			src, err := m.Encode(oid, pgtype.BinaryFormatCode, ts, nil)
			require.NoError(t, err)
			got, ok := pgTimestamp(src)
			require.True(t, ok)
			require.True(t, ts.Equal(got), "%v vs %v", ts, got)
			require.Equal(t, time.UTC, got.Location())
			v, err := pgPlanned(m, fd)(src, nil)
			require.NoError(t, err)
			require.True(t, v.(time.Time).Equal(got))
		}
		src, err := m.Encode(oid, pgtype.BinaryFormatCode, pgtype.Timestamp{InfinityModifier: pgtype.Infinity, Valid: true}, nil)
		if oid == pgtype.TimestamptzOID {
			src, err = m.Encode(oid, pgtype.BinaryFormatCode, pgtype.Timestamptz{InfinityModifier: pgtype.Infinity, Valid: true}, nil)
		}
		require.NoError(t, err)
		_, ok := pgTimestamp(src)
		require.False(t, ok, "infinity is left to pgx")
	}
}

// FuzzPgNumericUnscaled: the short path agrees with a big.Int reading of the same wire bytes: the same
// unscaled value when it takes them, and it declines exactly what the reference finds unfit.
func FuzzPgNumericUnscaled(f *testing.F) {
	m := pgtype.NewMap()
	for _, s := range []string{"12.34", "-0.05", "0", "99999999999999999.9", "120000", "-9999.9999", "1.234", "1000000000000000000000000000000", "NaN"} {
		var n pgtype.Numeric
		if err := n.Scan(s); err != nil {
			f.Fatal(err)
		}
		src, err := m.Encode(pgtype.NumericOID, pgtype.BinaryFormatCode, n, nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src, int32(2))
		f.Add(src, int32(1))
	}
	f.Fuzz(func(t *testing.T, src []byte, scale int32) {
		want, wantOK := refNumericUnscaled(src, scale)
		got, ok := pgNumericUnscaled(src, scale)
		if ok != wantOK || got != want {
			t.Fatalf("% x at scale %d: %d %v, want %d %v", src, scale, got, ok, want, wantOK)
		}
	})
}

// refNumericUnscaled is pgNumericUnscaled done with big.Int: the value Σ digit_i × 10000^(weight-i),
// times 10^scale, when it is a finite number with a display scale in [0, scale], an integer, and of at
// most 18 digits.
func refNumericUnscaled(src []byte, scale int32) (int64, bool) {
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
	n := new(big.Int)
	for i := range ndigits {
		d := be.Uint16(src[8+2*i:])
		if d > 9999 {
			return 0, false
		}
		n.Mul(n, big.NewInt(10000)).Add(n, big.NewInt(int64(d)))
	}
	if n.Sign() == 0 {
		return 0, true
	}
	exp := 4*(weight-ndigits+1) + int(scale) // n × 10^exp
	switch {
	case exp > 18 || exp < -4*ndigits:
		return 0, false // 10^18 or more, or a fraction
	case exp >= 0:
		n.Mul(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(exp)), nil))
	default:
		var r big.Int
		n.QuoRem(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-exp)), nil), &r)
		if r.Sign() != 0 {
			return 0, false
		}
	}
	if n.Cmp(big.NewInt(1e18)) >= 0 {
		return 0, false
	}
	if sign == 0x4000 {
		n.Neg(n)
	}
	return n.Int64(), true
}

// TestPgConnectValueAgreesWithConversion: each column's Connect decoder gives the value (of the same Go
// type) or the failure that converting its driver value gives, on its short paths and off them.
func TestPgConnectValueAgreesWithConversion(t *testing.T) {
	m := pgtype.NewMap()
	ts := time.Date(2024, 2, 29, 13, 14, 15, 678e6, time.UTC)
	for _, tt := range []struct {
		oid  uint32
		kind colKind
		val  any // encoded by pgx
	}{
		{pgtype.Int8OID, kInt64, int64(-1 << 40)}, {pgtype.Int8OID, kInt64, int64(7)}, {pgtype.Int4OID, kInt32, int32(-5)},
		{pgtype.Int2OID, kInt16, int16(300)}, {pgtype.TextOID, kString, "héllo"}, {pgtype.VarcharOID, kString, ""},
		{pgtype.BPCharOID, kString, "ab  "}, {pgtype.TimestampOID, kTimestamp, ts}, {pgtype.TimestamptzOID, kTimestamp, ts},
		{pgtype.TimestampOID, kTimestamp, pgtype.Timestamp{InfinityModifier: pgtype.Infinity, Valid: true}},
		{pgtype.TimestamptzOID, kTimestamp, pgtype.Timestamptz{InfinityModifier: pgtype.NegativeInfinity, Valid: true}},
		{pgtype.DateOID, kDate, ts}, {pgtype.NumericOID, kDecimal, "12.34"}, {pgtype.NumericOID, kDecimal, "123456789012345678901.5"},
	} {
		fd := &pgconn.FieldDescription{Name: "x", DataTypeOID: tt.oid, Format: pgtype.BinaryFormatCode}
		if tt.oid == pgtype.TextOID || tt.oid == pgtype.VarcharOID || tt.oid == pgtype.BPCharOID {
			fd.Format = pgtype.TextFormatCode
		}
		val := tt.val
		if s, ok := val.(string); ok && tt.kind == kDecimal {
			var n pgtype.Numeric
			require.NoError(t, n.Scan(s))
			val = n
		}
		src, err := m.Encode(tt.oid, fd.Format, val, nil)
		require.NoError(t, err, "%d %v", tt.oid, tt.val)
		c := colConv{name: "x", kind: tt.kind, scale: 2}
		drv := pgDriverValue(m, fd)
		dv, err := drv(src, nil)
		require.NoError(t, err)
		want, wantErr := c.value(dv, nil)
		for _, a := range []*arena{nil, new(arena)} {
			got, err := pgConnectValue(fd, &c, drv)(src, a)
			if wantErr != nil {
				require.Error(t, err, "%d %v", tt.oid, tt.val)
				continue
			}
			require.NoError(t, err, "%d %v", tt.oid, tt.val)
			require.IsType(t, want, got, "%d %v", tt.oid, tt.val)
			require.True(t, schema.Equal(want, got), "%d %v: %#v vs %#v", tt.oid, tt.val, got, want)
			if w, ok := want.(time.Time); ok {
				require.Equal(t, w.Location(), got.(time.Time).Location())
			}
		}
	}
}
