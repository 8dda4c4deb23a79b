package httpconn

import (
	"net/http"
	"strconv"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins"
)

// Metric families both connectors declare through plugins.Metrics; the engine exposes them as
// rmqconnect_plugin_http_sink_<name> and rmqconnect_plugin_http_source_<name> (see docs/connectors.md).
const (
	MetricRequests        = "requests_total"           // attempts by class and code
	MetricRequestDuration = "request_duration_seconds" // attempts by class
	MetricReceived        = "received_total"           // http-source listen mode: requests answered, by class and code
)

// Label values: the class of a response ("2xx" … "5xx"), or "error" when no response came (connection
// refused, timeout, reset); the code is the status code when it is one of statusCodes, else "other".
const classError = "error"

var (
	statusClasses = []string{"1xx", "2xx", "3xx", "4xx", "5xx", classError}
	statusCodes   = []string{"200", "201", "202", "204", "301", "302", "303", "304", "307", "308", "400", "401", "403", "404",
		"405", "408", "409", "410", "413", "415", "422", "429", "500", "502", "503", "504", classError}
	labelClass = plugins.MetricLabel{Name: "class", Values: statusClasses}
	labelCode  = plugins.MetricLabel{Name: "code", Values: statusCodes}
)

// classOf returns the class and code label values of a status (0: no response).
func classOf(status int) (class, code string) {
	if status <= 0 {
		return classError, classError
	}
	return strconv.Itoa(status/100) + "xx", strconv.Itoa(status)
}

// requestMetrics records the outgoing requests of a requester.
type requestMetrics struct {
	requests plugins.Counter
	duration plugins.Histogram
}

func newRequestMetrics(m plugins.Metrics) (*requestMetrics, error) {
	requests, err := m.Counter(MetricRequests, "HTTP requests sent (every attempt, retries included) by response class and status code; class and code \"error\" when no response came.",
		labelClass, labelCode)
	if err != nil {
		return nil, err
	}
	duration, err := m.Histogram(MetricRequestDuration, "Time from sending an HTTP request to reading its response (every attempt), by response class.",
		nil, labelClass)
	if err != nil {
		return nil, err
	}
	return &requestMetrics{requests: requests, duration: duration}, nil
}

// observe records one attempt that got status (0: none) after took.
func (m *requestMetrics) observe(status int, took time.Duration) {
	if m == nil {
		return
	}
	class, code := classOf(status)
	m.requests.Inc(class, code)
	m.duration.Observe(took.Seconds(), class)
}

// receivedMetrics counts the requests the listen endpoint answered.
type receivedMetrics struct{ received plugins.Counter }

func newReceivedMetrics(m plugins.Metrics) (*receivedMetrics, error) {
	received, err := m.Counter(MetricReceived, "Requests the receiving endpoint answered, by response class and status code.",
		labelClass, labelCode)
	if err != nil {
		return nil, err
	}
	return &receivedMetrics{received: received}, nil
}

func (m *receivedMetrics) observe(status int) {
	if m == nil {
		return
	}
	class, code := classOf(status)
	m.received.Inc(class, code)
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
