package main

import (
	"fmt"
	"strings"
)

// pluginAbout describes figure 9.
const pluginAbout = "The example plugin (plugins/examples/lines) serves the built-in generator source and null sink " +
	"out of process; each figure runs the same connector built in and as a plugin in a standalone worker, as figures " +
	"1 and 2 do (100 B records, medians of 12 alternating rounds; the sink is timed by the worker's " +
	"rmqconnect_sink_record_send_total from the first record to the last). Start is the time from a task's Start call to " +
	"its first Poll answer (process start, handshake, Start); RSS is one task process's VmRSS. CPU steal is the " +
	"host's over each benchmark."

// pluginRows are figure 9: plugin/builtin throughput, start time and RSS of a plugin process.
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

// sinkRoundNote is the prefix of the notes BenchmarkPluginSinkThroughput prints for each of its rounds
// ("plugin sink round, <class>: <detail>").
const sinkRoundNote = "plugin sink round, "

// pluginSinkRounds lists the sink figure's rounds in the order they ran, from their notes: the Puts and
// flushes of each side say how the plugin's group commit batched them.
func pluginSinkRounds(rs *results) string {
	var b strings.Builder
	n := 0
	for _, note := range rs.Notes {
		rest, ok := strings.CutPrefix(note, sinkRoundNote)
		if !ok {
			continue
		}
		class, detail, _ := strings.Cut(rest, ": ")
		if n == 0 {
			b.WriteString("The sink figure's rounds in the order they ran:\n\n| round | connector | measured |\n|---:|---|---|\n")
		}
		n++
		fmt.Fprintf(&b, "| %d | %s | %s |\n", n, class, detail)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
