package postgres_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc"
	"github.com/rmqconnect/rmqconnect/schema"
)

// The initial snapshot reads every captured table (op r, the last row marked last); then inserts, updates
// and deletes on three tables arrive with their before and after images, in commit order, each delete
// followed by a tombstone.
func TestSnapshotThenChanges(t *testing.T) {
	h := newHarness(t, map[string]string{"table.exclude.list": "public\\.skipped"})
	h.exec(`CREATE TABLE a (id INT PRIMARY KEY, v TEXT)`,
		`CREATE TABLE b (id INT PRIMARY KEY, n BIGINT NOT NULL)`,
		`CREATE TABLE c (k1 INT, k2 TEXT, v TEXT, PRIMARY KEY (k2, k1))`,
		`ALTER TABLE c REPLICA IDENTITY FULL`,
		`CREATE TABLE skipped (id INT PRIMARY KEY)`,
		`INSERT INTO a VALUES (1, 'one'), (2, 'two')`, `INSERT INTO b VALUES (1, 10)`, `INSERT INTO c VALUES (1, 'x', 'cx')`,
		`INSERT INTO skipped VALUES (1)`)
	task := h.start()
	snap := h.poll(task, 4, true)
	require.Equal(t, []string{
		"srv-public-a {id=1} r nil->{id=1,v=one}",
		"srv-public-a {id=2} r nil->{id=2,v=two}",
		"srv-public-b {id=1} r nil->{id=1,n=10}",
		"srv-public-c {k2=x,k1=1} r nil->{k1=1,k2=x,v=cx}",
	}, describeAll(snap))
	require.Equal(t, "true", sourceField(t, snap[0], "snapshot"))
	require.Equal(t, "last", sourceField(t, snap[3], "snapshot"))

	h.exec(`INSERT INTO a VALUES (3, 'three')`,
		`BEGIN; UPDATE a SET v = 'uno' WHERE id = 1; UPDATE b SET n = n + 1; DELETE FROM a WHERE id = 2; INSERT INTO skipped VALUES (2); COMMIT`,
		`UPDATE c SET v = 'cy' WHERE k1 = 1`,
		`UPDATE a SET id = 4 WHERE id = 3`,
		`DELETE FROM c`,
		`UPDATE a SET v = 'ein' WHERE id = 1`)
	got := h.poll(task, 12, true)
	require.Equal(t, []string{
		"srv-public-a {id=3} c nil->{id=3,v=three}",
		"srv-public-a {id=1} u nil->{id=1,v=uno}", // default replica identity: no before image without a key change
		"srv-public-b {id=1} u nil->{id=1,n=11}",
		"srv-public-a {id=2} d {id=2,v=<nil>}->nil", // default replica identity: the key only
		"srv-public-a {id=2} tombstone",
		"srv-public-c {k2=x,k1=1} u {k1=1,k2=x,v=cx}->{k1=1,k2=x,v=cy}", // REPLICA IDENTITY FULL: the whole row
		"srv-public-a {id=3} d {id=3,v=<nil>}->nil",                     // a key change: delete of the old key (the key only),
		"srv-public-a {id=3} tombstone",                                 // its tombstone,
		"srv-public-a {id=4} c nil->{id=4,v=three}",                     // and create of the new one
		"srv-public-c {k2=x,k1=1} d {k1=1,k2=x,v=cy}->nil",
		"srv-public-c {k2=x,k1=1} tombstone",
		"srv-public-a {id=1} u nil->{id=1,v=ein}",
	}, describeAll(got))
	newKey, ok := got[6].Headers.Get(cdc.HeaderNewKey)
	require.True(t, ok, "the key change's delete names the new key")
	require.Equal(t, "{id=4}", rowString(newKey.Value.(*schema.Struct)))
	oldKey, ok := got[8].Headers.Get(cdc.HeaderOldKey)
	require.True(t, ok, "the key change's create names the old key")
	require.Equal(t, "{id=3}", rowString(oldKey.Value.(*schema.Struct)))
	require.Equal(t, "false", sourceField(t, got[0], "snapshot"))
	require.Equal(t, "postgresql", sourceField(t, got[0], "connector"))
	require.Equal(t, h.db.Name, sourceField(t, got[0], "db"))
	h.quiet(task)
}
