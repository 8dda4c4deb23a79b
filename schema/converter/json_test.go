package converter

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/schema"
)

// Inputs written the way Kafka's own JsonConverterTest writes them (spaced, fields in any order) decode.
func TestJSONToConnectKafkaInputs(t *testing.T) {
	c := configured(t, nil)
	cases := []struct {
		in   string
		want any
	}{
		{`{ "schema": { "type": "boolean" }, "payload": true }`, true},
		{`{ "schema": { "type": "int8" }, "payload": 12 }`, int8(12)},
		{`{ "schema": { "type": "int16" }, "payload": 12 }`, int16(12)},
		{`{ "schema": { "type": "int32" }, "payload": 12 }`, int32(12)},
		{`{ "schema": { "type": "int64" }, "payload": 12 }`, int64(12)},
		{`{ "schema": { "type": "float" }, "payload": 12.34 }`, float32(12.34)},
		{`{ "schema": { "type": "double" }, "payload": 12.34 }`, 12.34},
		{`{ "schema": { "type": "bytes" }, "payload": "dGVzdC1zdHJpbmc=" }`, []byte("test-string")},
		{`{ "schema": { "type": "string" }, "payload": "foo-bar-baz" }`, "foo-bar-baz"},
		{`{ "schema": { "type": "array", "items": { "type" : "int32" } }, "payload": [1, 2, 3] }`, []any{int32(1), int32(2), int32(3)}},
		{`{ "schema": { "type": "map", "keys": { "type" : "string" }, "values": { "type" : "int32" } }, "payload": { "key1": 12, "key2": 15} }`,
			map[any]any{"key1": int32(12), "key2": int32(15)}},
		{`{ "schema": { "type": "map", "keys": { "type" : "int32" }, "values": { "type" : "int32" } }, "payload": [ [1, 12], [2, 15] ] }`,
			map[any]any{int32(1): int32(12), int32(2): int32(15)}},
		{`{ "schema": { "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1, "parameters": { "scale": "2" } }, "payload": "AJw=" }`,
			schema.NewDecimal(156, 2)},
		{`{ "schema": { "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1, "parameters": { "scale": "2" } }, "payload": 1.56 }`,
			schema.NewDecimal(156, 2)},
		{`{ "schema": { "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1, "parameters": { "scale": "2" } }, "payload": 2 }`,
			schema.NewDecimal(200, 2)},
		{`{ "schema": { "type": "int32", "name": "org.apache.kafka.connect.data.Date", "version": 1 }, "payload": 10000 }`,
			time.Date(1997, 5, 19, 0, 0, 0, 0, time.UTC)},
		{`{ "schema": { "type": "int32", "name": "org.apache.kafka.connect.data.Time", "version": 1 }, "payload": 14400000 }`,
			time.Date(1970, 1, 1, 4, 0, 0, 0, time.UTC)},
		{`{ "schema": { "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp", "version": 1 }, "payload": 4000000000 }`,
			time.UnixMilli(4000000000).UTC()},
		{`{ "schema": { "type": "int32", "optional": true, "default": 42 }, "payload": null }`, int32(42)},
		{`{ "schema": { "type": "int8" }, "payload": 1.0 }`, int8(1)},
		{`{ "schema": { "type": "int64" }, "payload": 1e3 }`, int64(1000)},
		{`{"payload": "x", "schema": {"type": "string"}}`, "x"},
		{`{"schema": null, "payload": {"a": 1, "b": 1.5, "c": 12345678901234567890}}`,
			map[string]any{"a": int64(1), "b": 1.5, "c": 1.2345678901234567e19}},
	}
	for _, tc := range cases {
		_, v, err := c.ToConnect("t", []byte(tc.in))
		require.NoError(t, err, tc.in)
		require.True(t, schema.Equal(tc.want, v), "%s\n got %#v", tc.in, v)
	}

	_, v, err := c.ToConnect("t", []byte(`{ "schema": { "type": "struct", "fields": [{ "field": "field1", "type": "boolean" },
		{ "field": "field2", "type": "string" }] }, "payload": { "field1": true, "field2": "string", "extra": 1 } }`))
	require.NoError(t, err)
	st := v.(*schema.Struct)
	f1, _ := st.Get("field1")
	f2, _ := st.Get("field2")
	require.Equal(t, true, f1)
	require.Equal(t, "string", f2)
}

func TestJSONTombstonesAndNulls(t *testing.T) {
	c := configured(t, nil)
	b, err := c.FromConnect("t", nil, nil)
	require.NoError(t, err)
	require.Nil(t, b)
	for _, data := range [][]byte{nil, {}} {
		s, v, err := c.ToConnect("t", data)
		require.NoError(t, err)
		require.Nil(t, s)
		require.Nil(t, v)
	}
	// replace.null.with.default=false keeps nulls as nulls when the schema is optional.
	opt := schema.NewBuilder(schema.Int32).Optional().Default(int32(5)).MustBuild()
	keep := configured(t, map[string]string{"replace.null.with.default": "false"})
	b, err = keep.FromConnect("t", opt, nil)
	require.NoError(t, err)
	require.Equal(t, `{"schema":{"type":"int32","optional":true,"default":5},"payload":null}`, string(b))
	_, v, err := keep.ToConnect("t", b)
	require.NoError(t, err)
	require.Nil(t, v)
	_, v, err = c.ToConnect("t", b)
	require.NoError(t, err)
	require.Equal(t, int32(5), v)
}

func TestJSONSchemalessEncode(t *testing.T) {
	c := configured(t, map[string]string{"schemas.enable": "false"})
	inner := schema.StructBuilder().Field("x", schema.Int32Schema).MustBuild()
	cases := []struct {
		v    any
		want string
	}{
		{map[string]any{"b": 1, "a": []string{"x"}}, `{"a":["x"],"b":1}`},
		{map[any]any{int32(2): "b", int32(1): "a"}, `[[1,"a"],[2,"b"]]`},
		{map[any]any{"k": int8(1)}, `{"k":1}`},
		{map[string]int{"k": 1}, `{"k":1}`},
		{[]int{1, 2}, `[1,2]`},
		{[]byte("hi"), `"aGk="`},
		{uint64(math.MaxUint64), `18446744073709551615`},
		{float32(1.5), `1.5`},
		{int16(3), `3`},
		{schema.NewDecimal(-1050, 3), `-1.050`},
		{time.UnixMilli(1234).UTC(), `1234`},
		{schema.NewStruct(inner).MustPut("x", int32(9)), `{"x":9}`},
		{[]any{nil, true, "s"}, `[null,true,"s"]`},
	}
	for _, tc := range cases {
		b, err := c.FromConnect("t", nil, tc.v)
		require.NoError(t, err, "%#v", tc.v)
		require.Equal(t, tc.want, string(b))
	}
	_, err := c.FromConnect("t", nil, struct{}{})
	require.ErrorIs(t, err, ErrUnsupportedType)
	_, err = c.FromConnect("t", nil, map[string]any{"k": []any{make(chan int)}})
	require.ErrorIs(t, err, ErrUnsupportedType)
	require.Contains(t, err.Error(), `field "["k"][0]"`)
	_, err = c.FromConnect("t", nil, math.NaN())
	require.ErrorIs(t, err, schema.ErrInvalidValue)
}

func TestJSONEncodeErrors(t *testing.T) {
	c := configured(t, nil)
	inner := schema.StructBuilder().Name("In").Field("n", schema.Int32Schema).MustBuild()
	outer := schema.StructBuilder().Name("Out").
		Field("in", inner).
		Field("list", schema.ArrayOf(schema.Int64Schema).MustBuild()).
		Field("m", schema.MapOf(schema.StringSchema, schema.Float64Schema).MustBuild()).
		Field("p", schema.MapOf(schema.Int8Schema, schema.StringSchema).MustBuild()).
		MustBuild()
	// The slices and maps are kept so a test can corrupt them after Put validated them, as a buggy transform might.
	var list []any
	var m, p map[any]any
	valid := func() *schema.Struct {
		list, m, p = []any{int64(1)}, map[any]any{"a": 1.0}, map[any]any{int8(1): "x"}
		return schema.NewStruct(outer).
			MustPut("in", schema.NewStruct(inner).MustPut("n", int32(1))).
			MustPut("list", list).
			MustPut("m", m).
			MustPut("p", p)
	}
	_, err := c.FromConnect("t", outer, valid())
	require.NoError(t, err)

	cases := []struct {
		name     string
		s        *schema.Schema
		v        any
		sentinel error
		path     string
	}{
		{"wrong go type", schema.Int32Schema, int64(1), schema.ErrInvalidValue, ""},
		{"required null", schema.StringSchema, nil, schema.ErrNullValue, ""},
		{"nan", schema.Float64Schema, math.Inf(1), schema.ErrInvalidValue, ""},
		{"float32 nan", schema.Float32Schema, float32(math.NaN()), schema.ErrInvalidValue, ""},
		{"struct of other schema", outer, schema.NewStruct(inner).MustPut("n", int32(1)), schema.ErrInvalidValue, ""},
		{"not a struct", outer, map[string]any{}, schema.ErrInvalidValue, ""},
		{"array element", schema.ArrayOf(schema.Int64Schema).MustBuild(), []any{int64(1), "x"}, schema.ErrInvalidValue, "[1]"},
		{"not an array", schema.ArrayOf(schema.Int64Schema).MustBuild(), "x", schema.ErrInvalidValue, ""},
		{"map value", schema.MapOf(schema.StringSchema, schema.Float64Schema).MustBuild(), map[any]any{"k": "x"}, schema.ErrInvalidValue, `["k"]`},
		{"object map key", schema.MapOf(schema.StringSchema, schema.Float64Schema).MustBuild(), map[any]any{1: 1.0}, schema.ErrInvalidValue, `[1]`},
		{"pair map key", schema.MapOf(schema.Int8Schema, schema.StringSchema).MustBuild(), map[any]any{int16(1): "x"}, schema.ErrInvalidValue, `[1]`},
		{"pair map value", schema.MapOf(schema.Int8Schema, schema.StringSchema).MustBuild(), map[any]any{int8(1): 2}, schema.ErrInvalidValue, `[1]`},
		{"not a map", schema.MapOf(schema.Int8Schema, schema.StringSchema).MustBuild(), []any{}, schema.ErrInvalidValue, ""},
		{"decimal type", schema.DecimalSchema(2), 1.5, schema.ErrInvalidValue, ""},
		{"decimal scale", schema.DecimalSchema(2), schema.NewDecimal(15, 1), schema.ErrInvalidValue, ""},
		{"decimal schema scale", &schema.Schema{Type: schema.Bytes, Name: schema.DecimalName}, schema.NewDecimal(15, 1), schema.ErrInvalidSchema, ""},
		{"date with time", schema.DateSchema(), time.Unix(5, 0), schema.ErrInvalidValue, ""},
		{"time with date", schema.TimeSchema(), time.Unix(86400*3, 0), schema.ErrInvalidValue, ""},
		{"timestamp type", schema.TimestampSchema(), int64(1), schema.ErrInvalidValue, ""},
		{"unknown type", &schema.Schema{Type: "int128"}, 1, schema.ErrUnknownType, ""},
		{"array without items", &schema.Schema{Type: schema.Array}, []any{}, schema.ErrInvalidSchema, ""},
		{"map without keys", &schema.Schema{Type: schema.Map}, map[any]any{}, schema.ErrInvalidSchema, ""},
	}
	nested := []struct {
		name   string
		mutate func()
		path   string
	}{
		{"nested array", func() { list[0] = 2 }, "list[0]"},
		{"nested map", func() { m["a"] = "b" }, `m["a"]`},
		{"nested pair map", func() { p[int8(4)] = 5 }, `p[4]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.FromConnect("t", tc.s, tc.v)
			require.ErrorIs(t, err, tc.sentinel)
			var fe *schema.FieldError
			require.True(t, errors.As(err, &fe))
			require.Equal(t, tc.path, fe.Path)
		})
	}
	for _, tc := range nested {
		t.Run(tc.name, func(t *testing.T) {
			v := valid()
			tc.mutate()
			_, err := c.FromConnect("t", outer, v)
			require.ErrorIs(t, err, schema.ErrInvalidValue)
			var fe *schema.FieldError
			require.True(t, errors.As(err, &fe))
			require.Equal(t, tc.path, fe.Path)
		})
	}
}

func TestJSONDecodeErrors(t *testing.T) {
	c := configured(t, nil)
	env := func(schemaJSON, payload string) string {
		return `{"schema":` + schemaJSON + `,"payload":` + payload + `}`
	}
	point := `{"type":"struct","name":"P","fields":[{"field":"x","type":"int32"},{"field":"tags","type":"array","items":{"type":"string"}},` +
		`{"field":"attrs","type":"map","keys":{"type":"string"},"values":{"type":"int8"}},` +
		`{"field":"byId","type":"map","keys":{"type":"int16"},"values":{"type":"boolean"}},` +
		`{"field":"inner","type":"struct","optional":true,"fields":[{"field":"d","type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"1"}}]}]}`
	cases := []struct {
		name     string
		in       string
		sentinel error
		contains string
	}{
		{"malformed", `{"schema":`, ErrMalformed, "unexpected end"},
		{"not json", `hello`, ErrMalformed, ""},
		{"trailing data", env(`{"type":"string"}`, `"x"`) + ` {}`, ErrMalformed, ""},
		{"not an object", `[1,2]`, ErrMalformed, "schemas.enable"},
		{"null document", `null`, ErrMalformed, "schemas.enable"},
		{"missing payload", `{"schema":{"type":"string"}}`, ErrMalformed, `"payload"`},
		{"extra field", `{"schema":{"type":"string"},"payload":"x","x":1}`, ErrMalformed, ""},
		{"schema not object", env(`"string"`, `"x"`), schema.ErrInvalidSchema, "must be a JSON object"},
		{"schema without type", env(`{}`, `"x"`), schema.ErrInvalidSchema, `"type"`},
		{"unknown type", env(`{"type":"in32"}`, `1`), schema.ErrUnknownType, `"in32"`},
		{"unknown nested type", env(`{"type":"struct","fields":[{"field":"a","type":"struct","fields":[{"field":"b","type":"strin"}]}]}`, `{}`),
			schema.ErrUnknownType, `field "a.b"`},
		{"fields not array", env(`{"type":"struct","fields":{}}`, `{}`), schema.ErrInvalidSchema, `"fields"`},
		{"field without name", env(`{"type":"struct","fields":[{"type":"int8"}]}`, `{}`), schema.ErrInvalidSchema, `"field"`},
		{"field not object", env(`{"type":"struct","fields":[1]}`, `{}`), schema.ErrInvalidSchema, "must be an object"},
		{"duplicate field", env(`{"type":"struct","fields":[{"field":"a","type":"int8"},{"field":"a","type":"int8"}]}`, `{}`), schema.ErrInvalidSchema, "duplicate"},
		{"array without items", env(`{"type":"array"}`, `[]`), schema.ErrInvalidSchema, `"items"`},
		{"map without values", env(`{"type":"map","keys":{"type":"string"}}`, `{}`), schema.ErrInvalidSchema, `"values"`},
		{"bad version", env(`{"type":"string","version":"1"}`, `"x"`), schema.ErrInvalidSchema, `"version"`},
		{"bad parameters", env(`{"type":"string","parameters":{"a":1}}`, `"x"`), schema.ErrInvalidSchema, `"a"`},
		{"parameters not object", env(`{"type":"string","parameters":[]}`, `"x"`), schema.ErrInvalidSchema, `"parameters"`},
		{"decimal without scale", env(`{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal"}`, `"AA=="`), schema.ErrInvalidSchema, "scale"},
		{"bad default", env(`{"type":"struct","fields":[{"field":"a","type":"int8","default":"x"}]}`, `{}`), schema.ErrInvalidValue, "default value"},
		{"string for int", env(`{"type":"int32"}`, `"1"`), schema.ErrInvalidValue, "JSON string"},
		{"required null", env(`{"type":"int32"}`, `null`), schema.ErrNullValue, ""},
		{"int8 overflow", env(`{"type":"int8"}`, `128`), schema.ErrInvalidValue, "128"},
		{"int32 fraction", env(`{"type":"int32"}`, `1.5`), schema.ErrInvalidValue, "1.5"},
		{"int64 huge exponent", env(`{"type":"int64"}`, `1e999999999`), schema.ErrInvalidValue, ""},
		{"float overflow", env(`{"type":"float"}`, `1e39`), schema.ErrInvalidValue, "out of range"},
		{"double overflow", env(`{"type":"double"}`, `1e309`), schema.ErrInvalidValue, "out of range"},
		{"bool from number", env(`{"type":"boolean"}`, `1`), schema.ErrInvalidValue, ""},
		{"bad base64", env(`{"type":"bytes"}`, `"!!"`), schema.ErrInvalidValue, "base64"},
		{"bytes from number", env(`{"type":"bytes"}`, `1`), schema.ErrInvalidValue, ""},
		{"array from object", env(`{"type":"array","items":{"type":"int8"}}`, `{}`), schema.ErrInvalidValue, ""},
		{"decimal bad number", env(`{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"1"}}`, `1.55`), schema.ErrInvalidValue, "scale 1"},
		{"decimal empty", env(`{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"1"}}`, `""`), schema.ErrInvalidValue, ""},
		{"decimal bool", env(`{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"1"}}`, `true`), schema.ErrInvalidValue, ""},
		{"decimal huge exponent", env(`{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"1"}}`, `1e999999999`), schema.ErrInvalidValue, ""},
		{"date not int", env(`{"type":"int32","name":"org.apache.kafka.connect.data.Date"}`, `"2020-01-01"`), schema.ErrInvalidValue, ""},
		{"time out of day", env(`{"type":"int32","name":"org.apache.kafka.connect.data.Time"}`, `86400000`), schema.ErrInvalidValue, "within a day"},
		{"timestamp not int", env(`{"type":"int64","name":"org.apache.kafka.connect.data.Timestamp"}`, `1.5`), schema.ErrInvalidValue, ""},
		{"struct from array", env(point, `[]`), schema.ErrInvalidValue, "JSON array"},
		{"struct field", env(point, `{"x":"1"}`), schema.ErrInvalidValue, `field "x"`},
		{"struct missing required", env(point, `{"tags":[]}`), schema.ErrNullValue, `field "x"`},
		{"struct array element", env(point, `{"x":1,"tags":["a",2]}`), schema.ErrInvalidValue, `field "tags[1]"`},
		{"struct map value", env(point, `{"x":1,"tags":[],"attrs":{"k":300}}`), schema.ErrInvalidValue, `field "attrs["k"]"`},
		{"string map from array", env(point, `{"x":1,"tags":[],"attrs":[]}`), schema.ErrInvalidValue, `field "attrs"`},
		{"pair map from object", env(point, `{"x":1,"tags":[],"attrs":{},"byId":{}}`), schema.ErrInvalidValue, `field "byId"`},
		{"pair map bad entry", env(point, `{"x":1,"tags":[],"attrs":{},"byId":[[1]]}`), schema.ErrInvalidValue, `field "byId[0]"`},
		{"pair map bad key", env(point, `{"x":1,"tags":[],"attrs":{},"byId":[["a",true]]}`), schema.ErrInvalidValue, `field "byId[0].key"`},
		{"pair map bad value", env(point, `{"x":1,"tags":[],"attrs":{},"byId":[[1,"t"]]}`), schema.ErrInvalidValue, `field "byId[1]"`},
		{"nested decimal", env(point, `{"x":1,"tags":[],"attrs":{},"byId":[],"inner":{"d":"%%"}}`), schema.ErrInvalidValue, `field "inner.d"`},
		{"bytes map key", env(`{"type":"map","keys":{"type":"bytes"},"values":{"type":"int8"}}`, `[["AA==",1]]`), ErrUnsupportedType, "map key"},
		{"array map key", env(`{"type":"map","keys":{"type":"array","items":{"type":"int8"}},"values":{"type":"int8"}}`, `[[[1],1]]`), ErrUnsupportedType, "map key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, v, err := c.ToConnect("t", []byte(tc.in))
			require.ErrorIs(t, err, tc.sentinel)
			require.Contains(t, err.Error(), tc.contains)
			require.Nil(t, s)
			require.Nil(t, v)
		})
	}

	schemaless := configured(t, map[string]string{"schemas.enable": "false"})
	for _, in := range []string{`{`, `[1,]`, `1 2`, `"\x"`} {
		_, _, err := schemaless.ToConnect("t", []byte(in))
		require.ErrorIs(t, err, ErrMalformed, in)
	}
	_, _, err := schemaless.ToConnect("t", []byte(`{"a":[1e999]}`))
	require.ErrorIs(t, err, schema.ErrInvalidValue)
	require.Contains(t, err.Error(), `field "["a"][0]"`)
}

func TestJSONConfigure(t *testing.T) {
	c := NewJSONConverter()
	require.NoError(t, c.Configure(map[string]string{"schemas.enable": " FALSE ", "decimal.format": "numeric", "schemas.cache.size": "0", "unknown": "x"}, true))
	require.False(t, c.schemasEnable)
	require.True(t, c.decimalNumeric)
	require.Equal(t, 0, c.cacheSize)
	for key, val := range map[string]string{"schemas.enable": "yes", "decimal.format": "HEX", "schemas.cache.size": "-1", "replace.null.with.default": "1"} {
		err := NewJSONConverter().Configure(map[string]string{key: val}, false)
		require.ErrorIs(t, err, ErrInvalidConfig)
		var ce *cfgerr.Error
		require.True(t, errors.As(err, &ce))
		require.Equal(t, key, ce.Key)
		require.Equal(t, val, ce.Value)
		require.Contains(t, err.Error(), key)
	}
}

// Caches are exercised from many goroutines at once (run with -race), and a cache size of 1 forces evictions.
func TestJSONConcurrentUse(t *testing.T) {
	for _, size := range []string{"1", "1000", "0"} {
		c := configured(t, map[string]string{"schemas.cache.size": size})
		schemas := []*schema.Schema{schema.Int32Schema, schema.OptionalStringSchema, schema.DateSchema()}
		values := []any{int32(1), "x", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 200 {
					k := (g + i) % len(schemas)
					b, err := c.FromConnect("t", schemas[k], values[k])
					if err != nil {
						t.Error(err)
						return
					}
					s, v, err := c.ToConnect("t", b)
					if err != nil || !s.Equal(schemas[k]) || !schema.Equal(v, values[k]) {
						t.Errorf("round trip %d: %v %v %v", k, s, v, err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
}

func TestJavaNumberFormats(t *testing.T) {
	doubles := map[float64]string{
		0: "0.0", math.Copysign(0, -1): "-0.0", 1: "1.0", -1.5: "-1.5", 0.001: "0.001", 0.0001: "1.0E-4",
		9999999: "9999999.0", 1e7: "1.0E7", 123456789: "1.23456789E8", 1.7976931348623157e308: "1.7976931348623157E308",
		4.9e-324: "4.9E-324", 0.30000000000000004: "0.30000000000000004", 100: "100.0", 1e21: "1.0E21", 1e23: "1.0E23",
		2e-3: "0.002", 1234.5678: "1234.5678", 12345.0: "12345.0", 1e100: "1.0E100",
	}
	for f, want := range doubles {
		got, err := appendJavaFloat(nil, f, 64)
		require.NoError(t, err)
		require.Equal(t, want, string(got), "%v", f)
	}
	floats := map[float32]string{1.1: "1.1", 1e10: "1.0E10", 3.0: "3.0", 1.4e-45: "1.4E-45", 0.001: "0.001", 16777216: "1.6777216E7"}
	for f, want := range floats {
		got, err := appendJavaFloat(nil, float64(f), 32)
		require.NoError(t, err)
		require.Equal(t, want, string(got), "%v", f)
	}
	decimals := map[string]string{
		"0": "0", "1.00": "1.00", "-0.000001": "-0.000001", "0.0000001": "1E-7", "-1.2E+5": "-1.2E+5", "123E+2": "1.23E+4",
		"0.00": "0.00", "12345678901234567890.123": "12345678901234567890.123",
	}
	for in, want := range decimals {
		d, err := schema.ParseDecimal(in)
		require.NoError(t, err)
		require.Equal(t, want, string(appendJavaDecimal(nil, d)), in)
	}
	require.Equal(t, "0", string(appendJavaDecimal(nil, schema.Decimal{})))
}

func TestJSONStringEscaping(t *testing.T) {
	cases := map[string]string{
		"plain":         `"plain"`,
		"a\"b\\c":       `"a\"b\\c"`,
		"\b\f\n\r\t":    `"\b\f\n\r\t"`,
		"\x00\x1f":      `"\u0000\u001F"`,
		"<>&'/":         `"<>&'/"`,
		"\u2028\u00e9😀": "\"\u2028\u00e9😀\"",
		"bad\xffutf8":   "\"bad\uFFFDutf8\"",
		"\x7f":          "\"\x7f\"",
	}
	for in, want := range cases {
		require.Equal(t, want, string(appendString(nil, in)), "%q", in)
	}
	require.True(t, strings.HasPrefix(string(appendString([]byte("x"), "y")), `x"y`))
}

func TestJSONStructWithoutSchema(t *testing.T) {
	c := configured(t, nil)
	s := schema.StructBuilder().Name("S").Field("a", schema.Int8Schema).MustBuild()
	b, err := c.FromConnect("t", nil, schema.NewStruct(s).MustPut("a", int8(1)))
	require.NoError(t, err)
	require.Equal(t, `{"schema":{"type":"struct","fields":[{"type":"int8","optional":false,"field":"a"}],"optional":false,"name":"S"},"payload":{"a":1}}`, string(b))
}

func TestEncodeDecodeSchema(t *testing.T) {
	s := kitchenSinkSchema()
	b, err := EncodeSchema(s)
	require.NoError(t, err)
	back, err := DecodeSchema(b)
	require.NoError(t, err)
	require.True(t, s.Equal(back))
	b, err = EncodeSchema(nil)
	require.NoError(t, err)
	require.Equal(t, "null", string(b))
	back, err = DecodeSchema(b)
	require.NoError(t, err)
	require.Nil(t, back)
	_, err = DecodeSchema([]byte(`{"type":"nope"}`))
	require.ErrorIs(t, err, schema.ErrUnknownType)
	_, err = DecodeSchema([]byte(`{`))
	require.ErrorIs(t, err, ErrMalformed)
	_, err = EncodeSchema(&schema.Schema{Type: schema.Map})
	require.ErrorIs(t, err, schema.ErrInvalidSchema)
	_, err = EncodeSchema(&schema.Schema{Type: schema.StructType, Fields: []schema.Field{{Name: "a"}}})
	require.ErrorIs(t, err, schema.ErrInvalidSchema)
	require.Contains(t, err.Error(), `field "a"`)
	_, err = EncodeSchema(&schema.Schema{Type: schema.StructType, Fields: []schema.Field{{Name: "a", Schema: &schema.Schema{Type: "x"}}}})
	require.ErrorIs(t, err, schema.ErrUnknownType)
	_, err = EncodeSchema(schema.NewBuilder(schema.Int8).Default(int8(1)).MustBuild())
	require.NoError(t, err)
	_, err = EncodeSchema(&schema.Schema{Type: schema.Int8, Default: "x"})
	require.ErrorIs(t, err, schema.ErrInvalidValue)
	require.Contains(t, err.Error(), "schema default value")
}

// The schema caches are bounded by bytes as well as by entries: a schema over 64 KiB is not cached, and many
// unique large schemas (each envelope's own) never make a cache hold more than 8 MiB of text.
func TestJSONSchemaCacheBytes(t *testing.T) {
	c := configured(t, nil)
	withDoc := func(i, size int) *schema.Schema {
		return schema.StructBuilder().Name("com.example.Big").Doc(fmt.Sprintf("%06d", i)+strings.Repeat("d", size)).
			Field("id", schema.Int64Schema).MustBuild()
	}
	roundTrip := func(s *schema.Schema) {
		data, err := c.FromConnect("t", s, schema.NewStruct(s).MustPut("id", int64(1)))
		require.NoError(t, err)
		got, _, err := c.ToConnect("t", data)
		require.NoError(t, err)
		require.True(t, got.Equal(s))
	}

	roundTrip(withDoc(0, maxCachedSchemaBytes+1))
	require.Zero(t, len(c.encodedSchemas))
	require.Zero(t, len(c.decodedSchemas))

	each := maxCachedSchemaBytes - 1000
	for i := range 2 * schemaCacheBytes / each {
		roundTrip(withDoc(i, each))
		require.LessOrEqual(t, c.encodedBytes, schemaCacheBytes)
		require.LessOrEqual(t, c.decodedBytes, schemaCacheBytes)
		total := 0
		for k := range c.decodedSchemas {
			total += len(k)
		}
		require.Equal(t, c.decodedBytes, total)
	}
	require.NotZero(t, len(c.decodedSchemas))

	// A small schema seen again is served from the cache.
	c = configured(t, nil)
	small := withDoc(0, 10)
	for range 2 {
		roundTrip(small)
		require.Equal(t, 1, len(c.decodedSchemas))
		require.Equal(t, 1, len(c.encodedSchemas))
	}
}

// Numbers with more digits than their type can hold are refused before they are read exactly (reading decimal
// digits is quadratic), with errors that do not repeat them.
func TestJSONLongNumbers(t *testing.T) {
	c := configured(t, nil)
	env := func(schemaJSON, payload string) []byte {
		return []byte(`{"schema":` + schemaJSON + `,"payload":` + payload + `}`)
	}
	const decimal = `{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2"}}`
	most := strings.Repeat("9", schema.MaxDecimalDigits)
	long := strings.Repeat("7", 4_000_000)

	_, v, err := c.ToConnect("t", env(decimal, most[2:]+".99"))
	require.NoError(t, err)
	require.True(t, schema.FitsDigits(v.(schema.Decimal).Unscaled, schema.MaxDecimalDigits))
	for _, in := range []string{"1" + most, most + ".5", long} {
		_, _, err = c.ToConnect("t", env(decimal, in))
		require.ErrorIs(t, err, schema.ErrInvalidValue)
		require.ErrorContains(t, err, "more than the 10000 a decimal may have")
		require.Less(t, len(err.Error()), 300)
	}
	huge := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x55}, 1<<20))
	_, _, err = c.ToConnect("t", env(decimal, `"`+huge+`"`))
	require.ErrorIs(t, err, schema.ErrInvalidValue)
	require.ErrorContains(t, err, "more than the 10000 digits")

	for in, want := range map[string]int64{"1.000": 1, "1e3": 1000, "9223372036854775807.0": math.MaxInt64,
		"-92233720368547758.08e2": math.MinInt64, "0.00000000000000000000000000000042e32": 42} {
		_, v, err := c.ToConnect("t", env(`{"type":"int64"}`, in))
		require.NoError(t, err, in)
		require.Equal(t, want, v, in)
	}
	for _, in := range []string{"9223372036854775808.0", "12345678901234567891e-1", "1" + strings.Repeat("0", 20000) + "e-20000", long, long + ".0"} {
		_, _, err := c.ToConnect("t", env(`{"type":"int64"}`, in))
		require.ErrorIs(t, err, schema.ErrInvalidValue)
		require.Less(t, len(err.Error()), 200)
	}
}
