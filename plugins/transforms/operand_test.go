package transforms

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema"
)

// opCase is a keyed-transform case: it runs as Name$Key on the key and as
// Name$Value on the value.
type opCase struct {
	name    string
	typ     string
	cfg     map[string]string
	inSc    *schema.Schema
	in      any
	outSc   *schema.Schema
	out     any
	drop    bool
	err     error
	headers schema.Headers // expected headers beyond the base ones
	onlyVal bool           // run only the $Value variant
}

func runOpCases(t *testing.T, cases []opCase) {
	t.Helper()
	for _, tc := range cases {
		for _, s := range []side{keySide, valueSide} {
			if tc.onlyVal && s == keySide {
				continue
			}
			suffix := "$Value"
			if s == keySide {
				suffix = "$Key"
			}
			t.Run(tc.typ+suffix+"/"+tc.name, func(t *testing.T) {
				tr := newTransform(t, tc.typ+suffix, tc.cfg)
				in := s.with(baseRecord(), tc.inSc, tc.in)
				got, err := applyUnmutated(t, tr, in)
				if tc.err != nil {
					require.ErrorIs(t, err, tc.err)
					require.Nil(t, got)
					return
				}
				require.NoError(t, err)
				if tc.drop {
					require.Nil(t, got)
					return
				}
				want := s.with(baseRecord(), tc.outSc, tc.out)
				want.Headers = append(want.Headers, tc.headers...)
				requireRecordEqual(t, want, got)
			})
		}
	}
}

func TestInsertField(t *testing.T) {
	cfg := map[string]string{"topic.field": "t", "partition.field": "p!", "offset.field": "o?",
		"timestamp.field": "ts", "static.field": "s", "static.value": "v"}
	outSc := schema.FromSchema(userSc).
		Field("t", schema.OptionalStringSchema).Field("p", schema.Int32Schema).Field("o", schema.OptionalInt64Schema).
		Field("ts", schema.TimestampBuilder().Optional().MustBuild()).Field("s", schema.OptionalStringSchema).MustBuild()
	out := mk(outSc, "id", int32(1), "name", "ann", "email", "a@x.io", "addr", mk(addrSc, "city", "Paris", "zip", "75001"),
		"t", "orders", "p", int32(3), "o", int64(42), "ts", recTime, "s", "v")
	outMap := userMap()
	outMap["t"], outMap["p"], outMap["o"], outMap["ts"], outMap["s"] = "orders", int64(3), int64(42), recTime.UnixMilli(), "v"
	runOpCases(t, []opCase{
		{name: "schema", typ: "InsertField", cfg: cfg, inSc: userSc, in: user(), outSc: outSc, out: out},
		{name: "schemaless", typ: "InsertField", cfg: cfg, in: userMap(), out: outMap},
		{name: "null passes", typ: "InsertField", cfg: cfg, inSc: userSc, in: nil, outSc: userSc, out: nil},
		{name: "not a struct", typ: "InsertField", cfg: cfg, inSc: schema.StringSchema, in: "x", err: ErrUnsupportedValue},
		{name: "not a map", typ: "InsertField", cfg: cfg, in: "x", err: ErrUnsupportedValue},
		{name: "field exists", typ: "InsertField", cfg: map[string]string{"topic.field": "name"}, inSc: userSc, in: user(), err: ErrUnsupportedValue},
	})
}

func TestReplaceField(t *testing.T) {
	renamed := schema.StructBuilder().Name("User").Field("id", schema.Int32Schema).Field("full_name", schema.StringSchema).
		Field("addr", addrSc).MustBuild()
	addr := mk(addrSc, "city", "Paris", "zip", "75001")
	onlyID := schema.StructBuilder().Name("User").Field("id", schema.Int32Schema).MustBuild()
	runOpCases(t, []opCase{
		{name: "exclude+rename", typ: "ReplaceField", cfg: map[string]string{"exclude": "email", "renames": "name:full_name"},
			inSc: userSc, in: user(), outSc: renamed, out: mk(renamed, "id", int32(1), "full_name", "ann", "addr", addr)},
		{name: "blacklist alias", typ: "ReplaceField", cfg: map[string]string{"blacklist": "email", "renames": "name:full_name"},
			inSc: userSc, in: user(), outSc: renamed, out: mk(renamed, "id", int32(1), "full_name", "ann", "addr", addr)},
		{name: "include", typ: "ReplaceField", cfg: map[string]string{"include": "id"},
			inSc: userSc, in: user(), outSc: onlyID, out: mk(onlyID, "id", int32(1))},
		{name: "whitelist alias", typ: "ReplaceField", cfg: map[string]string{"whitelist": "id"},
			inSc: userSc, in: user(), outSc: onlyID, out: mk(onlyID, "id", int32(1))},
		{name: "schemaless", typ: "ReplaceField", cfg: map[string]string{"exclude": "email,addr", "renames": "name:full_name"},
			in: userMap(), out: map[string]any{"id": int64(1), "full_name": "ann"}},
		{name: "rename collision", typ: "ReplaceField", cfg: map[string]string{"renames": "name:id"},
			inSc: userSc, in: user(), err: ErrUnsupportedValue},
		{name: "null", typ: "ReplaceField", cfg: map[string]string{"include": "id"}},
	})
}

func TestMaskField(t *testing.T) {
	decSc := schema.StructBuilder().Field("amount", schema.DecimalSchema(2)).Field("n", schema.Int64Schema).
		Field("ts", schema.TimestampSchema()).Field("b", schema.BooleanSchema).Field("f", schema.Float64Schema).
		Field("tags", schema.ArrayOf(schema.StringSchema).MustBuild()).MustBuild()
	decIn := mk(decSc, "amount", dec(1234, 2), "n", int64(9), "ts", recTime, "b", true, "f", 1.5, "tags", []any{"a"})
	decOut := mk(decSc, "amount", dec(0, 2), "n", int64(0), "ts", epoch, "b", false, "f", 0.0, "tags", []any{})
	masked := mk(userSc, "id", int32(0), "name", "", "email", "", "addr", mk(addrSc, "city", "Paris", "zip", "75001"))
	noEmail := mk(userSc, "id", int32(1), "name", "ann", "addr", mk(addrSc, "city", "Paris"))
	outMap := userMap()
	outMap["id"], outMap["name"], outMap["addr"] = int64(0), "", map[string]any{}
	runOpCases(t, []opCase{
		{name: "zero", typ: "MaskField", cfg: map[string]string{"fields": "id,name,email"}, inSc: userSc, in: user(), outSc: userSc, out: masked},
		{name: "types", typ: "MaskField", cfg: map[string]string{"fields": "amount,n,ts,b,f,tags"}, inSc: decSc, in: decIn, outSc: decSc, out: decOut},
		{name: "null field stays null", typ: "MaskField", cfg: map[string]string{"fields": "email"}, inSc: userSc, in: noEmail, outSc: userSc, out: noEmail},
		{name: "replacement", typ: "MaskField", cfg: map[string]string{"fields": "name", "replacement": "****"}, inSc: userSc,
			in:    mk(userSc, "id", int32(1), "name", "ann", "email", "a@x.io", "addr", mk(addrSc, "city", "Paris", "zip", "75001")),
			outSc: userSc, out: mk(userSc, "id", int32(1), "name", "****", "email", "a@x.io", "addr", mk(addrSc, "city", "Paris", "zip", "75001"))},
		{name: "numeric replacement", typ: "MaskField", cfg: map[string]string{"fields": "id,name", "replacement": "-1"}, inSc: userSc, in: user(),
			outSc: userSc, out: mk(userSc, "id", int32(-1), "name", "-1", "email", "a@x.io", "addr", mk(addrSc, "city", "Paris", "zip", "75001"))},
		{name: "bad replacement", typ: "MaskField", cfg: map[string]string{"fields": "id", "replacement": "****"}, inSc: userSc, in: user(), err: ErrUnsupportedValue},
		{name: "struct field", typ: "MaskField", cfg: map[string]string{"fields": "addr"}, inSc: userSc, in: user(), err: ErrUnsupportedValue},
		// As in Kafka, which masks the schema's fields that are listed: a field gone from an evolved schema is skipped.
		{name: "field missing from schema is skipped", typ: "MaskField", cfg: map[string]string{"fields": "id,nope"}, inSc: userSc, in: user(),
			outSc: userSc, out: mk(userSc, "id", int32(0), "name", "ann", "email", "a@x.io", "addr", mk(addrSc, "city", "Paris", "zip", "75001"))},
		{name: "schemaless", typ: "MaskField", cfg: map[string]string{"fields": "id,name,addr,absent"}, in: userMap(), out: outMap},
	})
}

func TestExtractField(t *testing.T) {
	runOpCases(t, []opCase{
		{name: "schema", typ: "ExtractField", cfg: map[string]string{"field": "name"}, inSc: userSc, in: user(), outSc: schema.StringSchema, out: "ann"},
		{name: "struct field", typ: "ExtractField", cfg: map[string]string{"field": "addr"}, inSc: userSc, in: user(), outSc: addrSc,
			out: mk(addrSc, "city", "Paris", "zip", "75001")},
		{name: "schemaless", typ: "ExtractField", cfg: map[string]string{"field": "name"}, in: userMap(), out: "ann"},
		{name: "schemaless missing", typ: "ExtractField", cfg: map[string]string{"field": "nope"}, in: userMap(), out: nil},
		{name: "missing", typ: "ExtractField", cfg: map[string]string{"field": "nope"}, inSc: userSc, in: user(), err: ErrFieldNotFound},
		{name: "null", typ: "ExtractField", cfg: map[string]string{"field": "email"}, inSc: userSc, in: nil, outSc: schema.OptionalStringSchema, out: nil},
		{name: "not struct", typ: "ExtractField", cfg: map[string]string{"field": "a"}, inSc: schema.Int32Schema, in: int32(1), err: ErrUnsupportedValue},
	})
}

func TestHoistField(t *testing.T) {
	wrapped := schema.StructBuilder().Field("w", userSc).MustBuild()
	wrappedInt := schema.StructBuilder().Field("w", schema.Int32Schema).MustBuild()
	runOpCases(t, []opCase{
		{name: "struct", typ: "HoistField", cfg: map[string]string{"field": "w"}, inSc: userSc, in: user(), outSc: wrapped, out: mk(wrapped, "w", user())},
		{name: "primitive", typ: "HoistField", cfg: map[string]string{"field": "w"}, inSc: schema.Int32Schema, in: int32(5), outSc: wrappedInt,
			out: mk(wrappedInt, "w", int32(5))},
		{name: "schemaless", typ: "HoistField", cfg: map[string]string{"field": "w"}, in: "x", out: map[string]any{"w": "x"}},
		{name: "null into required", typ: "HoistField", cfg: map[string]string{"field": "w"}, inSc: schema.Int32Schema, in: nil, err: ErrUnsupportedValue},
	})
}

func TestCast(t *testing.T) {
	castSc := schema.StructBuilder().Name("User").Field("id", schema.StringSchema).Field("name", schema.StringSchema).
		Field("email", schema.OptionalStringSchema).Field("addr", addrSc).MustBuild()
	numSc := schema.StructBuilder().Field("a", schema.StringSchema).Field("b", schema.Float64Schema).Field("c", schema.OptionalInt32Schema).
		Field("d", schema.DecimalSchema(2)).MustBuild()
	numOut := schema.StructBuilder().Field("a", schema.Int32Schema).Field("b", schema.Int64Schema).Field("c", schema.OptionalBooleanSchema).
		Field("d", schema.Float64Schema).MustBuild()
	runOpCases(t, []opCase{
		{name: "field to string", typ: "Cast", cfg: map[string]string{"spec": "id:string"}, inSc: userSc, in: user(), outSc: castSc,
			out: mk(castSc, "id", "1", "name", "ann", "email", "a@x.io", "addr", mk(addrSc, "city", "Paris", "zip", "75001"))},
		{name: "numbers", typ: "Cast", cfg: map[string]string{"spec": "a:int32,b:int64,c:boolean,d:float64"}, inSc: numSc,
			in: mk(numSc, "a", " 12 ", "b", 3.9, "c", int32(2), "d", dec(150, 2)), outSc: numOut,
			out: mk(numOut, "a", int32(12), "b", int64(3), "c", true, "d", 1.5)},
		{name: "whole value", typ: "Cast", cfg: map[string]string{"spec": "int64"}, inSc: schema.OptionalInt32Schema, in: int32(5),
			outSc: schema.OptionalInt64Schema, out: int64(5)},
		{name: "whole null", typ: "Cast", cfg: map[string]string{"spec": "float32"}, inSc: schema.OptionalInt32Schema, in: nil,
			outSc: schema.OptionalFloat32Schema, out: nil},
		{name: "schemaless whole", typ: "Cast", cfg: map[string]string{"spec": "boolean"}, in: "true", out: true},
		{name: "schemaless fields", typ: "Cast", cfg: map[string]string{"spec": "id:string,absent:int8"}, in: map[string]any{"id": int64(7)},
			out: map[string]any{"id": "7"}},
		{name: "bad string", typ: "Cast", cfg: map[string]string{"spec": "name:int32"}, inSc: userSc, in: user(), err: ErrUnsupportedValue},
		{name: "struct field", typ: "Cast", cfg: map[string]string{"spec": "addr:string"}, inSc: userSc, in: user(), err: ErrUnsupportedValue},
		{name: "whole struct", typ: "Cast", cfg: map[string]string{"spec": "string"}, inSc: userSc, in: user(), err: ErrUnsupportedValue},
	})
}

func TestFlatten(t *testing.T) {
	flatSc := schema.StructBuilder().Name("User").Field("id", schema.Int32Schema).Field("name", schema.StringSchema).
		Field("email", schema.OptionalStringSchema).Field("addr_city", schema.OptionalStringSchema).
		Field("addr_zip", schema.OptionalStringSchema).MustBuild()
	noAddr := mk(userSc, "id", int32(1), "name", "ann")
	runOpCases(t, []opCase{
		{name: "schema", typ: "Flatten", cfg: map[string]string{"delimiter": "_"}, inSc: userSc, in: user(), outSc: flatSc,
			out: mk(flatSc, "id", int32(1), "name", "ann", "email", "a@x.io", "addr_city", "Paris", "addr_zip", "75001")},
		{name: "null nested", typ: "Flatten", cfg: map[string]string{"delimiter": "_"}, inSc: userSc, in: noAddr, outSc: flatSc,
			out: mk(flatSc, "id", int32(1), "name", "ann")},
		{name: "schemaless", typ: "Flatten", cfg: map[string]string{}, in: userMap(),
			out: map[string]any{"id": int64(1), "name": "ann", "email": "a@x.io", "addr.city": "Paris", "addr.zip": "75001"}},
		{name: "null", typ: "Flatten", cfg: map[string]string{}, in: nil, out: nil},
		{name: "bad", typ: "Flatten", cfg: map[string]string{}, in: []any{1}, err: ErrUnsupportedValue},
	})
}

func TestSetSchemaMetadata(t *testing.T) {
	renamed := schema.FromSchema(userSc).Name("com.example.User").Version(3).MustBuild()
	strSc := schema.NewBuilder(schema.String).Name("com.example.S").MustBuild()
	runOpCases(t, []opCase{
		{name: "struct", typ: "SetSchemaMetadata", cfg: map[string]string{"schema.name": "com.example.User", "schema.version": "3"},
			inSc: userSc, in: user(), outSc: renamed, out: mk(renamed, "id", int32(1), "name", "ann", "email", "a@x.io", "addr", mk(addrSc, "city", "Paris", "zip", "75001"))},
		{name: "primitive", typ: "SetSchemaMetadata", cfg: map[string]string{"schema.name": "com.example.S"}, inSc: schema.StringSchema, in: "x",
			outSc: strSc, out: "x"},
		{name: "schemaless", typ: "SetSchemaMetadata", cfg: map[string]string{"schema.version": "2"}, in: userMap(), err: ErrSchemaRequired},
	})
}

func TestSetNull(t *testing.T) {
	runOpCases(t, []opCase{
		{name: "schema", typ: "SetNull", cfg: nil, inSc: userSc, in: user()},
		{name: "schemaless", typ: "SetNull", cfg: nil, in: userMap()},
	})
}

func TestHeaderFrom(t *testing.T) {
	moved := schema.StructBuilder().Name("User").Field("email", schema.OptionalStringSchema).Field("addr", addrSc).MustBuild()
	hdrs := schema.Headers{{Key: "h_id", Schema: schema.Int32Schema, Value: int32(1)}, {Key: "h_name", Schema: schema.StringSchema, Value: "ann"}}
	runOpCases(t, []opCase{
		{name: "copy", typ: "HeaderFrom", cfg: map[string]string{"fields": "id,name", "headers": "h_id,h_name", "operation": "copy"},
			inSc: userSc, in: user(), outSc: userSc, out: user(), headers: hdrs},
		{name: "move", typ: "HeaderFrom", cfg: map[string]string{"fields": "id,name", "headers": "h_id,h_name", "operation": "move"},
			inSc: userSc, in: user(), outSc: moved, out: mk(moved, "email", "a@x.io", "addr", mk(addrSc, "city", "Paris", "zip", "75001")), headers: hdrs},
		{name: "schemaless move", typ: "HeaderFrom", cfg: map[string]string{"fields": "id", "headers": "h", "operation": "move"},
			in: map[string]any{"id": int64(1), "x": "y"}, out: map[string]any{"x": "y"}, headers: schema.Headers{{Key: "h", Value: int64(1)}}},
		{name: "missing", typ: "HeaderFrom", cfg: map[string]string{"fields": "nope", "headers": "h", "operation": "copy"},
			inSc: userSc, in: user(), err: ErrFieldNotFound},
	})
}

func TestTimestampConverter(t *testing.T) {
	evSc := schema.StructBuilder().Field("id", schema.Int32Schema).Field("ts", schema.TimestampSchema()).MustBuild()
	ev := mk(evSc, "id", int32(1), "ts", recTime)
	asString := schema.StructBuilder().Field("id", schema.Int32Schema).Field("ts", schema.StringSchema).MustBuild()
	asUnix := schema.StructBuilder().Field("id", schema.Int32Schema).Field("ts", schema.Int64Schema).MustBuild()
	asDate := schema.StructBuilder().Field("id", schema.Int32Schema).Field("ts", schema.DateSchema()).MustBuild()
	asTime := schema.StructBuilder().Field("id", schema.Int32Schema).Field("ts", schema.TimeSchema()).MustBuild()
	runOpCases(t, []opCase{
		{name: "to string", typ: "TimestampConverter", cfg: map[string]string{"field": "ts", "target.type": "string", "format": "yyyy-MM-dd'T'HH:mm:ss.SSS"},
			inSc: evSc, in: ev, outSc: asString, out: mk(asString, "id", int32(1), "ts", "2024-01-02T03:04:05.000")},
		{name: "to unix", typ: "TimestampConverter", cfg: map[string]string{"field": "ts", "target.type": "unix"},
			inSc: evSc, in: ev, outSc: asUnix, out: mk(asUnix, "id", int32(1), "ts", recTime.UnixMilli())},
		{name: "to unix seconds", typ: "TimestampConverter", cfg: map[string]string{"field": "ts", "target.type": "unix", "unix.precision": "seconds"},
			inSc: evSc, in: ev, outSc: asUnix, out: mk(asUnix, "id", int32(1), "ts", recTime.Unix())},
		{name: "to Date", typ: "TimestampConverter", cfg: map[string]string{"field": "ts", "target.type": "Date"},
			inSc: evSc, in: ev, outSc: asDate, out: mk(asDate, "id", int32(1), "ts", time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC))},
		{name: "to Time", typ: "TimestampConverter", cfg: map[string]string{"field": "ts", "target.type": "Time"},
			inSc: evSc, in: ev, outSc: asTime, out: mk(asTime, "id", int32(1), "ts", time.Date(1970, 1, 1, 3, 4, 5, 0, time.UTC))},
		{name: "pre-1970 seconds round down", typ: "TimestampConverter", cfg: map[string]string{"target.type": "unix", "unix.precision": "seconds"},
			inSc: schema.TimestampSchema(), in: time.Date(1969, 12, 31, 23, 59, 58, 5e8, time.UTC), outSc: schema.Int64Schema, out: int64(-2)},
		{name: "whole unix to Timestamp", typ: "TimestampConverter", cfg: map[string]string{"target.type": "Timestamp"},
			inSc: schema.Int64Schema, in: recTime.UnixMilli(), outSc: schema.TimestampSchema(), out: recTime},
		{name: "whole string to unix", typ: "TimestampConverter", cfg: map[string]string{"target.type": "unix", "format": "yyyy-MM-dd HH:mm:ss"},
			inSc: schema.StringSchema, in: "2024-01-02 03:04:05", outSc: schema.Int64Schema, out: recTime.UnixMilli()},
		{name: "schemaless field", typ: "TimestampConverter", cfg: map[string]string{"field": "ts", "target.type": "string", "format": "yyyyMMdd"},
			in: map[string]any{"ts": recTime.UnixMilli()}, out: map[string]any{"ts": "20240102"}},
		{name: "schemaless whole", typ: "TimestampConverter", cfg: map[string]string{"target.type": "Timestamp", "format": "yyyy-MM-dd"},
			in: "2024-01-02", out: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)},
		{name: "unparseable", typ: "TimestampConverter", cfg: map[string]string{"target.type": "unix", "format": "yyyy-MM-dd"},
			inSc: schema.StringSchema, in: "yesterday", err: ErrUnsupportedValue},
		{name: "wrong type", typ: "TimestampConverter", cfg: map[string]string{"target.type": "unix"}, in: true, err: ErrUnsupportedValue},
		// As in Kafka: a field gone from an evolved schema leaves the record as it is, with a schema as without one.
		{name: "field missing from schema passes unchanged", typ: "TimestampConverter", cfg: map[string]string{"field": "nope", "target.type": "unix"},
			inSc: evSc, in: ev, outSc: evSc, out: ev},
		{name: "tombstone takes converted schema", typ: "TimestampConverter", cfg: map[string]string{"field": "ts", "target.type": "unix"},
			inSc: evSc, in: nil, outSc: asUnix, out: nil},
		{name: "tombstone without the field", typ: "TimestampConverter", cfg: map[string]string{"field": "nope", "target.type": "unix"},
			inSc: evSc, in: nil, outSc: evSc, out: nil},
	})
}

func TestCastValue(t *testing.T) {
	cases := []struct {
		in   any
		to   schema.Type
		want any
	}{
		{int8(3), schema.Int16, int16(3)}, {int16(3), schema.Int32, int32(3)}, {int32(-3), schema.Int64, int64(-3)},
		{int64(300), schema.Int8, int8(44)}, {3, schema.Float32, float32(3)}, {float32(2.5), schema.Float64, 2.5},
		{2.9, schema.Int32, int32(2)}, {true, schema.Int8, int8(1)}, {false, schema.Float64, 0.0}, {0.0, schema.Boolean, false},
		{"1.5", schema.Float64, 1.5}, {"7", schema.Int64, int64(7)}, {"false", schema.Boolean, false},
		{dec(250, 2), schema.Float32, float32(2.5)}, {recTime, schema.Int64, recTime.UnixMilli()},
		{int8(1), schema.String, "1"}, {float32(0.5), schema.String, "0.5"}, {1e21, schema.String, "1e+21"}, {true, schema.String, "true"},
		{dec(-5, 1), schema.String, "-0.5"}, {recTime, schema.String, "2024-01-02T03:04:05.000Z"}, {[]byte{1, 2}, schema.String, "AQI="},
		{nil, schema.Int8, nil},
	}
	for _, tc := range cases {
		got, err := castValue(nil, tc.in, tc.to)
		require.NoError(t, err, "%v to %s", tc.in, tc.to)
		requireValueEqual(t, tc.want, got, fmt.Sprintf("%v (%T) to %s", tc.in, tc.in, tc.to))
	}
	for _, bad := range []struct {
		in any
		to schema.Type
	}{{"x", schema.Int8}, {"x", schema.Boolean}, {[]any{}, schema.Int8}, {map[string]any{}, schema.String}, {math.NaN(), schema.Int32},
		{math.Inf(1), schema.Int64}, {int8(1), schema.Bytes}} {
		_, err := castValue(nil, bad.in, bad.to)
		require.ErrorIs(t, err, ErrUnsupportedValue, "%v to %s", bad.in, bad.to)
	}
}

func TestMaskValue(t *testing.T) {
	zero := &MaskField{}
	for in, want := range map[any]any{int8(5): int8(0), int16(5): int16(0), int32(5): int32(0), int64(5): int64(0), 5: 0,
		float32(1): float32(0), 1.0: 0.0, true: false, "s": "", recTime: epoch} {
		got, err := zero.mask(nil, in)
		require.NoError(t, err)
		requireValueEqual(t, want, got, fmt.Sprintf("%T", in))
	}
	for _, in := range []any{[]byte("x"), []any{1}, map[any]any{1: 1}, map[string]any{"a": 1}, dec(5, 1)} {
		_, err := zero.mask(nil, in)
		require.NoError(t, err)
	}
	_, err := zero.mask(nil, struct{}{})
	require.ErrorIs(t, err, ErrUnsupportedValue)

	repl := &MaskField{replacement: "12", hasRepl: true}
	for in, want := range map[any]any{int8(5): int8(12), int16(5): int16(12), int32(5): int32(12), int64(5): int64(12), 5: 12,
		float32(1): float32(12), 1.0: 12.0, "s": "12"} {
		got, err := repl.mask(nil, in)
		require.NoError(t, err)
		requireValueEqual(t, want, got, fmt.Sprintf("%T", in))
	}
	got, err := repl.mask(schema.DecimalSchema(2), dec(1, 2))
	require.NoError(t, err)
	requireValueEqual(t, dec(1200, 2), got, "decimal")
	for _, in := range []any{true, []byte("x"), recTime} {
		_, err := repl.mask(nil, in)
		require.ErrorIs(t, err, ErrUnsupportedValue, "%T", in)
	}
	_, err = (&MaskField{replacement: "300", hasRepl: true}).mask(nil, int8(1))
	require.ErrorIs(t, err, ErrUnsupportedValue)
	_, err = (&MaskField{replacement: "x", hasRepl: true}).mask(nil, 1.0)
	require.ErrorIs(t, err, ErrUnsupportedValue)
}

func TestTimestampPrecisions(t *testing.T) {
	for prec, n := range map[string]int64{"seconds": recTime.Unix(), "milliseconds": recTime.UnixMilli(),
		"microseconds": recTime.UnixMicro(), "nanoseconds": recTime.UnixNano()} {
		tr := newTransform(t, "TimestampConverter$Value", map[string]string{"target.type": "Timestamp", "unix.precision": prec})
		for _, in := range []any{n, float64(n)} {
			out, err := tr.Apply(valueSide.with(baseRecord(), nil, in))
			require.NoError(t, err, prec)
			requireValueEqual(t, recTime, out.Value, prec)
		}
		back := newTransform(t, "TimestampConverter$Value", map[string]string{"target.type": "unix", "unix.precision": prec})
		out, err := back.Apply(valueSide.with(baseRecord(), schema.TimestampSchema(), recTime))
		require.NoError(t, err)
		require.Equal(t, n, out.Value)
	}
	tr := newTransform(t, "TimestampConverter$Value", map[string]string{"target.type": "Timestamp"})
	for _, in := range []any{int32(5), 5, "5"} {
		out, err := tr.Apply(valueSide.with(baseRecord(), nil, in))
		require.NoError(t, err, "%T", in)
		requireValueEqual(t, time.UnixMilli(5).UTC(), out.Value, fmt.Sprintf("%T", in))
	}
	_, err := tr.Apply(valueSide.with(baseRecord(), schema.StringSchema, "5"))
	require.ErrorIs(t, err, ErrUnsupportedValue, "a STRING schema needs format")
}

// TestTimestampConverterUnixOutOfRange checks that a time whose count in unix.precision does not fit in an int64
// fails its record instead of coming out as the wrapped number Go's UnixNano gives (9999-12-31, a common "no end"
// date, is a negative number of nanoseconds there), and that the last representable nanosecond still converts.
func TestTimestampConverterUnixOutOfRange(t *testing.T) {
	nanos := map[string]string{"target.type": "unix", "unix.precision": "nanoseconds"}
	far := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	last := time.Unix(0, math.MaxInt64).UTC()
	runOpCases(t, []opCase{
		{name: "9999 in nanoseconds", typ: "TimestampConverter", cfg: nanos, inSc: schema.TimestampSchema(), in: far, err: ErrUnsupportedValue},
		{name: "1600 in nanoseconds", typ: "TimestampConverter", cfg: nanos, inSc: schema.TimestampSchema(),
			in: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), err: ErrUnsupportedValue},
		{name: "last nanosecond", typ: "TimestampConverter", cfg: nanos, inSc: schema.TimestampSchema(), in: last,
			outSc: schema.Int64Schema, out: int64(math.MaxInt64)},
		{name: "9999 in microseconds", typ: "TimestampConverter", cfg: map[string]string{"target.type": "unix", "unix.precision": "microseconds"},
			inSc: schema.TimestampSchema(), in: far, outSc: schema.Int64Schema, out: far.UnixMicro()},
		{name: "schemaless float beyond int64", typ: "TimestampConverter", cfg: map[string]string{"target.type": "Timestamp"},
			in: 1e300, err: ErrUnsupportedValue},
		{name: "schemaless NaN", typ: "TimestampConverter", cfg: map[string]string{"target.type": "Timestamp"},
			in: math.NaN(), err: ErrUnsupportedValue},
		// The last unit's fractions round down to the largest count (review finding).
		{name: "last millisecond", typ: "TimestampConverter", cfg: map[string]string{"target.type": "unix", "unix.precision": "milliseconds"},
			inSc: schema.TimestampSchema(), in: time.UnixMilli(math.MaxInt64).Add(999 * time.Microsecond),
			outSc: schema.Int64Schema, out: int64(math.MaxInt64)},
		{name: "last microsecond", typ: "TimestampConverter", cfg: map[string]string{"target.type": "unix", "unix.precision": "microseconds"},
			inSc: schema.TimestampSchema(), in: time.UnixMicro(math.MaxInt64).Add(999 * time.Nanosecond),
			outSc: schema.Int64Schema, out: int64(math.MaxInt64)},
		{name: "before the first microsecond", typ: "TimestampConverter", cfg: map[string]string{"target.type": "unix", "unix.precision": "microseconds"},
			inSc: schema.TimestampSchema(), in: time.UnixMicro(math.MinInt64).Add(-time.Nanosecond), err: ErrUnsupportedValue},
	})
}

// TestValueToKeyFieldListedTwice: a field listed twice is taken once, with a schema (Kafka's key schema would hold
// it twice) and without.
func TestValueToKeyFieldListedTwice(t *testing.T) {
	tr := newTransform(t, "ValueToKey", map[string]string{"fields": "id,id"})
	out, err := tr.Apply(valueSide.with(baseRecord(), nil, map[string]any{"id": 1, "name": "ann"}))
	require.NoError(t, err)
	require.Equal(t, map[string]any{"id": 1}, out.Key)
	sc := schema.StructBuilder().Field("id", schema.Int32Schema).Field("name", schema.StringSchema).MustBuild()
	out, err = tr.Apply(valueSide.with(baseRecord(), sc, mk(sc, "id", int32(1), "name", "ann")))
	require.NoError(t, err)
	require.Len(t, out.KeySchema.Fields, 1)
	id, err := out.Key.(*schema.Struct).Get("id")
	require.NoError(t, err)
	require.Equal(t, int32(1), id)
}

// TestSchemalessRenameAllocations: the collision check of a schemaless rename costs no allocation a record.
func TestSchemalessRenameAllocations(t *testing.T) {
	tr := newTransform(t, "ReplaceField$Value", map[string]string{"renames": "f1:g1"})
	m := map[string]any{}
	for i := range 16 {
		m[fmt.Sprintf("f%d", i)] = i
	}
	rec := valueSide.with(baseRecord(), nil, m)
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := tr.Apply(rec); err != nil {
			t.Fatal(err)
		}
	})
	require.LessOrEqual(t, allocs, 6.0, "the renamed map and the record")
}

// TestSchemalessNameCollisionFails checks that two map entries renamed or flattened to the same name fail the record,
// as they do with a schema, rather than keeping whichever Go's random map order wrote last.
func TestSchemalessNameCollisionFails(t *testing.T) {
	runOpCases(t, []opCase{
		{name: "rename onto a kept field", typ: "ReplaceField", cfg: map[string]string{"renames": "name:id"}, in: userMap(), err: ErrUnsupportedValue},
		{name: "two renames onto one name", typ: "ReplaceField", cfg: map[string]string{"renames": "name:x,email:x"}, in: userMap(), err: ErrUnsupportedValue},
		{name: "change case", typ: "ChangeCase", cfg: map[string]string{"from": "LOWER_CAMEL", "to": "LOWER_UNDERSCORE"},
			in: map[string]any{"userId": 1, "user_id": 2}, err: ErrUnsupportedValue},
		{name: "flatten", typ: "Flatten", in: map[string]any{"a.b": 1, "a": map[string]any{"b": 2}}, err: ErrUnsupportedValue},
		{name: "rename onto an excluded field", typ: "ReplaceField", cfg: map[string]string{"renames": "name:id", "exclude": "id"},
			in: map[string]any{"id": 1, "name": "ann"}, out: map[string]any{"id": "ann"}},
		{name: "swap", typ: "ReplaceField", cfg: map[string]string{"renames": "name:id,id:name"},
			in: map[string]any{"id": 1, "name": "ann"}, out: map[string]any{"id": "ann", "name": 1}},
	})
}
