package transforms

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema"
)

// TestOneOfValuesIgnoreCase checks that a value a OneOf validator accepts in another case (REWRITE for rewrite)
// configures a transform exactly as the listed spelling does: the same records out, or the same drops. Each
// lower-case configuration is also checked against the records it must give, so that the comparison cannot
// pass by both spellings doing nothing.
func TestOneOfValuesIgnoreCase(t *testing.T) {
	event := func(op string, before, after map[string]any) *schema.Record {
		r := baseRecord()
		r.ValueSchema = nil
		r.Value = map[string]any{"op": op, "before": before, "after": after, "source": map[string]any{"db": "shop"}, "ts_ms": int64(1)}
		return r
	}
	row := map[string]any{"id": int64(1)}
	create, del := event("c", nil, row), event("d", row, nil)
	tomb := baseRecord()
	tomb.ValueSchema, tomb.Value = nil, nil
	unwrapIn := []*schema.Record{create, del, tomb}
	deleted := func(flag string) map[string]any { return map[string]any{"id": int64(1), "__deleted": flag} }

	userRec := baseRecord()
	userRec.ValueSchema, userRec.Value = userSc, user()
	moved := schema.StructBuilder().Name("User").Field("email", schema.OptionalStringSchema).Field("addr", addrSc).MustBuild()
	tsIn := baseRecord()
	tsIn.ValueSchema, tsIn.Value = schema.Int64Schema, recTime.Unix()

	cases := []struct {
		typ          string
		lower, upper map[string]string
		in           []*schema.Record
		want         []any // the values the lower-case config gives (dropped for a dropped record)
	}{
		{"ExtractNewRecordState", map[string]string{"delete.handling.mode": "rewrite"}, map[string]string{"delete.handling.mode": "REWRITE"},
			unwrapIn, []any{deleted("false"), deleted("true"), dropped}},
		{"ExtractNewRecordState", map[string]string{"delete.handling.mode": "none"}, map[string]string{"delete.handling.mode": "None"},
			unwrapIn, []any{row, nil, dropped}},
		{"ExtractNewRecordState", map[string]string{"delete.tombstone.handling.mode": "drop"}, map[string]string{"delete.tombstone.handling.mode": "DROP"},
			unwrapIn, []any{row, dropped, dropped}},
		{"ExtractNewRecordState", map[string]string{"delete.tombstone.handling.mode": "tombstone"}, map[string]string{"delete.tombstone.handling.mode": "TOMBSTONE"},
			unwrapIn, []any{row, dropped, nil}},
		{"ExtractNewRecordState", map[string]string{"delete.tombstone.handling.mode": "rewrite-with-tombstone"},
			map[string]string{"delete.tombstone.handling.mode": "REWRITE-WITH-TOMBSTONE"},
			unwrapIn, []any{deleted("false"), deleted("true"), nil}},
		{"ExtractNewRecordState", map[string]string{"delete.tombstone.handling.mode": "delete-to-tombstone"},
			map[string]string{"delete.tombstone.handling.mode": "Delete-To-Tombstone"},
			unwrapIn, []any{row, nil, dropped}},
		{"HeaderFrom$Value", map[string]string{"fields": "id,name", "headers": "h_id,h_name", "operation": "move"},
			map[string]string{"fields": "id,name", "headers": "h_id,h_name", "operation": "MOVE"},
			[]*schema.Record{userRec}, []any{mk(moved, "email", "a@x.io", "addr", mk(addrSc, "city", "Paris", "zip", "75001"))}},
		{"TimestampConverter$Value", map[string]string{"target.type": "Timestamp", "unix.precision": "seconds"},
			map[string]string{"target.type": "TIMESTAMP", "unix.precision": "SECONDS"},
			[]*schema.Record{tsIn}, []any{recTime}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s %v", tc.typ, tc.upper), func(t *testing.T) {
			lower, upper := newTransform(t, tc.typ, tc.lower), newTransform(t, tc.typ, tc.upper)
			for i, in := range tc.in {
				wantOut, err := lower.Apply(in.Clone())
				require.NoError(t, err)
				if tc.want[i] == dropped {
					require.Nil(t, wantOut, "record %d: lower case must drop it", i)
				} else {
					require.NotNil(t, wantOut, "record %d: lower case must keep it", i)
					requireValueEqual(t, tc.want[i], wantOut.Value, fmt.Sprintf("record %d, lower case", i))
				}
				got, err := upper.Apply(in.Clone())
				require.NoError(t, err)
				if wantOut == nil {
					require.Nil(t, got, "record %d: %v must drop it as %v does", i, tc.upper, tc.lower)
					continue
				}
				require.NotNil(t, got, "record %d: %v must keep it as %v does", i, tc.upper, tc.lower)
				requireRecordEqual(t, wantOut, got)
			}
		})
	}
}

// dropped marks an expected dropped record in TestOneOfValuesIgnoreCase.
var dropped = &struct{ dropped bool }{true}
