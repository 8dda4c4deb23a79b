package main

import (
	"strings"
	"testing"
)

func TestCDCRows(t *testing.T) {
	rs, err := parse(strings.NewReader(`pkg: github.com/rmqconnect/rmqconnect/tests/bench
BenchmarkCDCThroughput/postgres-2   	       1	1934597210 ns/op	     49037 raw-events/s	     55153 task-events/s	         1.125 task/raw
BenchmarkCDCThroughput/mariadb-2    	       1	 706139888 ns/op	    793001 raw-events/s	     78459 task-events/s	         0.0989 task/raw	0.05 task/raw-min	0.2 task/raw-max	4.5 task-cpu-us/event	0.6 raw-cpu-us/event	0.5 task-steal-%	0 raw-steal-%
BenchmarkCDCLatency/mariadb-2       	       1	5568542052 ns/op	        25.88 p50-ms	       650.8 p99-ms
`))
	if err != nil {
		t.Fatal(err)
	}
	rows := cdcRows(rs)
	if len(rows) != 4 {
		t.Fatalf("%d rows", len(rows))
	}
	if r := rows[0]; r.ratio != "112%" || r.result != "pass" || r.value != num(55153, true) {
		t.Errorf("postgres throughput %+v", r)
	}
	if r := rows[1]; r.result != notMeasured || r.value != "—" {
		t.Errorf("postgres latency without data %+v", r)
	}
	if r := rows[2]; r.ratio != "10% (rounds 5–20%)" || r.result != passMiss(false) ||
		!strings.HasSuffix(r.measure, "; task 4.50 CPU-µs/change, steal 0.5%; raw 0.60 CPU-µs/change, steal 0.0%") {
		t.Errorf("mariadb throughput %+v", r)
	}
	if r := rows[3]; r.value != "650.8 ms" || r.result != passMiss(false) || r.peer != "p50: 25.9 ms" {
		t.Errorf("mariadb latency %+v", r)
	}
}

func TestReplicatorRowsReadRecordsPerSecond(t *testing.T) {
	rs, err := parse(strings.NewReader(`pkg: github.com/rmqconnect/rmqconnect/tests/bench
BenchmarkReplicator-2 	1	31718440914 ns/op	36.00 lag-p50-ms	104.0 lag-p99-ms	49996 raw-records/s	41914 repl-records/s	0.8383 repl/raw	1.234 repl/raw-max	0.3749 repl/raw-min
`))
	if err != nil {
		t.Fatal(err)
	}
	r := replicatorRows(rs)[0]
	if r.value != num(41914, true) || r.peer != "raw pipe: "+num(49996, true) || r.ratio != "84% (rounds 37–123%)" || r.result != "pass" {
		t.Errorf("replicator row %+v", r)
	}
}
