package avro

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema"
)

func roundTrip(t *testing.T, c *schema.Schema, v any) (*schema.Schema, any) {
	t.Helper()
	a, err := FromConnect(c)
	require.NoError(t, err)
	// The rendered schema parses back to the same rendering, and goavro accepts it.
	again, err := Parse(a.String())
	require.NoError(t, err, a.String())
	require.Equal(t, a.String(), again.String())
	codec, err := NewCodec(again, nil)
	require.NoError(t, err, a.String())
	enc, err := NewCodec(a, c)
	require.NoError(t, err)
	data, err := enc.Encode(nil, v)
	require.NoError(t, err)
	out, err := codec.Decode(data)
	require.NoError(t, err)
	return codec.ConnectSchema(), out
}

func TestRoundTripEveryType(t *testing.T) {
	date := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
	tod := time.UnixMilli(13*3600_000 + 5*60_000 + 7_123).UTC()
	ts := time.UnixMilli(1700000000123).UTC()
	strMap := schema.MapOf(schema.StringSchema, schema.Int64Schema).MustBuild()
	intMap := schema.MapOf(schema.Int32Schema, schema.StringSchema).MustBuild()
	cases := []struct {
		name string
		s    *schema.Schema
		v    any
	}{
		{"int8", schema.Int8Schema, int8(-128)},
		{"int16", schema.Int16Schema, int16(32767)},
		{"int32", schema.Int32Schema, int32(-7)},
		{"int64", schema.Int64Schema, int64(1) << 62},
		{"float32", schema.Float32Schema, float32(1.5)},
		{"float64", schema.Float64Schema, 3.25},
		{"boolean", schema.BooleanSchema, true},
		{"string", schema.StringSchema, "héllo"},
		{"bytes", schema.BytesSchema, []byte{0, 1, 0xff}},
		{"decimal", schema.DecimalSchema(2), schema.NewDecimal(-1234567, 2)},
		{"decimal zero", schema.DecimalSchema(4), schema.NewDecimal(0, 4)},
		{"date", schema.DateSchema(), date},
		{"date before epoch", schema.DateSchema(), time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"time", schema.TimeSchema(), tod},
		{"timestamp", schema.TimestampSchema(), ts},
		{"optional int set", schema.OptionalInt32Schema, int32(5)},
		{"optional int null", schema.OptionalInt32Schema, nil},
		{"optional decimal", schema.DecimalBuilder(3).Optional().MustBuild(), schema.NewDecimal(5, 3)},
		{"optional timestamp null", schema.TimestampBuilder().Optional().MustBuild(), nil},
		{"array", schema.ArrayOf(schema.StringSchema).MustBuild(), []any{"a", "b"}},
		{"array of optional", schema.ArrayOf(schema.OptionalInt64Schema).MustBuild(), []any{int64(1), nil}},
		{"string map", strMap, map[any]any{"a": int64(1), "b": int64(2)}},
		{"int-keyed map", intMap, map[any]any{int32(1): "one", int32(-2): "minus two"}},
		{"named string", schema.NewBuilder(schema.String).Name("com.example.Code").Version(3).Doc("a code").
			Parameter("k", "v").MustBuild(), "X"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, out := roundTrip(t, tc.s, tc.v)
			require.True(t, s.Equal(tc.s), "schema %+v\nwant %+v", s, tc.s)
			require.True(t, schema.Equal(tc.v, out), "got %#v want %#v", out, tc.v)
		})
	}
}

func kitchenSink() (*schema.Schema, *schema.Struct) {
	addr := schema.StructBuilder().Name("com.example.Address").Doc("postal address").
		Field("street", schema.StringSchema).
		Field("zip", schema.OptionalStringSchema).
		MustBuild()
	s := schema.StructBuilder().Name("com.example.User").Version(2).
		Field("id", schema.Int64Schema).
		Field("tiny", schema.Int8Schema).
		Field("small", schema.Int16Schema).
		Field("score", schema.Float32Schema).
		Field("ratio", schema.Float64Schema).
		Field("active", schema.BooleanSchema).
		Field("name", schema.StringSchema).
		Field("avatar", schema.OptionalBytesSchema).
		Field("balance", schema.DecimalSchema(2)).
		Field("born", schema.DateSchema()).
		Field("wakes", schema.TimeSchema()).
		Field("seen", schema.TimestampBuilder().Optional().MustBuild()).
		Field("home", addr).
		Field("work", schema.FromSchema(addr).Optional().MustBuild()).
		Field("tags", schema.ArrayOf(schema.StringSchema).MustBuild()).
		Field("attrs", schema.MapOf(schema.StringSchema, schema.OptionalStringSchema).MustBuild()).
		Field("counts", schema.MapOf(schema.Int64Schema, schema.Int32Schema).MustBuild()).
		Field("level", schema.NewBuilder(schema.Int32).Default(int32(3)).MustBuild()).
		Field("note", schema.NewBuilder(schema.String).Optional().Default("n/a").MustBuild()).
		MustBuild()
	home := schema.NewStruct(addr).MustPut("street", "1 Main St").MustPut("zip", "12345")
	v := schema.NewStruct(s).
		MustPut("id", int64(42)).MustPut("tiny", int8(-1)).MustPut("small", int16(300)).
		MustPut("score", float32(9.5)).MustPut("ratio", 0.125).MustPut("active", true).
		MustPut("name", "Ada").MustPut("balance", schema.NewDecimal(100050, 2)).
		MustPut("born", time.Date(1815, 12, 10, 0, 0, 0, 0, time.UTC)).
		MustPut("wakes", time.UnixMilli(6*3600_000).UTC()).
		MustPut("home", home).
		MustPut("tags", []any{"math", "engines"}).
		MustPut("attrs", map[any]any{"lang": "en", "none": nil}).
		MustPut("counts", map[any]any{int64(7): int32(1)}).
		MustPut("level", int32(5))
	return s, v
}

func TestRoundTripStruct(t *testing.T) {
	s, v := kitchenSink()
	a, err := FromConnect(s)
	require.NoError(t, err)
	require.Equal(t, Record, a.Kind)
	require.Equal(t, "User", a.Name)
	require.Equal(t, "com.example", a.Namespace)
	// Reused struct schema: defined once, referenced by name the second time.
	require.Contains(t, a.String(), `"type":["null","com.example.Address"]`)
	// Optional with a default: the default's branch first.
	note := a.Fields[18]
	require.Equal(t, "note", note.Name)
	require.Equal(t, String, note.Type.Branches[0].Kind)
	require.Equal(t, "n/a", note.Default)
	gotSchema, out := roundTrip(t, s, v)
	require.True(t, gotSchema.Equal(s), "got %+v", gotSchema)
	st := out.(*schema.Struct)
	// nil stands for the default (as in the JSON converter): an unset field with a default comes back set to it,
	// an unset optional field without one comes back nil.
	want := v.Copy().MustPut("note", "n/a")
	require.True(t, want.Equal(st), "got %v\nwant %v", st, want)
}

func TestFromConnectShapes(t *testing.T) {
	a, err := FromConnect(schema.Int8Schema)
	require.NoError(t, err)
	require.Equal(t, `{"type":"int","connect.type":"int8"}`, a.String())
	a, err = FromConnect(schema.DecimalSchema(2))
	require.NoError(t, err)
	require.Equal(t, `{"type":"bytes","logicalType":"decimal","precision":64,"scale":2,"connect.name":"org.apache.kafka.connect.data.Decimal",`+
		`"connect.parameters":{"scale":"2"},"connect.version":1}`, a.String())
	a, err = FromConnect(schema.TimestampSchema())
	require.NoError(t, err)
	require.Equal(t, "timestamp-millis", a.LogicalType)
	a, err = FromConnect(schema.OptionalStringSchema)
	require.NoError(t, err)
	require.Equal(t, `["null","string"]`, a.String())
	a, err = FromConnect(schema.MapOf(schema.Int32Schema, schema.StringSchema).MustBuild())
	require.NoError(t, err)
	require.Equal(t, `{"type":"array","items":{"type":"record","name":"MapEntry","namespace":"io.confluent.connect.avro",`+
		`"fields":[{"name":"key","type":"int"},{"name":"value","type":"string"}]},"connect.type":"map"}`, a.String())
	a, err = FromConnect(schema.StructBuilder().Field("x", schema.OptionalInt32Schema).MustBuild())
	require.NoError(t, err)
	require.Equal(t, `{"type":"record","name":"ConnectDefault","namespace":"io.confluent.connect.avro",`+
		`"fields":[{"name":"x","type":["null","int"],"default":null}]}`, a.String())

	_, err = FromConnect(schema.StructBuilder().Field("bad-name", schema.Int32Schema).MustBuild())
	require.ErrorIs(t, err, ErrUnsupported)
	require.Contains(t, err.Error(), "bad-name")
	other := schema.StructBuilder().Name("a.B").Field("x", schema.Int32Schema).MustBuild()
	clash := schema.StructBuilder().Name("a.B").Field("y", schema.Int32Schema).MustBuild()
	_, err = FromConnect(schema.StructBuilder().Field("p", other).Field("q", clash).MustBuild())
	require.ErrorIs(t, err, ErrUnsupported)
}

func TestToConnectForeignSchemas(t *testing.T) {
	a := MustParse(`{"type":"record","name":"R","namespace":"n","fields":[
		{"name":"e","type":{"type":"enum","name":"Color","symbols":["RED","GREEN"]}},
		{"name":"f","type":{"type":"fixed","name":"Hash","size":4}},
		{"name":"u","type":["null","int","string"],"default":null},
		{"name":"m","type":{"type":"map","values":"long"}},
		{"name":"d","type":{"type":"fixed","name":"Money","size":8,"logicalType":"decimal","precision":10,"scale":2}}]}`)
	c, err := ToConnect(a)
	require.NoError(t, err)
	require.Equal(t, "n.R", c.Name)
	e, _ := c.Field("e")
	require.Equal(t, schema.String, e.Schema.Type)
	require.Equal(t, "RED,GREEN", e.Schema.Parameters[ParamEnumSymbols])
	u, _ := c.Field("u")
	require.Equal(t, UnionName, u.Schema.Name)
	require.True(t, u.Schema.Optional)
	require.Equal(t, []string{"int", "string"}, u.Schema.FieldNames())

	codec, err := NewCodec(a, nil)
	require.NoError(t, err)
	uv := schema.NewStruct(u.Schema).MustPut("string", "hi")
	v := schema.NewStruct(c).MustPut("e", "GREEN").MustPut("f", []byte("abcd")).MustPut("u", uv).
		MustPut("m", map[any]any{"k": int64(1)}).MustPut("d", schema.NewDecimal(-12345, 2))
	data, err := codec.Encode(nil, v)
	require.NoError(t, err)
	out, err := codec.Decode(data)
	require.NoError(t, err)
	require.True(t, v.Equal(out.(*schema.Struct)), "got %v", out)
	// Back to Avro: the same schema (enum, fixed and union survive).
	back, err := FromConnect(c)
	require.NoError(t, err)
	require.NoError(t, CanRead(a, back))
	require.NoError(t, CanRead(back, a))

	_, err = codec.Encode(nil, schema.NewStruct(c).MustPut("e", "BLUE"))
	require.ErrorIs(t, err, schema.ErrInvalidValue)
	require.Contains(t, err.Error(), `field "e"`)

	_, err = ToConnect(MustParse(`{"type":"record","name":"L","fields":[{"name":"next","type":["null","L"]}]}`))
	require.ErrorIs(t, err, ErrUnsupported)
	_, err = ToConnect(MustParse(`"null"`))
	require.ErrorIs(t, err, ErrUnsupported)
}

func TestDecodeMalformed(t *testing.T) {
	s, v := kitchenSink()
	a, err := FromConnect(s)
	require.NoError(t, err)
	codec, err := NewCodec(a, s)
	require.NoError(t, err)
	data, err := codec.Encode(nil, v)
	require.NoError(t, err)
	for i := range len(data) {
		_, err := codec.Decode(data[:i])
		require.Error(t, err, "truncated at %d", i)
	}
	_, err = codec.Decode(append(data, 0))
	require.ErrorIs(t, err, ErrMalformed)
	_, err = codec.Decode([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	require.Error(t, err)
}

func TestEncodeErrors(t *testing.T) {
	s, v := kitchenSink()
	a, err := FromConnect(s)
	require.NoError(t, err)
	codec, err := NewCodec(a, s)
	require.NoError(t, err)
	bad := v.Copy()
	require.NoError(t, bad.PutIndex(0, int64(1)))
	_, err = codec.Encode(nil, schema.NewStruct(s))
	require.ErrorIs(t, err, schema.ErrNullValue)
	require.Contains(t, err.Error(), `field "id"`)
	_, err = codec.Encode(nil, "not a struct")
	require.ErrorIs(t, err, schema.ErrInvalidValue)
}

// TestMapKeysWithoutGoForm: a Connect MAP whose keys are bytes (an Avro array of key/value records, as Java
// Connect writes one) decodes to an error naming the entry and the reason, not to a panic: in a datum (reported as
// well-formed data the converter cannot hold, not as malformed) and in a schema's default, which ToConnect reads.
func TestMapKeysWithoutGoForm(t *testing.T) {
	entries := `{"type":"array","connect.type":"map","items":{"type":"record","name":"E","fields":[` +
		`{"name":"key","type":"bytes"},{"name":"value","type":"int"}]}}`
	codec, err := NewCodec(MustParse(rec(`{"name":"m","type":`+entries+`}`)), nil)
	require.NoError(t, err)
	empty, err := codec.Decode([]byte{0}) // no entries: nothing to hold
	require.NoError(t, err)
	m, _ := empty.(*schema.Struct).Get("m")
	require.Empty(t, m)
	_, err = codec.Decode([]byte{2, 2, 0xff, 2, 0}) // one entry: key 0xff, value 1
	require.ErrorIs(t, err, ErrUnsupported)
	require.NotErrorIs(t, err, ErrMalformed)
	require.Contains(t, err.Error(), "bytes cannot be a Go map key")

	withDefault := MustParse(rec(`{"name":"m","type":` + entries + `,"default":[{"key":"a","value":1}]}`))
	require.NotPanics(t, func() { _, err = ToConnect(withDefault) })
	require.ErrorIs(t, err, ErrUnsupported)
}
