package admin

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// DLQHerder is the optional ability to inspect and replay a connector's dead-letter queue.
// When the herder implements it, NewServer serves the /connectors/{name}/dlq routes.
type DLQHerder interface {
	// DLQList lists up to limit records after the record id after ("" = from the start).
	// Record ids are restapi.DLQRecord.ID; one the caller got wrong, or that may name
	// several records, is a *cfgerr.Error (400), here and below.
	DLQList(ctx context.Context, name, after string, limit int) (restapi.DLQPage, error)
	// DLQGet returns one record with its body and stack trace.
	DLQGet(ctx context.Context, name, id string) (restapi.DLQRecord, error)
	// DLQReplay re-sends records (all when ids is empty) to their original topic, skipping
	// records replayed before unless force is set; the result lists each record asked for
	// as replayed, skipped, in progress (another worker's replay) or refused.
	DLQReplay(ctx context.Context, name string, ids []string, force bool) (restapi.DLQReplayResult, error)
}

func (s *Server) dlqRoutes(h DLQHerder) {
	e := s.engine
	e.GET("/connectors/:name/dlq", func(c *gin.Context) {
		limit := 100
		if v := c.Query("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1000 {
				s.fail(c, badRequestf("limit=%q: must be an integer from 1 to 1000", v))
				return
			}
			limit = n
		}
		page, err := h.DLQList(c.Request.Context(), c.Param("name"), c.Query("after"), limit)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, page)
	})
	e.GET("/connectors/:name/dlq/:id", func(c *gin.Context) {
		rec, err := h.DLQGet(c.Request.Context(), c.Param("name"), c.Param("id"))
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, rec)
	})
	e.POST("/connectors/:name/dlq/replay", func(c *gin.Context) {
		var req struct {
			IDs   []string `json:"ids"`
			Force bool     `json:"force"`
		}
		body, err := readBody(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		// No ids replays every record, so a misspelt key ({"id": [...]}) must not pass for
		// an absent one.
		if len(body) > 0 {
			if err := decodeStrict(body, &req, `{"ids": [...], "force": false}`); err != nil {
				s.fail(c, err)
				return
			}
		}
		res, err := h.DLQReplay(c.Request.Context(), c.Param("name"), req.IDs, req.Force)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, res)
	})
}
