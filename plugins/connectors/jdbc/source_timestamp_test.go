package jdbc_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/tests/dbtest"
)

// tsType is the column type of a timestamp with digits fractional digits.
func tsType(db *dbtest.DB, digits int) string {
	if db.Kind == dbtest.Postgres {
		return fmt.Sprintf("TIMESTAMP(%d)", digits)
	}
	return fmt.Sprintf("DATETIME(%d)", digits)
}

func timestampCfg(db *dbtest.DB, table string) map[string]string {
	cfg := connCfg(db)
	cfg["mode"] = "timestamp"
	cfg["timestamp.column.name"] = "ts"
	cfg["table.whitelist"] = table
	return cfg
}

// pollSizes polls until n records came or timeout passed and returns them with the size of each
// non-empty batch.
func pollSizes(t *testing.T, task plugins.SourceTask, n int, timeout time.Duration) ([]*schema.Record, []int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*schema.Record
	var sizes []int
	for len(out) < n && ctx.Err() == nil {
		recs, err := task.Poll(ctx)
		if ctx.Err() == nil {
			require.NoError(t, err)
		}
		if len(recs) > 0 {
			out, sizes = append(out, recs...), append(sizes, len(recs))
		}
	}
	return out, sizes
}

// pollQuiet polls for a while and returns what came.
func pollQuiet(t *testing.T, task plugins.SourceTask, d time.Duration) []*schema.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out []*schema.Record
	for ctx.Err() == nil {
		recs, err := task.Poll(ctx)
		if ctx.Err() == nil {
			require.NoError(t, err)
		}
		out = append(out, recs...)
	}
	return out
}

func keyOf(t *testing.T, r *schema.Record) string {
	t.Helper()
	var parts []string
	for _, f := range r.KeySchema.Fields {
		parts = append(parts, fmt.Sprint(r.Key.(*schema.Struct).GetIndex(f.Index)))
	}
	return strings.Join(parts, "/")
}

// Rows sharing one timestamp are paged by the primary key (one column, or several of integers and
// strings): no poll returns more than batch.max.rows records, a backlog is read without waiting
// poll.interval.ms between pages, and a restart from a record in the middle of a tie resumes right after
// it, from a position that went through JSON as a store keeps it.
func TestSourceTimestampTiesArePagedByKey(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		ts := tsType(db, 3)
		db.Exec(t, "CREATE TABLE tie1 (id INT PRIMARY KEY, ts "+ts+" NOT NULL)",
			"CREATE TABLE tie2 (grp INT NOT NULL, name VARCHAR(10) NOT NULL, ts "+ts+" NOT NULL, PRIMARY KEY (grp, name))",
			// Inserted out of key order: the key, not the insertion, orders a tie.
			"INSERT INTO tie1 VALUES (6, '2020-01-02 00:00:00'), (9, '2020-01-01 00:00:00'), (2, '2020-01-02 00:00:00'), "+
				"(4, '2020-01-02 00:00:00'), (3, '2020-01-02 00:00:00'), (5, '2020-01-02 00:00:00'), (1, '2020-01-03 00:00:00')",
			"INSERT INTO tie2 VALUES (2, 'a', '2020-01-02 00:00:00'), (9, 'z', '2020-01-01 00:00:00'), (1, 'b', '2020-01-02 00:00:00'), "+
				"(1, 'c', '2020-01-02 00:00:00'), (10, 'a', '2020-01-02 00:00:00'), (1, 'a', '2020-01-02 00:00:00'), "+
				"(0, 'a', '2020-01-03 00:00:00')")
		for table, want := range map[string][]string{
			"tie1": {"9", "2", "3", "4", "5", "6", "1"},
			"tie2": {"9/z", "1/a", "1/b", "1/c", "2/a", "10/a", "0/a"},
		} {
			t.Run(table, func(t *testing.T) {
				cfg := timestampCfg(db, table)
				cfg["batch.max.rows"] = "2"
				cfg["poll.interval.ms"] = "3600000"
				store := conformance.NewPositions()
				_, task, _ := startSource(t, cfg, store)
				recs, sizes := pollSizes(t, task, 7, 10*time.Second)
				var got []string
				for _, r := range recs {
					got = append(got, keyOf(t, r))
				}
				require.Equal(t, want, got, "every row once, by timestamp then key")
				require.Equal(t, []int{2, 2, 2, 1}, sizes, "pages of batch.max.rows, read back to back")
				require.NoError(t, task.Stop(context.Background()))

				mid := recs[3] // the third of the five rows of 2020-01-02
				store.Set(mid.SourcePartition, conformance.JSONRoundTrip(t, mid.Offset()))
				_, task, _ = startSource(t, cfg, store)
				recs, _ = pollSizes(t, task, 3, 10*time.Second)
				got = nil
				for _, r := range recs {
					got = append(got, keyOf(t, r))
				}
				require.Equal(t, want[4:], got, "resumes right after the committed row of the tie")
				require.Empty(t, pollQuiet(t, task, 300*time.Millisecond))
			})
		}
	})
}

// Without a key to page by, a page cut at a tie still reports that more rows follow: a backlog is read
// without waiting poll.interval.ms between pages, every row once.
func TestSourceTimestampKeylessBacklog(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		db.Exec(t, "CREATE TABLE nokey (n INT NOT NULL, ts "+tsType(db, 3)+" NOT NULL)")
		var vals []string
		for i := range 20 {
			vals = append(vals, fmt.Sprintf("(%d, '2020-01-01 00:00:%02d')", i, i/2)) // two rows a timestamp
		}
		db.Exec(t, "INSERT INTO nokey VALUES "+strings.Join(vals, ", "))
		cfg := timestampCfg(db, "nokey")
		cfg["batch.max.rows"] = "3"
		cfg["poll.interval.ms"] = "3600000"
		_, task, _ := startSource(t, cfg, nil)
		recs, sizes := pollSizes(t, task, 20, 10*time.Second)
		require.Len(t, recs, 20, "polls: %v", sizes)
		seen := map[int32]bool{}
		for _, r := range recs {
			n := field(t, r, "n").(int32)
			require.False(t, seen[n], "row %d twice", n)
			seen[n] = true
		}
		for _, s := range sizes {
			require.LessOrEqual(t, s, 3)
		}
	})
}

// Without a key to page by, the rows of one timestamp come in one poll; a tie beyond what a poll may hold
// fails the poll with an error that says so, instead of loading it whole.
func TestSourceTimestampKeylessTieTooLarge(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		gen := "SELECT g, '2020-01-01' FROM generate_series(1, 100001) g"
		if db.Kind != dbtest.Postgres {
			gen = "SELECT seq, '2020-01-01' FROM seq_1_to_100001"
		}
		db.Exec(t, "CREATE TABLE bigtie (n INT NOT NULL, ts "+tsType(db, 3)+" NOT NULL)", "INSERT INTO bigtie "+gen,
			"INSERT INTO bigtie VALUES (0, '2019-01-01'), (-1, '2019-01-01'), (-2, '2019-01-02')")
		cfg := timestampCfg(db, "bigtie")
		cfg["batch.max.rows"] = "2"
		cfg["poll.interval.ms"] = "10"
		_, task, _ := startSource(t, cfg, nil)
		recs := conformance.PollN(t, task, 3, 10*time.Second) // ties that fit in a poll come whole
		require.Len(t, recs, 3)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var err error
		for err == nil && ctx.Err() == nil {
			_, err = task.Poll(ctx)
		}
		require.ErrorContains(t, err, "more than 100000 rows share the timestamp 2020-01-01T00:00:00Z")
		require.ErrorContains(t, err, "primary key")
		require.False(t, plugins.IsRetriable(err))
	})
}

// A row written after a poll, in the same second as a row that poll delivered, to a column of whole
// seconds (MariaDB DATETIME, PostgreSQL timestamp(0)), is not skipped: the rows of the current second
// wait until it has passed. The late row has a key below the delivered one's, so paging a tie by the key
// does not find it either; a table without a key is read alike.
func TestSourceTimestampCoarseColumnLosesNoRow(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		typ, now := tsType(db, 0), "UTC_TIMESTAMP()"
		if db.Kind == dbtest.Postgres {
			now = "date_trunc('second', now() AT TIME ZONE 'UTC')"
		}
		for attempt := range 5 {
			tables := []string{fmt.Sprintf("coarse_key%d", attempt), fmt.Sprintf("coarse_nokey%d", attempt)}
			db.Exec(t, "CREATE TABLE "+tables[0]+" (id INT PRIMARY KEY, ts "+typ+" NOT NULL)",
				"CREATE TABLE "+tables[1]+" (id INT NOT NULL, ts "+typ+" NOT NULL)")
			var tasks []plugins.SourceTask
			for _, table := range tables {
				cfg := timestampCfg(db, table)
				cfg["poll.interval.ms"] = "10"
				_, task, _ := startSource(t, cfg, nil)
				tasks = append(tasks, task)
			}
			// Early in a second, so that what follows most likely happens within it.
			time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 20*time.Millisecond)))
			var first [][]*schema.Record
			for i, table := range tables {
				db.Exec(t, "INSERT INTO "+table+" VALUES (1, "+now+")")
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				recs, err := tasks[i].Poll(ctx)
				cancel()
				require.NoError(t, err)
				first = append(first, recs)
			}
			same := true
			for _, table := range tables {
				db.Exec(t, "INSERT INTO "+table+" SELECT 0, ts FROM (SELECT ts FROM "+table+" WHERE id = 1) x")
				rows := db.Query(t, "SELECT COUNT(*) FROM "+table+" WHERE id = 1 AND ts = "+now)
				n, _ := rows[0][0].(int64)
				same = same && n == 1
			}
			if !same {
				for _, task := range tasks {
					require.NoError(t, task.Stop(context.Background()))
				}
				continue // the second passed meanwhile: the case is not made; again
			}
			for i, table := range tables {
				var ids []int32
				rest, _ := pollSizes(t, tasks[i], 2-len(first[i]), 5*time.Second)
				for _, r := range append(first[i], rest...) {
					ids = append(ids, field(t, r, "id").(int32))
				}
				require.ElementsMatch(t, []int32{0, 1}, ids, table)
			}
			return
		}
		t.Fatal("no attempt did its steps within one second")
	})
}
