package avro

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema"
)

// Avro defines a named type once and refers to it by name afterwards; an enum or fixed that two fields share maps
// to one Connect schema per field and back to the one definition, as a struct does.
func TestSharedEnumAndFixedRoundTrip(t *testing.T) {
	a := MustParse(`{"type":"record","name":"R","namespace":"n","fields":[
		{"name":"from","type":{"type":"enum","name":"Color","symbols":["RED","GREEN"]}},
		{"name":"to","type":["null","Color"],"default":null},
		{"name":"h1","type":{"type":"fixed","name":"Hash","size":4}},
		{"name":"h2","type":"Hash"},
		{"name":"d1","type":{"type":"fixed","name":"Money","size":8,"logicalType":"decimal","precision":10,"scale":2}},
		{"name":"d2","type":{"type":"array","items":"Money"}}]}`)
	c, err := ToConnect(a)
	require.NoError(t, err)
	back, err := FromConnect(c)
	require.NoError(t, err)
	require.NoError(t, CanRead(a, back))
	require.NoError(t, CanRead(back, a))
	// And FromConnect's own schema survives the trip unchanged.
	c2, err := ToConnect(MustParse(back.String()))
	require.NoError(t, err)
	again, err := FromConnect(c2)
	require.NoError(t, err)
	require.Equal(t, back.String(), again.String())

	codec, err := NewCodec(back, c)
	require.NoError(t, err)
	v := schema.NewStruct(c).MustPut("from", "RED").MustPut("to", "GREEN").MustPut("h1", []byte("abcd")).
		MustPut("h2", []byte("efgh")).MustPut("d1", schema.NewDecimal(-12345, 2)).
		MustPut("d2", []any{schema.NewDecimal(1, 2)})
	data, err := codec.Encode(nil, v)
	require.NoError(t, err)
	out, err := codec.Decode(data)
	require.NoError(t, err)
	require.True(t, v.Equal(out.(*schema.Struct)), "got %v", out)

	// Two different types under one Avro name are still refused.
	red := schema.NewBuilder(schema.String).Name("n.Color").Parameter(ParamEnum, "n.Color").
		Parameter(ParamEnumSymbols, "RED").MustBuild()
	blue := schema.NewBuilder(schema.String).Name("n.Color").Parameter(ParamEnum, "n.Color").
		Parameter(ParamEnumSymbols, "BLUE").MustBuild()
	_, err = FromConnect(schema.StructBuilder().Field("a", red).Field("b", blue).MustBuild())
	require.ErrorIs(t, err, ErrUnsupported)
	require.Contains(t, err.Error(), `"n.Color"`)
}

// A union STRUCT names its fields by the branches' simple names; two named branches with the same simple name (in
// different namespaces) take their full names instead, so every branch keeps a field of its own.
func TestUnionBranchesWithTheSameSimpleName(t *testing.T) {
	a := MustParse(`{"type":"record","name":"Top","fields":[{"name":"u","type":["null","int",
		{"type":"record","name":"S","namespace":"c","fields":[{"name":"z","type":"int"}]},
		{"type":"record","name":"R","namespace":"a","fields":[{"name":"x","type":"int"}]},
		{"type":"record","name":"R","namespace":"b","fields":[{"name":"y","type":"string"}]}],"default":null}]}`)
	c, err := ToConnect(a)
	require.NoError(t, err)
	u, _ := c.Field("u")
	require.Equal(t, []string{"int", "S", "a.R", "b.R"}, u.Schema.FieldNames())

	codec, err := NewCodec(a, nil)
	require.NoError(t, err)
	for _, branch := range []string{"a.R", "b.R"} {
		t.Run(branch, func(t *testing.T) {
			f, _ := u.Schema.Field(branch)
			rec := schema.NewStruct(f.Schema)
			if branch == "a.R" {
				rec.MustPut("x", int32(7))
			} else {
				rec.MustPut("y", "seven")
			}
			v := schema.NewStruct(c).MustPut("u", schema.NewStruct(u.Schema).MustPut(branch, rec))
			data, err := codec.Encode(nil, v)
			require.NoError(t, err)
			out, err := codec.Decode(data)
			require.NoError(t, err)
			require.True(t, v.Equal(out.(*schema.Struct)), "got %v", out)
		})
	}

	back, err := FromConnect(c)
	require.NoError(t, err)
	require.NoError(t, CanRead(a, back))
	require.NoError(t, CanRead(back, a))

	// A named type called like a primitive branch also takes its full name.
	c, err = ToConnect(MustParse(`["string",{"type":"enum","name":"string","namespace":"e","symbols":["A"]}]`))
	require.NoError(t, err)
	require.Equal(t, []string{"string", "e.string"}, c.FieldNames())
}
