package postgres

import (
	"encoding/binary"
	"testing"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc"
)

// insertMessage is a pgoutput Insert of relation 7 with text columns vals.
func insertMessage(vals ...string) []byte {
	b := []byte{'I', 0, 0, 0, 7, 'N'}
	b = binary.BigEndian.AppendUint16(b, uint16(len(vals)))
	for _, v := range vals {
		b = append(b, 't')
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	return b
}

// decode shares each column's bytes with the values it makes, which holds only while pglogrepl copies
// them out of the message buffer (pgconn reuses that buffer for the next message): overwriting the buffer
// must leave the decoded values as they were.
func TestDecodedValuesOwnTheirBytes(t *testing.T) {
	buf := insertMessage("42", "alice", "12.50")
	msg, err := pglogrepl.Parse(buf)
	require.NoError(t, err)
	ins := msg.(*pglogrepl.InsertMessage)
	r := &relation{schema: "public", name: "t", captured: true, cols: []column{
		newColumn("id", pgtype.Int4OID, -1, true), newColumn("name", pgtype.TextOID, -1, false),
		newColumn("amount", pgtype.NumericOID, (10<<16|2)+4, false)}}
	vals, err := r.decode(ins.Tuple, nil, &cdc.Slab{})
	require.NoError(t, err)
	for i := range buf {
		buf[i] = 'x'
	}
	require.Equal(t, int32(42), vals[0])
	require.Equal(t, "alice", vals[1])
	require.Equal(t, "12.50", vals[2].(interface{ String() string }).String())
}
