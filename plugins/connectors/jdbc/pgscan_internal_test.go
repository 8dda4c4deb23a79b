package jdbc

import (
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
