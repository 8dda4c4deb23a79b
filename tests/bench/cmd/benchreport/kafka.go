package main

import "fmt"

// kafkaRows are figure 8: kafka-source and kafka-sink against a raw franz-go pipe through the same brokers
// (the target) and against franz-go consuming or producing alone (a diagnostic), with the CPU steal of the run.
func kafkaRows(rs *results) []row {
	var rows []row
	for _, f := range []struct{ bench, what, alone string }{
		{"BenchmarkKafkaSourceThroughput/512B", "kafka-source records/s, 512 B", "raw-consume"},
		{"BenchmarkKafkaSinkThroughput/512B", "kafka-sink records/s, 512 B", "raw-produce"},
	} {
		w, okW := rs.Metric(benchPkg, f.bench, "worker-records/s")
		raw, okR := rs.Metric(benchPkg, f.bench, "raw-records/s")
		r := row{measure: f.what, value: num(w, okW), peer: "raw pipe: " + num(raw, okR), target: "≥ 80% of raw"}
		if ratio, ok := rs.Metric(benchPkg, f.bench, "worker/raw"); ok {
			lo, _ := rs.Metric(benchPkg, f.bench, "worker/raw-min")
			hi, _ := rs.Metric(benchPkg, f.bench, "worker/raw-max")
			r.ratio, r.result = fmt.Sprintf("%.0f%% (rounds %.0f–%.0f%%)", ratio*100, lo*100, hi*100), passMiss(ratio >= 0.8)
		} else {
			r.ratio, r.result = "—", notMeasured
		}
		rows = append(rows, r)
		alone, okA := rs.Metric(benchPkg, f.bench, f.alone+"-records/s")
		d := row{measure: f.what + ", vs franz-go alone", value: num(w, okW), peer: f.alone + ": " + num(alone, okA),
			target: "— (diagnostic)", result: "—", ratio: "—"}
		if q, ok := rs.Metric(benchPkg, f.bench, "worker/"+f.alone); ok {
			d.ratio = fmt.Sprintf("%.0f%%", q*100)
		}
		rows = append(rows, d)
	}
	return rows
}

// kafkaNote gives the CPU steal and load of the Kafka figures' runs.
func kafkaNote(rs *results) string {
	note := loadNote(rs, "BenchmarkKafkaSourceThroughput/512B", "BenchmarkKafkaSinkThroughput/512B")
	for _, n := range []string{"BenchmarkKafkaSourceThroughput/512B", "BenchmarkKafkaSinkThroughput/512B"} {
		if v, ok := rs.Metric(benchPkg, n, "steal-%"); ok {
			note += fmt.Sprintf(" CPU steal during %s: %.1f%%.", n[len("Benchmark"):], v)
		}
	}
	return note
}
