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
