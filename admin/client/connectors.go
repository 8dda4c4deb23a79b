package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// Expand names what GET /connectors?expand= adds to each connector.
type Expand string

// Expansions of ListExpanded.
const (
	ExpandStatus Expand = "status"
	ExpandInfo   Expand = "info"
)

// Expanded is one connector of ListExpanded; a part is nil when it was not asked for.
type Expanded struct {
	Status *restapi.ConnectorStatus `json:"status,omitempty"`
	Info   *restapi.ConnectorInfo   `json:"info,omitempty"`
}

// InitialState is the state a connector is created in (POST /connectors' initial_state).
type InitialState string

// Initial states; the empty InitialState leaves the choice to the worker (running).
const (
	InitialRunning InitialState = "RUNNING"
	InitialPaused  InitialState = "PAUSED"
	InitialStopped InitialState = "STOPPED"
)

// Health is GET /health's body.
type Health struct {
	Status   string `json:"status"` // healthy, starting or unhealthy (KIP-1017)
	WorkerID string `json:"worker_id"`
	Version  string `json:"version,omitempty"`
	Message  string `json:"message,omitempty"` // what the worker is waiting for, or why it is unhealthy
}

// The statuses of Health (KIP-1017).
const (
	HealthHealthy   = "healthy"
	HealthStarting  = "starting"
	HealthUnhealthy = "unhealthy"
)

// List returns the connector names, sorted (GET /connectors).
func (c *Client) List(ctx context.Context) ([]string, error) {
	var out []string
	_, err := c.do(ctx, call{method: http.MethodGet, path: []string{"connectors"}}, &out)
	return restapi.EmptyList(out), err
}

// ListExpanded returns every connector with the parts asked for (GET /connectors?expand=...).
// With no expansion it asks for the status.
func (c *Client) ListExpanded(ctx context.Context, expand ...Expand) (map[string]Expanded, error) {
	if len(expand) == 0 {
		expand = []Expand{ExpandStatus}
	}
	q := url.Values{}
	for _, e := range expand {
		q.Add("expand", string(e))
	}
	out := map[string]Expanded{}
	_, err := c.do(ctx, call{method: http.MethodGet, path: []string{"connectors"}, query: q}, &out)
	return out, err
}

// Create creates a connector (POST /connectors); initial may be empty.
func (c *Client) Create(ctx context.Context, name string, config map[string]string, initial InitialState) (restapi.ConnectorInfo, error) {
	req := struct {
		Name         string            `json:"name"`
		Config       map[string]string `json:"config"`
		InitialState InitialState      `json:"initial_state,omitempty"`
	}{name, restapi.EmptyMap(config), initial}
	var out restapi.ConnectorInfo
	_, err := c.do(ctx, call{method: http.MethodPost, path: []string{"connectors"}, body: req}, &out)
	return out, err
}

// PutConfig creates or replaces a connector's config (PUT /connectors/{name}/config); created
// tells which.
func (c *Client) PutConfig(ctx context.Context, name string, config map[string]string) (info restapi.ConnectorInfo, created bool, err error) {
	status, err := c.do(ctx, call{method: http.MethodPut, path: []string{"connectors", name, "config"}, body: restapi.EmptyMap(config)}, &info)
	return info, status == http.StatusCreated, err
}

// Get returns a connector's config, tasks and type (GET /connectors/{name}).
//
// GET /connectors/list is RocketMQ Connect's list route, so a connector named "list" is read
// through its config, tasks and status routes instead.
func (c *Client) Get(ctx context.Context, name string) (restapi.ConnectorInfo, error) {
	if name == "list" {
		return c.getViaParts(ctx, name)
	}
	var out restapi.ConnectorInfo
	_, err := c.do(ctx, call{method: http.MethodGet, path: []string{"connectors", name}}, &out)
	return out, err
}

func (c *Client) getViaParts(ctx context.Context, name string) (restapi.ConnectorInfo, error) {
	cfg, err := c.Config(ctx, name)
	if err != nil {
		return restapi.ConnectorInfo{}, err
	}
	tasks, err := c.Tasks(ctx, name)
	if err != nil {
		return restapi.ConnectorInfo{}, err
	}
	st, err := c.Status(ctx, name)
	if err != nil {
		return restapi.ConnectorInfo{}, err
	}
	info := restapi.ConnectorInfo{Name: name, Config: cfg, Tasks: []restapi.TaskID{}, Type: st.Type}
	for _, t := range tasks {
		info.Tasks = append(info.Tasks, t.ID)
	}
	return info, nil
}

// Config returns a connector's config (GET /connectors/{name}/config).
func (c *Client) Config(ctx context.Context, name string) (map[string]string, error) {
	out := map[string]string{}
	_, err := c.do(ctx, call{method: http.MethodGet, path: []string{"connectors", name, "config"}}, &out)
	return out, err
}

// Status returns a connector's and its tasks' states (GET /connectors/{name}/status).
func (c *Client) Status(ctx context.Context, name string) (restapi.ConnectorStatus, error) {
	var out restapi.ConnectorStatus
	_, err := c.do(ctx, call{method: http.MethodGet, path: []string{"connectors", name, "status"}}, &out)
	out.Tasks = restapi.EmptyList(out.Tasks)
	return out, err
}

// Tasks returns the task configs (GET /connectors/{name}/tasks).
func (c *Client) Tasks(ctx context.Context, name string) ([]restapi.TaskInfo, error) {
	var out []restapi.TaskInfo
	_, err := c.do(ctx, call{method: http.MethodGet, path: []string{"connectors", name, "tasks"}}, &out)
	return restapi.EmptyList(out), err
}

// TaskStatus returns one task's state (GET /connectors/{name}/tasks/{id}/status).
func (c *Client) TaskStatus(ctx context.Context, name string, task int) (restapi.TaskState, error) {
	var out restapi.TaskState
	_, err := c.do(ctx, call{method: http.MethodGet, path: []string{"connectors", name, "tasks", strconv.Itoa(task), "status"}}, &out)
	return out, err
}

// Pause pauses a connector (PUT /connectors/{name}/pause).
func (c *Client) Pause(ctx context.Context, name string) error {
	return c.target(ctx, name, "pause")
}

// Resume resumes a paused or stopped connector (PUT /connectors/{name}/resume).
func (c *Client) Resume(ctx context.Context, name string) error {
	return c.target(ctx, name, "resume")
}

// Stop stops a connector's tasks and keeps its config (PUT /connectors/{name}/stop). This is
// Kafka Connect's stop; RocketMQ Connect's GET .../stop deletes, which is Delete here.
func (c *Client) Stop(ctx context.Context, name string) error {
	return c.target(ctx, name, "stop")
}

func (c *Client) target(ctx context.Context, name, verb string) error {
	_, err := c.do(ctx, call{method: http.MethodPut, path: []string{"connectors", name, verb}}, nil)
	return err
}

// Restart restarts a connector (POST /connectors/{name}/restart). With includeTasks or
// onlyFailed the worker answers 202 with the status as the restart began, returned here;
// otherwise the connector alone restarts and the status is nil.
func (c *Client) Restart(ctx context.Context, name string, includeTasks, onlyFailed bool) (*restapi.ConnectorStatus, error) {
	q := url.Values{}
	if includeTasks {
		q.Set("includeTasks", "true")
	}
	if onlyFailed {
		q.Set("onlyFailed", "true")
	}
	var st restapi.ConnectorStatus
	status, err := c.do(ctx, call{method: http.MethodPost, path: []string{"connectors", name, "restart"}, query: q}, &st)
	if err != nil || status == http.StatusNoContent || st.Name == "" {
		return nil, err
	}
	st.Tasks = restapi.EmptyList(st.Tasks)
	return &st, nil
}

// RestartTask restarts one task (POST /connectors/{name}/tasks/{id}/restart).
func (c *Client) RestartTask(ctx context.Context, name string, task int) error {
	_, err := c.do(ctx, call{method: http.MethodPost, path: []string{"connectors", name, "tasks", strconv.Itoa(task), "restart"}}, nil)
	return err
}

// Delete stops a connector and removes it (DELETE /connectors/{name}).
func (c *Client) Delete(ctx context.Context, name string) error {
	_, err := c.do(ctx, call{method: http.MethodDelete, path: []string{"connectors", name}}, nil)
	return err
}

// Plugins lists the plugins (GET /connector-plugins): sources and sinks, and with all also
// transforms and converters.
func (c *Client) Plugins(ctx context.Context, all bool) ([]restapi.PluginInfo, error) {
	var q url.Values
	if all {
		q = url.Values{"connectorsOnly": {"false"}}
	}
	var out []restapi.PluginInfo
	_, err := c.do(ctx, call{method: http.MethodGet, path: []string{"connector-plugins"}, query: q}, &out)
	return restapi.EmptyList(out), err
}

// Health asks whether the worker is healthy (GET /health). A worker that is starting (503) or
// unhealthy (500) gives its Health, with the reason in Message, and an *APIError.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	_, err := c.do(ctx, call{method: http.MethodGet, path: []string{"health"}}, &h)
	var ae *APIError
	if errors.As(err, &ae) && (ae.Status == http.StatusServiceUnavailable || ae.Status == http.StatusInternalServerError) {
		h = Health{Status: HealthUnhealthy, Message: ae.Message}
		if ae.Status == http.StatusServiceUnavailable {
			h.Status = HealthStarting
		}
		if ae.body != nil {
			_ = json.Unmarshal(ae.body, &h)
		}
	}
	return h, err
}

// ClusterInfo lists the live workers' ids (GET /getClusterInfo, RocketMQ Connect's envelope).
func (c *Client) ClusterInfo(ctx context.Context) ([]string, error) {
	var out []string
	err := c.rocketmq(ctx, call{method: http.MethodGet, path: []string{"getClusterInfo"}}, &out)
	return restapi.EmptyList(out), err
}

// rocketmq calls a RocketMQ Connect route and decodes the body of its {"status", "body"}
// envelope into out. RocketMQ Connect itself answers failures with HTTP 200 and
// {"errorCode", "message"}; that is an *APIError too.
func (c *Client) rocketmq(ctx context.Context, cl call, out any) error {
	var env struct {
		Status    int             `json:"status"`
		Body      json.RawMessage `json:"body"`
		ErrorCode int             `json:"errorCode"`
		Message   string          `json:"message"`
	}
	status, err := c.do(ctx, cl, &env)
	if err != nil {
		return err
	}
	u := c.base.JoinPath(cl.path...).String()
	if env.ErrorCode != 0 || (env.Status != 0 && env.Status != http.StatusOK) {
		code := env.ErrorCode
		if code == 0 {
			code = env.Status
		}
		return &APIError{Method: cl.method, URL: u, Status: status, Code: code, Message: env.Message}
	}
	if len(env.Body) == 0 || string(env.Body) == "null" {
		return nil
	}
	if err := json.Unmarshal(env.Body, out); err != nil {
		return &TransportError{Method: cl.method, URL: u, Err: fmt.Errorf("decode response body: %w", err)}
	}
	return nil
}
