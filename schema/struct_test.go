package schema_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema"
)

// Structs made by StructWithLast read as structs of head's values followed by the last one, and share
// head: a Put on one gives it values of its own, leaving head and the structs sharing it as they were.
func TestStructWithLast(t *testing.T) {
	s := schema.StructBuilder().Name("S").
		Field("a", schema.StringSchema).
		Field("b", schema.OptionalStringSchema).
		Field("row", schema.Int32Schema).
		MustBuild()
	head := []any{"x", nil}
	last := []any{int32(0), int32(1), int32(2)}
	sts := make([]*schema.Struct, len(last))
	for i := range last {
		var err error
		sts[i], err = schema.StructWithLast(new(schema.Struct), s, head, &last[i])
		require.NoError(t, err)
	}
	for i, st := range sts {
		full, err := schema.StructFromValues(s, []any{"x", nil, int32(i)})
		require.NoError(t, err)
		require.True(t, st.Equal(full) && full.Equal(st), "row %d", i)
		require.NoError(t, st.Validate())
		require.Equal(t, int32(i), st.GetIndex(2))
		require.Nil(t, st.GetIndex(3))
		v, err := st.Get("row")
		require.NoError(t, err)
		require.Equal(t, int32(i), v)
		require.Equal(t, full.String(), st.String())
		require.True(t, st.Copy().Equal(full))
	}
	require.False(t, sts[0].Equal(sts[1]))

	_, err := sts[1].Put("b", "own")
	require.NoError(t, err)
	require.NoError(t, sts[1].PutIndex(2, int32(7)))
	require.NoError(t, sts[2].PutIndex(0, "y"))
	require.Equal(t, []any{"x", nil}, head, "head is never written")
	require.Equal(t, []any{int32(0), int32(1), int32(2)}, last, "nor the last values")
	require.Equal(t, "Struct{a=x,row=0}", sts[0].String())
	require.Equal(t, "Struct{a=x,b=own,row=7}", sts[1].String())
	require.Equal(t, "Struct{a=y,row=2}", sts[2].String())

	_, err = schema.StructWithLast(new(schema.Struct), s, []any{"x"}, &last[0])
	require.ErrorIs(t, err, schema.ErrInvalidValue)
	_, err = schema.StructWithLast(new(schema.Struct), s, head, nil)
	require.ErrorIs(t, err, schema.ErrInvalidValue)
	_, err = schema.StructWithLast(new(schema.Struct), schema.StringSchema, head, &last[0])
	require.ErrorIs(t, err, schema.ErrNotStruct)
}
