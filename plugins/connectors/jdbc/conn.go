package jdbc

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/rmqconnect/rmqconnect/plugins"
)

// dialectKind is the SQL family a connection speaks.
type dialectKind int

const (
	postgresDialect dialectKind = iota + 1
	mysqlDialect
)

// target is a parsed connection.url: which database, where, and how to open it.
type target struct {
	dialect  dialectKind
	server   string // "postgres 127.0.0.1:5432/db", for traces; never holds credentials
	password string // to scrub from errors
	open     func() (*sql.DB, error)
}

// parseTarget reads connection.url (a JDBC URL or the driver's own DSN) plus connection.user and
// connection.password, which win over credentials in the URL.
func parseTarget(rawURL, user string, password plugins.Password) (*target, error) {
	rawURL = strings.TrimSpace(rawURL)
	pw := password.Value()
	switch {
	case strings.HasPrefix(rawURL, "jdbc:postgresql:"):
		return postgresTarget(strings.TrimPrefix(rawURL, "jdbc:"), user, pw, true)
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"),
		strings.Contains(rawURL, "host=") && !strings.Contains(rawURL, "@tcp("):
		return postgresTarget(rawURL, user, pw, false)
	case strings.HasPrefix(rawURL, "jdbc:mysql:"), strings.HasPrefix(rawURL, "jdbc:mariadb:"):
		return mysqlJDBCTarget(rawURL, user, pw)
	case strings.Contains(rawURL, "@tcp("), strings.Contains(rawURL, "@unix("), strings.Contains(rawURL, "@/"):
		c, err := mysql.ParseDSN(rawURL)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnsupportedURL, scrub(err, pw))
		}
		return mysqlTarget(c, user, pw), nil
	}
	return nil, fmt.Errorf("%w: expected jdbc:postgresql://, jdbc:mysql://, jdbc:mariadb://, postgres:// or "+
		"user:password@tcp(host:port)/db", ErrUnsupportedURL)
}

// postgresTarget parses a postgres:// URL or key=value DSN; from a JDBC URL only the parameters pgx knows
// by the same meaning are kept (JDBC driver options such as loggerLevel would reach the server as
// run-time parameters and be refused).
func postgresTarget(dsn, user, pw string, fromJDBC bool) (*target, error) {
	if fromJDBC {
		u, err := url.Parse(dsn)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnsupportedURL, err)
		}
		q := url.Values{}
		for k, v := range u.Query() {
			switch k {
			case "user":
				if user == "" {
					user = v[0]
				}
			case "password":
				if pw == "" {
					pw = v[0]
				}
			case "sslmode", "application_name", "sslrootcert", "sslcert", "sslkey":
				q[k] = v
			case "ApplicationName":
				q["application_name"] = v
			case "currentSchema":
				q["search_path"] = v
			case "connectTimeout":
				q["connect_timeout"] = v
			}
		}
		u.RawQuery = q.Encode()
		dsn = u.String()
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedURL, scrub(err, pw))
	}
	if user != "" {
		cfg.User = user
	}
	if pw != "" {
		cfg.Password = pw
	}
	pw = cfg.Password
	cfg.RuntimeParams["timezone"] = "UTC"
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	server := fmt.Sprintf("postgres %s/%s", net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), cfg.Database)
	return &target{dialect: postgresDialect, server: server, password: pw,
		open: func() (*sql.DB, error) { return stdlib.OpenDB(*cfg), nil }}, nil
}

// mysqlJDBCTarget parses jdbc:mysql://host:port/db?user=…&password=… (and jdbc:mariadb://).
func mysqlJDBCTarget(raw, user, pw string) (*target, error) {
	u, err := url.Parse(strings.TrimPrefix(raw, "jdbc:"))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedURL, err)
	}
	c := mysql.NewConfig()
	c.Net = "tcp"
	host := u.Host
	if i := strings.IndexByte(host, ','); i >= 0 {
		host = host[:i] // failover host lists: the first one
	}
	if u.Port() == "" {
		host = net.JoinHostPort(strings.Trim(host, "[]"), "3306")
	}
	c.Addr = host
	c.DBName = strings.TrimPrefix(u.Path, "/")
	if u.User != nil {
		c.User = u.User.Username()
		c.Passwd, _ = u.User.Password()
	}
	q := u.Query()
	if v := q.Get("user"); v != "" {
		c.User = v
	}
	if v := q.Get("password"); v != "" {
		c.Passwd = v
	}
	if v := q.Get("connectTimeout"); v != "" {
		if ms, err := strconv.Atoi(v); err == nil {
			c.Timeout = time.Duration(ms) * time.Millisecond
		}
	}
	return mysqlTarget(c, user, pw), nil
}

func mysqlTarget(c *mysql.Config, user, pw string) *target {
	if user != "" {
		c.User = user
	}
	if pw != "" {
		c.Passwd = pw
	}
	c.ParseTime = true
	c.Loc = time.UTC
	if c.Params == nil {
		c.Params = map[string]string{}
	}
	c.Params["time_zone"] = "'+00:00'"
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	c.Logger = &mysql.NopLogger{}
	server := fmt.Sprintf("mysql %s/%s", c.Addr, c.DBName)
	return &target{dialect: mysqlDialect, server: server, password: c.Passwd, open: func() (*sql.DB, error) {
		conn, err := mysql.NewConnector(c)
		if err != nil {
			return nil, err
		}
		return sql.OpenDB(conn), nil
	}}
}

// connect opens and pings the database; a failure is retriable and names the server.
func (t *target) connect(ctx context.Context, maxConns int) (*sql.DB, error) {
	db, err := t.open()
	if err != nil {
		return nil, t.wrap("open", err)
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, t.wrap("connect", err)
	}
	return db, nil
}

// wrap adds the server and the operation to err, scrubs the password from its text, and marks it
// retriable when the database is unreachable or the failure is transient.
func (t *target) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	e := fmt.Errorf("%s: %s: %w", t.server, op, scrub(err, t.password))
	if isTransient(err) {
		return plugins.Retriable(e)
	}
	return e
}

// scrubbed is an error whose text has a secret replaced; it still unwraps to the original.
type scrubbed struct {
	err    error
	secret string
}

func (s *scrubbed) Error() string {
	return strings.ReplaceAll(s.err.Error(), s.secret, plugins.HiddenValue)
}
func (s *scrubbed) Unwrap() error { return s.err }

func scrub(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &scrubbed{err: err, secret: secret}
}

// isTransient reports whether err means "the database is (momentarily) unavailable" rather than "this
// statement or row is wrong".
func isTransient(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, sql.ErrConnDone) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			strings.HasPrefix(pe.Code, "53"),       // insufficient resources
			strings.HasPrefix(pe.Code, "57"),       // operator intervention (shutdown, cancel)
			pe.Code == "40001", pe.Code == "40P01", // serialization failure, deadlock
			pe.Code == "55P03", // lock_not_available: lock_timeout passed waiting for another session
			pe.Code == "25006": // read_only_sql_transaction: a standby, or a primary demoted by a failover
			return true
		}
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1040, 1053, 1205, 1213, 1927, 2002, 2003, 2006, 2013: // too many connections, shutdown, lock wait, deadlock, killed, gone
			return true
		case 1290, 1836: // running with --read-only, running in read-only mode: a replica, or a primary demoted by a failover
			return true
		}
		return false
	}
	return pgconn.SafeToRetry(err) || pgconn.Timeout(err)
}

// isConflict reports whether err is a deadlock or serialization failure: the transaction was rolled back
// and may simply be run again.
func isConflict(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1213 || me.Number == 1205
	}
	return false
}

// isRowError reports whether err is the database rejecting the data of a statement (a constraint, a
// value out of range or of the wrong type), so that the rows may be tried one by one.
func isRowError(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "23")
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1048, 1062, 1136, 1216, 1217, 1264, 1265, 1292, 1366, 1364, 1406, 1451, 1452, 1586, 3819, 4025, 1690, 1411, 1367:
			return true
		}
	}
	return false
}

// isRowTouchedTwice reports whether err is PostgreSQL refusing an INSERT … ON CONFLICT DO UPDATE that
// would update one row twice (21000, cardinality_violation): two of its rows have keys equal in the table.
// Each row alone is fine.
func isRowTouchedTwice(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "21000"
}
