package dbtest_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/dbtest"
)

func TestDatabasesAreSeparateAndUsable(t *testing.T) {
	for _, kind := range []dbtest.Kind{dbtest.Postgres, dbtest.MariaDB} {
		t.Run(string(kind), func(t *testing.T) {
			a, b := dbtest.New(t, kind), dbtest.New(t, kind)
			require.NotEqual(t, a.Name, b.Name)
			a.Exec(t, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
			require.Len(t, a.Query(t, "SELECT id FROM t"), 1)
			db := b.Open(t)
			defer db.Close()
			_, err := db.Exec("SELECT count(*) FROM t")
			require.Error(t, err, "a table of one test's database is not visible in another's")
			require.Contains(t, a.JDBCURL(), "jdbc:")
		})
	}
}
