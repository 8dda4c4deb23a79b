package transforms

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema"
)

func TestChangeCase(t *testing.T) {
	camel := schema.StructBuilder().Field("firstName", schema.StringSchema).Field("zipCode", schema.OptionalInt32Schema).MustBuild()
	snake := schema.StructBuilder().Field("first_name", schema.StringSchema).Field("zip_code", schema.OptionalInt32Schema).MustBuild()
	runOpCases(t, []opCase{
		{name: "camel to snake", typ: "ChangeCase", cfg: map[string]string{"from": "LOWER_CAMEL", "to": "LOWER_UNDERSCORE"},
			inSc: camel, in: mk(camel, "firstName", "ann", "zipCode", int32(7)), outSc: snake, out: mk(snake, "first_name", "ann", "zip_code", int32(7))},
		{name: "snake to camel", typ: "ChangeCase", cfg: map[string]string{"from": "lower_underscore", "to": "LOWER_CAMEL"},
			inSc: snake, in: mk(snake, "first_name", "ann"), outSc: camel, out: mk(camel, "firstName", "ann")},
		{name: "schemaless", typ: "ChangeCase", cfg: map[string]string{"from": "UPPER_UNDERSCORE", "to": "UPPER_CAMEL"},
			in: map[string]any{"FIRST_NAME": "ann", "ID": int64(1)}, out: map[string]any{"FirstName": "ann", "Id": int64(1)}},
		{name: "not a map", typ: "ChangeCase", cfg: map[string]string{"from": "LOWER_CAMEL", "to": "LOWER_HYPHEN"}, in: int64(1), err: ErrUnsupportedValue},
	})
	for _, tc := range []struct{ in, from, to, want string }{
		{"firstName", "LOWER_CAMEL", "LOWER_HYPHEN", "first-name"},
		{"FirstName", "UPPER_CAMEL", "UPPER_UNDERSCORE", "FIRST_NAME"},
		{"first-name", "LOWER_HYPHEN", "UPPER_CAMEL", "FirstName"},
		{"id", "LOWER_CAMEL", "UPPER_UNDERSCORE", "ID"},
		{"", "LOWER_CAMEL", "UPPER_CAMEL", ""},
	} {
		require.Equal(t, tc.want, convertCase(tc.in, tc.from, tc.to), tc.in)
	}
}

func TestExtractNestedField(t *testing.T) {
	cfg := map[string]string{"input.outer.field.name": "addr", "input.inner.field.name": "city", "output.field.name": "city"}
	outSc := schema.FromSchema(userSc).Field("city", schema.OptionalStringSchema).MustBuild()
	addr := mk(addrSc, "city", "Paris", "zip", "75001")
	outMap := userMap()
	outMap["city"] = "Paris"
	runOpCases(t, []opCase{
		{name: "schema", typ: "ExtractNestedField", cfg: cfg, inSc: userSc, in: user(), outSc: outSc,
			out: mk(outSc, "id", int32(1), "name", "ann", "email", "a@x.io", "addr", addr, "city", "Paris")},
		{name: "null outer", typ: "ExtractNestedField", cfg: cfg, inSc: userSc, in: mk(userSc, "id", int32(1), "name", "ann"), outSc: outSc,
			out: mk(outSc, "id", int32(1), "name", "ann")},
		{name: "schemaless", typ: "ExtractNestedField", cfg: cfg, in: userMap(), out: outMap},
		{name: "schemaless outer not map", typ: "ExtractNestedField", cfg: cfg, in: map[string]any{"addr": "x"}, err: ErrUnsupportedValue},
		{name: "missing outer", typ: "ExtractNestedField", cfg: map[string]string{"input.outer.field.name": "name",
			"input.inner.field.name": "x", "output.field.name": "y"}, inSc: userSc, in: user(), err: ErrFieldNotFound},
	})
}

func TestPatternFilter(t *testing.T) {
	runOpCases(t, []opCase{
		{name: "drop", typ: "PatternFilter", cfg: map[string]string{"pattern": ".*@x\\.io", "fields": "email"}, inSc: userSc, in: user(), drop: true},
		{name: "keep", typ: "PatternFilter", cfg: map[string]string{"pattern": ".*@y\\.io", "fields": "email"}, inSc: userSc, in: user(),
			outSc: userSc, out: user()},
		{name: "partial match keeps", typ: "PatternFilter", cfg: map[string]string{"pattern": "x\\.io"}, inSc: userSc, in: user(),
			outSc: userSc, out: user()},
		{name: "all fields", typ: "PatternFilter", cfg: map[string]string{"pattern": "ann"}, inSc: userSc, in: user(), drop: true},
		{name: "schemaless", typ: "PatternFilter", cfg: map[string]string{"pattern": "an+", "fields": "name"}, in: userMap(), drop: true},
		{name: "schemaless keep", typ: "PatternFilter", cfg: map[string]string{"pattern": "bob", "fields": "name"}, in: userMap(), out: userMap()},
		{name: "string value", typ: "PatternFilter", cfg: map[string]string{"pattern": "v.*"}, inSc: schema.StringSchema, in: "v1", drop: true},
	})
}

func TestPatternRename(t *testing.T) {
	nameSc := func(n string) *schema.Schema {
		return schema.StructBuilder().Name("User").Field("id", schema.Int32Schema).Field(n, schema.StringSchema).
			Field("email", schema.OptionalStringSchema).Field("addr", addrSc).MustBuild()
	}
	withName := func(n string) *schema.Struct {
		return mk(nameSc(n), "id", int32(1), n, "ann", "email", "a@x.io", "addr", mk(addrSc, "city", "Paris", "zip", "75001"))
	}
	runOpCases(t, []opCase{
		{name: "case-insensitive default", typ: "PatternRename", cfg: map[string]string{"field.pattern": "^NA(.*)", "field.replacement": "NA$1"},
			inSc: userSc, in: user(), outSc: nameSc("NAme"), out: withName("NAme")},
		{name: "case-sensitive", typ: "PatternRename", cfg: map[string]string{"field.pattern": "^NA(.*)", "field.replacement": "x", "field.pattern.flags": ""},
			inSc: userSc, in: user(), outSc: userSc, out: user()},
		{name: "literal dollar", typ: "PatternRename", cfg: map[string]string{"field.pattern": "name", "field.replacement": "\\$name"},
			inSc: userSc, in: user(), outSc: nameSc("$name"), out: withName("$name")},
		{name: "collision", typ: "PatternRename", cfg: map[string]string{"field.pattern": "name", "field.replacement": "id"},
			inSc: userSc, in: user(), err: ErrUnsupportedValue},
		{name: "schemaless", typ: "PatternRename", cfg: map[string]string{"field.pattern": "NAME", "field.replacement": "NAME"},
			in: map[string]any{"name": "ann"}, out: map[string]any{"NAME": "ann"}},
	})
}

func TestSetMaximumPrecision(t *testing.T) {
	decSc := schema.StructBuilder().Field("amount", schema.DecimalSchema(2)).Field("n", schema.Int32Schema).MustBuild()
	capped := schema.StructBuilder().Field("amount", schema.DecimalBuilder(2).Parameter(DecimalPrecisionParam, "4").MustBuild()).
		Field("n", schema.Int32Schema).MustBuild()
	cappedDec := schema.DecimalBuilder(2).Parameter(DecimalPrecisionParam, "4").MustBuild()
	cfg := map[string]string{"precision.max": "4"}
	runOpCases(t, []opCase{
		{name: "struct", typ: "SetMaximumPrecision", cfg: cfg, inSc: decSc, in: mk(decSc, "amount", dec(1234567, 2), "n", int32(1)),
			outSc: capped, out: mk(capped, "amount", dec(1235000, 2), "n", int32(1))},
		{name: "negative", typ: "SetMaximumPrecision", cfg: cfg, inSc: decSc, in: mk(decSc, "amount", dec(-1234467, 2), "n", int32(1)),
			outSc: capped, out: mk(capped, "amount", dec(-1234000, 2), "n", int32(1))},
		{name: "short enough", typ: "SetMaximumPrecision", cfg: cfg, inSc: decSc, in: mk(decSc, "amount", dec(12, 2), "n", int32(1)),
			outSc: capped, out: mk(capped, "amount", dec(12, 2), "n", int32(1))},
		{name: "whole decimal", typ: "SetMaximumPrecision", cfg: cfg, inSc: schema.DecimalSchema(2), in: dec(99999, 2), outSc: cappedDec, out: dec(100000, 2)},
		{name: "schemaless", typ: "SetMaximumPrecision", cfg: cfg, in: map[string]any{"a": dec(123456, 0), "b": "x"},
			out: map[string]any{"a": dec(123500, 0), "b": "x"}},
	})
}
