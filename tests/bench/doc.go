// Package bench holds the runtime benchmarks of BENCHMARKS.md (figures 1-4 and 6) against the real
// local RocketMQ broker: source and sink throughput of the worker next to a raw rmqclient
// producer or consumer doing the same work in the same run (the limit), end-to-end latency of
// a file pipeline, the footprint of the rmqconnect binary, and the failover time of a cluster
// of three rmqconnect processes when one is killed or leaves. The benchmarks only report
// (b.ReportMetric); they assert no timing. Each does a fixed amount of work per run, so they
// are meant for -benchtime 1x; cmd/benchreport turns their output into BENCHMARKS.md.
//
// Without -test.bench nothing here touches the broker, so `go test ./...` passes through.
package bench
