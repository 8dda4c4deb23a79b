package admin

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

func TestMetricsRoute(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "rmqconnect_test_total", Help: "test"})
	c.Add(3)
	reg.MustRegister(c)
	s := NewServer("127.0.0.1:0", Info{}, fakeHealth{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.EnableMetrics(reg)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, newRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), "rmqconnect_test_total 3")
}
