package bench

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"golang.org/x/sync/errgroup"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	cdcmysql "github.com/rmqconnect/rmqconnect/plugins/connectors/cdc/mysql"
	cdcpostgres "github.com/rmqconnect/rmqconnect/plugins/connectors/cdc/postgres"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/tests/dbtest"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

// The CDC benchmarks compare one connector task with a raw reader of the same change stream through the same
// library (pglogrepl parsing pgoutput; go-mysql decoding row events), in the same run, over the same
// changes: cdcChanges single-row inserts committed in transactions of cdcTxRows before either reads. Then
// the latency from a change's commit to the record leaving the task's Poll at 1,000 changes/s. Neither
// involves the broker (the engine's send path is measured by the throughput and latency benchmarks).
const (
	cdcChanges = 50_000
	cdcTxRows  = 100
)

const cdcTable = "CREATE TABLE ev (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL, amount DECIMAL(12,2) NOT NULL, at BIGINT NOT NULL)"

func cdcInsert(b *testing.B, conn *sql.DB, first, n int) {
	b.Helper()
	for i := first; i < first+n; i += cdcTxRows {
		var vals []string
		for j := i; j < i+cdcTxRows && j < first+n; j++ {
			vals = append(vals, fmt.Sprintf("(%d, 'name %d', %d.%02d, %d)", j, j, j, j%100, time.Now().UnixNano()))
		}
		if _, err := conn.Exec("INSERT INTO ev VALUES " + strings.Join(vals, ", ")); err != nil {
			b.Fatal(err)
		}
	}
}

type cdcHarness struct {
	name  string
	start func(b *testing.B, db *dbtest.DB, cfg map[string]string) plugins.SourceTask
	cfg   func(db *dbtest.DB) map[string]string
	raw   func(b *testing.B, db *dbtest.DB, n int) time.Duration
	// rawPrepare runs before the changes are made and returns what raw needs (a slot, a position).
	rawPrepare func(b *testing.B, db *dbtest.DB)
}

func startCDCTask(b *testing.B, c plugins.SourceConnector, cfg map[string]string) plugins.SourceTask {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Start(ctx, conformance.ConnectorContextFor(b, c, cfg), cfg); err != nil {
		b.Fatal(err)
	}
	tcs, _ := c.TaskConfigs(1)
	task := c.NewSourceTask()
	if err := task.Start(ctx, conformance.SourceContextFor(b, c.Spec(), nil, tcs[0]), tcs[0]); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = task.Stop(context.Background()) })
	return task
}

// drain polls until n change records came, acknowledging each as the engine does, and returns the time.
func drain(b *testing.B, task plugins.SourceTask, n int, each func(r *schema.Record)) time.Duration {
	b.Helper()
	rc, _ := task.(plugins.RecordCommitter)
	start := time.Now()
	got := 0
	for got < n {
		recs, err := task.Poll(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range recs {
			if rc != nil {
				_ = rc.CommitRecord(context.Background(), r, &plugins.RecordMetadata{})
			}
			if r.Value == nil || strings.HasPrefix(r.Topic, "__") {
				continue
			}
			if each != nil {
				each(r)
			}
			got++
		}
		if time.Since(start) > 5*time.Minute {
			b.Fatalf("only %d of %d changes after 5 min", got, n)
		}
	}
	_ = task.Commit(context.Background())
	return time.Since(start)
}

func pgHarness() cdcHarness {
	const rawSlot = "bench_raw"
	return cdcHarness{
		name: "postgres",
		cfg: func(db *dbtest.DB) map[string]string {
			return map[string]string{"database.hostname": db.Host, "database.port": db.Port, "database.user": db.User,
				"database.password": db.Password, "database.dbname": db.Name, "database.sslmode": "disable",
				"topic.prefix": "bench", "slot.name": "bench_task", "snapshot.mode": "never", "poll.interval.ms": "50"}
		},
		start: func(b *testing.B, db *dbtest.DB, cfg map[string]string) plugins.SourceTask {
			return startCDCTask(b, cdcpostgres.NewConnector(), cfg)
		},
		rawPrepare: func(b *testing.B, db *dbtest.DB) {
			conn := db.Open(b)
			defer conn.Close()
			if _, err := conn.Exec("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", rawSlot); err != nil {
				b.Fatal(err)
			}
		},
		raw: func(b *testing.B, db *dbtest.DB, n int) time.Duration {
			ctx := context.Background()
			u := url.URL{Scheme: "postgres", User: url.UserPassword(db.User, db.Password), Host: db.Host + ":" + db.Port,
				Path: "/" + db.Name, RawQuery: "sslmode=disable&replication=database"}
			conn, err := pgconn.Connect(ctx, u.String())
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close(ctx)
			start := time.Now()
			if err := pglogrepl.StartReplication(ctx, conn, rawSlot, 0, pglogrepl.StartReplicationOptions{
				PluginArgs: []string{"proto_version '1'", "publication_names 'dbz_publication'"}}); err != nil {
				b.Fatal(err)
			}
			got := 0
			for got < n {
				msg, err := conn.ReceiveMessage(ctx)
				if err != nil {
					b.Fatal(err)
				}
				cd, ok := msg.(*pgproto3.CopyData)
				if !ok || cd.Data[0] != pglogrepl.XLogDataByteID {
					continue
				}
				xld, err := pglogrepl.ParseXLogData(cd.Data[1:])
				if err != nil {
					b.Fatal(err)
				}
				m, err := pglogrepl.Parse(xld.WALData)
				if err != nil {
					b.Fatal(err)
				}
				if ins, ok := m.(*pglogrepl.InsertMessage); ok {
					for _, c := range ins.Tuple.Columns {
						_ = string(c.Data) // the text a reader turns into values
					}
					got++
				}
			}
			return time.Since(start)
		},
	}
}

func myHarness() cdcHarness {
	var startPos gmysql.Position
	return cdcHarness{
		name: "mariadb",
		cfg: func(db *dbtest.DB) map[string]string {
			return map[string]string{"database.hostname": db.Host, "database.port": db.Port, "database.user": db.User,
				"database.password": db.Password, "database.server.id": "7001", "topic.prefix": "bench",
				"database.include.list": db.Name, "snapshot.mode": "schema_only", "poll.interval.ms": "50"}
		},
		start: func(b *testing.B, db *dbtest.DB, cfg map[string]string) plugins.SourceTask {
			// The engine hands the task its RocketMQ client for the schema history; a bare task names the cluster.
			cfg[cdcmysql.KeyHistoryNamesrv] = rmqtest.NameServer(b)
			cfg[cdcmysql.KeyHistoryTopic] = rmqtest.Name(b, "hist")
			return startCDCTask(b, cdcmysql.NewConnector(), cfg)
		},
		rawPrepare: func(b *testing.B, db *dbtest.DB) {
			conn := db.Open(b)
			defer conn.Close()
			var a, c any
			if err := conn.QueryRow("SHOW MASTER STATUS").Scan(&startPos.Name, &startPos.Pos, &a, &c); err != nil {
				b.Fatal(err)
			}
		},
		raw: func(b *testing.B, db *dbtest.DB, n int) time.Duration {
			var port uint16
			fmt.Sscan(db.Port, &port)
			syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{ServerID: 7002, Flavor: "mariadb",
				Host: db.Host, Port: port, User: db.User, Password: db.Password, Logger: slog.New(slog.DiscardHandler)})
			defer syncer.Close()
			start := time.Now()
			st, err := syncer.StartSync(startPos)
			if err != nil {
				b.Fatal(err)
			}
			got := 0
			for got < n {
				ev, err := st.GetEvent(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				if re, ok := ev.Event.(*replication.RowsEvent); ok && string(re.Table.Schema) == db.Name {
					got += len(re.Rows)
				}
			}
			return time.Since(start)
		},
	}
}

// BenchmarkCDCThroughput: change events per second of one task against the raw library reader.
func BenchmarkCDCThroughput(b *testing.B) {
	for _, h := range []cdcHarness{pgHarness(), myHarness()} {
		b.Run(h.name, func(b *testing.B) {
			kind := dbtest.Postgres
			if h.name == "mariadb" {
				kind = dbtest.MariaDB
			}
			db := dbtest.New(b, kind)
			db.Exec(b, cdcTable)
			if kind == dbtest.Postgres {
				b.Cleanup(func() {
					conn := db.Open(b)
					defer conn.Close()
					_, _ = conn.Exec("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name IN ('bench_raw', 'bench_task')")
				})
			}
			task := h.start(b, db, h.cfg(db)) // creates the task's slot (or takes the position) before the changes
			h.rawPrepare(b, db)
			conn := db.Open(b)
			cdcInsert(b, conn, 0, cdcChanges)
			_ = conn.Close()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				raw := h.raw(b, db, cdcChanges)
				took := drain(b, task, cdcChanges, nil)
				b.ReportMetric(float64(cdcChanges)/raw.Seconds(), "raw-events/s")
				b.ReportMetric(float64(cdcChanges)/took.Seconds(), "task-events/s")
				b.ReportMetric(raw.Seconds()/took.Seconds(), "task/raw")
			}
		})
	}
}

// BenchmarkCDCLatency: commit → out of the task's Poll at 1,000 changes/s for 5 s (one row per transaction,
// its commit time in the row).
func BenchmarkCDCLatency(b *testing.B) {
	const rate, seconds = 1000, 5
	for _, h := range []cdcHarness{pgHarness(), myHarness()} {
		b.Run(h.name, func(b *testing.B) {
			kind := dbtest.Postgres
			if h.name == "mariadb" {
				kind = dbtest.MariaDB
			}
			db := dbtest.New(b, kind)
			db.Exec(b, cdcTable)
			if kind == dbtest.Postgres {
				b.Cleanup(func() {
					conn := db.Open(b)
					defer conn.Close()
					_, _ = conn.Exec("SELECT pg_drop_replication_slot('bench_task')")
				})
			}
			task := h.start(b, db, h.cfg(db))
			for i := 0; i < b.N; i++ {
				conn := db.Open(b)
				conn.SetMaxOpenConns(8)
				var lat []time.Duration
				var g errgroup.Group
				g.Go(func() error {
					tick := time.NewTicker(time.Second / rate)
					defer tick.Stop()
					for j := 0; j < rate*seconds; j++ {
						<-tick.C
						id := i*rate*seconds + j
						if _, err := conn.Exec(fmt.Sprintf("INSERT INTO ev VALUES (%d, 'n', 1.00, %d)", id, time.Now().UnixNano())); err != nil {
							return err
						}
					}
					return nil
				})
				drain(b, task, rate*seconds, func(r *schema.Record) {
					after, _ := r.Value.(*schema.Struct).Get("after")
					at, _ := after.(*schema.Struct).Get("at")
					lat = append(lat, time.Since(time.Unix(0, at.(int64))))
				})
				if err := g.Wait(); err != nil {
					b.Fatal(err)
				}
				_ = conn.Close()
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			}
		})
	}
}
