package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// connectorRoutes registers the Kafka Connect contract routes and the RocketMQ Connect
// compatibility routes (rocketmq.go). gin keeps one route tree per method and prefers a static
// segment to a parameter, backtracking when the static branch has no match; so on GET,
// /connectors/list and /connectors/{stop,pause,resume}/all are the RocketMQ routes, and every
// other /connectors/X/... reaches the connector X. The one name GET cannot reach is a connector
// called "list" at GET /connectors/list (as in RocketMQ Connect); its other routes work.
func (s *Server) connectorRoutes() {
	e := s.engine
	e.GET("/connectors", s.listConnectors)
	e.POST("/connectors", s.createConnector)
	e.GET("/connectors/:name", s.getConnector) // also the RocketMQ create when ?config= is given
	e.DELETE("/connectors/:name", s.deleteConnector)
	e.GET("/connectors/:name/config", s.getConnectorConfig)
	e.PUT("/connectors/:name/config", s.putConnectorConfig)
	e.GET("/connectors/:name/status", s.connectorStatus)
	e.GET("/connectors/:name/tasks", s.taskConfigs)
	e.GET("/connectors/:name/tasks/:task/status", s.taskStatus)
	e.POST("/connectors/:name/restart", s.restartConnector)
	e.POST("/connectors/:name/tasks/:task/restart", s.restartTask)
	e.PUT("/connectors/:name/pause", s.targetState(Herder.PauseConnector, http.StatusAccepted))
	e.PUT("/connectors/:name/resume", s.targetState(Herder.ResumeConnector, http.StatusAccepted))
	e.PUT("/connectors/:name/stop", s.targetState(Herder.StopConnector, http.StatusNoContent))
	e.GET("/connector-plugins", s.connectorPlugins)
	s.rocketmqRoutes()
}

// fail answers a Kafka Connect route with err; a server-side failure is logged here because
// the client is the only other place it goes.
func (s *Server) fail(c *gin.Context, err error) {
	status := httpStatus(err)
	if status >= http.StatusInternalServerError {
		s.log.Error("admin request failed", "method", c.Request.Method, "path", c.Request.URL.Path, "status", status, "err", err)
	}
	writeError(c, status, err.Error())
}

// GET /connectors[?expand=status&expand=info]: the names, or a map of name → the expansions.
// Unknown expansions are ignored and a connector deleted meanwhile is left out, as in Kafka Connect.
func (s *Server) listConnectors(c *gin.Context) {
	ctx := c.Request.Context()
	names, err := s.herder.Connectors(ctx)
	if err != nil {
		s.fail(c, err)
		return
	}
	var expand []string
	for _, v := range c.QueryArray("expand") {
		for _, x := range strings.Split(v, ",") {
			if x = strings.TrimSpace(x); x != "" {
				expand = append(expand, x)
			}
		}
	}
	if len(expand) == 0 {
		c.JSON(http.StatusOK, restapi.EmptyList(names))
		return
	}
	out := make(map[string]map[string]any, len(names))
names:
	for _, name := range names {
		entry := map[string]any{}
		for _, x := range expand {
			var v any
			var err error
			switch x {
			case "status":
				var st restapi.ConnectorStatus
				st, err = s.herder.ConnectorStatus(ctx, name)
				v = kafkaStatus(st)
			case "info":
				var info restapi.ConnectorInfo
				info, err = s.herder.ConnectorInfo(ctx, name)
				v = kafkaInfo(info)
			default:
				continue
			}
			if errors.Is(err, restapi.ErrNotFound) {
				continue names
			}
			if err != nil {
				s.fail(c, err)
				return
			}
			entry[x] = v
		}
		out[name] = entry
	}
	c.JSON(http.StatusOK, out)
}

// createRequest is POST /connectors' body; fields stay raw so each can be checked and named.
type createRequest struct {
	Name         json.RawMessage `json:"name"`
	Config       json.RawMessage `json:"config"`
	InitialState json.RawMessage `json:"initial_state"`
}

// POST /connectors {"name", "config", "initial_state"}: 201 + the connector's info.
func (s *Server) createConnector(c *gin.Context) {
	name, cfg, initial, err := s.parseCreate(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	info, err := s.herder.CreateConnector(c.Request.Context(), name, cfg, initial)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Location", "/connectors/"+name)
	c.JSON(http.StatusCreated, kafkaInfo(info))
}

func (s *Server) parseCreate(c *gin.Context) (string, map[string]string, restapi.TargetState, error) {
	body, err := readBody(c)
	if err != nil {
		return "", nil, "", err
	}
	if _, err := decodeObject(body, "request body"); err != nil {
		return "", nil, "", err
	}
	var req createRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return "", nil, "", badRequestf("request body is not valid JSON: %v", err)
	}
	var name string
	if len(req.Name) == 0 || string(req.Name) == "null" {
		return "", nil, "", badRequestf("name is required")
	}
	if err := json.Unmarshal(req.Name, &name); err != nil {
		return "", nil, "", badRequestf("name must be a JSON string")
	}
	if err := validateName(name); err != nil {
		return "", nil, "", err
	}
	if len(req.Config) == 0 || string(req.Config) == "null" {
		return "", nil, "", badRequestf("config is required")
	}
	cfg, err := decodeConfig(req.Config, "config")
	if err != nil {
		return "", nil, "", err
	}
	if err := withName(cfg, name); err != nil {
		return "", nil, "", err
	}
	var state string
	if len(req.InitialState) > 0 && string(req.InitialState) != "null" {
		if err := json.Unmarshal(req.InitialState, &state); err != nil {
			return "", nil, "", badRequestf("initial_state must be a JSON string")
		}
	}
	initial, err := parseInitialState(state)
	if err != nil {
		return "", nil, "", err
	}
	return name, cfg, initial, nil
}

// GET /connectors/{name}: the connector's info; with ?config= it is RocketMQ Connect's create.
func (s *Server) getConnector(c *gin.Context) {
	if raw, ok := c.GetQuery("config"); ok {
		if s.refuseMutatingGET(c) {
			return
		}
		s.rmqCreate(c, []byte(raw), "query parameter config")
		return
	}
	info, err := s.herder.ConnectorInfo(c.Request.Context(), c.Param("name"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, kafkaInfo(info))
}

// DELETE /connectors/{name}: 204.
func (s *Server) deleteConnector(c *gin.Context) {
	if err := s.herder.DeleteConnector(c.Request.Context(), c.Param("name")); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// GET /connectors/{name}/config: the config map.
func (s *Server) getConnectorConfig(c *gin.Context) {
	info, err := s.herder.ConnectorInfo(c.Request.Context(), c.Param("name"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, restapi.EmptyMap(info.Config))
}

// PUT /connectors/{name}/config {config}: 201 when created, 200 when replaced, with the info.
func (s *Server) putConnectorConfig(c *gin.Context) {
	name := c.Param("name")
	if err := validateName(name); err != nil {
		s.fail(c, err)
		return
	}
	body, err := readBody(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	cfg, err := decodeConfig(body, "config")
	if err == nil {
		err = withName(cfg, name)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	info, created, err := s.herder.PutConnectorConfig(c.Request.Context(), name, cfg)
	if err != nil {
		s.fail(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		c.Header("Location", "/connectors/"+name)
	}
	c.JSON(status, kafkaInfo(info))
}

// GET /connectors/{name}/status.
func (s *Server) connectorStatus(c *gin.Context) {
	st, err := s.herder.ConnectorStatus(c.Request.Context(), c.Param("name"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, kafkaStatus(st))
}

// GET /connectors/{name}/tasks: [{"id": {"connector", "task"}, "config": {...}}].
func (s *Server) taskConfigs(c *gin.Context) {
	tasks, err := s.herder.TaskConfigs(c.Request.Context(), c.Param("name"))
	if err != nil {
		s.fail(c, err)
		return
	}
	for i := range tasks {
		tasks[i].Config = restapi.EmptyMap(tasks[i].Config)
	}
	c.JSON(http.StatusOK, restapi.EmptyList(tasks))
}

// GET /connectors/{name}/tasks/{task}/status.
func (s *Server) taskStatus(c *gin.Context) {
	id, err := taskID(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	st, err := s.herder.TaskStatus(c.Request.Context(), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, st)
}

// POST /connectors/{name}/restart?includeTasks=&onlyFailed=: 204 when both are false (the
// connector alone restarts), otherwise 202 with the status as the restart began.
func (s *Server) restartConnector(c *gin.Context) {
	var req restapi.RestartRequest
	var err error
	if req.IncludeTasks, err = boolQuery(c, "includeTasks"); err != nil {
		s.fail(c, err)
		return
	}
	if req.OnlyFailed, err = boolQuery(c, "onlyFailed"); err != nil {
		s.fail(c, err)
		return
	}
	st, err := s.herder.RestartConnector(c.Request.Context(), c.Param("name"), req)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !req.IncludeTasks && !req.OnlyFailed {
		c.Status(http.StatusNoContent)
		return
	}
	c.JSON(http.StatusAccepted, kafkaStatus(st))
}

// POST /connectors/{name}/tasks/{task}/restart: 204.
func (s *Server) restartTask(c *gin.Context) {
	id, err := taskID(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.herder.RestartTask(c.Request.Context(), id); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// PUT /connectors/{name}/pause|resume|stop: no body, with status ok: 202 for pause and
// resume, 204 for stop, as Kafka Connect answers.
func (s *Server) targetState(set func(Herder, context.Context, string) error, ok int) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := set(s.herder, c.Request.Context(), c.Param("name")); err != nil {
			s.fail(c, err)
			return
		}
		c.Status(ok)
	}
}

// GET /connector-plugins[?connectorsOnly=false]: [{"class", "type", "version", "aliases"}]. By
// default only source and sink plugins are listed; with false, transforms, predicates and
// converters too, as in Kafka Connect.
func (s *Server) connectorPlugins(c *gin.Context) {
	all, err := s.listPlugins(c, "connectorsOnly")
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, restapi.EmptyList(all))
}

// listPlugins returns the herder's plugins, only sources and sinks unless the query parameter
// onlyKey is false (it defaults to true).
func (s *Server) listPlugins(c *gin.Context, onlyKey string) ([]restapi.PluginInfo, error) {
	only := true
	if _, ok := c.GetQuery(onlyKey); ok {
		var err error
		if only, err = boolQuery(c, onlyKey); err != nil {
			return nil, err
		}
	}
	all, err := s.herder.Plugins(c.Request.Context())
	if err != nil || !only {
		return all, err
	}
	out := all[:0:0]
	for _, p := range all {
		if isConnectorType(p.Type) {
			out = append(out, p)
		}
	}
	return out, nil
}

func isConnectorType(t string) bool {
	t = strings.ToLower(t)
	return t == string(restapi.TypeSource) || t == string(restapi.TypeSink)
}

// kafkaInfo and kafkaStatus make empty lists and maps encode as [] and {}, never null.
func kafkaInfo(info restapi.ConnectorInfo) restapi.ConnectorInfo {
	info.Config = restapi.EmptyMap(info.Config)
	info.Tasks = restapi.EmptyList(info.Tasks)
	return info
}

func kafkaStatus(st restapi.ConnectorStatus) restapi.ConnectorStatus {
	st.Tasks = restapi.EmptyList(st.Tasks)
	return st
}
