// Package dbtest gives tests real PostgreSQL 15 and MariaDB 10.11 databases: New(t, Postgres) returns a
// database of the test's own on a server started once per test run by distribution/bin/db-local.sh, on
// ports and a throwaway data directory of its own (RMQ_TEST_DB_DIR, RMQ_TEST_PG_PORT, RMQ_TEST_MYSQL_PORT
// override them), or on the existing server named by RMQ_TEST_PG_DSN / RMQ_TEST_MYSQL_DSN (then nothing is
// started).
//
// Invariants: a server is started only by the first test that needs it; every test process holding it
// keeps a shared lock on a users file, and a watcher left by db-local.sh stops the servers it started
// once the last holder has exited, however it ended. Database tests are skipped under -short, and fail
// (never skip) when no server can be had.
package dbtest
