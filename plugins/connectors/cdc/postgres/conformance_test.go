package postgres_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc/postgres"
	"github.com/rmqconnect/rmqconnect/schema"
)

func confName(i int) string { return fmt.Sprintf("row %d — héllo ✓", i) }

// postgres-cdc under the shared source suite, streaming: Setup creates the publication and the slot and the
// task runs with snapshot.mode never, so every row, including those inserted before the task starts, comes
// from the slot (op c). The suite's RestartFromPosition resumes after a record's position; a snapshot record's
// position is not one to resume from (an unfinished snapshot is taken again from the start, as documented in
// docs/connectors.md), so the snapshot path is covered by TestSnapshotThenChanges and the restart tests instead.
func TestPostgresCDCConformance(t *testing.T) {
	var h *harness
	conformance.TestSource(t, conformance.SourceHarness{
		NewConnector: func() plugins.SourceConnector { return postgres.NewConnector() },
		Setup: func(t *testing.T) map[string]string {
			h = newHarness(t, map[string]string{"snapshot.mode": "never"})
			h.exec(`CREATE TABLE items (id INT PRIMARY KEY, name TEXT NOT NULL)`,
				`CREATE PUBLICATION pub FOR ALL TABLES`,
				fmt.Sprintf(`SELECT pg_create_logical_replication_slot('%s', 'pgoutput')`, h.slot))
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
			require.Equal(t, "srv-public-items", r.Topic, "record %d", i)
			op, _ := r.Value.(*schema.Struct).Get("op")
			require.Equal(t, "c", op, "record %d", i)
			require.Equal(t, fmt.Sprintf("{id=%d}", i+1), rowString(r.Key.(*schema.Struct)), "record %d: key", i)
			after, err := r.Value.(*schema.Struct).Get("after")
			require.NoError(t, err)
			require.Equal(t, fmt.Sprintf("{id=%d,name=%s}", i+1, confName(i)), rowString(after.(*schema.Struct)), "record %d", i)
		},
		// The harness's admin pool (closed by its cleanup, after the suite's leak check).
		IgnoreGoroutines: []goleak.Option{goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener")},
	})
}
