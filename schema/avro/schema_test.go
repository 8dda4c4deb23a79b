package avro

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema"
)

// A registry schema can ask for any fixed size or precision; the ones no Avro int holds are refused when parsed,
// before a writer would allocate the padded fixed (2^50 bytes is more than a Go slice can hold: make panics).
func TestParseBoundsFixedSizeAndDecimalPrecision(t *testing.T) {
	for _, text := range []string{
		`{"type":"fixed","name":"D","size":1125899906842624,"logicalType":"decimal","precision":10,"scale":2}`,
		`{"type":"fixed","name":"F","size":2147483648}`,
		`{"type":"fixed","name":"F","size":-1}`,
		`{"type":"bytes","logicalType":"decimal","precision":4611686018427387904}`,
		`{"type":"fixed","name":"D","size":8,"logicalType":"decimal","precision":2147483648}`,
	} {
		_, err := Parse(text)
		require.ErrorIs(t, err, ErrInvalidSchema, text)
	}
	s, err := Parse(`{"type":"fixed","name":"F","size":2147483647}`)
	require.NoError(t, err)
	require.Equal(t, 2147483647, s.Size)

	// FromConnect keeps the same bounds on the Connect parameters that carry them.
	huge := schema.DecimalBuilder(2).Parameter(ParamFixedSize, "1125899906842624").Parameter(ParamFixedName, "a.D").MustBuild()
	_, err = FromConnect(huge)
	require.ErrorIs(t, err, ErrUnsupported)
	require.Contains(t, err.Error(), ParamFixedSize)
	zero := schema.DecimalBuilder(0).Parameter(ParamPrecision, "0").MustBuild()
	_, err = FromConnect(zero)
	require.ErrorIs(t, err, ErrUnsupported)
	require.Contains(t, err.Error(), ParamPrecision)

	// A Schema built by hand is refused when written, not a panic.
	d := &Schema{Kind: Fixed, Name: "D", Size: -1, LogicalType: LogicalDecimal, Precision: 10, Scale: 2}
	_, err = encodeValue(d, nil, schema.NewDecimal(5, 2), 0)
	require.ErrorIs(t, err, schema.ErrInvalidValue)
}
