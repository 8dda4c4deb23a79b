package mysql

import (
	"testing"

	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/stretchr/testify/require"
)

// Events the task cannot read in full fail it with what to change on the server, never pass as
// something else: MySQL 8's compressed transactions (whose rows would be skipped) and partial JSON
// updates (which go-mysql reports as rows events of no kind, which would be read as inserts).
func TestUnreadableEventsFailTheTask(t *testing.T) {
	tk, _, ev, h := streamFixture(t, 1)
	for _, tt := range []struct {
		name, says string
		ev         replication.Event
		typ        replication.EventType
	}{
		{"compressed transaction", "binlog_transaction_compression", &replication.TransactionPayloadEvent{}, replication.TRANSACTION_PAYLOAD_EVENT},
		{"partial JSON update", "binlog_row_value_options", ev, replication.PARTIAL_UPDATE_ROWS_EVENT},
	} {
		hh := *h
		hh.EventType = tt.typ
		out, err := tk.handle(nil, &replication.BinlogEvent{Header: &hh, Event: tt.ev})
		require.ErrorIs(t, err, ErrServerConfig, tt.name)
		require.ErrorContains(t, err, tt.says, tt.name)
		require.ErrorContains(t, err, "binlog.000001:1000", tt.name)
		require.Empty(t, out, tt.name)
	}
	// The same rows event as a plain insert is read.
	hh := *h
	hh.EventType = replication.WRITE_ROWS_EVENTv2
	out, err := tk.handle(nil, &replication.BinlogEvent{Header: &hh, Event: ev})
	require.NoError(t, err)
	require.Len(t, out, 1)
}
