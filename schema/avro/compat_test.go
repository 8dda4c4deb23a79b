package avro

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema"
)

// rec builds a record schema named r.R with the given fields JSON.
func rec(fields string) string {
	return `{"type":"record","name":"R","namespace":"r","fields":[` + fields + `]}`
}

// TestCanReadTable: each case is (reader, writer); ok says whether the reader can read the writer's data; why
// is a fragment the error must contain (path and rule).
func TestCanReadTable(t *testing.T) {
	enum := func(syms string, extra string) string {
		return `{"type":"enum","name":"E","symbols":[` + syms + `]` + extra + `}`
	}
	cases := []struct {
		name           string
		reader, writer string
		ok             bool
		why            string
	}{
		{"same primitive", `"int"`, `"int"`, true, ""},
		{"int to long", `"long"`, `"int"`, true, ""},
		{"int to float", `"float"`, `"int"`, true, ""},
		{"int to double", `"double"`, `"int"`, true, ""},
		{"long to float", `"float"`, `"long"`, true, ""},
		{"long to double", `"double"`, `"long"`, true, ""},
		{"float to double", `"double"`, `"float"`, true, ""},
		{"string to bytes", `"bytes"`, `"string"`, true, ""},
		{"bytes to string", `"string"`, `"bytes"`, true, ""},
		{"long to int narrows", `"int"`, `"long"`, false, "type changed from long to int"},
		{"double to float narrows", `"float"`, `"double"`, false, "not one of the Avro promotions"},
		{"int to string", `"string"`, `"int"`, false, "type changed from int to string"},
		{"boolean to int", `"int"`, `"boolean"`, false, "type changed"},
		{"added field with default", rec(`{"name":"a","type":"int"},{"name":"b","type":"string","default":"x"}`),
			rec(`{"name":"a","type":"int"}`), true, ""},
		{"added optional field", rec(`{"name":"a","type":"int"},{"name":"b","type":["null","string"],"default":null}`),
			rec(`{"name":"a","type":"int"}`), true, ""},
		{"added field without default", rec(`{"name":"a","type":"int"},{"name":"b","type":"string"}`),
			rec(`{"name":"a","type":"int"}`), false, "R.b: field is missing from the writer and has no default"},
		{"removed field", rec(`{"name":"a","type":"int"}`),
			rec(`{"name":"a","type":"int"},{"name":"b","type":"string"}`), true, ""},
		{"field type promoted", rec(`{"name":"a","type":"long"}`), rec(`{"name":"a","type":"int"}`), true, ""},
		{"field type narrowed", rec(`{"name":"a","type":"int"}`), rec(`{"name":"a","type":"long"}`), false, "R.a: type changed from long to int"},
		{"renamed field with alias", rec(`{"name":"b","type":"int","aliases":["a"]}`), rec(`{"name":"a","type":"int"}`), true, ""},
		{"renamed field without alias", rec(`{"name":"b","type":"int"}`), rec(`{"name":"a","type":"int"}`), false, "R.b: field is missing"},
		{"renamed record with alias", `{"type":"record","name":"S","namespace":"r","aliases":["R"],"fields":[]}`, rec(``), true, ""},
		{"renamed record with full alias", `{"type":"record","name":"S","namespace":"x","aliases":["r.R"],"fields":[]}`, rec(``), true, ""},
		{"renamed record without alias", `{"type":"record","name":"S","namespace":"r","fields":[]}`, rec(``), false, `record name changed from "r.R" to "r.S"`},
		{"namespace change only", `{"type":"record","name":"R","namespace":"other","fields":[]}`, rec(``), true, ""},
		{"enum symbol added", enum(`"A","B","C"`, ""), enum(`"A","B"`, ""), true, ""},
		{"enum symbol removed", enum(`"A"`, ""), enum(`"A","B"`, ""), false, "enum symbols [B] written by the writer are missing"},
		{"enum symbol removed with default", enum(`"A","U"`, `,"default":"U"`), enum(`"A","B"`, ""), true, ""},
		{"enum renamed", `{"type":"enum","name":"F","symbols":["A"]}`, enum(`"A"`, ""), false, "enum name changed"},
		{"fixed same size", `{"type":"fixed","name":"F","size":4}`, `{"type":"fixed","name":"F","size":4}`, true, ""},
		{"fixed size changed", `{"type":"fixed","name":"F","size":8}`, `{"type":"fixed","name":"F","size":4}`, false, "fixed size changed from 4 to 8"},
		{"array items promoted", `{"type":"array","items":"long"}`, `{"type":"array","items":"int"}`, true, ""},
		{"array items narrowed", `{"type":"array","items":"int"}`, `{"type":"array","items":"long"}`, false, "[]: type changed"},
		{"map values promoted", `{"type":"map","values":"double"}`, `{"type":"map","values":"float"}`, true, ""},
		{"map values changed", `{"type":"map","values":"string"}`, `{"type":"map","values":"int"}`, false, "{}: type changed"},
		{"array to map", `{"type":"map","values":"int"}`, `{"type":"array","items":"int"}`, false, "type changed from array to map"},
		{"writer type into reader union", `["null","string"]`, `"string"`, true, ""},
		{"writer type promoted into reader union", `["null","long"]`, `"int"`, true, ""},
		{"reader union lacks writer type", `["null","string"]`, `"int"`, false, "the reader union has no branch for the writer type int"},
		{"union widened", `["null","int","string"]`, `["null","int"]`, true, ""},
		{"union narrowed", `["null","int"]`, `["null","int","string"]`, false, "writer union branch string has no matching branch"},
		{"optional to required", `"int"`, `["null","int"]`, false, "type changed from null to int"},
		{"required to optional", `["null","int"]`, `"int"`, true, ""},
		{"union branch promoted", `["null","double"]`, `["null","float"]`, true, ""},
		{"decimal same", `{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}`, `{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}`, true, ""},
		{"decimal scale changed", `{"type":"bytes","logicalType":"decimal","precision":10,"scale":3}`, `{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}`, false, "decimal scale changed from 2 to 3"},
		{"decimal precision narrowed", `{"type":"bytes","logicalType":"decimal","precision":5,"scale":2}`, `{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}`, false, "precision narrowed"},
		{"nested record field added without default",
			rec(`{"name":"in","type":{"type":"record","name":"In","fields":[{"name":"x","type":"int"},{"name":"y","type":"int"}]}}`),
			rec(`{"name":"in","type":{"type":"record","name":"In","fields":[{"name":"x","type":"int"}]}}`), false, "R.in.y: field is missing"},
		{"recursive record", `{"type":"record","name":"L","fields":[{"name":"v","type":"long"},{"name":"next","type":["null","L"]}]}`,
			`{"type":"record","name":"L","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","L"]}]}`, true, ""},
		{"record to string", `"string"`, rec(``), false, "type changed from record r.R to string"},
	}
	verdicts := map[bool]int{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Parse(tc.reader)
			require.NoError(t, err)
			w, err := Parse(tc.writer)
			require.NoError(t, err)
			err = CanRead(r, w)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrIncompatible)
			require.Contains(t, err.Error(), tc.why)
		})
		verdicts[tc.ok]++
	}
	require.GreaterOrEqual(t, verdicts[true], 15)
	require.GreaterOrEqual(t, verdicts[false], 15)
}

func TestCheckModes(t *testing.T) {
	v1 := rec(`{"name":"a","type":"int"}`)
	v2 := rec(`{"name":"a","type":"int"},{"name":"b","type":"string","default":""}`)
	v3NoDefault := rec(`{"name":"a","type":"int"},{"name":"b","type":"string"},{"name":"c","type":"long"}`)
	dropA := rec(`{"name":"b","type":"string","default":""}`)
	cases := []struct {
		name      string
		candidate string
		previous  []string
		mode      Mode
		ok        bool
		why       string
	}{
		{"backward add with default", v2, []string{v1}, Backward, true, ""},
		{"backward add without default", v3NoDefault, []string{v2}, Backward, false, "new schema cannot read data written with version 1"},
		{"forward add without default", v3NoDefault, []string{v2}, Forward, true, ""},
		{"forward remove field without default", dropA, []string{v2}, Forward, false, "version 1 cannot read data written with the new schema: R.a: field is missing"},
		{"backward remove field", dropA, []string{v2}, Backward, true, ""},
		{"full add with default", v2, []string{v1}, Full, true, ""},
		{"full add without default", v3NoDefault, []string{v2}, Full, false, "FULL: the new schema cannot read"},
		{"none anything", `"string"`, []string{v1}, None, true, ""},
		{"no previous", v3NoDefault, nil, Backward, true, ""},
		{"default mode is backward", v3NoDefault, []string{v2}, "", false, "BACKWARD"},
		// Transitive: v1 {a:int} then v2 {a:long} then candidate {a:int}: compatible with the latest only backward?
		{"backward only checks latest", rec(`{"name":"a","type":"long"}`),
			[]string{rec(`{"name":"a","type":"string"}`), rec(`{"name":"a","type":"int"}`)}, Backward, true, ""},
		{"backward transitive checks all", rec(`{"name":"a","type":"long"}`),
			[]string{rec(`{"name":"a","type":"string"}`), rec(`{"name":"a","type":"int"}`)}, BackwardTransitive, false, "version 1"},
		{"forward transitive", rec(`{"name":"a","type":"int"}`),
			[]string{rec(`{"name":"a","type":"string"}`), rec(`{"name":"a","type":"long"}`)}, ForwardTransitive, false, "version 1 cannot read"},
		{"full transitive ok", v2, []string{v1, v2}, FullTransitive, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.candidate, tc.previous, tc.mode)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrIncompatible)
			require.Contains(t, err.Error(), tc.why)
			var ce *CompatibilityError
			require.True(t, errors.As(err, &ce))
			require.NotEmpty(t, ce.Issues)
		})
	}
	require.ErrorIs(t, Check(`{"type":"nope"}`, nil, Backward), ErrInvalidSchema)
	require.Error(t, Check(v1, []string{v1}, "SIDEWAYS"))
	m, err := ParseMode("full_transitive")
	require.NoError(t, err)
	require.Equal(t, FullTransitive, m)
}

// TestEvolutionAddedOptionalField: data written with v1 is read with v2 (an added optional field, an added
// field with a default, a promoted type); the new fields take their defaults.
func TestEvolutionAddedOptionalField(t *testing.T) {
	v1c := schema.StructBuilder().Name("com.example.User").
		Field("id", schema.Int32Schema).
		Field("name", schema.StringSchema).
		MustBuild()
	v2c := schema.StructBuilder().Name("com.example.User").
		Field("id", schema.Int64Schema).
		Field("name", schema.StringSchema).
		Field("email", schema.OptionalStringSchema).
		Field("tier", schema.NewBuilder(schema.String).Default("free").MustBuild()).
		MustBuild()
	v1, err := FromConnect(v1c)
	require.NoError(t, err)
	v2, err := FromConnect(v2c)
	require.NoError(t, err)
	require.NoError(t, Check(v2.String(), []string{v1.String()}, Backward))

	w, err := NewCodec(v1, v1c)
	require.NoError(t, err)
	data, err := w.Encode(nil, schema.NewStruct(v1c).MustPut("id", int32(7)).MustPut("name", "Ada"))
	require.NoError(t, err)

	r, err := NewResolvingCodec(v1, v2)
	require.NoError(t, err)
	out, err := r.Decode(data)
	require.NoError(t, err)
	st := out.(*schema.Struct)
	require.True(t, st.Schema().Equal(v2c))
	want := schema.NewStruct(v2c).MustPut("id", int64(7)).MustPut("name", "Ada").MustPut("tier", "free")
	require.True(t, want.Equal(st), "got %v", st)

	// The other way round is refused with the reason.
	_, err = NewResolvingCodec(v2, MustParse(strings.Replace(v1.String(), `"type":"int"`, `"type":"boolean"`, 1)))
	require.ErrorIs(t, err, ErrIncompatible)
	require.Contains(t, err.Error(), "User.id: type changed from long to boolean")
}

func TestResolveUnionsEnumsAndAliases(t *testing.T) {
	writer := MustParse(rec(`{"name":"old","type":"int"},{"name":"u","type":["null","int","string"]},` +
		`{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}},{"name":"gone","type":"string"}`))
	reader := MustParse(rec(`{"name":"new","type":"double","aliases":["old"]},{"name":"u","type":["null","long","string"]},` +
		`{"name":"e","type":{"type":"enum","name":"E","symbols":["A","Z"],"default":"Z"}}`))
	wc, err := NewCodec(writer, nil)
	require.NoError(t, err)
	ws := wc.ConnectSchema()
	uf, _ := ws.Field("u")
	v := schema.NewStruct(ws).MustPut("old", int32(3)).MustPut("e", "B").MustPut("gone", "x").
		MustPut("u", schema.NewStruct(uf.Schema).MustPut("int", int32(9)))
	data, err := wc.Encode(nil, v)
	require.NoError(t, err)
	rc, err := NewResolvingCodec(writer, reader)
	require.NoError(t, err)
	out, err := rc.Decode(data)
	require.NoError(t, err)
	st := out.(*schema.Struct)
	got, _ := st.Get("new")
	require.Equal(t, 3.0, got)
	got, _ = st.Get("e")
	require.Equal(t, "Z", got)
	got, _ = st.Get("u")
	ust := got.(*schema.Struct)
	lv, _ := ust.Get("long")
	require.Equal(t, int64(9), lv)
}

// TestResolveExactNameBeforeAlias: a reader field reads the writer field of its own name when there is one, not
// a writer field one of its aliases names. A rename done in two steps (add "amount" next to "amount_old", then
// drop "amount_old" and give "amount" the alias "amount_old" so the oldest data still reads) must read the middle
// version's "amount" as "amount".
func TestResolveExactNameBeforeAlias(t *testing.T) {
	writer := MustParse(rec(`{"name":"amount_old","type":"int"},{"name":"amount","type":"int"}`))
	reader := MustParse(rec(`{"name":"amount","type":"int","aliases":["amount_old"]}`))
	wc, err := NewCodec(writer, nil)
	require.NoError(t, err)
	data, err := wc.Encode(nil, schema.NewStruct(wc.ConnectSchema()).MustPut("amount_old", int32(1)).MustPut("amount", int32(2)))
	require.NoError(t, err)
	rc, err := NewResolvingCodec(writer, reader)
	require.NoError(t, err)
	out, err := rc.Decode(data)
	require.NoError(t, err)
	got, _ := out.(*schema.Struct).Get("amount")
	require.Equal(t, int32(2), got)

	// The compatibility check follows the same field: a type change of the writer's "amount_old" does not
	// concern the reader's "amount".
	writer = MustParse(rec(`{"name":"amount_old","type":"string"},{"name":"amount","type":"int"}`))
	require.NoError(t, CanRead(reader, writer))
}
