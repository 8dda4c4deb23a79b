package admin

import (
	"bytes"
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
	// DLQReplay re-sends records to their original topic, every record when ids is empty
	// (the route passes an empty ids only for a body with "all": true), skipping records
	// replayed before unless force is set; the result lists each record asked for as
	// replayed, skipped, in progress (another worker's replay) or refused.
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
		body, err := readBody(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		req, err := decodeReplay(body)
		if err != nil {
			s.fail(c, err)
			return
		}
		res, err := h.DLQReplay(c.Request.Context(), c.Param("name"), req.IDs, req.Force)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, res)
	})
}

// replayShape is the body the replay route takes, for error messages.
const replayShape = `{"ids": [...], "force": false} or {"all": true, "force": false}`

// decodeReplay reads a replay body: the records by ids, or every record with "all": true.
// Replaying every record is never a default: an empty body, one with neither ids nor all,
// an empty ids list and all with ids are each a bad request saying what to send, so that
// a selection that came out empty, or a misspelt key, cannot replay the whole DLQ. ids null
// is ids absent, as JSON decoding takes it.
func decodeReplay(body []byte) (restapi.DLQReplayRequest, error) {
	var req restapi.DLQReplayRequest
	if len(bytes.Trim(body, jsonSpace)) == 0 {
		return req, badRequestf("body is empty; it must be %s", replayShape)
	}
	if err := decodeStrict(body, &req, replayShape); err != nil {
		return req, err
	}
	switch {
	case req.All && req.IDs != nil:
		return req, badRequestf(`ids and "all": true together: send either ids, the records to replay, or "all": true without ids to replay every record`)
	case req.IDs != nil && len(req.IDs) == 0:
		return req, badRequestf(`ids is empty, so it names no record to replay; to replay every record send {"all": true} without ids`)
	case !req.All && req.IDs == nil:
		return req, badRequestf(`body names no records: send {"ids": [...]} to replay those records, or {"all": true} to replay every record`)
	}
	return req, nil
}
