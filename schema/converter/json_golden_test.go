package converter

import (
	"bytes"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/envelope")

type goldenCase struct {
	name   string
	cfg    map[string]string
	schema *schema.Schema
	value  any
	// decoded is what the golden bytes decode to when it differs from value (a default filled in, say).
	decoded    any
	hasDecoded bool
}

func kitchenSinkSchema() *schema.Schema {
	address := schema.StructBuilder().Name("com.example.Address").Doc("postal address").
		Field("street", schema.StringSchema).
		Field("zip", schema.OptionalStringSchema).
		MustBuild()
	return schema.StructBuilder().Name("com.example.Order").Version(2).Doc("an order").
		Parameter("owner", "sales").Parameter("connect.record.doc", "x").
		Field("i8", schema.Int8Schema).
		Field("i16", schema.Int16Schema).
		Field("i32", schema.Int32Schema).
		Field("i64", schema.Int64Schema).
		Field("f32", schema.Float32Schema).
		Field("f64", schema.Float64Schema).
		Field("flag", schema.BooleanSchema).
		Field("text", schema.StringSchema).
		Field("blob", schema.BytesSchema).
		Field("price", schema.DecimalSchema(2)).
		Field("day", schema.DateSchema()).
		Field("at", schema.TimeSchema()).
		Field("ts", schema.TimestampSchema()).
		Field("note", schema.OptionalStringSchema).
		Field("qty", schema.NewBuilder(schema.Int32).Default(int32(1)).MustBuild()).
		Field("address", address).
		Field("lines", schema.ArrayOf(address).MustBuild()).
		Field("attrs", schema.MapOf(schema.StringSchema, schema.OptionalInt64Schema).MustBuild()).
		Field("byId", schema.MapOf(schema.Int32Schema, address).MustBuild()).
		Field("matrix", schema.ArrayOf(schema.ArrayOf(schema.Float64Schema).MustBuild()).MustBuild()).
		MustBuild()
}

func kitchenSinkValue(s *schema.Schema) *schema.Struct {
	addrSchema, _ := s.Field("address")
	addr := func(street string, zip any) *schema.Struct {
		return schema.NewStruct(addrSchema.Schema).MustPut("street", street).MustPut("zip", zip)
	}
	return schema.NewStruct(s).
		MustPut("i8", int8(-8)).
		MustPut("i16", int16(1600)).
		MustPut("i32", int32(-320000)).
		MustPut("i64", int64(9007199254740993)).
		MustPut("f32", float32(1.25)).
		MustPut("f64", 1e21).
		MustPut("flag", true).
		MustPut("text", "naïve \"quoted\" <b>&</b>\n\ttab \x01 end").
		MustPut("blob", []byte{0, 1, 2, 0xfe, 0xff}).
		MustPut("price", schema.NewDecimal(-12345, 2)).
		MustPut("day", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)).
		MustPut("at", time.Date(1970, 1, 1, 13, 14, 15, 16e6, time.UTC)).
		MustPut("ts", time.Date(2024, 2, 29, 13, 14, 15, 16e6, time.UTC)).
		MustPut("qty", int32(3)).
		MustPut("address", addr("1 Main St", "12345")).
		MustPut("lines", []any{addr("a", nil), addr("b", "2")}).
		MustPut("attrs", map[any]any{"z": int64(1), "a": nil, "m": int64(-5)}).
		MustPut("byId", map[any]any{int32(7): addr("seven", nil), int32(-1): addr("minus", "0")}).
		MustPut("matrix", []any{[]any{0.1, 2.0}, []any{}, []any{-1e-7}})
}

func goldenCases() []goldenCase {
	numeric := map[string]string{"decimal.format": "NUMERIC"}
	noSchemas := map[string]string{"schemas.enable": "false"}
	sink := kitchenSinkSchema()
	withDefault := schema.NewBuilder(schema.Int32).Default(int32(42)).MustBuild()
	optDefault := schema.NewBuilder(schema.String).Optional().Default("dflt").Doc("with a default").MustBuild()
	bigDec := schema.Decimal{Unscaled: new(big.Int).Lsh(big.NewInt(1), 100), Scale: 10}
	return []goldenCase{
		{name: "boolean", schema: schema.BooleanSchema, value: true},
		{name: "int8", schema: schema.Int8Schema, value: int8(-128)},
		{name: "int16", schema: schema.Int16Schema, value: int16(32767)},
		{name: "int32", schema: schema.Int32Schema, value: int32(-2147483648)},
		{name: "int64", schema: schema.Int64Schema, value: int64(9223372036854775807)},
		{name: "float", schema: schema.Float32Schema, value: float32(3.4028235e38)},
		{name: "float_small", schema: schema.Float32Schema, value: float32(0.1)},
		{name: "double", schema: schema.Float64Schema, value: 12.5},
		{name: "double_whole", schema: schema.Float64Schema, value: 3.0},
		{name: "double_exp", schema: schema.Float64Schema, value: 1.0e-4},
		{name: "double_big", schema: schema.Float64Schema, value: 1.2345e7},
		{name: "string", schema: schema.StringSchema, value: "héllo wörld ☃ 😀 / \\ \"q\" \u2028 \x7f \x1f"},
		{name: "bytes", schema: schema.BytesSchema, value: []byte("hello\x00\xff")},
		{name: "bytes_empty", schema: schema.BytesSchema, value: []byte{}},
		{name: "optional_null", schema: schema.OptionalStringSchema, value: nil},
		{name: "optional_int_null", schema: schema.OptionalInt64Schema, value: nil},
		{name: "default_used", schema: withDefault, value: nil, decoded: int32(42), hasDecoded: true},
		{name: "default_optional", schema: optDefault, value: "set"},
		{name: "named_versioned", schema: schema.NewBuilder(schema.String).Name("com.example.Id").Version(7).Doc("an id").
			Parameter("b", "2").Parameter("a", "1").MustBuild(), value: "x"},
		{name: "decimal_base64", schema: schema.DecimalSchema(2), value: schema.NewDecimal(156, 2)},
		{name: "decimal_base64_negative", schema: schema.DecimalSchema(2), value: schema.NewDecimal(-156, 2)},
		{name: "decimal_base64_big", schema: schema.DecimalSchema(10), value: bigDec},
		{name: "decimal_numeric", cfg: numeric, schema: schema.DecimalSchema(2), value: schema.NewDecimal(156, 2)},
		{name: "decimal_numeric_negative", cfg: numeric, schema: schema.DecimalSchema(4), value: schema.NewDecimal(-5, 4)},
		{name: "decimal_numeric_small", cfg: numeric, schema: schema.DecimalSchema(9), value: schema.NewDecimal(5, 9)},
		{name: "decimal_numeric_negative_scale", cfg: numeric, schema: schema.DecimalSchema(-3), value: schema.NewDecimal(12, -3)},
		{name: "decimal_optional_null", schema: schema.DecimalBuilder(2).Optional().MustBuild(), value: nil},
		{name: "date", schema: schema.DateSchema(), value: time.Date(1997, 5, 18, 0, 0, 0, 0, time.UTC)},
		{name: "date_before_epoch", schema: schema.DateSchema(), value: time.Date(1969, 7, 20, 0, 0, 0, 0, time.UTC)},
		{name: "time", schema: schema.TimeSchema(), value: time.Date(1970, 1, 1, 4, 0, 0, 0, time.UTC)},
		{name: "timestamp", schema: schema.TimestampSchema(), value: time.UnixMilli(4000000000).UTC()},
		{name: "timestamp_optional_null", schema: schema.TimestampBuilder().Optional().MustBuild(), value: nil},
		{name: "array", schema: schema.ArrayOf(schema.Int32Schema).MustBuild(), value: []any{int32(1), int32(2), int32(3)}},
		{name: "array_optional_elements", schema: schema.ArrayOf(schema.OptionalStringSchema).Optional().MustBuild(), value: []any{"a", nil, "c"}},
		{name: "array_empty", schema: schema.ArrayOf(schema.BooleanSchema).MustBuild(), value: []any{}},
		{name: "array_nested", schema: schema.ArrayOf(schema.ArrayOf(schema.Int8Schema).MustBuild()).MustBuild(), value: []any{[]any{int8(1)}, []any{int8(2), int8(3)}}},
		{name: "map_string_keys", schema: schema.MapOf(schema.StringSchema, schema.Int64Schema).MustBuild(), value: map[any]any{"b": int64(2), "a": int64(1), "c": int64(3)}},
		{name: "map_int_keys", schema: schema.MapOf(schema.Int32Schema, schema.StringSchema).MustBuild(), value: map[any]any{int32(10): "ten", int32(2): "two"}},
		{name: "map_empty", schema: schema.MapOf(schema.StringSchema, schema.StringSchema).MustBuild(), value: map[any]any{}},
		{name: "map_of_arrays", schema: schema.MapOf(schema.StringSchema, schema.ArrayOf(schema.DateSchema()).MustBuild()).MustBuild(),
			value: map[any]any{"d": []any{time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}}},
		{name: "struct_simple", schema: schema.StructBuilder().Name("x").Field("id", schema.Int32Schema).MustBuild(),
			value: schema.NewStruct(schema.StructBuilder().Name("x").Field("id", schema.Int32Schema).MustBuild()).MustPut("id", int32(1))},
		{name: "struct_kitchen_sink", schema: sink, value: kitchenSinkValue(sink)},
		{name: "struct_kitchen_sink_numeric", cfg: numeric, schema: sink, value: kitchenSinkValue(sink)},
		{name: "struct_optional_null", schema: schema.FromSchema(sink).Optional().MustBuild(), value: nil},
		{name: "struct_default_field", schema: structWithDefaults(), value: schema.NewStruct(structWithDefaults()).MustPut("name", "n"),
			decoded: schema.NewStruct(structWithDefaults()).MustPut("name", "n").MustPut("count", int64(10)), hasDecoded: true},
		{name: "schemaless_in_envelope", schema: nil, value: map[string]any{"a": int64(1), "b": []any{"x", 2.5, true, nil}, "c": map[string]any{}}},
		{name: "schemaless_object", cfg: noSchemas, schema: nil, value: map[string]any{"id": int64(7), "name": "n", "tags": []any{"a", "b"}, "nested": map[string]any{"f": -0.5}}},
		{name: "schemaless_array", cfg: noSchemas, schema: nil, value: []any{int64(1), "two", 3.5, false, nil, []any{}}},
		{name: "schemaless_string", cfg: noSchemas, schema: nil, value: "just a string"},
		{name: "schemaless_number", cfg: noSchemas, schema: nil, value: int64(-42)},
		{name: "no_envelope_with_schema", cfg: noSchemas, schema: schema.StructBuilder().Field("a", schema.Int32Schema).Field("b", schema.OptionalStringSchema).MustBuild(),
			value:   schema.NewStruct(schema.StructBuilder().Field("a", schema.Int32Schema).Field("b", schema.OptionalStringSchema).MustBuild()).MustPut("a", int32(5)),
			decoded: map[string]any{"a": int64(5), "b": nil}, hasDecoded: true},
	}
}

func structWithDefaults() *schema.Schema {
	return schema.StructBuilder().Name("D").
		Field("name", schema.StringSchema).
		Field("count", schema.NewBuilder(schema.Int64).Default(int64(10)).MustBuild()).
		MustBuild()
}

func configured(t testing.TB, cfg map[string]string) *JSONConverter {
	t.Helper()
	c := NewJSONConverter()
	require.NoError(t, c.Configure(cfg, false))
	return c
}

// TestJSONGolden pins the wire format: encoding each case gives the golden bytes exactly, and the golden bytes
// decode back to the same schema and value.
func TestJSONGolden(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			require.False(t, seen[tc.name], "duplicate case name")
			seen[tc.name] = true
			c := configured(t, tc.cfg)
			path := filepath.Join("testdata", "envelope", tc.name+".json")

			got, err := c.FromConnect("topic", tc.schema, tc.value)
			require.NoError(t, err)
			if *update {
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, append(bytes.Clone(got), '\n'), 0o644))
			}
			golden, err := os.ReadFile(path)
			require.NoError(t, err, "run go test -run TestJSONGolden -update to create it")
			golden = bytes.TrimSuffix(golden, []byte("\n"))
			require.Equal(t, string(golden), string(got))

			s, v, err := c.ToConnect("topic", golden)
			require.NoError(t, err)
			if c.schemasEnable {
				require.True(t, tc.schema.Equal(s), "schema: got %v want %v", s, tc.schema)
			} else {
				require.Nil(t, s)
			}
			want := tc.value
			if tc.hasDecoded {
				want = tc.decoded
			}
			require.True(t, schema.Equal(want, v), "value:\n got %#v\nwant %#v", v, want)
		})
	}
}
