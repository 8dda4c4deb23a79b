package admin

import (
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// EnableMetrics serves the gatherer's metrics in the Prometheus text format at GET
// /metrics. Call it before Run.
func (s *Server) EnableMetrics(g prometheus.Gatherer) {
	h := promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	s.engine.GET("/metrics", gin.WrapH(h))
}
