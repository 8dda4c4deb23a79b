package jdbc_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The database harness keeps an admin connection pool for the whole process.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
		goleak.IgnoreAnyFunction("github.com/go-sql-driver/mysql.(*mysqlConn).startWatcher.func1"))
}
