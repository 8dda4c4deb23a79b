package admin

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
)

// TopicsHerder is the optional ability to report the topics a connector has used (Kafka
// Connect's KIP-558 routes).
type TopicsHerder interface {
	ConnectorTopics(ctx context.Context, name string) ([]string, error)
	ResetConnectorTopics(ctx context.Context, name string) error
}

func (s *Server) topicsRoutes(h TopicsHerder) {
	s.engine.GET("/connectors/:name/topics", func(c *gin.Context) {
		name := c.Param("name")
		topics, err := h.ConnectorTopics(c.Request.Context(), name)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{name: gin.H{"topics": topics}})
	})
	s.engine.PUT("/connectors/:name/topics/reset", func(c *gin.Context) {
		if err := h.ResetConnectorTopics(c.Request.Context(), c.Param("name")); err != nil {
			s.fail(c, err)
			return
		}
		c.Status(http.StatusAccepted) // as Kafka Connect answers
	})
}
