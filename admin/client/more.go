package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// LoggerLevel is one logger of GET /admin/loggers: its level and when the API last set it
// (Unix milliseconds; nil if never).
type LoggerLevel struct {
	Level        string `json:"level"`
	LastModified *int64 `json:"last_modified"`
}

// AllocatedTask is one task of GET /allocated/tasks.
type AllocatedTask struct {
	ConnectorName string            `json:"connectorName"`
	TaskID        int               `json:"taskId"`
	Config        map[string]string `json:"config"`
	TaskState     string            `json:"taskState"`
}

// AllocatedTasks is GET /allocated/tasks' body: the tasks on the worker asked, by state.
type AllocatedTasks struct {
	RunningTasks  []AllocatedTask `json:"runningTasks"`
	PendingTasks  []AllocatedTask `json:"pendingTasks"`
	StoppingTasks []AllocatedTask `json:"stoppingTasks"`
	StoppedTasks  []AllocatedTask `json:"stoppedTasks"`
	ErrorTasks    []AllocatedTask `json:"errorTasks"`
}

// message is the {"message": ...} body of the offsets changes.
type message struct {
	Message string `json:"message"`
}

// Offsets returns a connector's committed offsets (GET /connectors/{name}/offsets): a source
// connector's positions, or a sink's consumer-group offsets. Numbers in the maps are
// json.Number, so an offset beyond 2^53 keeps its digits.
func (c *Client) Offsets(ctx context.Context, name string) (restapi.ConnectorOffsets, error) {
	out := restapi.ConnectorOffsets{Offsets: []restapi.ConnectorOffset{}}
	cl := call{method: http.MethodGet, path: []string{"connectors", name, "offsets"}}
	var raw json.RawMessage
	if _, err := c.do(ctx, cl, &raw); err != nil || len(raw) == 0 {
		return out, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return out, &TransportError{Method: cl.method, URL: c.base.JoinPath(cl.path...).String(),
			Err: fmt.Errorf("decode response: %w", err)}
	}
	out.Offsets = restapi.EmptyList(out.Offsets)
	return out, nil
}

// AlterOffsets sets offsets of a STOPPED connector (PATCH /connectors/{name}/offsets) and
// returns the worker's message. A nil Offset removes a source position or rewinds a sink queue.
func (c *Client) AlterOffsets(ctx context.Context, name string, offsets []restapi.ConnectorOffset) (string, error) {
	var out message
	body := restapi.ConnectorOffsets{Offsets: restapi.EmptyList(offsets)}
	_, err := c.do(ctx, call{method: http.MethodPatch, path: []string{"connectors", name, "offsets"}, body: body}, &out)
	return out.Message, err
}

// ResetOffsets resets a STOPPED connector's offsets (DELETE /connectors/{name}/offsets) and
// returns the worker's message.
func (c *Client) ResetOffsets(ctx context.Context, name string) (string, error) {
	var out message
	_, err := c.do(ctx, call{method: http.MethodDelete, path: []string{"connectors", name, "offsets"}}, &out)
	return out.Message, err
}

// Validate checks a connector config against a plugin without creating anything
// (PUT /connector-plugins/{plugin}/config/validate). Problems are in the answer's
// ErrorCount and each config's Value.Errors, not in err.
func (c *Client) Validate(ctx context.Context, plugin string, cfg map[string]string) (restapi.ConfigInfos, error) {
	var out restapi.ConfigInfos
	_, err := c.do(ctx, call{method: http.MethodPut, path: []string{"connector-plugins", plugin, "config", "validate"},
		body: restapi.EmptyMap(cfg)}, &out)
	return out, err
}

// PluginConfig returns a plugin's config definitions (GET /connector-plugins/{plugin}/config).
func (c *Client) PluginConfig(ctx context.Context, plugin string) ([]restapi.ConfigDefinition, error) {
	var out []restapi.ConfigDefinition
	_, err := c.do(ctx, call{method: http.MethodGet, path: []string{"connector-plugins", plugin, "config"}}, &out)
	return restapi.EmptyList(out), err
}

// Loggers returns every logger's level (GET /admin/loggers).
func (c *Client) Loggers(ctx context.Context) (map[string]LoggerLevel, error) {
	out := map[string]LoggerLevel{}
	_, err := c.do(ctx, call{method: http.MethodGet, path: []string{"admin", "loggers"}}, &out)
	return out, err
}

// Logger returns one logger's level (GET /admin/loggers/{name}); 404 for an unknown logger.
func (c *Client) Logger(ctx context.Context, name string) (LoggerLevel, error) {
	var out LoggerLevel
	_, err := c.do(ctx, call{method: http.MethodGet, path: []string{"admin", "loggers", name}}, &out)
	return out, err
}

// SetLogger sets a logger's level (DEBUG, INFO, WARN, ERROR) on the worker asked and returns
// the loggers whose level was set (PUT /admin/loggers/{name}).
func (c *Client) SetLogger(ctx context.Context, name, level string) ([]string, error) {
	var out []string
	_, err := c.do(ctx, call{method: http.MethodPut, path: []string{"admin", "loggers", name},
		body: map[string]string{"level": level}}, &out)
	return restapi.EmptyList(out), err
}

// SetLoggerCluster sets a logger's level on every worker of the cluster (PUT
// /admin/loggers/{name}?scope=cluster, KIP-976).
func (c *Client) SetLoggerCluster(ctx context.Context, name, level string) error {
	_, err := c.do(ctx, call{method: http.MethodPut, path: []string{"admin", "loggers", name},
		query: url.Values{"scope": {"cluster"}}, body: map[string]string{"level": level}}, nil)
	return err
}

// Topics returns the topics a connector has used (GET /connectors/{name}/topics).
func (c *Client) Topics(ctx context.Context, name string) ([]string, error) {
	var out map[string]struct {
		Topics []string `json:"topics"`
	}
	_, err := c.do(ctx, call{method: http.MethodGet, path: []string{"connectors", name, "topics"}}, &out)
	return restapi.EmptyList(out[name].Topics), err
}

// AllocatedConnectors returns the connectors running on the worker asked, with their configs
// (GET /allocated/connectors, RocketMQ Connect's envelope).
func (c *Client) AllocatedConnectors(ctx context.Context) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	err := c.rocketmq(ctx, call{method: http.MethodGet, path: []string{"allocated", "connectors"}}, &out)
	return out, err
}

// AllocatedTasks returns the tasks on the worker asked, by state (GET /allocated/tasks,
// RocketMQ Connect's envelope). Every list is non-nil.
func (c *Client) AllocatedTasks(ctx context.Context) (AllocatedTasks, error) {
	var out AllocatedTasks
	err := c.rocketmq(ctx, call{method: http.MethodGet, path: []string{"allocated", "tasks"}}, &out)
	out.RunningTasks = restapi.EmptyList(out.RunningTasks)
	out.PendingTasks = restapi.EmptyList(out.PendingTasks)
	out.StoppingTasks = restapi.EmptyList(out.StoppingTasks)
	out.StoppedTasks = restapi.EmptyList(out.StoppedTasks)
	out.ErrorTasks = restapi.EmptyList(out.ErrorTasks)
	return out, err
}
