package jdbc

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
)

func TestParseTargetURLs(t *testing.T) {
	tests := []struct {
		url, user, pw string
		dialect       dialectKind
		server        string
	}{
		{"jdbc:postgresql://db.example:5433/shop?user=u&password=p&loggerLevel=OFF", "", "", postgresDialect, "postgres db.example:5433/shop"},
		{"jdbc:postgresql://db.example/shop", "me", "pw", postgresDialect, "postgres db.example:5432/shop"},
		{"postgres://u:p@10.0.0.1:6543/x?sslmode=disable", "", "", postgresDialect, "postgres 10.0.0.1:6543/x"},
		{"host=h port=7000 dbname=d user=u password=p", "", "", postgresDialect, "postgres h:7000/d"},
		{"jdbc:mysql://db.example:3307/shop?useSSL=false", "u", "p", mysqlDialect, "mysql db.example:3307/shop"},
		{"jdbc:mariadb://db.example/shop", "u", "p", mysqlDialect, "mysql db.example:3306/shop"},
		{"u:p@tcp(127.0.0.1:3308)/x", "", "", mysqlDialect, "mysql 127.0.0.1:3308/x"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			tg, err := parseTarget(tt.url, tt.user, plugins.Password(tt.pw))
			require.NoError(t, err)
			require.Equal(t, tt.dialect, tg.dialect)
			require.Equal(t, tt.server, tg.server)
			require.NotEmpty(t, tg.password)
		})
	}
	_, err := parseTarget("jdbc:oracle:thin:@h:1521:x", "", "")
	require.ErrorIs(t, err, ErrUnsupportedURL)
}

func TestConnectionUserAndPasswordOverrideTheURL(t *testing.T) {
	tg, err := parseTarget("jdbc:postgresql://h/d?user=a&password=b", "c", "d")
	require.NoError(t, err)
	require.Equal(t, "d", tg.password)
	tg, err = parseTarget("a:b@tcp(h:1)/d", "c", "d")
	require.NoError(t, err)
	require.Equal(t, "d", tg.password)
}

// A database that is not there is a retriable error naming the server, and the password appears nowhere.
func TestUnreachableDatabaseIsRetriableAndHidesThePassword(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there any more
	const secret = "s3cr3t-pa55"
	for _, url := range []string{"jdbc:postgresql://" + addr + "/db?password=" + secret, "jdbc:mysql://" + addr + "/db"} {
		t.Run(url[:10], func(t *testing.T) {
			tg, err := parseTarget(url, "someone", secret)
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err = tg.connect(ctx, 1)
			require.Error(t, err)
			require.True(t, plugins.IsRetriable(err), "retriable: %v", err)
			require.Contains(t, err.Error(), addr)
			require.NotContains(t, err.Error(), secret)
		})
	}
}

func TestScrubHidesTheSecret(t *testing.T) {
	err := scrub(&pgconn.PgError{Code: "28P01", Message: "password hunter2 is wrong"}, "hunter2")
	require.NotContains(t, err.Error(), "hunter2")
	var pe *pgconn.PgError
	require.ErrorAs(t, err, &pe, "the scrubbed error still unwraps")
}

func TestErrorClasses(t *testing.T) {
	require.True(t, isRowError(&pgconn.PgError{Code: "23505"}))
	require.True(t, isRowError(&pgconn.PgError{Code: "22003"}))
	require.False(t, isRowError(&pgconn.PgError{Code: "08006"}))
	require.True(t, isTransient(&pgconn.PgError{Code: "08006"}))
	require.True(t, isTransient(&pgconn.PgError{Code: "57P01"}))
	require.False(t, isTransient(&pgconn.PgError{Code: "23505"}))
	require.True(t, isRowTouchedTwice(fmt.Errorf("write: %w", &pgconn.PgError{Code: "21000"})))
	require.False(t, isRowTouchedTwice(&pgconn.PgError{Code: "23505"}))
	require.False(t, isTransient(&pgconn.PgError{Code: "21000"}), "the same statement fails again")
	require.True(t, isRowError(&mysql.MySQLError{Number: 1062}))
	require.True(t, isTransient(&mysql.MySQLError{Number: 1213}))
	require.False(t, isTransient(&mysql.MySQLError{Number: 1062}))
	// A lock timeout and a read-only server (a standby, a demoted primary) pass; the sink's DDL waits them out.
	require.True(t, isTransient(&pgconn.PgError{Code: "55P03"}))
	require.True(t, isTransient(&pgconn.PgError{Code: "25006"}))
	require.True(t, isTransient(&mysql.MySQLError{Number: 1290}))
	require.True(t, isTransient(&mysql.MySQLError{Number: 1836}))
	require.False(t, isTransient(&pgconn.PgError{Code: "42809"}), "wrong object type: ALTER TABLE on a view")
}

func TestSmallDecimalAgreesWithParseDecimal(t *testing.T) {
	var a arena
	for _, tt := range []struct {
		s     string
		scale int32
	}{{"12.34", 2}, {"-0.05", 2}, {"0", 0}, {"-17", 0}, {"123456789012345.6789", 4}, {"1.5", 2},
		{"9223372036854775807", 0}, {"-9223372036854775808", 0}, {"+1.00", 2}, {"-0.00", 2}, {"12.", 0}, {".5", 1},
		{"1E+3", 0}, {"123456789012345678.9", 1}, {"999999999999999999", 0}, {"1.20", 1}} {
		want, err := schema.ParseDecimal(tt.s)
		require.NoError(t, err)
		want, err = want.Rescale(tt.scale)
		require.NoError(t, err)
		for _, a := range []*arena{nil, &a} {
			for _, v := range []any{tt.s, []byte(tt.s)} { // PostgreSQL's text, MySQL's bytes
				c := colConv{name: "x", kind: kDecimal, scale: tt.scale}
				got, err := c.value(v, a)
				require.NoError(t, err, tt.s)
				require.True(t, want.Equal(got.(schema.Decimal)), "%s: %v vs %v", tt.s, got, want)
				require.Equal(t, tt.scale, got.(schema.Decimal).Scale)
				require.Equal(t, want.Unscaled.Sign(), got.(schema.Decimal).Unscaled.Sign(), tt.s)
			}
		}
	}
}

// FuzzSmallDecimal: whenever the fast path accepts a string, it agrees with the full parse.
func FuzzSmallDecimal(f *testing.F) {
	for _, s := range []string{"12.34", "-0.05", "1.", "+7", "-", ".", "1e5", "99999999999999999.99"} {
		f.Add(s, int32(2))
	}
	f.Fuzz(func(t *testing.T, s string, scale int32) {
		n, ok := smallDecimal(s, scale)
		if nb, okb := smallDecimal([]byte(s), scale); nb != n || okb != ok {
			t.Fatalf("%q: string %d %v, bytes %d %v", s, n, ok, nb, okb)
		}
		if !ok {
			return
		}
		want, err := schema.ParseDecimal(s)
		require.NoError(t, err, s)
		want, err = want.Rescale(scale)
		require.NoError(t, err, s)
		require.True(t, want.Equal(schema.NewDecimal(n, scale)), "%q: %d vs %v", s, n, want)
	})
}
