package schema_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema"
)

func TestRecordClone(t *testing.T) {
	vs := schema.StructBuilder().Name("V").
		Field("name", schema.StringSchema).
		Field("blob", schema.OptionalBytesSchema).
		Field("tags", schema.ArrayOf(schema.StringSchema).Optional().MustBuild()).
		MustBuild()
	value := schema.NewStruct(vs).MustPut("name", "a").MustPut("blob", []byte("b")).MustPut("tags", []any{"t"})
	r := schema.NewRecord("topic", schema.OptionalStringSchema, "k", vs, value)
	require.Equal(t, -1, r.QueueID)
	require.False(t, r.IsTombstone())
	r.SourcePartition = map[string]any{"file": "/x"}
	r.SourceOffset = map[string]any{"pos": int64(10), "nested": map[string]any{"a": int64(1)}}
	r.Timestamp = time.Unix(10, 0)
	r.Headers.Add("h", schema.StringSchema, "v")
	r.Extensions = map[string]string{"e": "1"}

	c := r.Clone()
	require.Equal(t, r.Topic, c.Topic)
	require.True(t, schema.Equal(r.Value, c.Value))
	require.Same(t, r.ValueSchema, c.ValueSchema, "schemas are shared")

	// Change everything in the clone; the original is untouched.
	c.Topic = "other"
	c.SourcePartition["file"] = "/y"
	c.SourceOffset["nested"].(map[string]any)["a"] = int64(2)
	c.Value.(*schema.Struct).MustPut("name", "changed")
	c.Value.(*schema.Struct).GetIndex(1).([]byte)[0] = 'z'
	c.Value.(*schema.Struct).GetIndex(2).([]any)[0] = "u"
	c.Headers[0].Value = "changed"
	c.Headers.Add("h2", nil, nil)
	c.Extensions["e"] = "2"

	require.Equal(t, "topic", r.Topic)
	require.Equal(t, "/x", r.SourcePartition["file"])
	require.Equal(t, int64(1), r.SourceOffset["nested"].(map[string]any)["a"])
	name, _ := r.Value.(*schema.Struct).Get("name")
	require.Equal(t, "a", name)
	require.Equal(t, []byte("b"), r.Value.(*schema.Struct).GetIndex(1))
	require.Equal(t, []any{"t"}, r.Value.(*schema.Struct).GetIndex(2))
	require.Len(t, r.Headers, 1)
	require.Equal(t, "v", r.Headers[0].Value)
	require.Equal(t, "1", r.Extensions["e"])

	require.Nil(t, (*schema.Record)(nil).Clone())
	bare := (&schema.Record{}).Clone()
	require.Nil(t, bare.SourcePartition)
	require.Nil(t, bare.Headers)
	require.Nil(t, bare.Extensions)
	require.True(t, bare.IsTombstone())
}

func TestHeaders(t *testing.T) {
	var h schema.Headers
	_, ok := h.Get("a")
	require.False(t, ok)
	h.Add("a", schema.Int32Schema, int32(1))
	h.Add("b", nil, "x")
	h.AddHeader(schema.Header{Key: "a", Schema: schema.Int32Schema, Value: int32(2)})

	got, ok := h.Get("a")
	require.True(t, ok)
	require.Equal(t, int32(2), got.Value, "Get returns the last header with the key")
	require.Len(t, h.All("a"), 2)
	require.Empty(t, h.All("zz"))

	c := h.Clone()
	h.Remove("a")
	require.Len(t, h, 1)
	require.Equal(t, "b", h[0].Key)
	require.Len(t, c, 3, "the clone keeps its own headers")
	h.Remove("missing")
	require.Len(t, h, 1)
	h.Remove("b")
	require.Empty(t, h)
	require.Nil(t, schema.Headers(nil).Clone())
}

type lazyOffset struct{ n int64 }

func (o *lazyOffset) Offset() map[string]any { return map[string]any{"n": o.n} }

// TestRecordOffset: Offset is SourceOffset when set, LazyOffset's map otherwise; a clone shares LazyOffset.
func TestRecordOffset(t *testing.T) {
	r := schema.NewRecord("t", nil, nil, nil, nil)
	require.Nil(t, r.Offset())
	lazy := &lazyOffset{n: 3}
	r.LazyOffset = lazy
	require.Equal(t, map[string]any{"n": int64(3)}, r.Offset())
	require.Same(t, lazy, r.Clone().LazyOffset.(*lazyOffset))
	r.SourceOffset = map[string]any{"n": int64(4)}
	require.Equal(t, map[string]any{"n": int64(4)}, r.Offset(), "SourceOffset wins")
}
