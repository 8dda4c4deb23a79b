package mysql_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc/mysql"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

func confName(i int) string { return fmt.Sprintf("row %d — héllo ✓", i) }

// mysql-cdc under the shared source suite, streaming: the task runs with snapshot.mode never (from the start
// of the oldest binlog), so every row, including those inserted before the task starts, comes from the
// binlog (op c). The suite's RestartFromPosition resumes after a record's position; a snapshot record's
// position is not one to resume from (an unfinished snapshot is taken again from the start, as Debezium
// does and docs/connectors.md says), so the snapshot path is covered by the package's other tests.
func TestMySQLCDCConformance(t *testing.T) {
	var h *harness
	conformance.TestSource(t, conformance.SourceHarness{
		NewConnector: func() plugins.SourceConnector { return mysql.NewConnector() },
		Setup: func(t *testing.T) map[string]string {
			h = newHarness(t, map[string]string{"snapshot.mode": "never"})
			h.exec(`CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(100) CHARACTER SET utf8mb4 NOT NULL)`)
			return h.cfg
		},
		Append: func(t *testing.T, _ map[string]string, first, n int) {
			var vals []string
			for i := first; i < first+n; i++ {
				vals = append(vals, fmt.Sprintf("(%d, '%s')", i+1, confName(i)))
			}
			h.exec("INSERT INTO items (id, name) VALUES " + strings.Join(vals, ", "))
		},
		Check: func(t *testing.T, i int, r *schema.Record) {
			require.Equal(t, "srv-"+h.db.Name+"-items", r.Topic, "record %d", i)
			op, _ := r.Value.(*schema.Struct).Get("op")
			require.Equal(t, "c", op, "record %d", i)
			require.Equal(t, fmt.Sprintf("{id=%d}", i+1), rowString(r.Key.(*schema.Struct)), "record %d: key", i)
			after, err := r.Value.(*schema.Struct).Get("after")
			require.NoError(t, err)
			require.Equal(t, fmt.Sprintf("{id=%d,name=%s}", i+1, confName(i)), rowString(after.(*schema.Struct)), "record %d", i)
		},
		// The schema-history producer/consumer's client library and the harness's admin pool (closed by its
		// cleanup, after the suite's leak check).
		IgnoreGoroutines: append(rmqtest.ClientLibraryGoroutines(),
			goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
			goleak.IgnoreAnyFunction("github.com/go-sql-driver/mysql.(*mysqlConn).startWatcher.func1")),
	})
}
