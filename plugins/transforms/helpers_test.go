package transforms

import (
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema"
)

var (
	addrSc = schema.StructBuilder().Name("Addr").
		Field("city", schema.StringSchema).
		Field("zip", schema.OptionalStringSchema).Optional().MustBuild()
	userSc = schema.StructBuilder().Name("User").
		Field("id", schema.Int32Schema).
		Field("name", schema.StringSchema).
		Field("email", schema.OptionalStringSchema).
		Field("addr", addrSc).MustBuild()
	recTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
)

// mk builds a struct of sc from name/value pairs.
func mk(sc *schema.Schema, kv ...any) *schema.Struct {
	st := schema.NewStruct(sc)
	for i := 0; i < len(kv); i += 2 {
		st.MustPut(kv[i].(string), kv[i+1])
	}
	return st
}

func user() *schema.Struct {
	return mk(userSc, "id", int32(1), "name", "ann", "email", "a@x.io", "addr", mk(addrSc, "city", "Paris", "zip", "75001"))
}

func userMap() map[string]any {
	return map[string]any{"id": int64(1), "name": "ann", "email": "a@x.io",
		"addr": map[string]any{"city": "Paris", "zip": "75001"}}
}

func dec(unscaled int64, scale int32) schema.Decimal {
	return schema.Decimal{Unscaled: big.NewInt(unscaled), Scale: scale}
}

// baseRecord is the record every operand test starts from.
func baseRecord() *schema.Record {
	return &schema.Record{
		SourcePartition: map[string]any{"file": "a"},
		SourceOffset:    map[string]any{"pos": int64(7)},
		Topic:           "orders", QueueID: 3, QueueOffset: 42,
		KeySchema: schema.StringSchema, Key: "k1",
		ValueSchema: schema.StringSchema, Value: "v1",
		Timestamp:  recTime,
		Headers:    schema.Headers{{Key: "h", Schema: schema.StringSchema, Value: "x"}},
		Extensions: map[string]string{"e": "1"},
	}
}

func newTransform(t *testing.T, typ string, cfg map[string]string) Transform {
	t.Helper()
	tr, err := Builtins().NewTransform(typ)
	require.NoError(t, err)
	require.NoError(t, tr.Configure(cfg))
	return tr
}

func requireSchemaEqual(t *testing.T, want, got *schema.Schema, what string) {
	t.Helper()
	require.Truef(t, want.Equal(got), "%s schema:\nwant %#v\ngot  %#v", what, want, got)
}

func requireValueEqual(t *testing.T, want, got any, what string) {
	t.Helper()
	require.Truef(t, schema.Equal(want, got), "%s:\nwant %v (%T)\ngot  %v (%T)", what, want, want, got, got)
}

// requireRecordEqual compares every field of two records.
func requireRecordEqual(t *testing.T, want, got *schema.Record) {
	t.Helper()
	if want == nil || got == nil {
		require.Equal(t, want == nil, got == nil, "dropped?")
		return
	}
	require.Equal(t, want.Topic, got.Topic, "topic")
	require.Equal(t, want.QueueID, got.QueueID)
	require.Equal(t, want.QueueOffset, got.QueueOffset)
	require.True(t, want.Timestamp.Equal(got.Timestamp), "timestamp")
	requireSchemaEqual(t, want.KeySchema, got.KeySchema, "key")
	requireValueEqual(t, want.Key, got.Key, "key")
	requireSchemaEqual(t, want.ValueSchema, got.ValueSchema, "value")
	requireValueEqual(t, want.Value, got.Value, "value")
	require.Equal(t, len(want.Headers), len(got.Headers), "headers: %v", got.Headers)
	for i := range want.Headers {
		require.Equal(t, want.Headers[i].Key, got.Headers[i].Key)
		requireSchemaEqual(t, want.Headers[i].Schema, got.Headers[i].Schema, "header "+want.Headers[i].Key)
		requireValueEqual(t, want.Headers[i].Value, got.Headers[i].Value, "header "+want.Headers[i].Key)
	}
	require.Equal(t, want.Extensions, got.Extensions)
	require.Equal(t, want.SourcePartition, got.SourcePartition)
	require.Equal(t, want.SourceOffset, got.SourceOffset)
}

// applyUnmutated applies tr and checks that the input record is unchanged.
func applyUnmutated(t *testing.T, tr Transform, in *schema.Record) (*schema.Record, error) {
	t.Helper()
	snapshot := in.Clone()
	out, err := tr.Apply(in)
	requireRecordEqual(t, snapshot, in)
	return out, err
}
