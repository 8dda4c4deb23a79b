package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc/postgres"
	"github.com/rmqconnect/rmqconnect/schema"
)

// The LSN is confirmed to the server only once RocketMQ acknowledged the records and the engine stored
// their positions; a task restarted from the stored positions resumes after the last stored record,
// re-reading (never losing) what was not acknowledged.
func TestConfirmOnlyAfterAckAndResume(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "never", "tombstones.on.delete": "false"})
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY, v TEXT)`)
	task := h.start()
	h.exec(`INSERT INTO t VALUES (1, 'a')`, `INSERT INTO t VALUES (2, 'b')`, `BEGIN; INSERT INTO t VALUES (3, 'c'); INSERT INTO t VALUES (4, 'd'); COMMIT`)
	recs := h.poll(task, 4, false)
	before := h.confirmedFlush()
	// Not acknowledged: Commit confirms nothing.
	require.NoError(t, task.Commit(context.Background()))
	require.Equal(t, before, h.confirmedFlush())

	// Acknowledge (in poll order, as the engine does) the first two transactions and half of the last: the
	// last is not confirmed, or the server would not send it again below.
	for _, r := range recs[:3] {
		h.ack(task, r)
	}
	require.NoError(t, task.Commit(context.Background()))
	// The server applies a standby status update when its walsender reads it.
	var afterFirst string
	require.Eventually(t, func() bool { afterFirst = h.confirmedFlush(); return afterFirst != before }, 10*time.Second, 20*time.Millisecond)
	// The stored position is that of id 3, the first event of the last transaction.
	require.NoError(t, task.Stop(context.Background()))

	h.exec(`UPDATE t SET v = 'z' WHERE id = 1`)
	task = h.start()
	got := h.poll(task, 2, true)
	require.Equal(t, []string{
		"srv-public-t {id=4} c nil->{id=4,v=d}",
		"srv-public-t {id=1} u nil->{id=1,v=z}",
	}, describeAll(got), "the last transaction is read again from the server and its stored first event skipped")
	h.quiet(task)
	require.Eventually(t, func() bool { return lsnValue(t, h.confirmedFlush()) > lsnValue(t, afterFirst) }, 10*time.Second, 20*time.Millisecond)
}

func lsnValue(t *testing.T, s string) uint64 {
	hi, lo, ok := strings.Cut(s, "/")
	require.True(t, ok, s)
	var a, b uint64
	for _, c := range hi {
		a = a*16 + uint64(strings.IndexRune("0123456789ABCDEF", c))
	}
	for _, c := range lo {
		b = b*16 + uint64(strings.IndexRune("0123456789ABCDEF", c))
	}
	return a<<32 | b
}

// A column added mid-stream: events before the ALTER decode with the old columns and events after with
// the new, also when a restarted task reads them again.
func TestColumnAddedMidStream(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "never"})
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY, v TEXT)`)
	task := h.start()
	h.exec(`INSERT INTO t VALUES (1, 'a')`, `ALTER TABLE t ADD COLUMN n INT DEFAULT 7`, `INSERT INTO t VALUES (2, 'b', 8)`,
		`UPDATE t SET v = 'c' WHERE id = 1`)
	want := []string{
		"srv-public-t {id=1} c nil->{id=1,v=a}",
		"srv-public-t {id=2} c nil->{id=2,v=b,n=8}",
		"srv-public-t {id=1} u nil->{id=1,v=c,n=7}",
	}
	require.Equal(t, want, describeAll(h.poll(task, 3, false)))
	require.NoError(t, task.Stop(context.Background()))
	// Nothing was acknowledged: a new task reads the same events, each with the schema it was written under.
	task = h.start()
	got := h.poll(task, 3, true)
	require.Equal(t, want, describeAll(got))
	require.Equal(t, []string{"id", "v"}, fieldNames(t, got[0]))
	require.Equal(t, []string{"id", "v", "n"}, fieldNames(t, got[1]))
}

func fieldNames(t *testing.T, r *schema.Record) []string {
	f, ok := r.ValueSchema.Field("after")
	require.True(t, ok)
	return f.Schema.FieldNames()
}

// The replication connection killed mid-stream (as by a server restart): the task reconnects on its own
// and nothing is lost or repeated.
func TestConnectionLossResumes(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "never", "tombstones.on.delete": "false"})
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY)`)
	task := h.start()
	h.exec(`INSERT INTO t VALUES (1)`)
	first := h.poll(task, 1, true)
	h.exec(`BEGIN; INSERT INTO t VALUES (2); INSERT INTO t VALUES (3); COMMIT`)
	inFlight := h.poll(task, 2, false) // handed over, not yet acknowledged
	h.exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	h.exec(`INSERT INTO t VALUES (4)`)
	rest := h.poll(task, 1, false)
	all := append(append(first, inFlight...), rest...)
	require.Equal(t, []string{
		"srv-public-t {id=1} c nil->{id=1}", "srv-public-t {id=2} c nil->{id=2}",
		"srv-public-t {id=3} c nil->{id=3}", "srv-public-t {id=4} c nil->{id=4}",
	}, describeAll(all))
	// Once acknowledged, the records read before and after the reconnect are confirmed.
	mark := h.confirmedFlush()
	for _, r := range all[1:] {
		h.ack(task, r)
	}
	require.NoError(t, task.Commit(context.Background()))
	require.Eventually(t, func() bool { return lsnValue(t, h.confirmedFlush()) > lsnValue(t, mark) }, 10*time.Second, 20*time.Millisecond)
	h.quiet(task)
}

// A slot dropped while the task ran (after its connection was killed) fails the task with a trace saying
// what was lost and what to do; so does starting from a stored position whose slot is gone.
func TestSlotGoneFails(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "never"})
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY)`)
	task := h.start()
	h.exec(`INSERT INTO t VALUES (1)`)
	h.poll(task, 1, true)
	require.Eventually(t, func() bool {
		_, _ = h.sql.Exec("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL", h.slot)
		_, err := h.sql.Exec("SELECT pg_drop_replication_slot($1)", h.slot)
		return err == nil
	}, 20*time.Second, 50*time.Millisecond)
	var err error
	require.Eventually(t, func() bool {
		_, err = task.Poll(context.Background())
		return err != nil
	}, 20*time.Second, 10*time.Millisecond)
	require.True(t, errors.Is(err, postgres.ErrSlotMissing), "%v", err)
	require.Contains(t, err.Error(), h.slot)
	require.Contains(t, err.Error(), "delete the connector's stored offsets")
	require.NoError(t, task.Stop(context.Background()))

	_, err = h.tryStart()
	require.True(t, errors.Is(err, postgres.ErrSlotMissing), "%v", err)
}

// A publication dropped mid-stream fails the task.
func TestPublicationDroppedFails(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "never"})
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY)`)
	task := h.start()
	h.exec(`INSERT INTO t VALUES (1)`)
	h.poll(task, 1, true)
	h.exec(`DROP PUBLICATION pub`, `INSERT INTO t VALUES (2)`)
	var err error
	require.Eventually(t, func() bool {
		_, err = task.Poll(context.Background())
		return err != nil
	}, 20*time.Second, 10*time.Millisecond)
	require.True(t, errors.Is(err, postgres.ErrPublicationMissing), "%v", err)
	require.Contains(t, err.Error(), "CREATE PUBLICATION pub")
}

// An UPDATE that leaves a large (TOASTed) value alone: with REPLICA IDENTITY FULL the value comes from the
// old image; otherwise it is Debezium's placeholder.
func TestUnchangedToast(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "never"})
	h.exec(`CREATE TABLE dflt (id INT PRIMARY KEY, n INT, big TEXT)`, `CREATE TABLE full_ri (id INT PRIMARY KEY, n INT, big TEXT)`,
		`ALTER TABLE full_ri REPLICA IDENTITY FULL`,
		`ALTER TABLE dflt ALTER COLUMN big SET STORAGE EXTERNAL`, `ALTER TABLE full_ri ALTER COLUMN big SET STORAGE EXTERNAL`)
	task := h.start()
	big := strings.Repeat("x", 10000)
	h.exec(`INSERT INTO dflt VALUES (1, 1, '`+big+`')`, `INSERT INTO full_ri VALUES (1, 1, '`+big+`')`,
		`UPDATE dflt SET n = 2`, `UPDATE full_ri SET n = 2`)
	recs := h.poll(task, 4, true)
	after := func(r *schema.Record) any {
		a, _ := r.Value.(*schema.Struct).Get("after")
		v, _ := a.(*schema.Struct).Get("big")
		return v
	}
	require.Equal(t, big, after(recs[0]))
	require.Equal(t, postgres.Unavailable, after(recs[2]))
	require.Equal(t, big, after(recs[3]))
}

// Columns added, dropped and renamed mid-stream (pgoutput sends a Relation message before the first change
// after each): every event decodes with its own shape, also after a restart resuming from an acknowledged
// position before the changes, when the catalog already has the newest shape.
func TestColumnsChangedMidStreamAcrossRestart(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "never"})
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY, a TEXT, b INT, c INT)`)
	task := h.start()
	h.exec(`INSERT INTO t VALUES (1, 'one', 10, 100)`)
	first := h.poll(task, 1, true)
	require.Equal(t, []string{"srv-public-t {id=1} c nil->{id=1,a=one,b=10,c=100}"}, describeAll(first))
	h.exec(`ALTER TABLE t ADD COLUMN d TEXT DEFAULT 'dd'`, `INSERT INTO t VALUES (2, 'two', 20, 200, 'd2')`,
		`ALTER TABLE t DROP COLUMN b`, `INSERT INTO t VALUES (3, 'three', 300, 'd3')`,
		`ALTER TABLE t RENAME COLUMN c TO cc`, `UPDATE t SET cc = 301 WHERE id = 3`)
	want := []string{
		"srv-public-t {id=2} c nil->{id=2,a=two,b=20,c=200,d=d2}",
		"srv-public-t {id=3} c nil->{id=3,a=three,c=300,d=d3}",
		"srv-public-t {id=3} u nil->{id=3,a=three,cc=301,d=d3}",
	}
	require.Equal(t, want, describeAll(h.poll(task, 3, false)))
	require.NoError(t, task.Stop(context.Background()))
	// Only the first insert was acknowledged: the new task's session gets the Relation messages again.
	task = h.start()
	require.Equal(t, want, describeAll(h.poll(task, 3, true)))
}

// TestMixedCasePublication: a publication whose name keeps its case (created quoted, as the task
// creates it) is the one the replication stream reads; pgoutput folds an unquoted name in
// publication_names to lower case and refused to start, which the task retried forever.
func TestMixedCasePublication(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "never", "tombstones.on.delete": "false",
		"publication.name": "MyPub"})
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY)`)
	task := h.start()
	h.exec(`INSERT INTO t VALUES (1)`)
	require.Equal(t, []string{"srv-public-t {id=1} c nil->{id=1}"}, describeAll(h.poll(task, 1, true)))
	h.quiet(task)
}

// TestSpecialValuesStream: NaN numerics (a NUMERIC with a scale cannot hold ±Infinity), infinite and BC dates and timestamps and TIME's
// 24:00:00, as the server sends them, in a snapshot and in the stream: optional columns carry null for
// the values Connect cannot hold, and the task goes on.
func TestSpecialValuesStream(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "initial", "tombstones.on.delete": "false"})
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY, n NUMERIC(10,2), d DATE, ts TIMESTAMP, tz TIMESTAMPTZ, tm TIME)`,
		`INSERT INTO t VALUES (1, 'NaN', 'infinity', '-infinity', 'infinity', '24:00:00')`)
	task := h.start()
	h.exec(`INSERT INTO t VALUES (2, 'NaN', '0044-03-15 BC', '0001-12-31 23:59:59 BC', '-infinity', '00:00:01')`,
		`INSERT INTO t VALUES (3, 12.5, '2026-12-06', '2026-12-06 01:02:03', '2026-12-06 01:02:03+00', '13:45:10')`)
	recs := h.poll(task, 3, true)
	after := func(r *schema.Record) *schema.Struct {
		v, err := r.Value.(*schema.Struct).Get("after")
		require.NoError(t, err)
		return v.(*schema.Struct)
	}
	get := func(s *schema.Struct, f string) any {
		v, err := s.Get(f)
		require.NoError(t, err)
		return v
	}
	one, two, three := after(recs[0]), after(recs[1]), after(recs[2])
	for _, f := range []string{"n", "d", "ts", "tz"} {
		require.Nil(t, get(one, f), f)
	}
	require.Nil(t, get(one, "tm"))
	require.Equal(t, int64(1000), get(two, "tm").(time.Time).UnixMilli())
	require.Nil(t, get(two, "n"))
	require.Equal(t, time.Date(-43, 3, 15, 0, 0, 0, 0, time.UTC), get(two, "d"))
	require.Equal(t, time.Date(0, 12, 31, 23, 59, 59, 0, time.UTC), get(two, "ts"))
	require.Nil(t, get(two, "tz"))
	require.Equal(t, time.Date(2026, 12, 6, 1, 2, 3, 0, time.UTC), get(three, "tz"))
	h.quiet(task)
}

// The connector's user refused on a reconnect (its password changed): the task fails, saying so, instead
// of retrying in silence for ever.
func TestAccessDeniedOnReconnectFails(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "never", "publication.autocreate.mode": "disabled"})
	user := "cdc_" + strings.ReplaceAll(h.db.Name, "-", "_")
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY)`, `CREATE PUBLICATION pub FOR TABLE t`,
		`CREATE ROLE `+user+` LOGIN REPLICATION PASSWORD 'first'`, `GRANT SELECT ON t TO `+user)
	t.Cleanup(func() { _, _ = h.sql.Exec(`DROP OWNED BY ` + user + `; DROP ROLE ` + user) })
	h.cfg["database.user"], h.cfg["database.password"] = user, "first"
	task := h.start()
	h.exec(`INSERT INTO t VALUES (1)`)
	h.poll(task, 1, true)
	h.exec(`ALTER ROLE `+user+` PASSWORD 'second'`,
		`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '`+user+`'`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		require.True(t, time.Now().Before(deadline), "the task went on polling")
		_, err := task.Poll(context.Background())
		if err != nil {
			require.ErrorIs(t, err, postgres.ErrAccessDenied)
			require.ErrorContains(t, err, user)
			return
		}
	}
}
