package main

import (
	"strings"
	"testing"
)

func TestPluginRows(t *testing.T) {
	rs, err := parse(strings.NewReader(`pkg: github.com/rmqconnect/rmqconnect/tests/bench
BenchmarkPluginSourceThroughput-2   	       1	32870466100 ns/op	    130264 builtin-records/s	         0.5 cpu-steal-%	     104211 plugin-records/s	         0.8 plugin/builtin	         0.9 plugin/builtin-max	         0.7 plugin/builtin-min
BenchmarkPluginProcess-2   	       1	       921.0 ns/op	        18.59 MB-rss/process	         0.7 cpu-steal-%	        31.60 ms/start
`))
	if err != nil {
		t.Fatal(err)
	}
	rows := pluginRows(rs)
	if len(rows) != 4 {
		t.Fatalf("%d rows", len(rows))
	}
	if r := rows[0]; r.ratio != "80% (rounds 70–90%)" || r.result != "pass" || !strings.Contains(r.measure, "CPU steal 0.5%") {
		t.Errorf("source row %+v", r)
	}
	if r := rows[1]; r.result != notMeasured {
		t.Errorf("sink row without data %+v", r)
	}
	if r := rows[2]; !strings.HasPrefix(r.value, "31") || !strings.HasSuffix(r.value, " ms") {
		t.Errorf("start row %+v", r)
	}
}

// TestPluginSinkRounds: the sink figure's per-round notes are listed under figure 9 in run order, and not
// among the machine's facts.
func TestPluginSinkRounds(t *testing.T) {
	rs, err := parse(strings.NewReader(`rmqconnect-bench: load average before the run: 0.5 0.6 0.7 (1, 5, 15 min)
rmqconnect-bench: plugin sink round, null-sink: 269205 records/s, 6182 Puts of 32 records in 0.00 ms
rmqconnect-bench: plugin sink round, example-null-sink: 210395 records/s, 395 Puts of 506 records in 0.93 ms
`))
	if err != nil {
		t.Fatal(err)
	}
	got := pluginSinkRounds(rs)
	want := "The sink figure's rounds in the order they ran:\n\n| round | connector | measured |\n|---:|---|---|\n" +
		"| 1 | null-sink | 269205 records/s, 6182 Puts of 32 records in 0.00 ms |\n" +
		"| 2 | example-null-sink | 210395 records/s, 395 Puts of 506 records in 0.93 ms |"
	if got != want {
		t.Errorf("rounds:\n%s\nwant:\n%s", got, want)
	}
	for _, f := range facts(rs, "5.3.3") {
		if strings.HasPrefix(f.k, "plugin sink round") {
			t.Errorf("a round among the machine facts: %+v", f)
		}
	}
	if pluginSinkRounds(&results{}) != "" {
		t.Error("no rounds, no list")
	}
}
