package schema_test

import (
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema"
)

func mustStruct(t *testing.T, b *schema.SchemaBuilder) *schema.Schema {
	t.Helper()
	s, err := b.Build()
	require.NoError(t, err)
	return s
}

func TestValidate(t *testing.T) {
	point := schema.StructBuilder().Name("Point").
		Field("x", schema.Int32Schema).
		Field("y", schema.Int32Schema).
		Field("label", schema.OptionalStringSchema).
		MustBuild()
	line := schema.StructBuilder().Name("Line").
		Field("from", point).
		Field("to", point).
		Field("tags", schema.ArrayOf(schema.StringSchema).MustBuild()).
		MustBuild()
	okPoint := schema.NewStruct(point).MustPut("x", int32(1)).MustPut("y", int32(2))
	badPoint := schema.NewStruct(point).MustPut("x", int32(1)) // y missing
	okLine := schema.NewStruct(line).MustPut("from", okPoint).MustPut("to", okPoint).MustPut("tags", []any{"a"})
	_, err := schema.NewStruct(line).Put("to", badPoint)
	require.ErrorIs(t, err, schema.ErrNullValue)
	require.Equal(t, "to.y", err.(*schema.FieldError).Path)
	pointMap := schema.MapOf(schema.StringSchema, point).MustBuild()
	pointArr := schema.ArrayOf(point).MustBuild()

	other := schema.StructBuilder().Name("Other").Field("x", schema.Int32Schema).MustBuild()
	intMap := schema.MapOf(schema.Int32Schema, schema.OptionalStringSchema).MustBuild()
	strMap := schema.MapOf(schema.StringSchema, schema.Int64Schema).MustBuild()
	arrOfArr := schema.ArrayOf(schema.ArrayOf(schema.Int8Schema).MustBuild()).MustBuild()
	withDefault := schema.NewBuilder(schema.Int32).Default(int32(7)).MustBuild()
	midnight := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
	noon := time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)
	timeOfDay := time.Date(1970, 1, 1, 13, 14, 15, 16e6, time.UTC)

	tests := []struct {
		name     string
		schema   *schema.Schema
		value    any
		sentinel error
		path     string
	}{
		{"schemaless anything", nil, map[string]any{"a": []any{int64(1)}}, nil, ""},
		{"schemaless nil", nil, nil, nil, ""},
		{"int8", schema.Int8Schema, int8(-3), nil, ""},
		{"int8 wrong", schema.Int8Schema, int16(3), schema.ErrInvalidValue, ""},
		{"int16", schema.Int16Schema, int16(3), nil, ""},
		{"int16 wrong", schema.Int16Schema, 3, schema.ErrInvalidValue, ""},
		{"int32", schema.Int32Schema, int32(3), nil, ""},
		{"int32 wrong", schema.Int32Schema, int64(3), schema.ErrInvalidValue, ""},
		{"int64", schema.Int64Schema, int64(3), nil, ""},
		{"int64 wrong", schema.Int64Schema, "3", schema.ErrInvalidValue, ""},
		{"float", schema.Float32Schema, float32(1.5), nil, ""},
		{"float wrong", schema.Float32Schema, 1.5, schema.ErrInvalidValue, ""},
		{"double", schema.Float64Schema, 1.5, nil, ""},
		{"double wrong", schema.Float64Schema, float32(1.5), schema.ErrInvalidValue, ""},
		{"boolean", schema.BooleanSchema, true, nil, ""},
		{"boolean wrong", schema.BooleanSchema, "true", schema.ErrInvalidValue, ""},
		{"string", schema.StringSchema, "x", nil, ""},
		{"string wrong", schema.StringSchema, []byte("x"), schema.ErrInvalidValue, ""},
		{"bytes", schema.BytesSchema, []byte{1}, nil, ""},
		{"bytes wrong", schema.BytesSchema, "x", schema.ErrInvalidValue, ""},
		{"required nil", schema.StringSchema, nil, schema.ErrNullValue, ""},
		{"optional nil", schema.OptionalStringSchema, nil, nil, ""},
		{"nil with default", withDefault, nil, nil, ""},
		{"array", arrOfArr, []any{[]any{int8(1)}, []any{}}, nil, ""},
		{"typed slice", schema.ArrayOf(schema.StringSchema).MustBuild(), []string{"a", "b"}, nil, ""},
		{"array bad element", arrOfArr, []any{[]any{int8(1)}, []any{int8(2), 3}}, schema.ErrInvalidValue, "[1][1]"},
		{"array not a slice", arrOfArr, "x", schema.ErrInvalidValue, ""},
		{"array of bytes is not an array", schema.ArrayOf(schema.Int8Schema).MustBuild(), []byte{1}, schema.ErrInvalidValue, ""},
		{"map int keys", intMap, map[any]any{int32(1): "a", int32(2): nil}, nil, ""},
		{"map string keys", strMap, map[string]any{"a": int64(1)}, nil, ""},
		{"typed map", strMap, map[string]int64{"a": 1}, nil, ""},
		{"map bad key", intMap, map[any]any{"1": "a"}, schema.ErrInvalidValue, `["1"]`},
		{"map bad value", strMap, map[any]any{"k": int32(1)}, schema.ErrInvalidValue, `["k"]`},
		{"map not a map", strMap, []any{}, schema.ErrInvalidValue, ""},
		{"struct", line, okLine, nil, ""},
		{"struct missing required", point, badPoint, schema.ErrNullValue, "y"},
		{"struct in map bad", pointMap, map[any]any{"k": badPoint}, schema.ErrNullValue, `["k"].y`},
		{"struct in array bad", pointArr, []any{okPoint, badPoint}, schema.ErrNullValue, "[1].y"},
		{"struct wrong schema", point, schema.NewStruct(other).MustPut("x", int32(1)), schema.ErrInvalidValue, ""},
		{"struct not a struct", point, map[string]any{"x": int32(1)}, schema.ErrInvalidValue, ""},
		{"decimal", schema.DecimalSchema(2), schema.NewDecimal(150, 2), nil, ""},
		{"decimal wrong scale", schema.DecimalSchema(2), schema.NewDecimal(15, 1), schema.ErrInvalidValue, ""},
		{"decimal raw bytes", schema.DecimalSchema(2), []byte{1}, schema.ErrInvalidValue, ""},
		{"date", schema.DateSchema(), midnight, nil, ""},
		{"date with time of day", schema.DateSchema(), noon, schema.ErrInvalidValue, ""},
		{"date raw int", schema.DateSchema(), int32(5), schema.ErrInvalidValue, ""},
		{"time", schema.TimeSchema(), timeOfDay, nil, ""},
		{"time with date", schema.TimeSchema(), noon, schema.ErrInvalidValue, ""},
		{"timestamp", schema.TimestampSchema(), noon, nil, ""},
		{"timestamp raw", schema.TimestampSchema(), int64(5), schema.ErrInvalidValue, ""},
		{"logical name on other type is plain", schema.NewBuilder(schema.String).Name(schema.DateName).MustBuild(), "x", nil, ""},
		{"unknown type", &schema.Schema{Type: "int128"}, 1, schema.ErrUnknownType, ""},
		{"array without elem", &schema.Schema{Type: schema.Array}, []any{}, schema.ErrInvalidSchema, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.schema.Validate(tc.value)
			if tc.sentinel == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.sentinel)
			var fe *schema.FieldError
			require.True(t, errors.As(err, &fe), "want *FieldError, got %T", err)
			require.Equal(t, tc.path, fe.Path)
		})
	}
}

func TestFieldErrorMessage(t *testing.T) {
	s := schema.StructBuilder().Name("Order").
		Field("lines", schema.ArrayOf(schema.StructBuilder().Name("Line").Field("qty", schema.Int32Schema).MustBuild()).MustBuild()).
		MustBuild()
	line := schema.NewStruct(s.Fields[0].Schema.ElemSchema)
	st := schema.NewStruct(s)
	_, err := st.Put("lines", []any{line})
	require.ErrorIs(t, err, schema.ErrNullValue)
	require.EqualError(t, err, `field "lines[0].qty": Schema{:int32}: null value for required field`)

	_, err = st.Put("nope", 1)
	require.ErrorIs(t, err, schema.ErrUnknownField)
	require.Contains(t, err.Error(), `field "nope"`)

	_, err = st.Put("lines", []any{"x"})
	require.ErrorIs(t, err, schema.ErrInvalidValue)
	require.Contains(t, err.Error(), `field "lines[0]": Schema{Line:struct} expects *schema.Struct, got string`)

	require.Equal(t, "top: invalid value", (&schema.FieldError{Reason: "top", Err: schema.ErrInvalidValue}).Error())
	require.NoError(t, schema.AtField(nil, "x"))
	plain := errors.New("plain")
	require.Equal(t, plain, schema.AtIndex(plain, 1))
	e := schema.AtKey(schema.AtField(schema.NewFieldError("", schema.ErrInvalidValue, "r"), "a"), int32(4))
	require.Equal(t, "[4].a", e.(*schema.FieldError).Path)
}

func TestParseType(t *testing.T) {
	for _, typ := range schema.Types {
		got, err := schema.ParseType(string(typ))
		require.NoError(t, err)
		require.Equal(t, typ, got)
	}
	for in, want := range map[string]schema.Type{"INT32": schema.Int32, "FLOAT64": schema.Float64, "FLOAT32": schema.Float32, "STRUCT": schema.StructType} {
		got, err := schema.ParseType(in)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	_, err := schema.ParseType("int128")
	require.ErrorIs(t, err, schema.ErrUnknownType)
	require.True(t, schema.Int8.IsPrimitive())
	require.False(t, schema.Map.IsPrimitive())
}

func TestPrimitiveSchema(t *testing.T) {
	for _, typ := range schema.Types {
		req, opt := schema.PrimitiveSchema(typ, false), schema.PrimitiveSchema(typ, true)
		if !typ.IsPrimitive() {
			require.Nil(t, req)
			require.Nil(t, opt)
			continue
		}
		require.Equal(t, typ, req.Type)
		require.False(t, req.Optional)
		require.Equal(t, typ, opt.Type)
		require.True(t, opt.Optional)
	}
}

func TestBuilder(t *testing.T) {
	s := mustStruct(t, schema.StructBuilder().Name("com.example.User").Version(3).Doc("a user").
		Parameter("p", "1").Parameters(map[string]string{"q": "2"}).
		Field("id", schema.Int64Schema).
		Field("email", schema.OptionalStringSchema).
		Field("score", schema.NewBuilder(schema.Float64).Default(1.5).MustBuild()).
		Optional())
	require.Equal(t, schema.StructType, s.Type)
	require.True(t, s.Optional)
	require.Equal(t, "com.example.User", s.Name)
	require.Equal(t, 3, s.Version)
	require.Equal(t, "a user", s.Doc)
	require.Equal(t, map[string]string{"p": "1", "q": "2"}, s.Parameters)
	require.Equal(t, []string{"id", "email", "score"}, s.FieldNames())
	f, ok := s.Field("score")
	require.True(t, ok)
	require.Equal(t, 2, f.Index)
	require.Equal(t, 1.5, f.Schema.Default)
	_, ok = s.Field("nope")
	require.False(t, ok)

	b := schema.FromSchema(s).RemoveField("email").Required()
	derived := mustStruct(t, b)
	require.Equal(t, []string{"id", "score"}, derived.FieldNames())
	require.Equal(t, 1, derived.Fields[1].Index)
	require.False(t, derived.Optional)
	require.Len(t, s.Fields, 3, "the source schema is untouched")

	m := mustStruct(t, schema.NewBuilder(schema.Map).Keys(schema.StringSchema).Values(schema.Int32Schema))
	require.True(t, m.Equal(schema.MapOf(schema.StringSchema, schema.Int32Schema).MustBuild()))
	a := mustStruct(t, schema.NewBuilder(schema.Array).Items(schema.StringSchema))
	require.True(t, a.Equal(schema.ArrayOf(schema.StringSchema).MustBuild()))

	bad := []struct {
		name     string
		b        *schema.SchemaBuilder
		sentinel error
	}{
		{"duplicate field", schema.StructBuilder().Field("a", schema.Int8Schema).Field("a", schema.Int8Schema), schema.ErrInvalidSchema},
		{"field on non-struct", schema.NewBuilder(schema.Int8).Field("a", schema.Int8Schema), schema.ErrNotStruct},
		{"empty field name", schema.StructBuilder().Field("", schema.Int8Schema), schema.ErrInvalidSchema},
		{"nil field schema", schema.StructBuilder().Field("a", nil), schema.ErrInvalidSchema},
		{"unknown type", schema.NewBuilder("int128"), schema.ErrUnknownType},
		{"non-canonical type", schema.NewBuilder("INT32"), schema.ErrUnknownType},
		{"bad default", schema.NewBuilder(schema.Int32).Default("x"), schema.ErrInvalidSchema},
		{"array without items", schema.NewBuilder(schema.Array), schema.ErrInvalidSchema},
		{"map without values", schema.NewBuilder(schema.Map).Keys(schema.StringSchema), schema.ErrInvalidSchema},
		{"bad nested", schema.StructBuilder().Field("a", &schema.Schema{Type: schema.Array}), schema.ErrInvalidSchema},
		{"decimal without scale", schema.NewBuilder(schema.Bytes).Name(schema.DecimalName), schema.ErrInvalidSchema},
		{"items on struct", schema.StructBuilder().Items(schema.Int8Schema), schema.ErrInvalidSchema},
		{"from nil", schema.FromSchema(nil), schema.ErrInvalidSchema},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.b.Build()
			require.ErrorIs(t, err, tc.sentinel)
			require.Panics(t, func() { tc.b.MustBuild() })
		})
	}

	// A field-index mismatch in a hand-written schema is reported by CheckSchema.
	err := schema.CheckSchema(&schema.Schema{Type: schema.StructType, Fields: []schema.Field{{Name: "a", Index: 3, Schema: schema.Int8Schema}}})
	require.ErrorIs(t, err, schema.ErrInvalidSchema)
}

func TestSchemaEqualCopy(t *testing.T) {
	inner := schema.StructBuilder().Name("In").Field("v", schema.OptionalInt32Schema).Optional().MustBuild()
	def := schema.NewStruct(inner).MustPut("v", int32(1))
	s := schema.StructBuilder().Name("Out").Parameter("k", "v").
		Field("in", schema.FromSchema(inner).Default(def).MustBuild()).
		Field("m", schema.MapOf(schema.StringSchema, schema.ArrayOf(schema.BytesSchema).MustBuild()).MustBuild()).
		MustBuild()
	c := s.Copy()
	require.True(t, s.Equal(c))
	require.True(t, c.Equal(s))
	c.Parameters["k"] = "changed"
	require.False(t, s.Equal(c))
	require.Equal(t, "v", s.Parameters["k"])

	variants := []func(*schema.Schema){
		func(x *schema.Schema) { x.Name = "x" },
		func(x *schema.Schema) { x.Optional = true },
		func(x *schema.Schema) { x.Version = 2 },
		func(x *schema.Schema) { x.Doc = "d" },
		func(x *schema.Schema) { x.Fields[0].Name = "other" },
		func(x *schema.Schema) { x.Fields[1].Schema.ValueSchema.ElemSchema = schema.StringSchema },
		func(x *schema.Schema) { x.Fields[0].Schema.Default = nil },
		func(x *schema.Schema) { x.Fields = x.Fields[:1] },
	}
	for i, mutate := range variants {
		c := s.Copy()
		mutate(c)
		require.False(t, s.Equal(c), "variant %d", i)
	}
	var nilSchema *schema.Schema
	require.True(t, nilSchema.Equal(nil))
	require.False(t, nilSchema.Equal(s))
	require.Nil(t, nilSchema.Copy())
	require.Equal(t, "Schema{Out:struct}", s.String())
	require.Equal(t, "Schema{:string?}", schema.OptionalStringSchema.String())
	require.Equal(t, "Schema{<none>}", nilSchema.String())
	n, ok := schema.DecimalSchema(4).ParameterInt(schema.DecimalScaleParam)
	require.True(t, ok)
	require.Equal(t, 4, n)
}

func TestStruct(t *testing.T) {
	s := schema.StructBuilder().Name("S").
		Field("a", schema.Int32Schema).
		Field("b", schema.NewBuilder(schema.String).Default("dflt").MustBuild()).
		Field("c", schema.OptionalBytesSchema).
		MustBuild()
	st := schema.NewStruct(s)
	require.Same(t, s, st.Schema())
	require.ErrorIs(t, st.Validate(), schema.ErrNullValue)

	_, err := st.Put("a", int32(5))
	require.NoError(t, err)
	require.NoError(t, st.Validate(), "b has a default, c is optional")

	v, err := st.Get("b")
	require.NoError(t, err)
	require.Equal(t, "dflt", v)
	v, err = st.GetWithoutDefault("b")
	require.NoError(t, err)
	require.Nil(t, v)
	_, err = st.Get("zz")
	require.ErrorIs(t, err, schema.ErrUnknownField)
	_, err = st.GetWithoutDefault("zz")
	require.ErrorIs(t, err, schema.ErrUnknownField)

	_, err = st.Put("a", "five")
	require.ErrorIs(t, err, schema.ErrInvalidValue)
	v, _ = st.Get("a")
	require.Equal(t, int32(5), v, "a failed Put leaves the old value")

	require.NoError(t, st.PutIndex(2, []byte("x")))
	require.Equal(t, []byte("x"), st.GetIndex(2))
	require.Nil(t, st.GetIndex(9))
	require.ErrorIs(t, st.PutIndex(9, 1), schema.ErrUnknownField)
	require.ErrorIs(t, st.PutIndex(0, int64(1)), schema.ErrInvalidValue)
	require.Equal(t, "Struct{a=5,c=[120]}", st.String())

	cp := st.Copy()
	require.True(t, st.Equal(cp))
	cp.GetIndex(2).([]byte)[0] = 'y'
	require.Equal(t, []byte("x"), st.GetIndex(2), "Copy copies bytes")
	require.False(t, st.Equal(cp))
	require.False(t, st.Equal(nil))
	require.True(t, (*schema.Struct)(nil).Equal(nil))

	require.Panics(t, func() { st.MustPut("a", "x") })

	grown := schema.StructBuilder().Field("a", schema.Int32Schema).MustBuild()
	gs := schema.NewStruct(grown)
	grown.Fields = append(grown.Fields, schema.Field{Name: "b", Index: 1, Schema: schema.Int32Schema})
	_, err = gs.Put("b", int32(1))
	require.ErrorIs(t, err, schema.ErrInvalidSchema)
	require.ErrorIs(t, gs.Validate(), schema.ErrInvalidSchema)
	shrunk := schema.StructBuilder().Field("a", schema.Int32Schema).Field("b", schema.Int32Schema).MustBuild()
	ss := schema.NewStruct(shrunk)
	shrunk.Fields = shrunk.Fields[:1]
	require.ErrorIs(t, ss.PutIndex(1, int32(1)), schema.ErrInvalidSchema)

	fv, err := schema.StructFromValues(s, []any{int32(1), nil, nil})
	require.NoError(t, err)
	require.NoError(t, fv.Validate())
	unchecked, err := schema.StructFromValues(s, []any{"not an int", nil, nil})
	require.NoError(t, err, "values are not validated")
	require.ErrorIs(t, unchecked.Validate(), schema.ErrInvalidValue)
	_, err = schema.StructFromValues(s, []any{int32(1)})
	require.ErrorIs(t, err, schema.ErrInvalidValue)
	_, err = schema.StructFromValues(schema.Int8Schema, nil)
	require.ErrorIs(t, err, schema.ErrNotStruct)

	rows, err := schema.StructsFromValues(s, []any{int32(1), nil, nil, int32(2), nil, nil})
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.Equal(t, int32(2), rows[1].GetIndex(0))
	require.NoError(t, rows[1].PutIndex(0, int32(3)), "a row's values are its own")
	require.Equal(t, int32(1), rows[0].GetIndex(0))
	_, err = schema.StructsFromValues(s, []any{int32(1), nil})
	require.ErrorIs(t, err, schema.ErrInvalidValue)
	_, err = schema.StructsFromValues(schema.Int8Schema, nil)
	require.ErrorIs(t, err, schema.ErrNotStruct)

	var slot schema.Struct
	at, err := schema.StructAt(&slot, s, []any{int32(4), nil, nil})
	require.NoError(t, err)
	require.Same(t, &slot, at)
	want, _ := schema.StructFromValues(s, []any{int32(4), nil, nil})
	require.True(t, want.Equal(at))
	_, err = schema.StructAt(new(schema.Struct), s, []any{int32(1)})
	require.ErrorIs(t, err, schema.ErrInvalidValue)
	_, err = schema.StructAt(new(schema.Struct), schema.Int8Schema, nil)
	require.ErrorIs(t, err, schema.ErrNotStruct)

	notStruct := schema.NewStruct(schema.Int32Schema)
	_, err = notStruct.Put("a", int32(1))
	require.ErrorIs(t, err, schema.ErrNotStruct)
	require.ErrorIs(t, notStruct.Validate(), schema.ErrNotStruct)
	require.ErrorIs(t, notStruct.PutIndex(0, 1), schema.ErrNotStruct)
	_, err = schema.NewStruct(nil).Get("a")
	require.ErrorIs(t, err, schema.ErrNotStruct)
}

func TestDecimal(t *testing.T) {
	cases := []struct {
		unscaled string
		bytes    []byte
	}{
		{"0", []byte{0}},
		{"1", []byte{1}},
		{"127", []byte{0x7f}},
		{"128", []byte{0, 0x80}},
		{"156", []byte{0, 0x9c}},
		{"256", []byte{1, 0}},
		{"-1", []byte{0xff}},
		{"-128", []byte{0x80}},
		{"-129", []byte{0xff, 0x7f}},
		{"-156", []byte{0xff, 0x64}},
		{"-32768", []byte{0x80, 0}},
		{"-32769", []byte{0xff, 0x7f, 0xff}},
		{"123456789012345678901234567890", []byte{0x01, 0x8e, 0xe9, 0x0f, 0xf6, 0xc3, 0x73, 0xe0, 0xee, 0x4e, 0x3f, 0x0a, 0xd2}},
	}
	for _, tc := range cases {
		u, ok := new(big.Int).SetString(tc.unscaled, 10)
		require.True(t, ok)
		d := schema.Decimal{Unscaled: u, Scale: 3}
		require.Equal(t, tc.bytes, d.Bytes(), tc.unscaled)
		require.True(t, schema.DecimalFromBytes(tc.bytes, 3).Equal(d), tc.unscaled)
	}
	require.True(t, schema.DecimalFromBytes(nil, 0).Equal(schema.Decimal{}))

	for in, want := range map[string]string{
		"12.345": "12.345", "-0.001": "-0.001", "1.5E+3": "1500", "1e-2": "0.01", "7": "7", ".5": "0.5", "-12E-1": "-1.2",
	} {
		d, err := schema.ParseDecimal(in)
		require.NoError(t, err, in)
		require.Equal(t, want, d.String(), in)
	}
	for _, in := range []string{"", "abc", "1.2.3", "--1", "1e", "1e99999999999", "+", "1-2"} {
		_, err := schema.ParseDecimal(in)
		require.ErrorIs(t, err, schema.ErrInvalidValue, in)
	}
	require.Equal(t, "-0.05", schema.NewDecimal(-5, 2).String())
	require.Equal(t, "500", schema.NewDecimal(5, -2).String())
	require.Equal(t, "0", schema.Decimal{}.String())
	require.Equal(t, "15E-5000", schema.NewDecimal(15, 5000).String())
	_, err := schema.NewDecimal(1, -999999999).Rescale(2)
	require.ErrorIs(t, err, schema.ErrInvalidValue)

	r, err := schema.NewDecimal(15, 1).Rescale(3)
	require.NoError(t, err)
	require.True(t, r.Equal(schema.NewDecimal(1500, 3)))
	r, err = schema.NewDecimal(1500, 3).Rescale(1)
	require.NoError(t, err)
	require.True(t, r.Equal(schema.NewDecimal(15, 1)))
	_, err = schema.NewDecimal(1501, 3).Rescale(1)
	require.ErrorIs(t, err, schema.ErrInvalidValue)
	require.False(t, schema.NewDecimal(10, 1).Equal(schema.NewDecimal(100, 2)))
	require.InDelta(t, 1.5, schema.NewDecimal(15, 1).Float64(), 1e-12)

	scale, err := schema.DecimalScale(schema.DecimalSchema(7))
	require.NoError(t, err)
	require.Equal(t, int32(7), scale)
	_, err = schema.DecimalScale(schema.BytesSchema)
	require.ErrorIs(t, err, schema.ErrInvalidSchema)
	_, err = schema.DecimalScale(schema.NewBuilder(schema.Bytes).Parameter("scale", "x").MustBuild())
	require.ErrorIs(t, err, schema.ErrInvalidSchema)
}

// A decimal of more than MaxDecimalDigits digits is refused before it is read (reading decimal digits is
// quadratic), with an error that does not repeat the input; leading zeros do not count.
func TestDecimalDigitBound(t *testing.T) {
	most := strings.Repeat("9", schema.MaxDecimalDigits)
	for _, in := range []string{most, "-" + most, "0000" + most, most[:100] + "." + most[100:], most + "E-3"} {
		d, err := schema.ParseDecimal(in)
		require.NoError(t, err, in[:10])
		require.True(t, schema.FitsDigits(d.Unscaled, schema.MaxDecimalDigits))
	}
	for _, in := range []string{"1" + most, most + "0", "-" + most + ".5", strings.Repeat("7", 4_000_000), strings.Repeat("7", 4_000_000) + "x"} {
		_, err := schema.ParseDecimal(in)
		require.ErrorIs(t, err, schema.ErrInvalidValue)
		require.Less(t, len(err.Error()), 200)
	}
	_, err := schema.ParseDecimal("1" + most)
	require.ErrorContains(t, err, "10001 digits, more than the 10000 a decimal may have")
}

func TestFitsDigits(t *testing.T) {
	pow10 := func(n int64) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(n), nil) }
	minus1 := func(x *big.Int) *big.Int { return new(big.Int).Sub(x, big.NewInt(1)) }
	for _, digits := range []int64{1, 2, 10, 18, 19, 38, 64, 1000, 10000} {
		most := minus1(pow10(digits)) // the largest value of that many digits
		require.True(t, schema.FitsDigits(most, int(digits)), digits)
		require.True(t, schema.FitsDigits(new(big.Int).Neg(most), int(digits)), digits)
		require.False(t, schema.FitsDigits(pow10(digits), int(digits)), digits)
		require.False(t, schema.FitsDigits(new(big.Int).Neg(pow10(digits)), int(digits)), digits)
		require.False(t, schema.FitsDigits(minus1(pow10(digits+1)), int(digits)), digits)
	}
	require.True(t, schema.FitsDigits(nil, 1))
	require.True(t, schema.FitsDigits(new(big.Int), 1))

	// A value far beyond the bound is judged by its bit length alone, without formatting it.
	huge := new(big.Int).Lsh(big.NewInt(1), 8<<20)
	require.Zero(t, testing.AllocsPerRun(3, func() {
		if schema.FitsDigits(huge, 38) {
			t.Fatal("2^(8 Mi) fits 38 digits")
		}
	}))
}

func TestLogicalSchemas(t *testing.T) {
	for _, tc := range []struct {
		s    *schema.Schema
		typ  schema.Type
		name string
	}{
		{schema.DecimalSchema(2), schema.Bytes, schema.DecimalName},
		{schema.DateSchema(), schema.Int32, schema.DateName},
		{schema.TimeSchema(), schema.Int32, schema.TimeName},
		{schema.TimestampSchema(), schema.Int64, schema.TimestampName},
	} {
		require.Equal(t, tc.typ, tc.s.Type)
		require.Equal(t, tc.name, tc.s.Name)
		require.Equal(t, 1, tc.s.Version)
		require.True(t, schema.IsLogical(tc.s))
	}
	require.Equal(t, map[string]string{"scale": "2"}, schema.DecimalSchema(2).Parameters)
	require.False(t, schema.IsLogical(schema.Int32Schema))
	require.True(t, schema.DateBuilder().Optional().MustBuild().Optional)
}

func TestDateTimeConversions(t *testing.T) {
	d := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
	days, err := schema.DateToDays(d)
	require.NoError(t, err)
	require.Equal(t, int32(19782), days)
	require.True(t, schema.DaysToDate(days).Equal(d))
	require.Equal(t, time.UTC, schema.DaysToDate(days).Location())
	before, err := schema.DateToDays(time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Equal(t, int32(-1), before)
	_, err = schema.DateToDays(d.Add(time.Millisecond))
	require.ErrorIs(t, err, schema.ErrInvalidValue)
	_, err = schema.DateToDays(d.Add(time.Nanosecond))
	require.ErrorIs(t, err, schema.ErrInvalidValue)
	// Midnight in another zone is not midnight UTC.
	_, err = schema.DateToDays(time.Date(2024, 2, 29, 0, 0, 0, 0, time.FixedZone("X", 3600)))
	require.ErrorIs(t, err, schema.ErrInvalidValue)

	tod := time.Date(1970, 1, 1, 23, 59, 59, 999e6, time.UTC)
	ms, err := schema.TimeToMillis(tod)
	require.NoError(t, err)
	require.Equal(t, int32(86399999), ms)
	require.True(t, schema.MillisToTime(ms).Equal(tod))
	_, err = schema.TimeToMillis(tod.Add(time.Millisecond))
	require.ErrorIs(t, err, schema.ErrInvalidValue)
	_, err = schema.TimeToMillis(time.Unix(-1, 0))
	require.ErrorIs(t, err, schema.ErrInvalidValue)

	ts := time.Date(2001, 9, 9, 1, 46, 40, 123456789, time.UTC)
	require.Equal(t, int64(1000000000123), schema.TimestampToMillis(ts))
	require.True(t, schema.MillisToTimestamp(1000000000123).Equal(ts.Truncate(time.Millisecond)))
}

func TestEqualAndCopyValue(t *testing.T) {
	s := schema.StructBuilder().Field("a", schema.OptionalStringSchema).MustBuild()
	mk := func(v string) *schema.Struct { return schema.NewStruct(s).MustPut("a", v) }
	ts := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		a, b any
		want bool
	}{
		{nil, nil, true},
		{nil, 1, false},
		{[]byte("x"), []byte("x"), true},
		{[]byte("x"), "x", false},
		{mk("x"), mk("x"), true},
		{mk("x"), mk("y"), false},
		{schema.NewDecimal(1, 2), schema.Decimal{Unscaled: big.NewInt(1), Scale: 2}, true},
		{schema.NewDecimal(1, 2), schema.NewDecimal(1, 3), false},
		{ts, ts.In(time.FixedZone("X", 3600)), true},
		{float32(1), float32(1), true},
		{[]any{int64(1), []byte("a")}, []any{int64(1), []byte("a")}, true},
		{[]any{int64(1)}, []any{int64(2)}, false},
		{[]any{int64(1)}, []any{}, false},
		{map[any]any{int32(1): []byte("a")}, map[any]any{int32(1): []byte("a")}, true},
		{map[any]any{int32(1): "a"}, map[any]any{int32(2): "a"}, false},
		{map[string]any{"k": mk("x")}, map[string]any{"k": mk("x")}, true},
		{map[string]any{"k": 1}, map[any]any{"k": 1}, false},
		{int64(1), int32(1), false},
		{"a", "a", true},
	}
	for i, tc := range cases {
		require.Equal(t, tc.want, schema.Equal(tc.a, tc.b), "case %d", i)
		if tc.want {
			c := schema.CopyValue(tc.a)
			require.True(t, schema.Equal(tc.a, c), "copy %d", i)
		}
	}
	nested := map[string]any{"l": []any{[]byte("x"), map[any]any{"k": []byte("y")}}, "s": map[string]string{"a": "b"}}
	c := schema.CopyValue(nested).(map[string]any)
	c["l"].([]any)[0].([]byte)[0] = 'z'
	c["l"].([]any)[1].(map[any]any)["k"] = "changed"
	c["s"].(map[string]string)["a"] = "changed"
	require.Equal(t, []byte("x"), nested["l"].([]any)[0])
	require.Equal(t, []byte("y"), nested["l"].([]any)[1].(map[any]any)["k"])
	require.Equal(t, "b", nested["s"].(map[string]string)["a"])
	d := schema.NewDecimal(5, 0)
	dc := schema.CopyValue(d).(schema.Decimal)
	dc.Unscaled.SetInt64(6)
	require.Equal(t, int64(5), d.Unscaled.Int64())
}

func TestParseTypeJavaNames(t *testing.T) {
	for in, want := range map[string]schema.Type{
		"INT8": schema.Int8, "INT16": schema.Int16, "INT32": schema.Int32, "INT64": schema.Int64, "FLOAT32": schema.Float32,
		"FLOAT": schema.Float32, "FLOAT64": schema.Float64, "DOUBLE": schema.Float64, "BOOLEAN": schema.Boolean,
		"STRING": schema.String, "BYTES": schema.Bytes, "ARRAY": schema.Array, "MAP": schema.Map, "STRUCT": schema.StructType,
		"Int32": schema.Int32,
	} {
		got, err := schema.ParseType(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
}

func TestCheckSchema(t *testing.T) {
	bad := []struct {
		name string
		s    *schema.Schema
		path string
	}{
		{"nil", nil, ""},
		{"fields on int", &schema.Schema{Type: schema.Int8, Fields: []schema.Field{{Name: "a", Schema: schema.Int8Schema}}}, ""},
		{"keys on array", &schema.Schema{Type: schema.Array, ElemSchema: schema.Int8Schema, KeySchema: schema.Int8Schema}, ""},
		{"nil field schema", &schema.Schema{Type: schema.StructType, Fields: []schema.Field{{Name: "a"}}}, "a"},
		{"bad map value", &schema.Schema{Type: schema.Map, KeySchema: schema.StringSchema, ValueSchema: &schema.Schema{Type: "x"}}, "[value]"},
		{"bad array elem decimal", &schema.Schema{Type: schema.Array,
			ElemSchema: &schema.Schema{Type: schema.Bytes, Name: schema.DecimalName, Parameters: map[string]string{"scale": "x"}}}, "[]"},
		{"duplicate", &schema.Schema{Type: schema.StructType, Fields: []schema.Field{{Name: "a", Schema: schema.Int8Schema}, {Name: "a", Index: 1, Schema: schema.Int8Schema}}}, ""},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			err := schema.CheckSchema(tc.s)
			require.Error(t, err)
			var fe *schema.FieldError
			require.True(t, errors.As(err, &fe))
			require.Equal(t, tc.path, fe.Path)
		})
	}
}
