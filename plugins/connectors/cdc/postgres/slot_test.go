package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc/postgres"
)

// A quiet captured table beside a busy table that is not captured: the engine calls Commit only after
// records were produced (the harness likewise), so the task confirms the progress on its own, or the
// server would keep the busy table's WAL for the slot without bound. With the publication FOR ALL TABLES the
// busy table's changes stream and are dropped; FOR TABLE the captured one, only keepalives come.
func TestQuietSlotAdvances(t *testing.T) {
	for _, mode := range []string{postgres.PubAllTables, postgres.PubFiltered} {
		t.Run(mode, func(t *testing.T) {
			h := newHarness(t, map[string]string{"snapshot.mode": "never", "publication.autocreate.mode": mode,
				"table.include.list": `public\.quiet`})
			h.exec(`CREATE TABLE quiet (id INT PRIMARY KEY)`, `CREATE TABLE busy (id INT PRIMARY KEY, pad TEXT)`)
			task := h.start()
			h.exec(`INSERT INTO quiet VALUES (1)`)
			h.poll(task, 1, true)
			var start, written string
			require.NoError(t, h.sql.QueryRow("SELECT pg_current_wal_insert_lsn()::text").Scan(&start))
			h.exec(`INSERT INTO busy SELECT g, repeat('x', 1000) FROM generate_series(1, 4000) g`)
			require.NoError(t, h.sql.QueryRow("SELECT pg_current_wal_insert_lsn()::text").Scan(&written))
			require.Greater(t, lsnValue(t, written)-lsnValue(t, start), uint64(3<<20), "a few MB of WAL")
			// Within less than wal_sender_timeout/2 (30 s), after which the server asks for a reply.
			deadline := time.Now().Add(20 * time.Second)
			for lsnValue(t, h.confirmedFlush()) < lsnValue(t, written) {
				require.True(t, time.Now().Before(deadline), "the slot stays at %s, the WAL is at %s", h.confirmedFlush(), written)
				recs, err := task.Poll(context.Background())
				require.NoError(t, err)
				require.Empty(t, recs, "unexpected records: %v", describeAll(recs))
			}
		})
	}
}

// A slot the server invalidated (wal_status lost: more than max_slot_wal_keep_size of WAL went by while the
// task held records unacknowledged) fails the running task on its reconnect, and a task starting from the
// stored position, with ErrSlotUnusable saying what was lost and what to do, instead of retrying
// START_REPLICATION for ever. The setting is changed on a server of this test's own.
func TestInvalidatedSlotFails(t *testing.T) {
	port, _ := privateServer(t)
	db, err := sql.Open("pgx", fmt.Sprintf("postgres://connect:restart-secret@127.0.0.1:%s/connect?sslmode=disable", port))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	exec := func(s string) {
		t.Helper()
		_, err := db.Exec(s)
		require.NoError(t, err, s)
	}
	exec("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'")
	exec("SELECT pg_reload_conf()")
	t.Cleanup(func() {
		_, _ = db.Exec("ALTER SYSTEM RESET max_slot_wal_keep_size")
		_, _ = db.Exec("SELECT pg_reload_conf()")
	})
	exec("CREATE TABLE t (id INT PRIMARY KEY)")
	exec("CREATE TABLE pad (id INT, pad TEXT)")
	cfg := map[string]string{"database.hostname": "127.0.0.1", "database.port": port, "database.user": "connect",
		"database.password": "restart-secret", "database.dbname": "connect", "database.sslmode": "disable",
		"topic.prefix": "srv", "snapshot.mode": "never", "slot.name": "lost_slot", "poll.interval.ms": "100",
		"retriable.restart.connector.wait.ms": "100"}
	store := conformance.NewPositions()
	h := &harness{t: t, store: store, cfg: cfg}
	task := h.start()
	exec("INSERT INTO t VALUES (1)")
	h.poll(task, 1, true)
	exec("INSERT INTO t VALUES (2)")
	h.poll(task, 1, false) // not acknowledged: the slot stays before it

	require.Eventually(t, func() bool {
		exec("INSERT INTO pad SELECT g, repeat('y', 1000) FROM generate_series(1, 2000) g")
		exec("SELECT pg_switch_wal()")
		exec("CHECKPOINT")
		var status sql.NullString
		require.NoError(t, db.QueryRow("SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'lost_slot'").Scan(&status))
		return status.String == "lost"
	}, 30*time.Second, 100*time.Millisecond)

	deadline := time.Now().Add(30 * time.Second)
	for {
		require.True(t, time.Now().Before(deadline), "the task went on polling")
		if _, err = task.Poll(context.Background()); err != nil {
			break
		}
	}
	require.ErrorIs(t, err, postgres.ErrSlotUnusable)
	require.ErrorContains(t, err, "lost_slot")
	require.ErrorContains(t, err, "invalidated")
	require.ErrorContains(t, err, "pg_drop_replication_slot('lost_slot')")
	require.NoError(t, task.Stop(context.Background()))

	_, err = h.tryStart()
	require.ErrorIs(t, err, postgres.ErrSlotUnusable)
	require.ErrorContains(t, err, "stored position")
}
