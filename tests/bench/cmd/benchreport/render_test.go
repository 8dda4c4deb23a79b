package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFailoverRows(t *testing.T) {
	const head = "pkg: github.com/rmqconnect/rmqconnect/tests/bench\nBenchmarkFailover-2 \t 1\t 16091809134 ns/op\t"
	for _, tt := range []struct {
		name, metrics string
		kill, result  string
	}{
		{"pass", "88.35 sigkill-min-ms\t157.3 sigkill-ms\t462.5 sigkill-max-ms\t5 sigkill-trials\t243.7 sigterm-ms\t" +
			"100.8 sigterm-min-ms\t327.1 sigterm-max-ms\t5 sigterm-trials\t7 victim-units\t765.2 rejoin-ms\t984.5 rejoin-max-ms",
			"157 ms (88.3–462 ms, 5 trials)", "pass"},
		{"slowest trial over the target", "300 sigkill-min-ms\t900 sigkill-ms\t12000 sigkill-max-ms\t5 sigkill-trials",
			"900 ms (300–12,000 ms, 5 trials)", "**miss**"},
		{"not run", "", notMeasured, notMeasured},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := ""
			if tt.metrics != "" {
				in = head + tt.metrics + "\n"
			}
			rs, err := parse(strings.NewReader(in))
			require.NoError(t, err)
			rows := failoverRows(rs)
			require.Len(t, rows, 4)
			require.Equal(t, tt.kill, rows[0].value)
			require.Equal(t, tt.result, rows[0].result)
		})
	}
}

func TestSchedulerTable(t *testing.T) {
	in := "pkg: github.com/rmqconnect/rmqconnect/scheduler\n" +
		"BenchmarkAssign/consistent-hash-2 \t 20\t 19624629 ns/op\t 3366848 B/op\t 36398 allocs/op\n" +
		"BenchmarkPlacement/50w-100u/consistent-hash-2 \t 1\t 7744018 ns/op\t 0 idle\t 3.000 join-moved/min\t " +
		"1.500 leave-moved/min\t 1.500 max/avg\t 0.5000 min/avg\t 1.720 restart-moved/min\t 100.0 units\t 50.00 workers\n" +
		"BenchmarkRebalance/sticky-join-2 \t 40\t 9000000 ns/op\t 2048000 B/op\t 1000 allocs/op\n" +
		"BenchmarkPlacement/50w-100u/sticky-2 \t 1\t 7744018 ns/op\t 0 idle\t 1.000 join-moved/min\t " +
		"1.000 leave-moved/min\t 1.000 max/avg\t 1.000 min/avg\t 1.000 restart-moved/min\t 100.0 units\t 50.00 workers\n" +
		"BenchmarkPlacement/50w-100u/before-2 \t 1\t 4520675 ns/op\t 3.000 idle\t 4.000 join-moved/min\t " +
		"1.600 leave-moved/min\t 1.500 max/avg\t 0 min/avg\t 1.690 restart-moved/min\t 100.0 units\t 50.00 workers\n" +
		"BenchmarkPlacement/wide/consistent-hash-2 \t 1\t 1 ns/op\t 108 shapes\t 0 idle\t 1.3 join-moved/min\t " +
		"1.3 leave-moved/min\t 1.5 max/avg\t 0.5 min/avg\t 1.4 restart-moved/min\t 12 shapes-over-2.5x\t 3.75 worst-event/min\n"
	rs, err := parse(strings.NewReader(in))
	require.NoError(t, err)
	var b strings.Builder
	schedulerTable(&b, rs)
	out := b.String()
	require.Contains(t, out, "| 50w-100u | consistent-hash | 50 | 100 | 1.50 | 0.50 | 0 | 3.00 | 1.50 | 1.72 |")
	require.Contains(t, out, "| 50w-100u | **sticky** | 50 | 100 | 1.00 | 1.00 | 0 | 1.00 | 1.00 | 1.00 |")
	require.Contains(t, out, "| 50w-100u | before | 50 | 100 | 1.50 | 0.00 | 3 | 4.00 | 1.60 | 1.69 |")
	require.Contains(t, out, "| wide | consistent-hash | 1-101 | 108 shapes |")
	require.Contains(t, out, "`consistent-hash` 12 (worst 3.75×)")
	require.Contains(t, out, "| consistent-hash | 19.6 ms | 3,288 KiB | 36,398 |")
	require.Contains(t, out, "| sticky, Rebalance after one join (101 workers, the placement in force as input) | 9 ms | 2,000 KiB | 1,000 |")

	var empty strings.Builder
	schedulerTable(&empty, &results{})
	require.Contains(t, empty.String(), "Not measured in this run")
}
