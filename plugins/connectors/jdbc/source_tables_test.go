package jdbc_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/jdbc"
	"github.com/rmqconnect/rmqconnect/tests/dbtest"
)

// Bulk mode with several tables in one task, in pages smaller than a table: every row of every table
// arrives once, each table's rows in order. (A table's open read used to hold a connection while the
// next table was read, and the task's pool of two ran dry: Poll waited for a connection forever.)
func TestSourceBulkSeveralTablesInOneTask(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		for _, tb := range []string{"a", "b", "c"} {
			db.Exec(t, "CREATE TABLE "+tb+" (id INT PRIMARY KEY, v VARCHAR(10))",
				"INSERT INTO "+tb+" VALUES (1, 'x'), (2, 'y'), (3, 'z')")
		}
		cfg := connCfg(db)
		cfg["table.whitelist"] = "a,b,c"
		cfg["batch.max.rows"] = "2"
		cfg["poll.interval.ms"] = "3600000" // one pass over the tables
		_, task, _ := startSource(t, cfg, nil)
		recs := conformance.PollN(t, task, 9, 10*time.Second)
		require.Len(t, recs, 9)
		ids := map[string][]int32{}
		for _, r := range recs {
			ids[r.Topic] = append(ids[r.Topic], field(t, r, "id").(int32))
		}
		for _, tb := range []string{"a", "b", "c"} {
			require.Equal(t, []int32{1, 2, 3}, ids[tb], tb)
		}
		require.NoError(t, task.Stop(context.Background()))
	})
}

// Stop returns while a Poll waits on the database with a context nobody cancels (here for a table another
// session has locked), in bulk mode and in an incremental mode, and that Poll returns too.
func TestSourceStopEndsAWaitingPoll(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		for _, mode := range []string{"bulk", "incrementing"} {
			t.Run(mode, func(t *testing.T) { stopEndsAWaitingPoll(t, db, mode) })
		}
	})
}

func stopEndsAWaitingPoll(t *testing.T, db *dbtest.DB, mode string) {
	table := "locked_" + mode
	db.Exec(t, "CREATE TABLE "+table+" (id INT PRIMARY KEY)", "INSERT INTO "+table+" VALUES (1)")
	cfg := connCfg(db)
	cfg["table.whitelist"] = table
	cfg["mode"] = mode
	cfg["incrementing.column.name"] = "id"
	_, task, _ := startSource(t, cfg, nil)

	locker := db.Open(t)
	defer locker.Close()
	conn, err := locker.Conn(context.Background())
	require.NoError(t, err)
	defer conn.Close()
	lock := []string{"BEGIN", "LOCK TABLE " + table + " IN ACCESS EXCLUSIVE MODE"}
	if db.Kind != dbtest.Postgres {
		lock = []string{"LOCK TABLES " + table + " WRITE"}
	}
	for _, s := range lock {
		_, err := conn.ExecContext(context.Background(), s)
		require.NoError(t, err, s)
	}
	defer unlock(t, db, conn)

	polled := make(chan error, 1)
	go func() {
		_, err := task.Poll(context.Background())
		polled <- err
	}()
	waitBlocked(t, db, table)
	stopped := make(chan error, 1)
	go func() { stopped <- task.Stop(context.Background()) }()
	select {
	case err := <-stopped:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		unlock(t, db, conn) // so the goroutines end before the leak check
		<-stopped
		t.Fatal("Stop waited for the Poll, which waited for the lock")
	}
	select {
	case err := <-polled:
		require.NoError(t, err, "a Poll ended by Stop returns no error")
	case <-time.After(10 * time.Second):
		t.Fatal("the Poll did not return after Stop")
	}
}

func unlock(t *testing.T, db *dbtest.DB, conn *sql.Conn) {
	t.Helper()
	s := "ROLLBACK"
	if db.Kind != dbtest.Postgres {
		s = "UNLOCK TABLES"
	}
	_, _ = conn.ExecContext(context.Background(), s)
}

// waitBlocked waits until a session of db waits for a lock on table.
func waitBlocked(t *testing.T, db *dbtest.DB, table string) {
	t.Helper()
	q := "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
	if db.Kind != dbtest.Postgres {
		q = "SELECT count(*) FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND STATE LIKE '%metadata lock%'"
	}
	require.Eventually(t, func() bool {
		rows := db.Query(t, q)
		n, _ := rows[0][0].(int64)
		return n > 0
	}, 10*time.Second, 10*time.Millisecond, "a session waiting for the lock on %s", table)
}

// table.whitelist may name a view, and, on PostgreSQL, a table of another schema of the search path; a
// name that is none of these fails Start, naming it, instead of being left out without a word.
func TestSourceWhitelistViewsAndUnknownTables(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		db.Exec(t, "CREATE TABLE base (id INT PRIMARY KEY, v VARCHAR(10))", "INSERT INTO base VALUES (1, 'x'), (2, 'y')",
			"CREATE VIEW seen AS SELECT id, v FROM base WHERE id > 1")
		cfg := connCfg(db)
		cfg["mode"] = "incrementing"
		cfg["incrementing.column.name"] = "id"
		cfg["table.whitelist"] = "seen"
		c, task, _ := startSource(t, cfg, nil)
		tcs, err := c.TaskConfigs(1)
		require.NoError(t, err)
		require.Equal(t, "seen", tcs[0]["task.tables"])
		recs := conformance.PollN(t, task, 1, 10*time.Second)
		require.Equal(t, "seen", recs[0].Topic)
		require.Equal(t, int32(2), field(t, recs[0], "id"))

		cfg["table.whitelist"] = "base,nosuch"
		err = startErr(t, cfg)
		require.ErrorIs(t, err, cfgerr.ErrInvalid)
		require.ErrorContains(t, err, "table.whitelist")
		require.ErrorContains(t, err, `"nosuch"`)

		if db.Kind != dbtest.Postgres {
			return
		}
		db.Exec(t, "CREATE SCHEMA other", "CREATE TABLE other.elsewhere (id INT PRIMARY KEY, v TEXT NOT NULL)",
			"INSERT INTO other.elsewhere VALUES (7, 'z')")
		cfg["table.whitelist"] = "elsewhere"
		require.ErrorContains(t, startErr(t, cfg), `"elsewhere"`, "not on the search path")

		cfg["connection.url"] = db.DSN() + "&search_path=public,other"
		c, task, _ = startSource(t, cfg, nil)
		tcs, err = c.TaskConfigs(1)
		require.NoError(t, err)
		require.Equal(t, "other.elsewhere", tcs[0]["task.tables"], "found through the search path")
		recs = conformance.PollN(t, task, 1, 10*time.Second)
		require.Equal(t, "elsewhere", recs[0].Topic)
		require.Equal(t, "z", field(t, recs[0], "v"))
		require.False(t, fieldSchema(t, recs[0], "v").Optional, "the catalog of its own schema is read")
		require.Equal(t, []string{"id"}, recs[0].KeySchema.FieldNames())
	})
}

// startErr is the error of starting a connector on cfg.
func startErr(t *testing.T, cfg map[string]string) error {
	t.Helper()
	c := jdbc.NewSourceConnector()
	cctx := conformance.ConnectorContextFor(t, c, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := c.Start(ctx, cctx, cfg)
	_ = c.Stop(context.Background())
	require.Error(t, err)
	return err
}
