package mysql_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

// The tests need a broker (the schema history topic); the database harness keeps an admin
// connection pool for the whole process.
func TestMain(m *testing.M) {
	rmqtest.MainLeakChecked(m,
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
		goleak.IgnoreAnyFunction("github.com/go-sql-driver/mysql.(*mysqlConn).startWatcher.func1"))
}
