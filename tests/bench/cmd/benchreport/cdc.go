package main

import "fmt"

// cdcAbout describes figure 11.
const cdcAbout = "Inserts (transactions of 100 rows; 200,000 on PostgreSQL, 1,000,000 on MariaDB, so each side reads for about a third of a second) into one table (id, name, DECIMAL(12,2), a BIGINT) on the PostgreSQL 15 and " +
	"MariaDB 10.11 servers tests/dbtest starts. Throughput: the change events of one postgres-cdc or mysql-cdc task's " +
	"Poll (Debezium envelopes: before, after, source block, position) against a raw reader of the same stream with " +
	"the same library (pglogrepl with pgoutput, go-mysql's binlog syncer) that decodes each event and builds nothing " +
	"(the raw PostgreSQL reader leaves the column texts as text; go-mysql has typed the MariaDB values for both); " +
	"6 rounds, each after the host is quiet (under 10% busy for 0.3 s, at most 15 s of waiting; the median busy share " +
	"found is shown), the order of the sides reversing each round, each reading all the changes from the same start, the task " +
	"acknowledging each record as the engine would; medians, with the rounds' range, the CPU steal during each side " +
	"and the process's CPU per change (the library's decoding included). Latency: one row per transaction at 1,000 changes/s for 5 s, from the row's commit time " +
	"(in the row) to its record leaving the task's Poll. No broker involved. Anchor: Conduit reports 48.1k msg/s " +
	"for its PostgreSQL CDC on larger hardware."

// cdcRows are figure 11: CDC change events per second against the raw library reader (target ≥ 80 %) and the
// commit → record latency at 1,000 changes/s (target p99 < 500 ms), per database.
func cdcRows(rs *results) []row {
	var rows []row
	for _, db := range []string{"postgres", "mariadb"} {
		bench := "BenchmarkCDCThroughput/" + db
		task, okT := rs.Metric(benchPkg, bench, "task-events/s")
		raw, okR := rs.Metric(benchPkg, bench, "raw-events/s")
		r := row{measure: "change events/s, " + db, value: num(task, okT), peer: "raw reader: " + num(raw, okR),
			target: "≥ 80% of raw", ratio: "—", result: notMeasured}
		if q, ok := rs.Metric(benchPkg, bench, "task/raw"); ok {
			r.ratio, r.result = fmt.Sprintf("%.0f%%", q*100), passMiss(q >= 0.8)
			lo, okLo := rs.Metric(benchPkg, bench, "task/raw-min")
			hi, okHi := rs.Metric(benchPkg, bench, "task/raw-max")
			if okLo && okHi {
				r.ratio += fmt.Sprintf(" (rounds %.0f–%.0f%%)", lo*100, hi*100)
			}
		}
		for _, side := range []string{"task", "raw"} {
			if v, ok := rs.Metric(benchPkg, bench, side+"-cpu-us/event"); ok {
				r.measure += fmt.Sprintf("; %s %.2f CPU-µs/change", side, v)
			}
			if v, ok := rs.Metric(benchPkg, bench, side+"-steal-%"); ok {
				r.measure += fmt.Sprintf(", steal %.1f%%", v)
			}
		}
		if v, ok := rs.Metric(benchPkg, bench, "background-busy-%"); ok {
			r.measure += fmt.Sprintf("; host busy before a round %.1f%%", v)
		}
		rows = append(rows, r)
		lat := "BenchmarkCDCLatency/" + db
		p50, ok50 := rs.Metric(benchPkg, lat, "p50-ms")
		p99, ok99 := rs.Metric(benchPkg, lat, "p99-ms")
		l := row{measure: "commit → record p99 at 1,000 changes/s, " + db, value: ms(p99, ok99),
			peer: "p50: " + ms(p50, ok50), ratio: "—", target: "p99 < 500 ms", result: notMeasured}
		if ok99 {
			l.result = passMiss(p99 < 500)
		}
		rows = append(rows, l)
	}
	return rows
}

func ms(v float64, ok bool) string {
	if !ok {
		return "—"
	}
	return fmt.Sprintf("%.1f ms", v)
}
