package worker

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// workerMetrics are the stateful metric families (histograms, startup counters); the
// Collector adds the scrape-time ones. They are created per herder and reach Prometheus
// only through the injected registry the Collector is registered on.
type workerMetrics struct {
	pollBatchSize *prometheus.HistogramVec
	putBatchSize  *prometheus.HistogramVec
	pollTime      *prometheus.HistogramVec
	putTime       *prometheus.HistogramVec
	commitTime    *prometheus.HistogramVec
	startups      *prometheus.CounterVec
	// Distributed mode: completed rebalances (assignment changes applied), the last one's
	// duration and the local assignment epoch (how many this worker has applied).
	rebalances       *prometheus.CounterVec
	rebalanceSeconds *prometheus.GaugeVec
	rebalanceEpoch   *prometheus.GaugeVec
	// plugin holds the families connectors and tasks declare (plugins.Metrics).
	plugin *pluginMetrics
}

func newWorkerMetrics() *workerMetrics {
	sizes := []float64{1, 8, 32, 128, 512, 2048, 8192}
	times := prometheus.ExponentialBuckets(0.0005, 4, 9) // 0.5 ms .. 33 s
	labels := []string{"worker", "connector", "task"}
	return &workerMetrics{
		pollBatchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "rmqconnect_source_poll_batch_size",
			Help: "Records per source Poll.", Buckets: sizes}, labels),
		putBatchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "rmqconnect_sink_put_batch_size",
			Help: "Records per sink Put.", Buckets: sizes}, labels),
		pollTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "rmqconnect_source_poll_batch_time_seconds",
			Help: "Time a source Poll took.", Buckets: times}, labels),
		putTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "rmqconnect_sink_put_batch_time_seconds",
			Help: "Time a sink Put took.", Buckets: times}, labels),
		commitTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "rmqconnect_offset_commit_time_seconds",
			Help: "Time a position commit (source) or flush (sink) took.", Buckets: times}, labels),
		startups: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rmqconnect_worker_startup_total",
			Help: "Connector and task start attempts by result."}, []string{"worker", "kind", "result"}),
		rebalances: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rmqconnect_worker_rebalance_total",
			Help: "Assignment changes this worker has applied."}, []string{"worker"}),
		rebalanceSeconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "rmqconnect_worker_rebalance_last_seconds",
			Help: "How long applying the last assignment change took (stopping and starting connectors and tasks)."}, []string{"worker"}),
		rebalanceEpoch: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "rmqconnect_worker_rebalance_epoch",
			Help: "The number of the assignment this worker runs (it grows by one per rebalance)."}, []string{"worker"}),
		plugin: newPluginMetrics(),
	}
}

func (m *workerMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.pollBatchSize, m.putBatchSize, m.pollTime, m.putTime, m.commitTime, m.startups,
		m.rebalances, m.rebalanceSeconds, m.rebalanceEpoch}
}

// rebalanced records an applied assignment change.
func (m *workerMetrics) rebalanced(worker string, took time.Duration) {
	m.rebalances.WithLabelValues(worker).Inc()
	m.rebalanceSeconds.WithLabelValues(worker).Set(took.Seconds())
	m.rebalanceEpoch.WithLabelValues(worker).Inc()
}

// forget drops a deleted connector's series.
func (m *workerMetrics) forget(worker, connector string) {
	l := prometheus.Labels{"worker": worker, "connector": connector}
	for _, v := range []*prometheus.HistogramVec{m.pollBatchSize, m.putBatchSize, m.pollTime, m.putTime, m.commitTime} {
		v.DeletePartialMatch(l)
	}
	m.plugin.forget(worker, connector)
}

func since(t time.Time) float64 { return time.Since(t).Seconds() }
