package main

import (
	"strings"
	"testing"
)

const plain = `goos: linux
goarch: amd64
pkg: github.com/rmqconnect/rmqconnect/tests/bench
cpu: AMD EPYC
rmqconnect-bench: load average at start: 0.50 0.40 0.30
BenchmarkSourceThroughput/100B-2         	       1	9412985271 ns/op	         4.471 raw-MB/s	     44710 raw-records/s	         0.4903 worker/raw
BenchmarkSourceThroughput/100B-2      	       1	9123395495 ns/op	         2.192 worker-MB/s	     21922 worker-records/s	         0.5097 worker/raw
PASS
pkg: github.com/rmqconnect/rmqconnect/schema/converter
BenchmarkJSONEncodeStruct20-2   	  300000	      3500 ns/op	    1200 B/op	      20 allocs/op
`

func TestParsePlain(t *testing.T) {
	rs, err := parse(strings.NewReader(plain))
	if err != nil {
		t.Fatal(err)
	}
	check(t, rs)
}

func TestParseJSON(t *testing.T) {
	var b strings.Builder
	for line := range strings.SplitSeq(strings.TrimSuffix(plain, "\n"), "\n") {
		// test2json may split a line over several output events.
		half := len(line) / 2
		b.WriteString(`{"Action":"output","Output":` + quote(line[:half]) + "}\n")
		b.WriteString(`{"Action":"output","Output":` + quote(line[half:]+"\n") + "}\n")
	}
	rs, err := parse(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	check(t, rs)
}

func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

func check(t *testing.T, rs *results) {
	t.Helper()
	if v, ok := rs.Metric("tests/bench", "BenchmarkSourceThroughput/100B", "worker/raw"); !ok || v < 0.4999 || v > 0.5001 {
		t.Errorf("worker/raw = %v, %v; want the mean 0.5", v, ok)
	}
	if v, ok := rs.Metric("schema/converter", "BenchmarkJSONEncodeStruct20", "allocs/op"); !ok || v != 20 {
		t.Errorf("allocs/op = %v, %v", v, ok)
	}
	if rs.Header["cpu"] != "AMD EPYC" || len(rs.Notes) != 1 {
		t.Errorf("header %v notes %v", rs.Header, rs.Notes)
	}
	if len(rs.List) != 2 {
		t.Errorf("%d results, want 2", len(rs.List))
	}
}
