package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// DLQList lists a connector's dead-letter records (GET /connectors/{name}/dlq): up to limit
// (1 to 1000), or the worker's default page (100) when limit is 0. A negative limit is an
// error, sent nowhere.
func (c *Client) DLQList(ctx context.Context, name, after string, limit int) (restapi.DLQPage, error) {
	if limit < 0 {
		return restapi.DLQPage{}, fmt.Errorf("list DLQ of connector %s: limit %d: must be 1 to 1000, or 0 for the worker's default", name, limit)
	}
	q := url.Values{}
	if after != "" {
		q.Set("after", after)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var page restapi.DLQPage
	_, err := c.do(ctx, call{method: http.MethodGet, path: []string{"connectors", name, "dlq"}, query: q}, &page)
	return page, err
}

// DLQGet returns one dead-letter record with its body (GET /connectors/{name}/dlq/{id}).
func (c *Client) DLQGet(ctx context.Context, name, id string) (restapi.DLQRecord, error) {
	var rec restapi.DLQRecord
	_, err := c.do(ctx, call{method: http.MethodGet, path: []string{"connectors", name, "dlq", id}}, &rec)
	return rec, err
}

// DLQReplay re-sends the records ids names to their original topic
// (POST /connectors/{name}/dlq/replay with {"ids": [...]}). ids must name at least one
// record: an empty ids is an error, sent nowhere, never every record (DLQReplayAll is).
func (c *Client) DLQReplay(ctx context.Context, name string, ids []string, force bool) (restapi.DLQReplayResult, error) {
	if len(ids) == 0 {
		return restapi.DLQReplayResult{}, fmt.Errorf("replay DLQ of connector %s: no record ids; DLQReplayAll replays every record", name)
	}
	return c.dlqReplay(ctx, name, restapi.DLQReplayRequest{IDs: ids, Force: force})
}

// DLQReplayAll re-sends every record of the connector's DLQ to its original topic
// (POST /connectors/{name}/dlq/replay with {"all": true}).
func (c *Client) DLQReplayAll(ctx context.Context, name string, force bool) (restapi.DLQReplayResult, error) {
	return c.dlqReplay(ctx, name, restapi.DLQReplayRequest{All: true, Force: force})
}

func (c *Client) dlqReplay(ctx context.Context, name string, req restapi.DLQReplayRequest) (restapi.DLQReplayResult, error) {
	var res restapi.DLQReplayResult
	_, err := c.do(ctx, call{method: http.MethodPost, path: []string{"connectors", name, "dlq", "replay"}, body: req}, &res)
	return res, err
}
