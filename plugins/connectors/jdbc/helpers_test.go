package jdbc_test

import (
	"strings"
	"testing"

	"github.com/rmqconnect/rmqconnect/tests/dbtest"
)

var kinds = []dbtest.Kind{dbtest.Postgres, dbtest.MariaDB}

// forEachDB runs fn as a subtest against a fresh database of each kind.
func forEachDB(t *testing.T, fn func(t *testing.T, db *dbtest.DB)) {
	for _, k := range kinds {
		t.Run(string(k), func(t *testing.T) { fn(t, dbtest.New(t, k)) })
	}
}

// connCfg is the connection part of a connector config for db, given as a JDBC URL with separate
// credentials, as users paste it.
func connCfg(db *dbtest.DB) map[string]string {
	return map[string]string{"name": "c-" + db.Name, "connection.url": db.JDBCURL(), "connection.user": db.User,
		"connection.password": db.Password}
}

// autoInc is the column definition of an auto-incremented primary key.
func autoInc(db *dbtest.DB) string {
	if db.Kind == dbtest.Postgres {
		return "BIGSERIAL PRIMARY KEY"
	}
	return "BIGINT AUTO_INCREMENT PRIMARY KEY"
}

// q quotes an identifier for db.
func q(db *dbtest.DB, id string) string {
	if db.Kind == dbtest.Postgres {
		return `"` + strings.ReplaceAll(id, `"`, `""`) + `"`
	}
	return "`" + strings.ReplaceAll(id, "`", "``") + "`"
}
