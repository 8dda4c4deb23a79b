package httpconn

import (
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema"
)

// TestDecodeJSONNumbers: a number becomes an int64 when it is an integer within int64, a float64 when it has a
// fraction or an exponent and a float64 holds it exactly, and a Decimal of its exact digits otherwise.
func TestDecodeJSONNumbers(t *testing.T) {
	dec := func(unscaled string, scale int32) schema.Decimal {
		u, ok := new(big.Int).SetString(unscaled, 10)
		require.True(t, ok)
		return schema.Decimal{Unscaled: u, Scale: scale}
	}
	for _, tc := range []struct {
		in   string
		want any
	}{
		{"0", int64(0)},
		{"-0", int64(0)},
		{"-42", int64(-42)},
		{"9223372036854775807", int64(math.MaxInt64)},
		{"9223372036854775808", dec("9223372036854775808", 0)},
		{"12345678901234567890", dec("12345678901234567890", 0)},
		{"19.90", 19.9},
		{"0.5", 0.5},
		{"1.0", 1.0},
		{"1e3", 1000.0},
		{"2.5E-3", 0.0025},
		{"-0.0", math.Copysign(0, -1)},
		{"0.1", 0.1},
		{"0.123456789012345678", dec("123456789012345678", 18)},
		{"-98765432109876543210.5", dec("-987654321098765432105", 1)},
		{"1e400", dec("1", -400)},
		{"1e-400", dec("1", 400)},
		{"5e-324", 5e-324},
		{"4.9e-324", dec("49", 325)}, // nearest float64 5e-324
		{"1.7976931348623157e308", math.MaxFloat64},
	} {
		got, err := decodeJSON([]byte(`{"n":` + tc.in + `}`))
		require.NoError(t, err, tc.in)
		n := got.(map[string]any)["n"]
		if d, ok := tc.want.(schema.Decimal); ok {
			gd, isDec := n.(schema.Decimal)
			require.True(t, isDec, "%s: %T %v", tc.in, n, n)
			require.True(t, d.Equal(gd), "%s: %v", tc.in, gd)
			continue
		}
		require.Equal(t, tc.want, n, tc.in)
		if f, ok := n.(float64); ok {
			require.Equal(t, math.Signbit(tc.want.(float64)), math.Signbit(f), tc.in)
		}
	}
}

// TestDecodeJSONValues: objects, arrays, strings, booleans and null decode as the JSON converter decodes them
// (schemaless), nested numbers included; a document with trailing data or a number of more digits than a
// Decimal may have is refused.
func TestDecodeJSONValues(t *testing.T) {
	got, err := decodeJSON([]byte(` {"a":[1,"x",true,null,{"b":2.5}],"c":"\u00e9"} `))
	require.NoError(t, err)
	require.Equal(t, map[string]any{"a": []any{int64(1), "x", true, nil, map[string]any{"b": 2.5}}, "c": "é"}, got)
	for _, bad := range []string{`{"a":1} {}`, `{"a":`, `1e99999999999`, "0." + strings.Repeat("1", schema.MaxDecimalDigits+1)} {
		_, err := decodeJSON([]byte(bad))
		require.Error(t, err, "%.40s", bad)
	}
}
