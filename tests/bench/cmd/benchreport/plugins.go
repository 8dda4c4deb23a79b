package main

import "fmt"

// pluginAbout describes figure 8.
const pluginAbout = "The example plugin (plugins/examples/lines) serves the built-in generator source and null sink " +
	"out of process; each figure runs the same connector built in and as a plugin in a standalone worker, as figures " +
	"1 and 2 do (100 B records, medians of 12 alternating rounds; the sink is timed by the worker's " +
	"rmqconnect_sink_record_send_total from the first record to the last). Start is the time from a task's Start call to " +
	"its first Poll answer (process start, handshake, Start); RSS is one task process's VmRSS. CPU steal is the " +
	"host's over each benchmark."

// pluginRows are figure 8: plugin/builtin throughput, start time and RSS of a plugin process.
func pluginRows(rs *results) []row {
	var rows []row
	for _, b := range []struct{ name, what string }{
		{"BenchmarkPluginSourceThroughput", "source records/s (generator-source)"},
		{"BenchmarkPluginSinkThroughput", "sink records/s (null-sink)"},
	} {
		p, okP := rs.Metric(benchPkg, b.name, "plugin-records/s")
		bi, okB := rs.Metric(benchPkg, b.name, "builtin-records/s")
		r := row{measure: b.what, value: num(p, okP), peer: "built in: " + num(bi, okB), target: "≥ 80% of built in"}
		if q, ok := rs.Metric(benchPkg, b.name, "plugin/builtin"); ok {
			lo, _ := rs.Metric(benchPkg, b.name, "plugin/builtin-min")
			hi, _ := rs.Metric(benchPkg, b.name, "plugin/builtin-max")
			r.ratio = fmt.Sprintf("%.0f%% (rounds %.0f–%.0f%%)", q*100, lo*100, hi*100)
			r.result = passMiss(q >= 0.8)
		} else {
			r.ratio, r.result = "—", notMeasured
		}
		if s, ok := rs.Metric(benchPkg, b.name, "cpu-steal-%"); ok {
			r.measure += fmt.Sprintf("; CPU steal %.1f%%", s)
		}
		rows = append(rows, r)
	}
	start, okS := rs.Metric(benchPkg, "BenchmarkPluginProcess", "ms/start")
	rss, okR := rs.Metric(benchPkg, "BenchmarkPluginProcess", "MB-rss/process")
	rows = append(rows,
		row{measure: "plugin task start (to the first Poll answer)", value: num(start, okS) + " ms", peer: "—", ratio: "—", target: "—", result: "—"},
		row{measure: "RSS of one plugin task process", value: num(rss, okR) + " MB", peer: "—", ratio: "—", target: "—", result: "—"})
	return rows
}
