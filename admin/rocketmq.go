package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// RocketMQ Connect compatibility routes: those of its REST API that do not collide with the Kafka
// Connect contract. They answer as that runtime does, {"status": 200, "body": ...} on success and
// {"errorCode": N, "message": "..."} on failure, with its camelCase field names and upper-case
// types. Unlike that runtime, which answers HTTP 200 even for errors, the HTTP status here is the
// real one and equals errorCode: a client that reads only the envelope sees what it expects, and
// a client that checks the status (curl -f, scripts, proxies) is not told a failure succeeded.
// Config and validation failures use the status httpStatus gives (400, 404, 409, ...) where the
// Java runtime said 500 for all of them.
func (s *Server) rocketmqRoutes() {
	e := s.engine
	e.POST("/connectors/:name", s.rmqCreatePost) // GET /connectors/:name?config= is in getConnector
	e.GET("/connectors/:name/stop", s.mutatingGET(s.rmqStop))
	e.GET("/connectors/:name/pause", s.mutatingGET(s.rmqPause))
	e.GET("/connectors/:name/resume", s.mutatingGET(s.rmqResume))
	e.GET("/connectors/stop/all", s.mutatingGET(s.rmqStopAll))
	e.GET("/connectors/pause/all", s.mutatingGET(s.rmqPauseAll))
	e.GET("/connectors/resume/all", s.mutatingGET(s.rmqResumeAll))
	e.GET("/connectors/list", s.rmqList)
	e.GET("/plugin/list", s.rmqPlugins(false))
	e.GET("/plugin/list/connectors", s.rmqPlugins(true))
	e.GET("/getClusterInfo", s.rmqClusterInfo)
	s.allocatedRoutes()
}

// mutatingGET runs h, a GET route that changes state, only when EnableMutatingGETs is on and
// the request is not one a browser sent for a page of another site; otherwise it answers 403
// in RocketMQ Connect's error envelope, naming the setting or the reason.
func (s *Server) mutatingGET(h gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.refuseMutatingGET(c) {
			return
		}
		h(c)
	}
}

// refuseMutatingGET answers 403 and returns true when the state-changing GET in c may not run.
func (s *Server) refuseMutatingGET(c *gin.Context) bool {
	var msg string
	switch {
	case !s.mutatingGETs:
		msg = "GET " + c.Request.URL.Path + " changes state and the RocketMQ Connect GET routes that do are off " +
			"(set restMutatingGetEnable=true to serve them); use the Kafka Connect routes (POST, PUT, DELETE) instead"
	case s.guard.CrossSite(c.Request):
		msg = "cross-site request refused: a page of another site may not change state"
	default:
		return false
	}
	c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"errorCode": http.StatusForbidden, "message": msg})
	return true
}

// rmqOK answers with RocketMQ Connect's success envelope.
func rmqOK(c *gin.Context, body any) {
	c.JSON(http.StatusOK, gin.H{"status": http.StatusOK, "body": body})
}

// rmqFail answers with RocketMQ Connect's error envelope and the status httpStatus gives err.
func (s *Server) rmqFail(c *gin.Context, err error) {
	status := httpStatus(err)
	if status >= http.StatusInternalServerError {
		s.log.Error("admin request failed", "method", c.Request.Method, "path", c.Request.URL.Path, "status", status, "err", err)
	}
	c.AbortWithStatusJSON(status, gin.H{"errorCode": status, "message": err.Error()})
}

// rmqStateInfo, rmqTaskState, rmqStatus, rmqInfo and rmqPlugin are RocketMQ Connect's JSON
// shapes: camelCase, a null trace, types SOURCE/SINK/UNKNOWN.
type rmqStateInfo struct {
	State    restapi.State `json:"state"`
	Trace    *string       `json:"trace"`
	WorkerID string        `json:"workerId"`
}

type rmqTaskState struct {
	rmqStateInfo
	ID int `json:"id"`
}

type rmqStatus struct {
	Name      string         `json:"name"`
	Connector rmqStateInfo   `json:"connector"`
	Tasks     []rmqTaskState `json:"tasks"`
	Type      string         `json:"type"`
}

type rmqInfo struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
	Tasks  []restapi.TaskID  `json:"tasks"`
	Type   string            `json:"type"`
}

type rmqPlugin struct {
	ClassName string `json:"className"`
	Type      string `json:"type"`
	Version   string `json:"version"`
}

func toRmqState(si restapi.StateInfo) rmqStateInfo {
	out := rmqStateInfo{State: si.State, WorkerID: si.WorkerID}
	if si.Trace != "" {
		trace := si.Trace
		out.Trace = &trace
	}
	return out
}

func toRmqStatus(st restapi.ConnectorStatus) rmqStatus {
	out := rmqStatus{Name: st.Name, Connector: toRmqState(st.Connector), Tasks: []rmqTaskState{}, Type: strings.ToUpper(string(st.Type))}
	for _, t := range st.Tasks {
		out.Tasks = append(out.Tasks, rmqTaskState{rmqStateInfo: toRmqState(t.StateInfo), ID: t.ID})
	}
	return out
}

func toRmqInfo(info restapi.ConnectorInfo) rmqInfo {
	return rmqInfo{Name: info.Name, Config: restapi.EmptyMap(info.Config), Tasks: restapi.EmptyList(info.Tasks), Type: strings.ToUpper(string(info.Type))}
}

// POST /connectors/{name} with the config object as the body.
func (s *Server) rmqCreatePost(c *gin.Context) {
	body, err := readBody(c)
	if err != nil {
		s.rmqFail(c, err)
		return
	}
	s.rmqCreate(c, body, "request body")
}

// rmqCreate creates or replaces connector {name} from a flat JSON config object given as the
// body (POST) or ?config= (GET), and echoes the config as stored.
func (s *Server) rmqCreate(c *gin.Context, raw []byte, what string) {
	name := c.Param("name")
	if err := validateName(name); err != nil {
		s.rmqFail(c, err)
		return
	}
	if strings.TrimSpace(string(raw)) == "" {
		s.rmqFail(c, badRequestf("%s is required: a JSON object of connector config", what))
		return
	}
	cfg, err := decodeConfig(raw, "config")
	if err == nil {
		err = withName(cfg, name)
	}
	if err != nil {
		s.rmqFail(c, err)
		return
	}
	if _, _, err := s.herder.PutConnectorConfig(c.Request.Context(), name, cfg); err != nil {
		s.rmqFail(c, err)
		return
	}
	rmqOK(c, cfg)
}

// GET /connectors/{name}/stop deletes the connector, as RocketMQ Connect does.
func (s *Server) rmqStop(c *gin.Context) {
	name := c.Param("name")
	if err := s.herder.DeleteConnector(c.Request.Context(), name); err != nil {
		s.rmqFail(c, err)
		return
	}
	rmqOK(c, "Connector ["+name+"] deleted successfully")
}

// GET /connectors/{name}/pause.
func (s *Server) rmqPause(c *gin.Context) {
	name := c.Param("name")
	if err := s.herder.PauseConnector(c.Request.Context(), name); err != nil {
		s.rmqFail(c, err)
		return
	}
	rmqOK(c, "Connector ["+name+"] paused successfully")
}

// GET /connectors/{name}/resume.
func (s *Server) rmqResume(c *gin.Context) {
	name := c.Param("name")
	if err := s.herder.ResumeConnector(c.Request.Context(), name); err != nil {
		s.rmqFail(c, err)
		return
	}
	rmqOK(c, "Connector ["+name+"] resumed successfully")
}

// forEach applies op to every connector, skipping those deleted meanwhile, and returns the
// names op succeeded on; it stops at the first other error.
func (s *Server) forEach(c *gin.Context, op func(Herder, string) error) ([]string, error) {
	names, err := s.herder.Connectors(c.Request.Context())
	if err != nil {
		return nil, err
	}
	done := make([]string, 0, len(names))
	for _, n := range names {
		err := op(s.herder, n)
		if errors.Is(err, restapi.ErrNotFound) {
			continue
		}
		if err != nil {
			return done, fmt.Errorf("connector %s: %w", n, err)
		}
		done = append(done, n)
	}
	return done, nil
}

// GET /connectors/stop/all deletes every connector.
func (s *Server) rmqStopAll(c *gin.Context) {
	done, err := s.forEach(c, func(h Herder, n string) error { return h.DeleteConnector(c.Request.Context(), n) })
	switch {
	case err != nil:
		s.rmqFail(c, err)
	case len(done) == 0:
		rmqOK(c, "No connector needs to be deleted, please add connector first")
	default:
		rmqOK(c, "["+strings.Join(done, ", ")+"] connectors are deleted")
	}
}

// GET /connectors/pause/all.
func (s *Server) rmqPauseAll(c *gin.Context) {
	done, err := s.forEach(c, func(h Herder, n string) error { return h.PauseConnector(c.Request.Context(), n) })
	switch {
	case err != nil:
		s.rmqFail(c, err)
	case len(done) == 0:
		rmqOK(c, "No connector needs to be paused, please add connector first")
	default:
		rmqOK(c, fmt.Sprintf("%d connectors are suspended", len(done)))
	}
}

// GET /connectors/resume/all.
func (s *Server) rmqResumeAll(c *gin.Context) {
	done, err := s.forEach(c, func(h Herder, n string) error { return h.ResumeConnector(c.Request.Context(), n) })
	switch {
	case err != nil:
		s.rmqFail(c, err)
	case len(done) == 0:
		rmqOK(c, "No connector needs to be resumed, please add connector first")
	default:
		rmqOK(c, fmt.Sprintf("%d connectors are resumed", len(done)))
	}
}

// GET /connectors/list: {"<name>": {"status": ..., "info": ...}} for every connector.
func (s *Server) rmqList(c *gin.Context) {
	ctx := c.Request.Context()
	names, err := s.herder.Connectors(ctx)
	if err != nil {
		s.rmqFail(c, err)
		return
	}
	out := make(map[string]gin.H, len(names))
	for _, n := range names {
		st, err := s.herder.ConnectorStatus(ctx, n)
		var info restapi.ConnectorInfo
		if err == nil {
			info, err = s.herder.ConnectorInfo(ctx, n)
		}
		if errors.Is(err, restapi.ErrNotFound) {
			continue
		}
		if err != nil {
			s.rmqFail(c, fmt.Errorf("connector %s: %w", n, err))
			return
		}
		out[n] = gin.H{"status": toRmqStatus(st), "info": toRmqInfo(info)}
	}
	rmqOK(c, out)
}

// GET /plugin/list and /plugin/list/connectors: [{"className", "type", "version"}].
func (s *Server) rmqPlugins(connectorsOnly bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		all, err := s.herder.Plugins(c.Request.Context())
		if err != nil {
			s.rmqFail(c, err)
			return
		}
		out := []rmqPlugin{}
		for _, p := range all {
			if connectorsOnly && !isConnectorType(p.Type) {
				continue
			}
			out = append(out, rmqPlugin{ClassName: p.Class, Type: strings.ToUpper(p.Type), Version: p.Version})
		}
		rmqOK(c, out)
	}
}

// ClusterHerder is the ability of a distributed herder to list the cluster's live workers.
type ClusterHerder interface {
	Members(ctx context.Context) ([]string, error)
}

// RebalanceHerder is the ability of a distributed herder to say that it is applying an
// assignment change, during which what runs on it (/allocated/*) is not reliable.
type RebalanceHerder interface {
	Rebalancing() bool
}

// GET /getClusterInfo: the live workers; in standalone mode, this one.
func (s *Server) rmqClusterInfo(c *gin.Context) {
	if ch, ok := s.herder.(ClusterHerder); ok {
		members, err := ch.Members(c.Request.Context())
		if err != nil {
			s.rmqFail(c, err)
			return
		}
		rmqOK(c, members)
		return
	}
	rmqOK(c, []string{s.herder.WorkerID()})
}
