package cdc_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc"
	"github.com/rmqconnect/rmqconnect/schema"
)

// TestParseDecimalAsGeneral: the short path gives what schema.ParseDecimal and Rescale give, value, scale
// and error alike, on the texts databases send and on those it leaves to the general path.
func TestParseDecimalAsGeneral(t *testing.T) {
	texts := []string{"0", "-0", "0.00", "-0.00", "1", "-1", "+7", "12.5", "12.50", "12.345", "-12.34", ".5", "5.",
		"999999999999999999", "-999999999999999999", "9999999999999999.99", "99999999999999999.99", "1234567890123456789",
		"0.000000000000000001", "1e3", "1.5E-2", "", ".", "-", "+-1", "1.2.3", "abc", "12a", "1,5", " 1", "١٢"}
	for _, s := range texts {
		for _, scale := range []int32{0, 1, 2, 4, 10, 18, 19, 30} {
			want, wantErr := schema.ParseDecimal(s)
			if wantErr == nil {
				want, wantErr = want.Rescale(scale)
			}
			got, err := cdc.ParseDecimal(s, scale)
			if wantErr != nil {
				require.EqualError(t, err, wantErr.Error(), "%q at scale %d", s, scale)
				continue
			}
			require.NoError(t, err, "%q at scale %d", s, scale)
			require.Equal(t, want.Scale, got.Scale, "%q at scale %d", s, scale)
			require.Zero(t, want.Unscaled.Cmp(got.Unscaled), "%q at scale %d: %s, want %s", s, scale, got.Unscaled, want.Unscaled)
			require.Equal(t, want.String(), got.String(), "%q at scale %d", s, scale)
		}
	}
}

// TestParseDecimalValuesIndependent: each parsed value owns its digits.
func TestParseDecimalValuesIndependent(t *testing.T) {
	a, err := cdc.ParseDecimal("1.25", 2)
	require.NoError(t, err)
	b, err := cdc.ParseDecimal("-3.50", 2)
	require.NoError(t, err)
	a.Unscaled.SetInt64(999)
	require.Equal(t, "-3.50", b.String())
}

// TestSlabDecimal: a decimal made from its unscaled value is the one parsed from its text.
func TestSlabDecimal(t *testing.T) {
	var sl cdc.Slab
	for _, n := range []int64{0, 1, -1, 1250, -350, 999999999999999999, -999999999999999999, math.MaxInt64, math.MinInt64 + 1} {
		for _, scale := range []int32{0, 2, 18} {
			want := schema.NewDecimal(n, scale)
			got := sl.Decimal(n, scale)
			require.Equal(t, want.String(), got.String())
			require.Zero(t, want.Unscaled.Cmp(got.Unscaled))
		}
	}
	a, b := sl.Decimal(5, 1), sl.Decimal(-7, 1)
	a.Unscaled.SetInt64(999)
	require.Equal(t, "-0.7", b.String(), "each value owns its digits")
}

func BenchmarkParseDecimal(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cdc.ParseDecimal("12345.67", 2); err != nil {
			b.Fatal(err)
		}
	}
}
