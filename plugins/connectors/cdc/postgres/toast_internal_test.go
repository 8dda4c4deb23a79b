package postgres

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/schema"
)

// tupleCol is one column of a pgoutput TupleData: kind 't' (text v), 'n' (null) or 'u' (an unchanged
// TOAST value).
type tupleCol struct {
	kind byte
	v    string
}

var (
	null      = tupleCol{kind: 'n'}
	unchanged = tupleCol{kind: 'u'}
)

func text(v string) tupleCol { return tupleCol{kind: 't', v: v} }

func tuple(cols ...tupleCol) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(cols)))
	for _, c := range cols {
		b = append(b, c.kind)
		if c.kind == 't' {
			b = binary.BigEndian.AppendUint32(b, uint32(len(c.v)))
			b = append(b, c.v...)
		}
	}
	return b
}

// updateMessage is a pgoutput Update of relation 7; old, when set, is a key-only old tuple ('K').
func updateMessage(old, newTup []byte) []byte {
	b := []byte{'U', 0, 0, 0, 7}
	if old != nil {
		b = append(append(b, 'K'), old...)
	}
	return append(append(b, 'N'), newTup...)
}

// An update leaving a key value stored out of line alone sends the key column as unchanged ('u'). With the
// old key beside it (PostgreSQL 15, the 2022 minor releases of 10 to 14) the record is one update keyed
// by it; without (older servers) the key cannot be known: the change fails with ErrKeyUnavailable, saying
// what to do, instead of going out under the placeholder as a delete of the row and a create of another.
func TestUnchangedToastedKey(t *testing.T) {
	feed := func(tk *task, msg []byte) ([]*schema.Record, error) {
		ctx := context.Background()
		_, err := tk.handleMessage(ctx, nil, 90, &pglogrepl.BeginMessage{FinalLSN: 100, Xid: 1, CommitTime: time.Now()})
		require.NoError(t, err)
		m, err := pglogrepl.Parse(msg)
		require.NoError(t, err)
		return tk.handleMessage(ctx, nil, 95, m)
	}

	tk := streamTask(t)
	recs, err := feed(tk, updateMessage(tuple(text("42"), null), tuple(unchanged, text("new"))))
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, int64(42), recs[0].Key.(*schema.Struct).GetIndex(0))
	env := recs[0].Value.(*schema.Struct)
	op, _ := env.Get("op")
	require.Equal(t, "u", op)
	after, _ := env.Get("after")
	require.Equal(t, int64(42), after.(*schema.Struct).GetIndex(0))

	tk = streamTask(t)
	tk.cfg.slot = "cdc_slot"
	_, err = feed(tk, updateMessage(nil, tuple(unchanged, text("new"))))
	require.ErrorIs(t, err, ErrKeyUnavailable)
	t.Log(err)
	for _, s := range []string{"public.t", "key column id", "LSN 0/5F", "0/64", "REPLICA IDENTITY FULL", "pg_replication_slot_advance('cdc_slot'"} {
		require.ErrorContains(t, err, s)
	}
}
