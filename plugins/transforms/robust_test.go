package transforms

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema"
)

// minimalConfigs holds a valid configuration for every built-in (by base name).
var minimalConfigs = map[string]map[string]string{
	"InsertField":           {"topic.field": "t", "timestamp.field": "ts", "partition.field": "p!"},
	"ReplaceField":          {"exclude": "a", "renames": "id:ID"},
	"MaskField":             {"fields": "a,id,name"},
	"ValueToKey":            {"fields": "id"},
	"ExtractField":          {"field": "addr"},
	"HoistField":            {"field": "w"},
	"Cast":                  {"spec": "id:string,name:int8"},
	"Flatten":               {},
	"RegexRouter":           {"regex": "(.*)", "replacement": "$1-x"},
	"TimestampRouter":       {},
	"TimestampConverter":    {"field": "ts", "target.type": "unix", "format": "yyyy"},
	"SetSchemaMetadata":     {"schema.name": "x"},
	"Filter":                {},
	"InsertHeader":          {"header": "h", "value.literal": "v"},
	"DropHeaders":           {"headers": "h"},
	"HeaderFrom":            {"fields": "id", "headers": "h", "operation": "move"},
	"ChangeCase":            {"from": "LOWER_CAMEL", "to": "UPPER_UNDERSCORE"},
	"ExtractNestedField":    {"input.outer.field.name": "addr", "input.inner.field.name": "city", "output.field.name": "c"},
	"PatternFilter":         {"pattern": "zz.*"},
	"PatternRename":         {"field.pattern": "a", "field.replacement": "b"},
	"SetMaximumPrecision":   {"precision.max": "2"},
	"SetNull":               {},
	"ExtractNewRecordState": {"add.fields": "op,source.ts_ms", "delete.handling.mode": "rewrite"},
}

// oddRecords are records whose keys and values have every shape a transform
// might not expect.
func oddRecords() []*schema.Record {
	operands := []struct {
		sc *schema.Schema
		v  any
	}{
		{nil, nil}, {nil, "str"}, {nil, int64(1)}, {nil, 1.5}, {nil, []any{1, "a"}}, {nil, []byte("b")},
		{nil, map[string]any{"id": "x", "addr": "notamap", "ts": "2024", "a": map[string]any{"b": nil}}},
		{nil, map[string]any{"addr": map[string]any{"city": 1}, "id": []any{}, "name": map[string]any{}}},
		{nil, map[any]any{1: 2}},
		{schema.StringSchema, "s"}, {schema.StringSchema, int32(5)}, {schema.OptionalInt32Schema, nil},
		{userSc, user()}, {userSc, "not a struct"}, {userSc, nil}, {userSc, (*schema.Struct)(nil)},
		{addrSc, user()}, {schema.DecimalSchema(2), dec(123456, 2)}, {schema.DecimalSchema(2), "x"},
		{schema.ArrayOf(schema.StringSchema).MustBuild(), []any{"a"}},
		{schema.MapOf(schema.StringSchema, schema.StringSchema).MustBuild(), map[any]any{"a": "b"}},
		{&schema.Schema{Type: "bogus"}, 1},
	}
	var out []*schema.Record
	for _, k := range operands {
		for _, v := range operands {
			r := baseRecord()
			r.KeySchema, r.Key, r.ValueSchema, r.Value = k.sc, k.v, v.sc, v.v
			out = append(out, r)
		}
	}
	noTime := baseRecord()
	noTime.Timestamp = noTime.Timestamp.AddDate(-100, 0, 0)
	noTime.QueueID = -1
	return append(out, noTime, &schema.Record{})
}

// TestNoPanics applies every built-in to records of every shape: each call
// either succeeds or returns an error, and never modifies its input.
func TestNoPanics(t *testing.T) {
	reg := Builtins()
	records := oddRecords()
	for _, info := range reg.Transforms() {
		base, _, _ := strings.Cut(info.Name, "$")
		cfg, ok := minimalConfigs[base]
		require.True(t, ok, "no minimal config for %s", info.Name)
		t.Run(info.Name, func(t *testing.T) {
			tr := newTransform(t, info.Name, cfg)
			for i, r := range records {
				func() {
					defer func() {
						if p := recover(); p != nil {
							t.Fatalf("record %d (key %T, value %T): panic: %v", i, r.Key, r.Value, p)
						}
					}()
					out, err := applyUnmutated(t, tr, r)
					if err != nil {
						require.Nil(t, out)
						require.NotEmpty(t, err.Error())
					}
				}()
			}
		})
	}
}

func TestMinimalConfigsParseAsChain(t *testing.T) {
	cfg := map[string]string{}
	var aliases []string
	for _, info := range Builtins().Transforms() {
		base, _, _ := strings.Cut(info.Name, "$")
		alias := fmt.Sprintf("t%d", len(aliases))
		aliases = append(aliases, alias)
		cfg["transforms."+alias+".type"] = info.Name
		for k, v := range minimalConfigs[base] {
			cfg["transforms."+alias+"."+k] = v
		}
	}
	cfg["transforms"] = strings.Join(aliases, ",")
	c, err := ParseChain(cfg, nil)
	require.NoError(t, err)
	require.Equal(t, len(aliases), c.Len())
	for _, r := range oddRecords() {
		_, _ = c.Apply(r)
	}
}
