package admin

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// OffsetsHerder is the optional ability to read and change a connector's offsets (Kafka
// Connect's KIP-875 routes). Changes are allowed only while the connector is STOPPED
// (restapi.ErrNotStopped otherwise).
type OffsetsHerder interface {
	Offsets(ctx context.Context, name string) (restapi.ConnectorOffsets, error)
	AlterOffsets(ctx context.Context, name string, offsets []restapi.ConnectorOffset) error
	ResetOffsets(ctx context.Context, name string) error
}

func (s *Server) offsetsRoutes(h OffsetsHerder) {
	e := s.engine
	e.GET("/connectors/:name/offsets", func(c *gin.Context) {
		offs, err := h.Offsets(c.Request.Context(), c.Param("name"))
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, offs)
	})
	e.PATCH("/connectors/:name/offsets", func(c *gin.Context) {
		body, err := readBody(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		var req restapi.ConnectorOffsets
		if err := decodeStrict(body, &req, `{"offsets": [{"partition": {...}, "offset": {...} or null}]}`); err != nil {
			s.fail(c, err)
			return
		}
		if len(req.Offsets) == 0 {
			s.fail(c, badRequestf("Partitions / offsets need to be provided for an alter offsets request")) // Kafka Connect's words
			return
		}
		if err := h.AlterOffsets(c.Request.Context(), c.Param("name"), req.Offsets); err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"message": "The offsets for this connector have been altered successfully"})
	})
	e.DELETE("/connectors/:name/offsets", func(c *gin.Context) {
		if err := h.ResetOffsets(c.Request.Context(), c.Param("name")); err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"message": "The offsets for this connector have been reset successfully"})
	})
}
