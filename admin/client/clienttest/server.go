package clienttest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// Server serves a Worker over HTTP and records the requests it received.
type Server struct {
	*httptest.Server
	W *Worker

	mu       sync.Mutex
	requests []string
}

// NewServer serves w until the test ends.
func NewServer(t testing.TB, w *Worker) *Server {
	t.Helper()
	s := &Server{W: w}
	s.Server = httptest.NewServer(s.handler())
	t.Cleanup(s.Close)
	return s
}

// Requests returns "METHOD /path?query" of every request so far, in order.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// Last returns the latest request, "" when there was none.
func (s *Server) Last() string {
	r := s.Requests()
	if len(r) == 0 {
		return ""
	}
	return r[len(r)-1]
}

func (s *Server) handler() http.Handler {
	w := s.W
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(rw http.ResponseWriter, r *http.Request) {
		if err := w.Health(r.Context()); err != nil {
			writeJSON(rw, http.StatusServiceUnavailable, map[string]string{"status": "DOWN", "message": err.Error(), "worker_id": w.id})
			return
		}
		writeJSON(rw, http.StatusOK, map[string]string{"status": "UP", "worker_id": w.id, "version": "test"})
	})
	mux.HandleFunc("GET /getClusterInfo", func(rw http.ResponseWriter, r *http.Request) {
		writeJSON(rw, http.StatusOK, map[string]any{"status": 200, "body": []string{w.id}})
	})
	mux.HandleFunc("GET /connectors", func(rw http.ResponseWriter, r *http.Request) {
		names, _ := w.Connectors(r.Context())
		expand := r.URL.Query()["expand"]
		if len(expand) == 0 {
			writeJSON(rw, http.StatusOK, names)
			return
		}
		out := map[string]map[string]any{}
		for _, n := range names {
			e := map[string]any{}
			for _, x := range expand {
				switch x {
				case "status":
					e[x], _ = w.ConnectorStatus(r.Context(), n)
				case "info":
					e[x], _ = w.ConnectorInfo(r.Context(), n)
				}
			}
			out[n] = e
		}
		writeJSON(rw, http.StatusOK, out)
	})
	mux.HandleFunc("POST /connectors", func(rw http.ResponseWriter, r *http.Request) {
		var req struct {
			Name         string            `json:"name"`
			Config       map[string]string `json:"config"`
			InitialState string            `json:"initial_state"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeError(rw, http.StatusBadRequest, "request body is not valid JSON: "+err.Error())
			return
		}
		if req.Name == "" {
			writeError(rw, http.StatusBadRequest, "name is required")
			return
		}
		if n, ok := req.Config["name"]; ok && n != req.Name {
			writeError(rw, http.StatusBadRequest, fmt.Sprintf("config.name %q does not match the connector name %q", n, req.Name))
			return
		}
		initial := map[string]restapi.TargetState{"": "", "RUNNING": restapi.TargetStarted, "PAUSED": restapi.TargetPaused, "STOPPED": restapi.TargetStopped}
		target, ok := initial[strings.ToUpper(req.InitialState)]
		if !ok {
			writeError(rw, http.StatusBadRequest, fmt.Sprintf("initial_state %q is not one of RUNNING, PAUSED, STOPPED", req.InitialState))
			return
		}
		info, err := w.CreateConnector(r.Context(), req.Name, req.Config, target)
		if err != nil {
			fail(rw, err)
			return
		}
		rw.Header().Set("Location", "/connectors/"+req.Name)
		writeJSON(rw, http.StatusCreated, info)
	})
	// GET /connectors/list is RocketMQ Connect's list, as on the real worker, so a connector
	// named "list" cannot be read there; the body is left empty.
	mux.HandleFunc("GET /connectors/list", func(rw http.ResponseWriter, r *http.Request) {
		writeJSON(rw, http.StatusOK, map[string]any{"status": 200, "body": map[string]any{}})
	})
	mux.HandleFunc("GET /connectors/{name}", func(rw http.ResponseWriter, r *http.Request) {
		answer(rw, http.StatusOK)(w.ConnectorInfo(r.Context(), r.PathValue("name")))
	})
	mux.HandleFunc("DELETE /connectors/{name}", func(rw http.ResponseWriter, r *http.Request) {
		noBody(rw, http.StatusNoContent, w.DeleteConnector(r.Context(), r.PathValue("name")))
	})
	mux.HandleFunc("GET /connectors/{name}/config", func(rw http.ResponseWriter, r *http.Request) {
		info, err := w.ConnectorInfo(r.Context(), r.PathValue("name"))
		answer(rw, http.StatusOK)(info.Config, err)
	})
	mux.HandleFunc("PUT /connectors/{name}/config", func(rw http.ResponseWriter, r *http.Request) {
		var cfg map[string]string
		if err := json.NewDecoder(r.Body).Decode(&cfg); err != nil {
			writeError(rw, http.StatusBadRequest, "config is not a JSON object of strings: "+err.Error())
			return
		}
		info, created, err := w.PutConnectorConfig(r.Context(), r.PathValue("name"), cfg)
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		answer(rw, status)(info, err)
	})
	mux.HandleFunc("GET /connectors/{name}/status", func(rw http.ResponseWriter, r *http.Request) {
		answer(rw, http.StatusOK)(w.ConnectorStatus(r.Context(), r.PathValue("name")))
	})
	mux.HandleFunc("GET /connectors/{name}/tasks", func(rw http.ResponseWriter, r *http.Request) {
		answer(rw, http.StatusOK)(w.TaskConfigs(r.Context(), r.PathValue("name")))
	})
	mux.HandleFunc("GET /connectors/{name}/tasks/{task}/status", func(rw http.ResponseWriter, r *http.Request) {
		id, ok := taskID(rw, r)
		if ok {
			answer(rw, http.StatusOK)(w.TaskStatus(r.Context(), id))
		}
	})
	mux.HandleFunc("POST /connectors/{name}/tasks/{task}/restart", func(rw http.ResponseWriter, r *http.Request) {
		if id, ok := taskID(rw, r); ok {
			noBody(rw, http.StatusNoContent, w.RestartTask(r.Context(), id))
		}
	})
	mux.HandleFunc("POST /connectors/{name}/restart", func(rw http.ResponseWriter, r *http.Request) {
		var req restapi.RestartRequest
		for key, dst := range map[string]*bool{"includeTasks": &req.IncludeTasks, "onlyFailed": &req.OnlyFailed} {
			if v := r.URL.Query().Get(key); v != "" {
				b, err := strconv.ParseBool(v)
				if err != nil {
					writeError(rw, http.StatusBadRequest, fmt.Sprintf("query parameter %s=%q is not a boolean", key, v))
					return
				}
				*dst = b
			}
		}
		st, err := w.RestartConnector(r.Context(), r.PathValue("name"), req)
		if err == nil && !req.IncludeTasks && !req.OnlyFailed {
			rw.WriteHeader(http.StatusNoContent)
			return
		}
		answer(rw, http.StatusAccepted)(st, err)
	})
	mux.HandleFunc("PUT /connectors/{name}/pause", func(rw http.ResponseWriter, r *http.Request) {
		noBody(rw, http.StatusAccepted, w.PauseConnector(r.Context(), r.PathValue("name")))
	})
	mux.HandleFunc("PUT /connectors/{name}/resume", func(rw http.ResponseWriter, r *http.Request) {
		noBody(rw, http.StatusAccepted, w.ResumeConnector(r.Context(), r.PathValue("name")))
	})
	mux.HandleFunc("PUT /connectors/{name}/stop", func(rw http.ResponseWriter, r *http.Request) {
		noBody(rw, http.StatusAccepted, w.StopConnector(r.Context(), r.PathValue("name")))
	})
	mux.HandleFunc("GET /connector-plugins", func(rw http.ResponseWriter, r *http.Request) {
		all, _ := w.Plugins(r.Context())
		out := []restapi.PluginInfo{}
		for _, p := range all {
			if r.URL.Query().Get("connectorsOnly") == "false" || p.Type == "source" || p.Type == "sink" {
				out = append(out, p)
			}
		}
		writeJSON(rw, http.StatusOK, out)
	})
	mux.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) {
		writeError(rw, http.StatusNotFound, "no route "+r.Method+" "+r.URL.Path)
	})
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		line := r.Method + " " + r.URL.EscapedPath()
		if q := r.URL.Query(); len(q) > 0 {
			line += "?" + q.Encode() // keys sorted
		}
		s.requests = append(s.requests, line)
		s.mu.Unlock()
		mux.ServeHTTP(rw, r)
	})
}

func taskID(rw http.ResponseWriter, r *http.Request) (restapi.TaskID, bool) {
	n, err := strconv.Atoi(r.PathValue("task"))
	if err != nil || n < 0 {
		writeError(rw, http.StatusBadRequest, fmt.Sprintf("task id %q is not a non-negative integer", r.PathValue("task")))
		return restapi.TaskID{}, false
	}
	return restapi.TaskID{Connector: r.PathValue("name"), Task: n}, true
}

// answer writes v with status, or err's error body.
func answer(rw http.ResponseWriter, status int) func(any, error) {
	return func(v any, err error) {
		if err != nil {
			fail(rw, err)
			return
		}
		writeJSON(rw, status, v)
	}
}

func noBody(rw http.ResponseWriter, status int, err error) {
	if err != nil {
		fail(rw, err)
		return
	}
	rw.WriteHeader(status)
}

// fail maps worker's sentinels as admin does.
func fail(rw http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, restapi.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, restapi.ErrAlreadyExists), errors.Is(err, restapi.ErrBadState), errors.Is(err, restapi.ErrRebalancing):
		status = http.StatusConflict
	case errors.Is(err, restapi.ErrInvalidConfig):
		status = http.StatusBadRequest
	case errors.Is(err, restapi.ErrStopped):
		status = http.StatusServiceUnavailable
	}
	writeError(rw, status, err.Error())
}

func writeError(rw http.ResponseWriter, status int, msg string) {
	writeJSON(rw, status, map[string]any{"error_code": status, "message": msg})
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json; charset=utf-8")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(v)
}
