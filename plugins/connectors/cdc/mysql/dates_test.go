package mysql_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A DATE or DATETIME with a zero month or day, which MariaDB's default sql_mode accepts, has no calendar
// value: it is null, as the zero date is, in the stream and in the snapshot.
func TestZeroMonthOrDayIsNull(t *testing.T) {
	h := newHarness(t, nil)
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY, d DATE, dt DATETIME)`, `INSERT INTO t VALUES (1, '2024-00-00', '2024-01-00 10:00:00')`)
	task := h.start()
	snap, err := h.pollUntil(task, 1, 15*time.Second)
	require.NoError(t, err)
	h.exec(`INSERT INTO t VALUES (2, '2024-05-05', '2024-05-05 00:00:00')`,
		`INSERT INTO t VALUES (3, '2024-00-00', '2024-01-00 10:00:00')`,
		`INSERT INTO t VALUES (4, '2024-05-06', '2024-05-06 00:00:00')`)
	got, err := h.pollUntil(task, 3, 15*time.Second)
	require.NoError(t, err)
	tp := h.topic("t")
	require.Equal(t, []string{tp + " {id=1} r nil->{id=1,d=<nil>,dt=<nil>}"}, describeAll(snap))
	require.Len(t, got, 3)
	require.Equal(t, tp+" {id=3} c nil->{id=3,d=<nil>,dt=<nil>}", describe(got[1]))
}
