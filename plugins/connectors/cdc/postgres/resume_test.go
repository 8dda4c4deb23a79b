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

// The query connection killed alone (the replication connection lives on): the task reconnects when it
// next reads the catalog, for a table it has not seen yet, and the change arrives, without an error.
func TestQueryConnectionLossResumes(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "never"})
	h.exec(`CREATE TABLE a (id INT PRIMARY KEY)`, `CREATE TABLE b (id INT PRIMARY KEY)`)
	task := h.start()
	h.exec(`INSERT INTO a VALUES (1)`)
	h.poll(task, 1, true)
	var killed int
	require.NoError(t, h.sql.QueryRow(`SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1 AND backend_type = 'client backend'`, "rmqconnect-"+h.slot).Scan(&killed))
	require.Equal(t, 1, killed, "the query connection")
	h.exec(`INSERT INTO b VALUES (1)`, `INSERT INTO a VALUES (2)`)
	require.Equal(t, []string{"srv-public-b {id=1} c nil->{id=1}", "srv-public-a {id=2} c nil->{id=2}"},
		describeAll(h.poll(task, 2, true)))
	h.quiet(task)
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

// Key columns renamed while the task is stopped behind events written before the rename: the events read
// again keep their key under the names they were written with (the Relation message's, in column order once
// the catalog no longer names them), the later ones under the new names (in key order). With REPLICA
// IDENTITY FULL the message does not say which columns are the key: events whose key column the catalog no
// longer has have no key, rather than failing the task on every restart.
func TestKeyRenamedWhileStopped(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "never"})
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY, v TEXT)`, `CREATE TABLE c (k1 INT, k2 INT, v TEXT, PRIMARY KEY (k2, k1))`,
		`CREATE TABLE f (id INT PRIMARY KEY, v TEXT)`, `ALTER TABLE f REPLICA IDENTITY FULL`)
	task := h.start()
	h.exec(`INSERT INTO t VALUES (1, 'a')`)
	h.poll(task, 1, true)
	h.exec(`INSERT INTO t VALUES (2, 'b')`, `INSERT INTO c VALUES (1, 2, 'c')`, `INSERT INTO f VALUES (1, 'f')`)
	require.Equal(t, []string{
		"srv-public-t {id=2} c nil->{id=2,v=b}",
		"srv-public-c {k2=2,k1=1} c nil->{k1=1,k2=2,v=c}",
		"srv-public-f {id=1} c nil->{id=1,v=f}",
	}, describeAll(h.poll(task, 3, false)))
	require.NoError(t, task.Stop(context.Background()))

	h.exec(`ALTER TABLE t RENAME COLUMN id TO tid`, `ALTER TABLE c RENAME COLUMN k2 TO kk2`, `ALTER TABLE f RENAME COLUMN id TO fid`,
		`INSERT INTO t VALUES (3, 'd')`, `INSERT INTO c VALUES (3, 4, 'e')`, `INSERT INTO f VALUES (2, 'g')`,
		`DELETE FROM t WHERE tid = 2`)
	task = h.start()
	require.Equal(t, []string{
		"srv-public-t {id=2} c nil->{id=2,v=b}",
		"srv-public-c {k1=1,k2=2} c nil->{k1=1,k2=2,v=c}",
		"srv-public-f - c nil->{id=1,v=f}",
		"srv-public-t {tid=3} c nil->{tid=3,v=d}",
		"srv-public-c {kk2=4,k1=3} c nil->{k1=3,kk2=4,v=e}",
		"srv-public-f {fid=2} c nil->{fid=2,v=g}",
		"srv-public-t {tid=2} d {tid=2,v=<nil>}->nil",
		"srv-public-t {tid=2} tombstone",
	}, describeAll(h.poll(task, 8, true)))
	h.quiet(task)
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

// TestSpecialValuesStream: NaN numerics (a NUMERIC with a scale cannot hold ±Infinity), NaN and ±Infinity
// floats (which the JSON converter cannot write), infinite and BC dates and timestamps and TIME's 24:00:00,
// as the server sends them, in a snapshot and in the stream: optional columns carry null for the values
// Connect (or its JSON form) cannot hold, and the task goes on.
func TestSpecialValuesStream(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "initial", "tombstones.on.delete": "false"})
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY, n NUMERIC(10,2), d DATE, ts TIMESTAMP, tz TIMESTAMPTZ, tm TIME, f4 REAL, f8 FLOAT8)`,
		`INSERT INTO t VALUES (1, 'NaN', 'infinity', '-infinity', 'infinity', '24:00:00', 'NaN', 'Infinity')`)
	task := h.start()
	h.exec(`INSERT INTO t VALUES (2, 'NaN', '0044-03-15 BC', '0001-12-31 23:59:59 BC', '-infinity', '00:00:01', '-Infinity', 'NaN')`,
		`INSERT INTO t VALUES (3, 12.5, '2026-12-06', '2026-12-06 01:02:03', '2026-12-06 01:02:03+00', '13:45:10', 1.5, 0.1)`,
		`INSERT INTO t VALUES (4, NULL, NULL, NULL, NULL, NULL, 'Infinity', '-Infinity')`)
	recs := h.poll(task, 4, true)
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
	one, two, three, four := after(recs[0]), after(recs[1]), after(recs[2]), after(recs[3])
	for _, f := range []string{"n", "d", "ts", "tz", "f4", "f8"} {
		require.Nil(t, get(one, f), f)
		require.Nil(t, get(four, f), f)
	}
	require.Nil(t, get(two, "f4"))
	require.Nil(t, get(two, "f8"))
	require.Equal(t, float32(1.5), get(three, "f4"))
	require.Equal(t, 0.1, get(three, "f8"))
	require.Nil(t, get(one, "tm"))
	require.Equal(t, int64(1000), get(two, "tm").(time.Time).UnixMilli())
	require.Nil(t, get(two, "n"))
	require.Equal(t, time.Date(-43, 3, 15, 0, 0, 0, 0, time.UTC), get(two, "d"))
	require.Equal(t, time.Date(0, 12, 31, 23, 59, 59, 0, time.UTC), get(two, "ts"))
	require.Nil(t, get(two, "tz"))
	require.Equal(t, time.Date(2026, 12, 6, 1, 2, 3, 0, time.UTC), get(three, "tz"))
	h.quiet(task)
}

// Database defaults that change the text form of values (a non-ISO DateStyle, escape bytea, fewer float
// digits) do not reach the task's sessions: the snapshot and the stream read the values exactly.
func TestSessionSettingsFixed(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "initial", "tombstones.on.delete": "false"})
	h.exec(`ALTER DATABASE `+h.db.Name+` SET DateStyle = 'SQL, DMY'`, `ALTER DATABASE `+h.db.Name+` SET bytea_output = 'escape'`,
		`ALTER DATABASE `+h.db.Name+` SET extra_float_digits = -3`,
		`CREATE TABLE t (id INT PRIMARY KEY, d DATE, ts TIMESTAMP, tz TIMESTAMPTZ, b BYTEA, f FLOAT8)`,
		`INSERT INTO t VALUES (1, '2026-03-15', '2026-03-15 01:02:03.5', '2026-03-15 01:02:03+02', '\x00ff41', 0.1::float8 + 0.2::float8)`)
	task := h.start()
	h.exec(`INSERT INTO t VALUES (2, '2026-03-15', '2026-03-15 01:02:03.5', '2026-03-15 01:02:03+02', '\x00ff41', 0.1::float8 + 0.2::float8)`)
	a, b := 0.1, 0.2 // variables: Go adds constants exactly
	for i, r := range h.poll(task, 2, true) {
		v, err := r.Value.(*schema.Struct).Get("after")
		require.NoError(t, err)
		row := v.(*schema.Struct)
		get := func(f string) any {
			v, err := row.Get(f)
			require.NoError(t, err)
			return v
		}
		require.Equal(t, time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC), get("d"), "row %d", i)
		require.Equal(t, time.Date(2026, 3, 15, 1, 2, 3, 5e8, time.UTC), get("ts"), "row %d", i)
		require.Equal(t, time.Date(2026, 3, 14, 23, 2, 3, 0, time.UTC), get("tz"), "row %d", i)
		require.Equal(t, []byte{0, 0xff, 'A'}, get("b"), "row %d", i)
		require.Equal(t, a+b, get("f"), "row %d", i)
	}
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
