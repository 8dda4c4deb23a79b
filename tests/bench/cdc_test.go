package bench

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
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
// changes: single-row inserts (the harness's changes) committed in transactions of cdcTxRows before either reads. Then
// the latency from a change's commit to the record leaving the task's Poll at 1,000 changes/s. Neither
// involves the broker (the engine's send path is measured by the throughput and latency benchmarks).
const cdcTxRows = 100

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

// cdcSide runs one side of the throughput figure alone, e.g. to profile it with -cpuprofile.
var cdcSide = flag.String("cdc.side", "", "CDC throughput: run only this side (raw or task); empty runs both")

type cdcHarness struct {
	name string
	kind dbtest.Kind
	// changes is how many the throughput figure makes: enough for each side to read for about a third of a
	// second (at 25-70 ms, a scheduling hiccup moved one round's ratio by 10-20 %).
	changes int
	cfg     func(db *dbtest.DB) map[string]string
	// start starts the task of the latency benchmark, streaming from the current position.
	start func(b *testing.B, db *dbtest.DB, cfg map[string]string) plugins.SourceTask
	// prepare runs before the changes are made: it makes what each round's readers need to read them all
	// from their start (slots, the position of the start, the schema history).
	prepare func(b *testing.B, db *dbtest.DB, cfg map[string]string, rounds int)
	// task returns round r's task, started and not yet polled, reading from the start of the changes.
	task func(b *testing.B, db *dbtest.DB, cfg map[string]string, r int) plugins.SourceTask
	// raw reads n changes from the start with the library alone and returns the time.
	raw func(b *testing.B, db *dbtest.DB, r, n int) time.Duration
}

func startCDCTask(b *testing.B, c plugins.SourceConnector, cfg map[string]string, store *conformance.Positions) plugins.SourceTask {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Start(ctx, conformance.ConnectorContextFor(b, c, cfg), cfg); err != nil {
		b.Fatal(err)
	}
	tcs, _ := c.TaskConfigs(1)
	task := c.NewSourceTask()
	if err := task.Start(ctx, conformance.SourceContextFor(b, c.Spec(), store, tcs[0]), tcs[0]); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = task.Stop(context.Background()) })
	return task
}

// drain polls until n change records came, acknowledging each as the engine does, and returns the time.
// With commit, it calls the task's Commit at the end, as the engine does after storing the positions.
func drain(b *testing.B, task plugins.SourceTask, n int, commit bool, each func(r *schema.Record)) time.Duration {
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
	if commit {
		_ = task.Commit(context.Background())
	}
	return time.Since(start)
}

// cdcBatch is the tasks' max.batch.size in the throughput figure: it divides the changes and is a multiple
// of cdcTxRows, so the poll that returns the last change returns at once, not at the end of its poll
// interval (a wait the raw reader, which stops at its last change, does not have).
const cdcBatch = 2000

func pgHarness() cdcHarness {
	return cdcHarness{
		name:    "postgres",
		kind:    dbtest.Postgres,
		changes: 200_000,
		cfg: func(db *dbtest.DB) map[string]string {
			return map[string]string{"database.hostname": db.Host, "database.port": db.Port, "database.user": db.User,
				"database.password": db.Password, "database.dbname": db.Name, "database.sslmode": "disable",
				"topic.prefix": "bench", "slot.name": "bench_task", "snapshot.mode": "never", "poll.interval.ms": "50"}
		},
		start: func(b *testing.B, db *dbtest.DB, cfg map[string]string) plugins.SourceTask {
			return startCDCTask(b, cdcpostgres.NewConnector(), cfg, nil)
		},
		prepare: func(b *testing.B, db *dbtest.DB, cfg map[string]string, _ int) {
			// The first task makes the publication and its slot; the raw reader has a slot of its own. Neither
			// slot moves: the raw reader confirms nothing, and the throughput rounds do not call the task's
			// Commit (which confirms), so each round reads all the changes again.
			cfg["slot.name"] = "bench_task"
			_ = startCDCTask(b, cdcpostgres.NewConnector(), cfg, nil).Stop(context.Background())
			conn := db.Open(b)
			defer conn.Close()
			if _, err := conn.Exec("SELECT pg_create_logical_replication_slot('bench_raw', 'pgoutput')"); err != nil {
				b.Fatal(err)
			}
		},
		task: func(b *testing.B, db *dbtest.DB, cfg map[string]string, r int) plugins.SourceTask {
			cfg["max.batch.size"] = strconv.Itoa(cdcBatch)
			return startCDCTask(b, cdcpostgres.NewConnector(), cfg, nil)
		},
		raw: func(b *testing.B, db *dbtest.DB, r, n int) time.Duration {
			ctx := context.Background()
			u := url.URL{Scheme: "postgres", User: url.UserPassword(db.User, db.Password), Host: db.Host + ":" + db.Port,
				Path: "/" + db.Name, RawQuery: "sslmode=disable&replication=database"}
			conn, err := pgconn.Connect(ctx, u.String())
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close(ctx)
			start := time.Now()
			if err := pglogrepl.StartReplication(ctx, conn, "bench_raw", 0, pglogrepl.StartReplicationOptions{
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
						rawSink += len(c.Data) // the column texts, which the raw reader does not convert to values
					}
					got++
				}
			}
			return time.Since(start)
		},
	}
}

// rawSink keeps the raw readers' reads of the decoded values from being optimised away.
var rawSink int

func myHarness() cdcHarness {
	var startPos gmysql.Position
	var hist string
	return cdcHarness{
		name:    "mariadb",
		kind:    dbtest.MariaDB,
		changes: 1_000_000,
		cfg: func(db *dbtest.DB) map[string]string {
			return map[string]string{"database.hostname": db.Host, "database.port": db.Port, "database.user": db.User,
				"database.password": db.Password, "database.server.id": "7001", "topic.prefix": "bench",
				"database.include.list": db.Name, "snapshot.mode": "schema_only", "poll.interval.ms": "50"}
		},
		start: func(b *testing.B, db *dbtest.DB, cfg map[string]string) plugins.SourceTask {
			// The engine hands the task its RocketMQ client for the schema history; a bare task names the cluster.
			cfg[cdcmysql.KeyHistoryNamesrv] = rmqtest.NameServer(b)
			cfg[cdcmysql.KeyHistoryTopic] = rmqtest.Name(b, "hist")
			return startCDCTask(b, cdcmysql.NewConnector(), cfg, nil)
		},
		prepare: func(b *testing.B, db *dbtest.DB, cfg map[string]string, _ int) {
			// A first task records the table's schema at the current position in the history, where every
			// round's task then starts from a stored position.
			hist = rmqtest.Name(b, "hist")
			cfg[cdcmysql.KeyHistoryNamesrv] = rmqtest.NameServer(b)
			cfg[cdcmysql.KeyHistoryTopic] = hist
			_ = startCDCTask(b, cdcmysql.NewConnector(), cfg, nil).Stop(context.Background())
			conn := db.Open(b)
			defer conn.Close()
			var a, c any
			if err := conn.QueryRow("SHOW MASTER STATUS").Scan(&startPos.Name, &startPos.Pos, &a, &c); err != nil {
				b.Fatal(err)
			}
		},
		task: func(b *testing.B, db *dbtest.DB, cfg map[string]string, r int) plugins.SourceTask {
			// Both sides start from the binlog file and position (no GTIDs), the task through its stored offset.
			store := conformance.NewPositions()
			store.Set(map[string]any{cdcmysql.PartitionServer: cfg["topic.prefix"]}, map[string]any{cdcmysql.OffsetFile: startPos.Name,
				cdcmysql.OffsetPos: int64(startPos.Pos), cdcmysql.OffsetGTIDs: "", cdcmysql.OffsetRow: int64(0)})
			cfg[cdcmysql.KeyHistoryTopic] = hist
			cfg["database.server.id"] = strconv.Itoa(7100 + r)
			cfg["max.batch.size"] = strconv.Itoa(cdcBatch)
			return startCDCTask(b, cdcmysql.NewConnector(), cfg, store)
		},
		raw: func(b *testing.B, db *dbtest.DB, r, n int) time.Duration {
			var port uint16
			fmt.Sscan(db.Port, &port)
			syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{ServerID: uint32(7200 + r), Flavor: "mariadb",
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
				// The library has decoded the rows to Go values (as it does for the task); the raw reader
				// converts nothing further.
				if re, ok := ev.Event.(*replication.RowsEvent); ok && string(re.Table.Schema) == db.Name {
					got += len(re.Rows)
				}
			}
			return time.Since(start)
		},
	}
}

// BenchmarkCDCThroughput: change events per second of one task against the raw library reader, over the same
// changes: rounds pairs of runs, each reading all the changes from their start, the order of the sides
// alternating; the figures are medians over the rounds, with the host's CPU steal during each side.
func BenchmarkCDCThroughput(b *testing.B) {
	for _, h := range []cdcHarness{pgHarness(), myHarness()} {
		b.Run(h.name, func(b *testing.B) {
			db := dbtest.New(b, h.kind)
			db.Exec(b, cdcTable)
			if h.kind == dbtest.Postgres {
				b.Cleanup(func() {
					conn := db.Open(b)
					defer conn.Close()
					_, _ = conn.Exec("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name IN ('bench_raw', 'bench_task')")
				})
			}
			cfg := h.cfg(db)
			h.prepare(b, db, cfg, rounds)
			conn := db.Open(b)
			cdcInsert(b, conn, 0, h.changes)
			_ = conn.Close()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var rawRate, taskRate, ratio, rawSteal, taskSteal, rawCPU, taskCPU, background []float64
				for r := range rounds {
					background = append(background, waitQuiet())
					var rawTook, taskTook time.Duration
					runRaw := func() {
						steal, cpu := startSteal(), selfCPU()
						rawTook = h.raw(b, db, r, h.changes)
						rawSteal = append(rawSteal, steal())
						rawCPU = append(rawCPU, float64((selfCPU()-cpu).Microseconds())/float64(h.changes))
						rawRate = append(rawRate, float64(h.changes)/rawTook.Seconds())
					}
					runTask := func() {
						task := h.task(b, db, cfg, r)
						steal, cpu := startSteal(), selfCPU()
						taskTook = drain(b, task, h.changes, false, nil)
						taskSteal = append(taskSteal, steal())
						taskCPU = append(taskCPU, float64((selfCPU()-cpu).Microseconds())/float64(h.changes))
						taskRate = append(taskRate, float64(h.changes)/taskTook.Seconds())
						_ = task.Stop(context.Background())
					}
					sides := []func(){runRaw, runTask}
					if r%2 == 1 {
						sides[0], sides[1] = sides[1], sides[0]
					}
					for k, run := range sides {
						if *cdcSide == "" || *cdcSide == []string{"raw", "task"}[(k+r)%2] {
							run()
						}
					}
					if rawTook > 0 && taskTook > 0 {
						ratio = append(ratio, rawTook.Seconds()/taskTook.Seconds())
					}
				}
				report := func(vals []float64, unit string) {
					if len(vals) > 0 {
						b.ReportMetric(median(vals), unit)
					}
				}
				report(rawRate, "raw-events/s")
				report(taskRate, "task-events/s")
				report(ratio, "task/raw")
				if len(ratio) > 0 {
					b.ReportMetric(slices.Min(ratio), "task/raw-min")
					b.ReportMetric(slices.Max(ratio), "task/raw-max")
				}
				// CPU per change (this process's, the library's decoding included): what the sides cost, which
				// the wall-clock rates on a shared host only show through the noise.
				report(rawCPU, "raw-cpu-us/event")
				report(taskCPU, "task-cpu-us/event")
				report(rawSteal, "raw-steal-%")
				report(taskSteal, "task-steal-%")
				report(background, "background-busy-%")
			}
			reportLoad(b)
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
				drain(b, task, rate*seconds, true, func(r *schema.Record) {
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
