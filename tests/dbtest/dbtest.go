package dbtest

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/rmqconnect/rmqconnect/tests/localserver"
)

// Ports and credentials of the servers the tests start. They differ from db-local.sh's defaults so the
// tests never disturb servers started by hand.
const (
	testPGPort    = "25432"
	testMySQLPort = "23306"
	testUser      = "connect"
	testPassword  = "connect-test-secret"
	testDatabase  = "connect"
)

// Env vars naming existing servers: an admin URL, in the driver's own DSN form
// (postgres://user:pw@host:port/db and user:pw@tcp(host:port)/db). With one set, nothing is started
// for that server.
const (
	EnvPostgres = "RMQ_TEST_PG_DSN"
	EnvMySQL    = "RMQ_TEST_MYSQL_DSN"
)

// Kind names a database server.
type Kind string

// The servers the harness provides.
const (
	Postgres Kind = "postgres"
	MariaDB  Kind = "mariadb"
)

// DB is a database of its own for one test, dropped when the test ends.
type DB struct {
	Kind Kind
	// Name is the database's name.
	Name string
	// Host and Port locate the server.
	Host, Port string
	// User and Password log in with every right on the database.
	User, Password string
}

// JDBCURL is the database's JDBC URL (credentials not included), as users paste it into connector configs.
func (d *DB) JDBCURL() string {
	if d.Kind == Postgres {
		return fmt.Sprintf("jdbc:postgresql://%s:%s/%s", d.Host, d.Port, d.Name)
	}
	return fmt.Sprintf("jdbc:mariadb://%s:%s/%s", d.Host, d.Port, d.Name)
}

// DSN is the database's URL in its Go driver's own form, credentials included.
func (d *DB) DSN() string { return dsn(d.Kind, d.Host, d.Port, d.User, d.Password, d.Name) }

// Open returns a new connection pool on the database; the caller closes it. (DB keeps none open, so a
// test checking for leaked goroutines around a connector sees none of the harness's.)
func (d *DB) Open(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open(driverName(d.Kind), d.DSN())
	if err != nil {
		t.Fatalf("dbtest: open %s: %v", d.Name, err)
	}
	return db
}

// Exec runs statements on a connection of its own, failing the test on an error.
func (d *DB) Exec(t testing.TB, stmts ...string) {
	t.Helper()
	db := d.Open(t)
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			if len(s) > 200 {
				s = s[:200] + "…"
			}
			t.Fatalf("dbtest: %s: %s: %v", d.Kind, s, err)
		}
	}
}

// Query runs a query on a connection of its own and returns every row, each value as the driver scans it
// into an any.
func (d *DB) Query(t testing.TB, query string, args ...any) [][]any {
	t.Helper()
	db := d.Open(t)
	defer db.Close()
	rows, err := db.Query(query, args...)
	if err != nil {
		t.Fatalf("dbtest: %s: %s: %v", d.Kind, query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatalf("dbtest: %s: %v", d.Kind, err)
	}
	var out [][]any
	for rows.Next() {
		row := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("dbtest: %s: scan: %v", d.Kind, err)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("dbtest: %s: %s: %v", d.Kind, query, err)
	}
	return out
}

// server is one running server (started here or given by an env var).
type server struct {
	once           sync.Once
	err            error
	host, port     string
	user, password string
	admin          *sql.DB // connected to the database named at start; creates and drops the tests' ones
}

var (
	servers = map[Kind]*server{Postgres: {}, MariaDB: {}}
	seq     atomic.Int64
	// usersLock stays open (and locked) until the process exits: closing it, even by the garbage
	// collector's finalizer, would let db-local.sh's watcher stop the servers under the tests.
	usersLock *os.File
	runID     = fmt.Sprintf("%x", time.Now().UnixNano()&0xffffff)
)

// Require skips the test under -short (a database test is never run as a unit test) and otherwise returns
// nothing: a server that cannot be had fails the test in New.
func Require(t testing.TB) {
	t.Helper()
	if !flag.Parsed() {
		flag.Parse()
	}
	if testing.Short() {
		t.Skip("needs a database server; skipped with -short")
	}
}

// New returns a fresh database of kind for this test. The first call in a process starts the server
// (or connects to the one named by RMQ_TEST_PG_DSN / RMQ_TEST_MYSQL_DSN); a server started here is stopped
// once no test process uses it any more. Skipped under -short; fails the test if no server can be had.
func New(t testing.TB, kind Kind) *DB {
	t.Helper()
	Require(t)
	s := servers[kind]
	if s == nil {
		t.Fatalf("dbtest: unknown server kind %q", kind)
	}
	s.once.Do(func() { s.err = s.acquire(kind) })
	if s.err != nil {
		t.Fatalf("dbtest: no %s server for the tests: %v", kind, s.err)
	}
	name := Name(t, "db")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.admin.ExecContext(ctx, "CREATE DATABASE "+quote(kind, name)); err != nil {
		t.Fatalf("dbtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		drop := "DROP DATABASE IF EXISTS " + quote(kind, name)
		if kind == Postgres {
			drop += " WITH (FORCE)"
		}
		if _, err := s.admin.ExecContext(ctx, drop); err != nil {
			t.Errorf("dbtest: drop database %s: %v", name, err)
		}
	})
	return &DB{Kind: kind, Name: name, Host: s.host, Port: s.port, User: s.user, Password: s.password}
}

var nonName = regexp.MustCompile(`[^a-z0-9_]+`)

// Name returns a lower-case SQL identifier unique to this test and run (at most 60 characters).
func Name(t testing.TB, prefix string) string {
	base := nonName.ReplaceAllString(strings.ToLower(t.Name()), "_")
	suffix := fmt.Sprintf("_%s_%d", runID, seq.Add(1))
	if max := 60 - len(prefix) - 1 - len(suffix); len(base) > max {
		base = base[len(base)-max:]
	}
	return prefix + "_" + base + suffix
}

func quote(kind Kind, id string) string {
	if kind == Postgres {
		return `"` + strings.ReplaceAll(id, `"`, `""`) + `"`
	}
	return "`" + strings.ReplaceAll(id, "`", "``") + "`"
}

func driverName(kind Kind) string {
	if kind == Postgres {
		return "pgx"
	}
	return "mysql"
}

func dsn(kind Kind, host, port, user, password, db string) string {
	if kind == Postgres {
		u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: host + ":" + port, Path: "/" + db,
			RawQuery: "sslmode=disable"}
		return u.String()
	}
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr, c.DBName = user, password, "tcp", host+":"+port, db
	c.ParseTime = true
	c.Logger = &mysql.NopLogger{}
	return c.FormatDSN()
}

// acquire connects to the server named by the environment or starts one with db-local.sh.
func (s *server) acquire(kind Kind) error {
	env := EnvPostgres
	if kind == MariaDB {
		env = EnvMySQL
	}
	if v := os.Getenv(env); v != "" {
		return s.fromDSN(kind, v)
	}
	script, err := localserver.Script("db-local.sh", EnvPostgres+" / "+EnvMySQL)
	if err != nil {
		return err
	}
	dataDir, err := localserver.StateDir("RMQ_TEST_DB_DIR", "testdb")
	if err != nil {
		return err
	}
	// Every test process holds a shared lock on the users file while it uses the servers; db-local.sh
	// leaves a watcher behind that stops what it started once nobody holds the lock (the last test
	// process has exited, however it ended).
	if usersLock, err = localserver.Use(filepath.Join(dataDir, "users.lock")); err != nil {
		return err
	}
	pgPort, myPort := envOr("RMQ_TEST_PG_PORT", testPGPort), envOr("RMQ_TEST_MYSQL_PORT", testMySQLPort)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script, "start", string(kind))
	cmd.Env = append(os.Environ(), "DB_DATA_DIR="+dataDir, "DB_PG_PORT="+pgPort, "DB_MYSQL_PORT="+myPort,
		"DB_USER="+testUser, "DB_PASSWORD="+testPassword, "DB_DATABASE="+testDatabase, "DB_CLEAN=1",
		"DB_WATCH_LOCK="+usersLock.Name())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("db-local.sh start %s: %w\n%s", kind, err, out)
	}
	port := pgPort
	if kind == MariaDB {
		port = myPort
	}
	return s.connect(kind, "127.0.0.1", port, testUser, testPassword, testDatabase)
}

func (s *server) fromDSN(kind Kind, v string) error {
	if kind == Postgres {
		u, err := url.Parse(v)
		if err != nil {
			return fmt.Errorf("%s: %w", EnvPostgres, err)
		}
		pw, _ := u.User.Password()
		port := u.Port()
		if port == "" {
			port = "5432"
		}
		return s.connect(kind, u.Hostname(), port, u.User.Username(), pw, strings.TrimPrefix(u.Path, "/"))
	}
	c, err := mysql.ParseDSN(v)
	if err != nil {
		return fmt.Errorf("%s: %w", EnvMySQL, err)
	}
	host, port, ok := strings.Cut(c.Addr, ":")
	if !ok {
		port = "3306"
	}
	return s.connect(kind, host, port, c.User, c.Passwd, c.DBName)
}

func (s *server) connect(kind Kind, host, port, user, password, db string) error {
	s.host, s.port, s.user, s.password = host, port, user, password
	admin, err := sql.Open(driverName(kind), dsn(kind, host, port, user, password, db))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		_ = admin.Close()
		return fmt.Errorf("%s at %s:%s: %w", kind, host, port, err)
	}
	admin.SetMaxIdleConns(0) // no connection (nor its goroutines) outlives a create or drop
	s.admin = admin
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
