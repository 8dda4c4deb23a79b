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
