package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCompareRatiosWithThePreviousRun(t *testing.T) {
	prev, err := parse(strings.NewReader(`pkg: github.com/rmqconnect/rmqconnect/tests/bench
BenchmarkJDBCSource/postgres-2  1  0.5 source/raw  0.9 source/raw-min  600000 source-rows/s
BenchmarkPluginSinkThroughput-2  1  0.25 plugin/builtin  30000 plugin-records/s
BenchmarkGone-2  1  0.5 a/b
BenchmarkFootprint-2  1  30 idle-RSS-MiB  60 200-tasks-RSS-MiB  40 binary-MiB
`))
	require.NoError(t, err)
	now, err := parse(strings.NewReader(`pkg: github.com/rmqconnect/rmqconnect/tests/bench
BenchmarkJDBCSource/postgres-2  1  0.52 source/raw  0.3 source/raw-min  900000 source-rows/s
BenchmarkPluginSinkThroughput-2  1  0.75 plugin/builtin  60000 plugin-records/s
BenchmarkNew-2  1  0.5 a/b
BenchmarkFootprint-2  1  31 idle-RSS-MiB  70 200-tasks-RSS-MiB  45 binary-MiB
`))
	require.NoError(t, err)
	cs := compareRatios(prev, now)
	require.Len(t, cs, 4, "only ratios and RSS, only benchmarks of both runs: %v", cs)
	require.Equal(t, comparison{bench: "BenchmarkJDBCSource/postgres", unit: "source/raw", prev: 0.5, now: 0.52}, cs[0])
	require.Equal(t, "plugin/builtin", cs[1].unit)
	require.Equal(t, []string{"200-tasks-RSS-MiB", "idle-RSS-MiB"}, []string{cs[2].unit, cs[3].unit})

	var b bytes.Buffer
	previousTable(&b, cs, "")
	require.Contains(t, b.String(), "the previous `make bench` on this machine")
	require.Contains(t, b.String(), "2 of 4 within ±10%")
	require.Contains(t, b.String(), "1 better, 1 worse", "more memory is worse")
	require.Contains(t, b.String(), "| BenchmarkFootprint | 200-tasks-RSS-MiB | 60.00 | 70.00 | **+17%** |")
	require.Contains(t, b.String(), "| BenchmarkPluginSinkThroughput | plugin/builtin | 0.25 | 0.75 | **+200%** |")
	require.Contains(t, b.String(), "| BenchmarkJDBCSource/postgres | source/raw | 0.50 | 0.52 | +4% |")
}

func TestPreviousRunNamed(t *testing.T) {
	var b bytes.Buffer
	previousTable(&b, []comparison{{bench: "B", unit: "a/b", prev: 1, now: 1}}, "the engine figures of 40f95f5")
	require.Contains(t, b.String(), "against those of the engine figures of 40f95f5.")
}

func TestRatioUnit(t *testing.T) {
	for u, want := range map[string]bool{"source/raw": true, "eo/upsert": true, "worker/java": true,
		"records/s": false, "ns/op": false, "worker/raw-min": false, "plugin/builtin-max": false, "steal-%": false, "worker-cpu-s/100k": false, "java-cpu-s/100k": false} {
		require.Equal(t, want, ratioUnit(u), u)
	}
}
