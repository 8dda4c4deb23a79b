package cdc_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc"
	"github.com/rmqconnect/rmqconnect/plugins/transforms"
	"github.com/rmqconnect/rmqconnect/schema"
)

func testTable(t *testing.T) (*cdc.Table, *cdc.Source) {
	src := cdc.NewSource("postgresql", "io.debezium.connector.postgresql.Source",
		cdc.SourceField{Name: "lsn", Schema: schema.OptionalInt64Schema})
	row := schema.StructBuilder().Name("srv.public.users.Value").
		Field("id", schema.Int32Schema).Field("name", schema.OptionalStringSchema).MustBuild()
	tb, err := cdc.NewTable("srv.public.users", "srv.public.users", row, []string{"id"}, src)
	require.NoError(t, err)
	return tb, src
}

func event(t *testing.T, src *cdc.Source, op cdc.Op, before, after []any) cdc.Event {
	st, err := src.Struct(cdc.SourceInfo{Connector: "postgresql", Name: "srv", Ts: time.UnixMilli(1000), DB: "d",
		Schema: "public", Table: "users", Position: []any{int64(42)}})
	require.NoError(t, err)
	return cdc.Event{Op: op, Before: before, After: after, Source: st,
		Partition: map[string]any{"server": "srv"}, Offset: map[string]any{"lsn": int64(42)}, Now: time.UnixMilli(2000)}
}

func field(t *testing.T, st *schema.Struct, name string) any {
	v, err := st.Get(name)
	require.NoError(t, err, name)
	return v
}

func TestEnvelope(t *testing.T) {
	tb, src := testTable(t)
	recs, err := tb.Records(event(t, src, cdc.OpUpdate, []any{int32(1), "a"}, []any{int32(1), "b"}), true)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	r := recs[0]
	require.NoError(t, r.ValueSchema.Validate(r.Value))
	require.NoError(t, r.KeySchema.Validate(r.Key))
	require.Equal(t, int32(1), field(t, r.Key.(*schema.Struct), "id"))
	env := r.Value.(*schema.Struct)
	require.Equal(t, "u", field(t, env, "op"))
	require.Equal(t, int64(2000), field(t, env, "ts_ms"))
	require.Equal(t, "a", field(t, field(t, env, "before").(*schema.Struct), "name"))
	require.Equal(t, "b", field(t, field(t, env, "after").(*schema.Struct), "name"))
	source := field(t, env, "source").(*schema.Struct)
	require.Equal(t, "postgresql", field(t, source, "connector"))
	require.Equal(t, "users", field(t, source, "table"))
	require.Equal(t, "false", field(t, source, "snapshot"))
	require.Equal(t, int64(42), field(t, source, "lsn"))
	require.Equal(t, "srv.public.users.Envelope", r.ValueSchema.Name)
	require.Equal(t, map[string]any{"lsn": int64(42)}, r.SourceOffset)

	// A delete is keyed by its before image and followed by a tombstone only when asked.
	recs, err = tb.Records(event(t, src, cdc.OpDelete, []any{int32(7), "x"}, nil), true)
	require.NoError(t, err)
	require.Len(t, recs, 2)
	require.Equal(t, int32(7), field(t, recs[1].Key.(*schema.Struct), "id"))
	require.Nil(t, recs[1].Value)
	require.Nil(t, field(t, recs[0].Value.(*schema.Struct), "after"))
	recs, err = tb.Records(event(t, src, cdc.OpDelete, []any{int32(7), "x"}, nil), false)
	require.NoError(t, err)
	require.Len(t, recs, 1)
}

// An update that changes the key is, as in Debezium, a delete of the old key (with its tombstone when
// asked) and a create of the new one, so a consumer keeping one row per key drops the old row; headers
// link the two. An update keeping its key stays one update.
func TestEnvelopeKeyChange(t *testing.T) {
	tb, src := testTable(t)
	recs, err := tb.Records(event(t, src, cdc.OpUpdate, []any{int32(1), "a"}, []any{int32(2), "a"}), true)
	require.NoError(t, err)
	require.Len(t, recs, 3)
	del, tomb, cre := recs[0], recs[1], recs[2]
	require.Equal(t, "d", field(t, del.Value.(*schema.Struct), "op"))
	require.Equal(t, int32(1), field(t, del.Key.(*schema.Struct), "id"))
	require.Nil(t, field(t, del.Value.(*schema.Struct), "after"))
	require.Equal(t, int32(1), field(t, tomb.Key.(*schema.Struct), "id"))
	require.Nil(t, tomb.Value)
	require.Equal(t, "c", field(t, cre.Value.(*schema.Struct), "op"))
	require.Equal(t, int32(2), field(t, cre.Key.(*schema.Struct), "id"))
	require.Nil(t, field(t, cre.Value.(*schema.Struct), "before"))
	for _, r := range []*schema.Record{del, tomb} {
		h, ok := r.Headers.Get(cdc.HeaderNewKey)
		require.True(t, ok)
		require.Equal(t, int32(2), field(t, h.Value.(*schema.Struct), "id"))
	}
	h, ok := cre.Headers.Get(cdc.HeaderOldKey)
	require.True(t, ok)
	require.Equal(t, int32(1), field(t, h.Value.(*schema.Struct), "id"))
	for _, r := range recs {
		require.Equal(t, map[string]any{"lsn": int64(42)}, r.SourceOffset, "all three at the change's position")
	}

	recs, err = tb.Records(event(t, src, cdc.OpUpdate, []any{int32(1), "a"}, []any{int32(2), "a"}), false)
	require.NoError(t, err)
	require.Len(t, recs, 2, "no tombstone unless asked")

	recs, err = tb.Records(event(t, src, cdc.OpUpdate, []any{int32(3), "a"}, []any{int32(3), "b"}), true)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Empty(t, recs[0].Headers)
}

func TestExtractNewRecordState(t *testing.T) {
	tb, src := testTable(t)
	stream := func() []*schema.Record {
		var out []*schema.Record
		for _, e := range []cdc.Event{
			event(t, src, cdc.OpCreate, nil, []any{int32(1), "a"}),
			event(t, src, cdc.OpUpdate, []any{int32(1), "a"}, []any{int32(1), "b"}),
			event(t, src, cdc.OpDelete, []any{int32(1), "b"}, nil),
		} {
			recs, err := tb.Records(e, true)
			require.NoError(t, err)
			out = append(out, recs...)
		}
		return out
	}
	// describe renders what each record became: a row's name (with __deleted when rewritten), "tombstone".
	describe := func(recs []*schema.Record) []string {
		var out []string
		for _, r := range recs {
			if r.Value == nil {
				out = append(out, "tombstone")
				continue
			}
			st := r.Value.(*schema.Struct)
			s := field(t, st, "name").(string)
			if _, ok := st.Schema().Field("__deleted"); ok {
				s += "/" + field(t, st, "__deleted").(string)
			}
			out = append(out, s)
		}
		return out
	}
	tests := []struct {
		name string
		cfg  map[string]string
		want []string
	}{
		{"defaults drop deletes and tombstones", nil, []string{"a", "b"}},
		{"delete.handling.mode=none", map[string]string{"delete.handling.mode": "none"}, []string{"a", "b", "tombstone"}},
		{"drop.tombstones=false", map[string]string{"drop.tombstones": "false"}, []string{"a", "b", "tombstone"}},
		{"delete.handling.mode=rewrite", map[string]string{"delete.handling.mode": "rewrite"}, []string{"a/false", "b/false", "b/true"}},
		{"mode drop", map[string]string{"delete.tombstone.handling.mode": "drop"}, []string{"a", "b"}},
		{"mode tombstone", map[string]string{"delete.tombstone.handling.mode": "tombstone"}, []string{"a", "b", "tombstone"}},
		{"mode rewrite", map[string]string{"delete.tombstone.handling.mode": "rewrite"}, []string{"a/false", "b/false", "b/true"}},
		{"mode rewrite-with-tombstone", map[string]string{"delete.tombstone.handling.mode": "rewrite-with-tombstone"}, []string{"a/false", "b/false", "b/true", "tombstone"}},
		{"mode delete-to-tombstone", map[string]string{"delete.tombstone.handling.mode": "delete-to-tombstone"}, []string{"a", "b", "tombstone"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := transforms.Builtins().NewTransform("io.debezium.transforms.ExtractNewRecordState")
			require.NoError(t, err)
			require.NoError(t, tr.Configure(tc.cfg))
			var out []*schema.Record
			for _, r := range stream() {
				o, err := tr.Apply(r)
				require.NoError(t, err)
				if o != nil {
					require.NotNil(t, o.Key, "the key stays")
					out = append(out, o)
				}
			}
			require.Equal(t, tc.want, describe(out))
		})
	}
}

func TestExtractNewRecordStateAddFields(t *testing.T) {
	tb, src := testTable(t)
	recs, err := tb.Records(event(t, src, cdc.OpUpdate, []any{int32(1), "a"}, []any{int32(1), "b"}), true)
	require.NoError(t, err)
	tr, err := transforms.Builtins().NewTransform("ExtractNewRecordState")
	require.NoError(t, err)
	require.NoError(t, tr.Configure(map[string]string{"add.fields": "op,table,source.ts_ms,lsn", "add.headers": "op"}))
	out, err := tr.Apply(recs[0])
	require.NoError(t, err)
	require.NoError(t, out.ValueSchema.Validate(out.Value))
	st := out.Value.(*schema.Struct)
	require.Equal(t, []string{"id", "name", "__op", "__table", "__source_ts_ms", "__lsn"}, out.ValueSchema.FieldNames())
	require.Equal(t, "u", field(t, st, "__op"))
	require.Equal(t, "users", field(t, st, "__table"))
	require.Equal(t, int64(1000), field(t, st, "__source_ts_ms"))
	require.Equal(t, int64(42), field(t, st, "__lsn"))
	h, ok := out.Headers.Get("__op")
	require.True(t, ok)
	require.Equal(t, "u", h.Value)

	// Schemaless envelopes (a JSON converter without schemas) unwrap the same way.
	m := map[string]any{"op": "c", "before": nil, "after": map[string]any{"id": 1.0}, "source": map[string]any{"table": "t"}}
	out, err = tr.Apply(schema.NewRecord("x", nil, "k", nil, m))
	require.NoError(t, err)
	require.Equal(t, map[string]any{"id": 1.0, "__op": "c", "__table": "t", "__source_ts_ms": nil, "__lsn": nil}, out.Value)
	// Anything else passes unchanged.
	plain := schema.NewRecord("x", nil, "k", nil, map[string]any{"id": 1.0})
	out, err = tr.Apply(plain)
	require.NoError(t, err)
	require.Same(t, plain, out)
}

// A varying source block equals the one Struct builds with the same last position value; the blocks it
// returns share the other values, which no block's Put changes for the others.
func TestSourceVarying(t *testing.T) {
	src := cdc.NewSource("mysql", "io.debezium.connector.mysql.Source",
		cdc.SourceField{Name: "file", Schema: schema.StringSchema}, cdc.SourceField{Name: "row", Schema: schema.Int32Schema})
	in := cdc.SourceInfo{Connector: "mysql", Name: "srv", Ts: time.UnixMilli(1000), DB: "d", Table: "t",
		Position: []any{"binlog.000001", int32(0)}}
	v, err := src.Varying(in)
	require.NoError(t, err)
	var slab cdc.Slab
	a, b, c := v.Struct(int32(3)), v.StructIn(&slab, int32(4)), v.StructIn(&slab, int32(5))
	for _, st := range []*schema.Struct{a, b, c} {
		require.NoError(t, src.Schema().Validate(st))
	}
	in.Position[1] = int32(3)
	want, err := src.Struct(in)
	require.NoError(t, err)
	require.Empty(t, cmp.Diff(want, a))
	require.Equal(t, int32(3), field(t, a, "row"))
	require.Equal(t, int32(4), field(t, b, "row"))
	require.Equal(t, int32(5), field(t, c, "row"))

	_, err = b.Put("file", "binlog.000002")
	require.NoError(t, err)
	require.Equal(t, "binlog.000002", field(t, b, "file"))
	require.Empty(t, cmp.Diff(want, a), "a Put on another block leaves this one as it was")
	require.Equal(t, "binlog.000001", field(t, c, "file"))
	require.Equal(t, "binlog.000001", field(t, v.Struct(int32(6)), "file"))
}
