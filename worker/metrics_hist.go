package worker

import (
	"sync"
	"sync/atomic"
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

	// runs holds, per task label set (worker, connector, task), the task's supervisors on
	// this worker and its failed sink flushes. A task's histogram series are deleted when its
	// last supervisor here ends (it stopped, was paused, moved or was removed), as its plugin
	// series are: a count rather than a flag, because a supervisor abandoned after the stop
	// timeout may still run when the next one for the same task starts.
	runsMu sync.Mutex
	runs   map[taskLabels]*taskRunMetrics
}

// taskLabels are the worker, connector and task label values of one task.
type taskLabels [3]string

// taskRunMetrics is what the engine counts of one task outside its taskCounters.
type taskRunMetrics struct {
	supervisors int
	// flushFailures counts sink Flush/PreCommit calls that failed after their retries
	// (rmqconnect_offset_commit_total{result="failure"} of a sink task).
	flushFailures atomic.Int64
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
			Help: "Connector and task starts: result=attempt for each start attempt, then success or failure (the plugin's Start, or what the engine does before it, failed)."}, []string{"worker", "kind", "result"}),
		rebalances: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rmqconnect_worker_rebalance_total",
			Help: "Assignment changes this worker has applied."}, []string{"worker"}),
		rebalanceSeconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "rmqconnect_worker_rebalance_last_seconds",
			Help: "How long applying the last assignment change took (stopping and starting connectors and tasks)."}, []string{"worker"}),
		rebalanceEpoch: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "rmqconnect_worker_rebalance_epoch",
			Help: "The number of the assignment this worker runs (it grows by one per rebalance)."}, []string{"worker"}),
		plugin: newPluginMetrics(),
		runs:   map[taskLabels]*taskRunMetrics{},
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

// taskHistograms are the families whose series are per task.
func (m *workerMetrics) taskHistograms() []*prometheus.HistogramVec {
	return []*prometheus.HistogramVec{m.pollBatchSize, m.putBatchSize, m.pollTime, m.putTime, m.commitTime}
}

// forget drops a deleted connector's series.
func (m *workerMetrics) forget(worker, connector string) {
	l := prometheus.Labels{"worker": worker, "connector": connector}
	for _, v := range m.taskHistograms() {
		v.DeletePartialMatch(l)
	}
	m.plugin.forget(worker, connector)
}

// supervising records that a supervisor of the task started; the returned func records its
// end and, once no supervisor of the task is left on this worker, deletes the task's
// histogram series and flush failure count. Call the func exactly once.
func (m *workerMetrics) supervising(worker, connector, task string) (ended func()) {
	k := taskLabels{worker, connector, task}
	m.runsMu.Lock()
	r := m.runs[k]
	if r == nil {
		r = &taskRunMetrics{}
		m.runs[k] = r
	}
	r.supervisors++
	m.runsMu.Unlock()
	return func() {
		m.runsMu.Lock()
		defer m.runsMu.Unlock()
		if r.supervisors--; r.supervisors > 0 {
			return
		}
		delete(m.runs, k)
		// Under runsMu: a supervisor of the same task starting now records into fresh series.
		l := prometheus.Labels{"worker": worker, "connector": connector, "task": task}
		for _, v := range m.taskHistograms() {
			v.DeletePartialMatch(l)
		}
	}
}

// flushFailed counts a failed sink flush of the task whose label values (worker, connector,
// task) labels holds. A runner whose task has no supervisor here (unit tests build such
// runners) counts nothing.
func (m *workerMetrics) flushFailed(labels []string) {
	if len(labels) != len(taskLabels{}) {
		return
	}
	m.runsMu.Lock()
	r := m.runs[taskLabels(labels)]
	m.runsMu.Unlock()
	if r != nil {
		r.flushFailures.Add(1)
	}
}

// flushFailures is the task's failed sink flushes while it is supervised here.
func (m *workerMetrics) flushFailures(worker, connector, task string) int64 {
	m.runsMu.Lock()
	defer m.runsMu.Unlock()
	if r := m.runs[taskLabels{worker, connector, task}]; r != nil {
		return r.flushFailures.Load()
	}
	return 0
}

func since(t time.Time) float64 { return time.Since(t).Seconds() }
