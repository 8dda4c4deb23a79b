package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// DLQList lists a connector's dead-letter records (GET /connectors/{name}/dlq).
func (c *Client) DLQList(ctx context.Context, name, after string, limit int) (restapi.DLQPage, error) {
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

// DLQReplay re-sends records (all when ids is empty) to their original topic
// (POST /connectors/{name}/dlq/replay).
func (c *Client) DLQReplay(ctx context.Context, name string, ids []string, force bool) (restapi.DLQReplayResult, error) {
	var res restapi.DLQReplayResult
	body := map[string]any{"ids": ids, "force": force}
	_, err := c.do(ctx, call{method: http.MethodPost, path: []string{"connectors", name, "dlq", "replay"}, body: body}, &res)
	return res, err
}
