package avro

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema"
)

// JSON has no number for NaN or the infinities; Avro writes such float and double defaults as the strings "NaN",
// "Infinity" and "-Infinity" (as Java Avro reads and writes them), so the schema parses, registers and maps back.
func TestNonFiniteFloatDefaultsRoundTrip(t *testing.T) {
	c := schema.StructBuilder().Name("com.example.Reading").
		Field("nan", schema.NewBuilder(schema.Float64).Default(math.NaN()).MustBuild()).
		Field("inf", schema.NewBuilder(schema.Float32).Default(float32(math.Inf(1))).MustBuild()).
		Field("neg", schema.NewBuilder(schema.Float64).Optional().Default(math.Inf(-1)).MustBuild()).
		Field("list", schema.ArrayOf(schema.Float64Schema).Default([]any{1.5, math.NaN()}).MustBuild()).
		MustBuild()
	a, err := FromConnect(c)
	require.NoError(t, err)
	text := a.String()
	require.Contains(t, text, `{"name":"nan","type":"double","default":"NaN"}`)
	require.Contains(t, text, `{"name":"inf","type":"float","default":"Infinity"}`)
	require.Contains(t, text, `{"name":"neg","type":["double","null"],"default":"-Infinity"}`)
	require.Contains(t, text, `"default":[1.5,"NaN"]`)

	again, err := Parse(text)
	require.NoError(t, err, text)
	require.Equal(t, text, again.String())
	back, err := ToConnect(again)
	require.NoError(t, err)
	f, _ := back.Field("nan")
	require.True(t, math.IsNaN(f.Schema.Default.(float64)), "%v", f.Schema.Default)
	f, _ = back.Field("inf")
	require.Equal(t, float32(math.Inf(1)), f.Schema.Default)
	f, _ = back.Field("neg")
	require.Equal(t, math.Inf(-1), f.Schema.Default)
	f, _ = back.Field("list")
	l := f.Schema.Default.([]any)
	require.Equal(t, 1.5, l[0])
	require.True(t, math.IsNaN(l[1].(float64)))

	// A reader that adds such a field fills it from the default.
	old := MustParse(`{"type":"record","name":"Reading","namespace":"com.example","fields":[]}`)
	codec, err := NewResolvingCodec(old, again)
	require.NoError(t, err)
	v, err := codec.Decode(nil)
	require.NoError(t, err)
	got, err := v.(*schema.Struct).Get("nan")
	require.NoError(t, err)
	require.True(t, math.IsNaN(got.(float64)))

	// Only float and double take these strings.
	_, err = Parse(`{"type":"record","name":"R","fields":[{"name":"x","type":"long","default":"NaN"}]}`)
	require.ErrorIs(t, err, ErrInvalidSchema)
	_, err = Parse(`{"type":"record","name":"R","fields":[{"name":"x","type":"double","default":"nan"}]}`)
	require.ErrorIs(t, err, ErrInvalidSchema)
}
