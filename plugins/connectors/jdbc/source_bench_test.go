//go:build unix

package jdbc_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/jdbc"
	"github.com/rmqconnect/rmqconnect/tests/dbtest"
	"github.com/rmqconnect/rmqconnect/worker/gcfloor"
)

// BenchmarkSourcePoll reads the table of tests/bench's BenchmarkJDBCSource (id, name, decimal amount,
// timestamp; pages of 1000) with a fresh incrementing-mode task per iteration, all of its rows, and
// reports the time, this process's CPU time, bytes and allocations per row of its polls after the first
// (which also reads the table's catalog), with the worker's heap floor: the task's own cost, for
// profiling (-cpuprofile, -memprofile). The figure against a raw read is tests/bench's.
func BenchmarkSourcePoll(b *testing.B) {
	const rows, page = 20_000, 1000
	gcfloor.Set(gcfloor.Default)
	defer gcfloor.Set(0)
	for _, kind := range kinds {
		b.Run(string(kind), func(b *testing.B) {
			db := dbtest.New(b, kind)
			created := "TIMESTAMP(3)"
			if kind != dbtest.Postgres {
				created = "DATETIME(3)"
			}
			db.Exec(b, "CREATE TABLE bench_rows (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL, "+
				"amount DECIMAL(12,2) NOT NULL, created "+created+" NOT NULL)")
			base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
			for first := 0; first < rows; first += page {
				var stmt strings.Builder
				stmt.WriteString("INSERT INTO bench_rows VALUES ")
				for i := first; i < first+page; i++ {
					if i > first {
						stmt.WriteString(", ")
					}
					fmt.Fprintf(&stmt, "(%d, 'name %d', %d.%02d, '%s')", i, i, i*7/100, i*7%100,
						base.Add(time.Duration(i)*time.Millisecond).Format("2006-01-02 15:04:05.000"))
				}
				db.Exec(b, stmt.String())
			}
			if kind == dbtest.Postgres {
				// Without statistics PostgreSQL reads each page of this 20,000-row table with a sequential
				// scan and a sort (~3x as long); figure 7's 50,000-row table gets the index scan either way.
				db.Exec(b, "VACUUM ANALYZE bench_rows")
			}
			cfg := connCfg(db)
			for k, v := range map[string]string{"mode": "incrementing", "incrementing.column.name": "id",
				"table.whitelist": "bench_rows", "task.tables": "bench_rows", "batch.max.rows": fmt.Sprint(page),
				"poll.interval.ms": "10"} {
				cfg[k] = v
			}
			ctx := context.Background()
			var bytes, allocs uint64
			var cpu time.Duration
			var before, after runtime.MemStats
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				task := jdbc.NewSourceTask()
				if err := task.Start(ctx, conformance.SourceContextFor(b, jdbc.NewSourceConnector().Spec(), nil, cfg), cfg); err != nil {
					b.Fatal(err)
				}
				got := 0
				poll := func() {
					recs, err := task.Poll(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if len(recs) > 0 {
						_ = recs[len(recs)-1].Offset() // as the engine does: only the batch's last record's
					}
					got += len(recs)
				}
				for got == 0 {
					poll() // the first page, which also reads the table's catalog: not counted
				}
				runtime.ReadMemStats(&before)
				cpu -= cpuTime()
				b.StartTimer()
				for got < rows {
					poll()
				}
				b.StopTimer()
				cpu += cpuTime()
				runtime.ReadMemStats(&after)
				bytes += after.TotalAlloc - before.TotalAlloc
				allocs += after.Mallocs - before.Mallocs
				_ = task.Stop(ctx)
			}
			n := float64(b.N * (rows - page))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/row")
			b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/row")
			b.ReportMetric(float64(bytes)/n, "B/row")
			b.ReportMetric(float64(allocs)/n, "allocs/row")
		})
	}
}

// cpuTime is the CPU time this process has used (user and system, every goroutine and the GC).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
