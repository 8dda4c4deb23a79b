package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc/postgres"
)

// publicationTables lists the tables the publication publishes, as schema.table.
func (h *harness) publicationTables() []string {
	h.t.Helper()
	return h.textRows("SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = 'pub' ORDER BY 1")
}

// textRows runs query, of one text column, and returns its rows.
func (h *harness) textRows(query string) []string {
	h.t.Helper()
	rows, err := h.sql.Query(query)
	require.NoError(h.t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		require.NoError(h.t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(h.t, rows.Err())
	return out
}

// A filtered publication follows the table lists across restarts: a table the lists match since it was
// created is added when the task starts from its stored position, and its changes from then on arrive (not
// those made before, which the server decodes with the publication as it was); an unlogged table the lists
// match is left out (a publication cannot hold one). A table the lists no longer match stays in the
// publication, its changes dropped by the task.
func TestFilteredPublicationGainsTables(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "never", "publication.autocreate.mode": postgres.PubFiltered,
		"table.include.list": `public\.a`})
	h.exec(`CREATE TABLE a (id INT PRIMARY KEY)`, `CREATE TABLE b (id INT PRIMARY KEY)`, `CREATE UNLOGGED TABLE u (id INT PRIMARY KEY)`)
	task := h.start()
	require.Equal(t, []string{"public.a"}, h.publicationTables())
	h.exec(`INSERT INTO a VALUES (1)`, `INSERT INTO b VALUES (1)`)
	require.Equal(t, []string{"srv-public-a {id=1} c nil->{id=1}"}, describeAll(h.poll(task, 1, true)))
	h.quiet(task)
	require.NoError(t, task.Stop(context.Background()))

	h.exec(`INSERT INTO b VALUES (2)`) // before the publication has b
	h.cfg["table.include.list"] = `public\.(a|b|u)`
	task, logs := h.startLogged()
	require.Equal(t, []string{"public.a", "public.b"}, h.publicationTables())
	require.Contains(t, logs.String(), "tables added to the publication")
	h.exec(`INSERT INTO b VALUES (3)`, `INSERT INTO a VALUES (2)`, `INSERT INTO u VALUES (1)`)
	require.Equal(t, []string{"srv-public-b {id=3} c nil->{id=3}", "srv-public-a {id=2} c nil->{id=2}"},
		describeAll(h.poll(task, 2, true)))
	h.quiet(task)
	require.NoError(t, task.Stop(context.Background()))

	h.cfg["table.include.list"] = `public\.b`
	task = h.start()
	require.Equal(t, []string{"public.a", "public.b"}, h.publicationTables())
	h.exec(`INSERT INTO a VALUES (3)`, `INSERT INTO b VALUES (4)`)
	require.Equal(t, []string{"srv-public-b {id=4} c nil->{id=4}"}, describeAll(h.poll(task, 1, true)))
	h.quiet(task)
}

// Without a stored position, the tables are added before the snapshot, which then reads them.
func TestFilteredPublicationGainsTablesBeforeSnapshot(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "initial", "publication.autocreate.mode": postgres.PubFiltered,
		"table.include.list": `public\.(a|b)`})
	h.exec(`CREATE TABLE a (id INT PRIMARY KEY)`, `CREATE TABLE b (id INT PRIMARY KEY)`, `CREATE PUBLICATION pub FOR TABLE a`,
		`INSERT INTO a VALUES (1)`, `INSERT INTO b VALUES (1)`)
	task := h.start()
	require.Equal(t, []string{"srv-public-a {id=1} r nil->{id=1}", "srv-public-b {id=1} r nil->{id=1}"},
		describeAll(h.poll(task, 2, true)))
	h.exec(`INSERT INTO b VALUES (2)`)
	require.Equal(t, []string{"srv-public-b {id=2} c nil->{id=2}"}, describeAll(h.poll(task, 1, true)))
}

// A publication the connector's user may not alter (another role owns it and the tables) is left as it is:
// the task starts, warning which captured tables it lacks, and captures the others.
func TestFilteredPublicationNotAltered(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "never", "publication.autocreate.mode": postgres.PubFiltered,
		"table.include.list": `public\.(a|b)`})
	user := "cdc_" + strings.ReplaceAll(h.db.Name, "-", "_")
	h.exec(`CREATE TABLE a (id INT PRIMARY KEY)`, `CREATE TABLE b (id INT PRIMARY KEY)`, `CREATE PUBLICATION pub FOR TABLE a`,
		`CREATE ROLE `+user+` LOGIN REPLICATION PASSWORD 'secret'`, `GRANT SELECT ON a, b TO `+user)
	t.Cleanup(func() { _, _ = h.sql.Exec(`DROP OWNED BY ` + user + `; DROP ROLE ` + user) })
	h.cfg["database.user"], h.cfg["database.password"] = user, "secret"
	task, logs := h.startLogged()
	require.Contains(t, logs.String(), "captured tables not in the publication")
	require.Contains(t, logs.String(), `tables=public.b`)
	require.Equal(t, []string{"public.a"}, h.publicationTables())
	h.exec(`INSERT INTO b VALUES (1)`, `INSERT INTO a VALUES (1)`)
	require.Equal(t, []string{"srv-public-a {id=1} c nil->{id=1}"}, describeAll(h.poll(task, 1, true)))
	h.quiet(task)
}

// A filtered publication holding a partitioned table, which the connector's user may not alter: its
// partitions are published through it, so the task says only that they are not added by name (captured
// while attached), not that their changes are lost, and captures them.
func TestFilteredPublicationNotAlteredPartitions(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "never", "publication.autocreate.mode": postgres.PubFiltered,
		"table.include.list": `public\.orders.*`})
	user := "cdc_" + strings.ReplaceAll(h.db.Name, "-", "_")
	h.createOrders()
	h.exec(`CREATE PUBLICATION pub FOR TABLE orders`, `CREATE ROLE `+user+` LOGIN REPLICATION PASSWORD 'secret'`,
		`GRANT SELECT ON orders, orders_2025, orders_2026 TO `+user)
	t.Cleanup(func() { _, _ = h.sql.Exec(`DROP OWNED BY ` + user + `; DROP ROLE ` + user) })
	h.cfg["database.user"], h.cfg["database.password"] = user, "secret"
	task, logs := h.startLogged()
	require.NotContains(t, logs.String(), "their changes are not captured")
	require.Contains(t, logs.String(), "captured partitions published through their partitioned table")
	h.exec(`UPDATE orders SET v = 'a2' WHERE id = 1`)
	require.Equal(t, []string{"srv-public-orders_2025 {id=1,year=2025} u nil->{id=1,year=2025,v=a2}"}, describeAll(h.poll(task, 1, true)))
	h.quiet(task)
}
