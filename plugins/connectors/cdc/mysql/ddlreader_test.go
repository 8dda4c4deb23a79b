package mysql_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Column names that are non-reserved keywords of index and period definitions (system, period) are
// columns to the DDL reader, in CREATE TABLE and in ALTER TABLE.
func TestKeywordColumnNames(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "schema_only"})
	task := h.start()
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY, system VARCHAR(10), period INT)`, `INSERT INTO t VALUES (1, 'x', 2)`,
		`ALTER TABLE t DROP COLUMN period, ADD COLUMN system2 INT, ADD COLUMN period INT FIRST`, `INSERT INTO t VALUES (3, 2, 'y', 4)`)
	got, err := h.pollUntil(task, 2, 10*time.Second)
	require.NoError(t, err)
	tp := h.topic("t")
	require.Equal(t, []string{tp + " {id=1} c nil->{id=1,system=x,period=2}", tp + " {id=2} c nil->{period=3,id=2,system=y,system2=4}"}, describeAll(got))
}

// A primary key naming its column in another letter case than the column's definition (MySQL names are
// case-insensitive) keys the records by the column.
func TestPrimaryKeyNameCase(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "schema_only"})
	task := h.start()
	h.exec(`CREATE TABLE t (Id INT NOT NULL, v INT, PRIMARY KEY (id))`, `INSERT INTO t VALUES (1, 2)`,
		`CREATE TABLE u (Id INT NOT NULL, V INT)`, `ALTER TABLE u ADD PRIMARY KEY (ID, v)`, `INSERT INTO u VALUES (1, 2)`)
	got, err := h.pollUntil(task, 2, 10*time.Second)
	require.NoError(t, err)
	require.Equal(t, []string{h.topic("t") + " {Id=1} c nil->{Id=1,v=2}", h.topic("u") + " {Id=1,V=2} c nil->{Id=1,V=2}"}, describeAll(got))
}
