package jdbc

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/internal/position"
)

// A stored tie key reads back as it was written, whatever a store made of its numbers; anything else is a
// bad position, and no key is none.
func TestParsePosKey(t *testing.T) {
	for _, tt := range []struct {
		in   any
		want []any
	}{
		{[]any{int64(-7), "a"}, []any{int64(-7), "a"}},
		{[]any{json.Number("9007199254740993")}, []any{int64(9007199254740993)}},
		{[]any{float64(42), 3}, []any{int64(42), int64(3)}},
	} {
		got, err := parsePosKey(map[string]any{OffsetKey: tt.in})
		require.NoError(t, err, "%v", tt.in)
		require.Equal(t, tt.want, got)
	}
	got, err := parsePosKey(map[string]any{OffsetTimestamp: "2020-01-01T00:00:00Z"})
	require.NoError(t, err)
	require.Nil(t, got)
	for _, bad := range []any{"x", []any{}, []any{1.5}, []any{true}, []any{json.Number("1e3")}} {
		_, err := parsePosKey(map[string]any{OffsetKey: bad})
		require.ErrorIs(t, err, position.ErrBadPosition, "%v", bad)
	}
}

// The unit a timestamp query's bound is cut to: the column's precision, a day for a date, a second when
// the driver does not tell (MySQL's 31 for an expression's unknown decimals).
func TestTSUnitOf(t *testing.T) {
	ts := func(scale int64, has bool) colMeta { return colMeta{scale: scale, hasScale: has} }
	require.Equal(t, time.Second, tsUnitOf(ts(0, true), kTimestamp))
	require.Equal(t, time.Millisecond, tsUnitOf(ts(3, true), kTimestamp))
	require.Equal(t, time.Microsecond, tsUnitOf(ts(6, true), kTimestamp))
	require.Equal(t, time.Second, tsUnitOf(ts(31, true), kTimestamp))
	require.Equal(t, time.Second, tsUnitOf(ts(0, false), kTimestamp))
	require.Equal(t, 24*time.Hour, tsUnitOf(ts(0, false), kDate))
	require.Equal(t, time.Second, tsUnitOf(ts(0, false), kString))
}

// A PostgreSQL NUMERIC's scale is 11 signed bits of its type modifier: a negative one maps to scale 0; a
// timestamp's modifier is its fractional digits, 6 when undeclared.
func TestPgTypeModifiers(t *testing.T) {
	m := pgtype.NewMap()
	numeric := func(prec, scale int32) colMeta {
		return pgColMeta(m, &pgconn.FieldDescription{Name: "n", DataTypeOID: pgtype.NumericOID,
			TypeModifier: (prec<<16 | scale&0x7ff) + 4})
	}
	for _, tt := range []struct{ prec, scale, want int32 }{{5, -2, 0}, {10, 2, 2}, {4, 6, 6}, {1000, 1000, 1000}, {5, -1000, 0}} {
		c := mapColumn(postgresDialect, numeric(tt.prec, tt.scale), nil)
		require.Equal(t, kDecimal, c.kind)
		require.Equal(t, tt.want, c.scale, "numeric(%d,%d)", tt.prec, tt.scale)
	}
	for _, tt := range []struct {
		mod  int32
		want int64
	}{{-1, 6}, {0, 0}, {3, 3}} {
		c := pgColMeta(m, &pgconn.FieldDescription{Name: "ts", DataTypeOID: pgtype.TimestampOID, TypeModifier: tt.mod})
		require.True(t, c.hasScale)
		require.Equal(t, tt.want, c.scale)
	}
}
