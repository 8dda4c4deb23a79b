package worker

import (
	"sort"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// Metric families, named after Kafka/RocketMQ Connect's (connect-worker-metrics,
// source-task-metrics, sink-task-metrics, task-error-metrics) in Prometheus style.
var (
	descConnectorCount = prometheus.NewDesc("rmqconnect_worker_connector_count",
		"Connectors whose connector unit runs on this worker.", []string{"worker"}, nil)
	descTaskCount = prometheus.NewDesc("rmqconnect_worker_task_count",
		"Tasks on this worker by state.", []string{"worker", "state"}, nil)
	descConnectorStatus = prometheus.NewDesc("rmqconnect_connector_status",
		"1 for the connector's current state, reported by the worker its connector unit runs on.", []string{"worker", "connector", "type", "state"}, nil)
	descTaskStatus = prometheus.NewDesc("rmqconnect_task_status",
		"1 for the task's current state.", []string{"worker", "connector", "task", "state"}, nil)
	descSourcePoll = prometheus.NewDesc("rmqconnect_source_record_poll_total",
		"Records returned by the source task's Poll.", []string{"worker", "connector", "task"}, nil)
	descSourceWrite = prometheus.NewDesc("rmqconnect_source_record_write_total",
		"Records acknowledged by the broker.", []string{"worker", "connector", "task"}, nil)
	descSinkRead = prometheus.NewDesc("rmqconnect_sink_record_read_total",
		"Messages consumed by the sink task.", []string{"worker", "connector", "task"}, nil)
	descSinkLost = prometheus.NewDesc("rmqconnect_sink_record_lost_total",
		"Messages the broker deleted before the sink task read them (retention, a forced clean of a full disk); the task read on past them.",
		[]string{"worker", "connector", "task"}, nil)
	descSinkSend = prometheus.NewDesc("rmqconnect_sink_record_send_total",
		"Records handed to the sink task's Put.", []string{"worker", "connector", "task"}, nil)
	descRecordErrors = prometheus.NewDesc("rmqconnect_task_error_total_record_failures",
		"Records that failed at some stage.", []string{"worker", "connector", "task"}, nil)
	descRecordsSkipped = prometheus.NewDesc("rmqconnect_task_error_total_records_skipped",
		"Failed records skipped under errors.tolerance=all.", []string{"worker", "connector", "task"}, nil)
	descDLQ = prometheus.NewDesc("rmqconnect_task_error_deadletterqueue_produce_total",
		"Records written to the dead-letter queue.", []string{"worker", "connector", "task"}, nil)
	descCommits = prometheus.NewDesc("rmqconnect_offset_commit_total",
		"Offset/position commits by result: success and failure of source position writes and of sink flushes (Flush or PreCommit); store_failure of a sink's offset writes to the broker.",
		[]string{"worker", "connector", "task", "result"}, nil)
	descRetries = prometheus.NewDesc("rmqconnect_task_error_total_retries",
		"Retries of retriable failures (poll, send, put, flush).", []string{"worker", "connector", "task"}, nil)
	descDLQFailures = prometheus.NewDesc("rmqconnect_task_error_deadletterqueue_produce_failures",
		"Dead-letter queue writes that failed.", []string{"worker", "connector", "task"}, nil)
	descSinkLag = prometheus.NewDesc("rmqconnect_sink_lag",
		"Messages of the sink task's topics not consumed yet (as of its last pulls).", []string{"worker", "connector", "task"}, nil)
	descSinkQueueLag = prometheus.NewDesc("rmqconnect_sink_queue_lag_records",
		"Records of one queue the sink task reads that are not put and flushed yet (as of its last pull).",
		[]string{"worker", "connector", "task", "queue"}, nil)
	descSinkQueueLagSeconds = prometheus.NewDesc("rmqconnect_sink_queue_lag_seconds",
		"Age of the oldest record of one queue the sink task reads that is not put and flushed yet (0 when none).",
		[]string{"worker", "connector", "task", "queue"}, nil)
	descRunningRatio = prometheus.NewDesc("rmqconnect_connector_task_running_ratio",
		"Fraction of the connector's tasks that are RUNNING.", []string{"worker", "connector"}, nil)
)

// Collector exposes the worker's connectors and tasks to Prometheus, read at scrape time
// (so nothing is registered globally and deleted connectors disappear). Labels come only
// from bounded sets: worker, connector, task, state.
type Collector struct{ e *engine }

// Collector returns a prometheus.Collector for this herder; register it on the injected
// registry.
func (e *engine) Collector() *Collector { return &Collector{e: e} }

// PluginCollector returns the prometheus.Collector of the metrics connectors and tasks
// record through plugins.Metrics (families named rmqconnect_plugin_<class>_<name>);
// register it next to Collector. It is unchecked: its families appear as plugins declare
// them.
func (e *engine) PluginCollector() prometheus.Collector { return e.metrics.plugin }

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConnectorCount, descTaskCount, descConnectorStatus, descTaskStatus,
		descSourcePoll, descSourceWrite, descSinkRead, descSinkSend, descSinkLost, descRecordErrors, descRecordsSkipped, descDLQ, descCommits,
		descRetries, descDLQFailures, descSinkLag, descSinkQueueLag, descSinkQueueLagSeconds, descRunningRatio} {
		ch <- d
	}
	for _, c := range c.e.metrics.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	w := c.e.cfg.WorkerID
	c.e.mu.Lock()
	rts := make([]*connRuntime, 0, len(c.e.conns))
	for _, rt := range c.e.conns {
		rts = append(rts, rt)
	}
	c.e.mu.Unlock()
	sort.Slice(rts, func(i, j int) bool { return rts[i].name < rts[j].name })
	// In a cluster every worker keeps a runtime for every connector; only the worker the
	// connector unit is assigned to reports it, so that summing over workers counts each
	// connector once and a FAILED connector is not hidden among UNASSIGNED copies.
	owned := make(map[*connRuntime]bool, len(rts))
	for _, rt := range rts {
		rt.mu.Lock()
		if rt.ownConn {
			owned[rt] = true
		}
		rt.mu.Unlock()
	}
	ch <- prometheus.MustNewConstMetric(descConnectorCount, prometheus.GaugeValue, float64(len(owned)), w)
	byState := map[restapi.State]int{}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, rt := range rts {
		st := rt.status()
		if owned[rt] {
			gauge(descConnectorStatus, 1, w, rt.name, string(st.Type), string(st.Connector.State))
		}
		rt.mu.Lock()
		for _, ts := range st.Tasks {
			byState[ts.State]++
			task := itoa(ts.ID)
			gauge(descTaskStatus, 1, w, rt.name, task, string(ts.State))
			t, ok := rt.tasks[ts.ID]
			if !ok {
				continue
			}
			k := &t.counters
			if st.Type == restapi.TypeSource {
				counter(descSourcePoll, k.recordsPolled.Load(), w, rt.name, task)
				counter(descSourceWrite, k.recordsWritten.Load(), w, rt.name, task)
			} else {
				counter(descSinkRead, k.recordsRead.Load(), w, rt.name, task)
				counter(descSinkSend, k.recordsPut.Load(), w, rt.name, task)
				counter(descSinkLost, k.recordsLost.Load(), w, rt.name, task)
			}
			counter(descRecordErrors, k.recordErrors.Load(), w, rt.name, task)
			counter(descRecordsSkipped, k.recordsSkipped.Load(), w, rt.name, task)
			counter(descDLQ, k.dlqRecords.Load(), w, rt.name, task)
			counter(descCommits, k.commits.Load(), w, rt.name, task, "success")
			if st.Type == restapi.TypeSource {
				counter(descCommits, k.commitFailures.Load(), w, rt.name, task, "failure")
			} else {
				// A sink commit is its Flush (or PreCommit), then the broker storing the
				// group's offsets; each fails on its own and means something else.
				counter(descCommits, c.e.metrics.flushFailures(w, rt.name, task), w, rt.name, task, "failure")
				counter(descCommits, k.commitFailures.Load(), w, rt.name, task, "store_failure")
			}
			counter(descRetries, k.retries.Load(), w, rt.name, task)
			counter(descDLQFailures, k.dlqFailures.Load(), w, rt.name, task)
			if lag := k.lag.Load(); lag != nil {
				gauge(descSinkLag, float64((*lag)()), w, rt.name, task)
			}
			if ql := k.queueLag.Load(); ql != nil {
				for _, l := range (*ql)() {
					gauge(descSinkQueueLag, float64(l.records), w, rt.name, task, l.queue)
					gauge(descSinkQueueLagSeconds, l.seconds, w, rt.name, task, l.queue)
				}
			}
		}
		rt.mu.Unlock()
		if len(st.Tasks) > 0 {
			running := 0
			for _, ts := range st.Tasks {
				if ts.State == restapi.StateRunning {
					running++
				}
			}
			gauge(descRunningRatio, float64(running)/float64(len(st.Tasks)), w, rt.name)
		}
	}
	for _, c := range c.e.metrics.collectors() {
		c.Collect(ch)
	}
	for _, s := range []restapi.State{restapi.StateUnassigned, restapi.StateRunning, restapi.StatePaused, restapi.StateFailed, restapi.StateRestarting} {
		gauge(descTaskCount, float64(byState[s]), w, string(s))
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
