package registrytest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/rmqconnect/rmqconnect/schema/avro"
	"github.com/rmqconnect/rmqconnect/schema/registry"
)

// Server is the fake registry. Its methods are safe for concurrent use.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	subjects map[string]*subject // "cluster/tenant/subject"
	nextID   int64
	fail     []int          // statuses answered to the next requests, in order
	hits     map[string]int // requests per "METHOD route"
}

type subject struct {
	name     string
	compat   avro.Mode
	versions []registry.SchemaRecord
}

const prefix = "/schema-registry/v1/cluster/{c}/tenant/{t}"

// NewServer starts a fake registry; Close it when done.
func NewServer() *Server {
	s := &Server{subjects: map[string]*subject{}, nextID: 1 << 40, hits: map[string]int{}}
	mux := http.NewServeMux()
	route := func(pattern string, h func(w http.ResponseWriter, r *http.Request)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			s.mu.Lock()
			s.hits[pattern]++
			var status int
			if len(s.fail) > 0 {
				status, s.fail = s.fail[0], s.fail[1:]
			}
			s.mu.Unlock()
			if status != 0 {
				writeError(w, status, "injected failure")
				return
			}
			h(w, r)
		})
	}
	route("POST "+prefix+"/subject/{s}/schema/{name}", s.register)
	route("PUT "+prefix+"/subject/{s}/schema/{name}", s.update)
	route("GET "+prefix+"/subject/{s}/schema", s.latest)
	route("GET "+prefix+"/subject/{s}/schema/versions", s.versions)
	route("GET "+prefix+"/subject/{s}/schema/versions/{v}", s.version)
	route("GET "+prefix+"/subject/{s}/recordId/{id}/schema", s.byID)
	route("GET "+prefix+"/subjects", s.list)
	route("DELETE "+prefix+"/subject/{s}/schema", s.deleteSubject)
	route("DELETE "+prefix+"/subject/{s}/schema/versions/{v}", s.deleteVersion)
	s.Server = httptest.NewServer(mux)
	return s
}

// FailNext makes the next len(statuses) requests answer those HTTP statuses.
func (s *Server) FailNext(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, statuses...)
}

// Hits returns how many requests reached a route pattern, e.g. "GET " + a path pattern; with "" the total.
func (s *Server) Hits(pattern string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pattern == "" {
		n := 0
		for _, v := range s.hits {
			n += v
		}
		return n
	}
	return s.hits[pattern]
}

// Pattern returns the full route pattern for method and a path below the cluster/tenant prefix (e.g.
// "/subject/{s}/recordId/{id}/schema"), for Hits.
func Pattern(method, path string) string { return method + " " + prefix + path }

func key(r *http.Request) string {
	return r.PathValue("c") + "/" + r.PathValue("t") + "/" + r.PathValue("s")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"status": status, "error": http.StatusText(status), "message": msg})
}

func (s *Server) add(w http.ResponseWriter, r *http.Request, sub *subject, idl string) {
	if _, err := avro.Parse(idl); err != nil {
		writeError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	prev := make([]string, len(sub.versions))
	for i, v := range sub.versions {
		prev[i] = v.IDL
	}
	if err := avro.Check(idl, prev, sub.compat); err != nil {
		writeError(w, http.StatusConflict, "subject "+sub.name+": "+err.Error())
		return
	}
	s.nextID++
	var version int64 = 1
	if n := len(sub.versions); n > 0 {
		version = sub.versions[n-1].Version + 1
	}
	rec := registry.SchemaRecord{Subject: sub.name, SchemaName: r.PathValue("name"), SchemaID: 1, RecordID: s.nextID,
		Version: version, IDL: idl, Type: "AVRO"}
	sub.versions = append(sub.versions, rec)
	status := http.StatusOK
	if r.Method == http.MethodPost {
		status = http.StatusCreated
	}
	writeJSON(w, status, registry.Registered{RecordID: rec.RecordID, Version: rec.Version})
}

func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	var req registry.RegisterRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	mode, err := avro.ParseMode(req.Compatibility)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.subjects[key(r)]; ok {
		writeError(w, http.StatusConflict, "subject "+r.PathValue("s")+" already exists")
		return
	}
	sub := &subject{name: r.PathValue("s"), compat: mode}
	s.add(w, r, sub, req.SchemaIDL)
	if len(sub.versions) > 0 {
		s.subjects[key(r)] = sub
	}
}

func (s *Server) update(w http.ResponseWriter, r *http.Request) {
	var req registry.UpdateRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, ok := s.subjects[key(r)]
	if !ok {
		writeError(w, http.StatusNotFound, "subject "+r.PathValue("s")+" not found")
		return
	}
	s.add(w, r, sub, req.SchemaIDL)
}

func (s *Server) subject(w http.ResponseWriter, r *http.Request) *subject {
	sub, ok := s.subjects[key(r)]
	if !ok || len(sub.versions) == 0 {
		writeError(w, http.StatusNotFound, "subject "+r.PathValue("s")+" not found")
		return nil
	}
	return sub
}

func (s *Server) latest(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub := s.subject(w, r); sub != nil {
		writeJSON(w, http.StatusOK, sub.versions[len(sub.versions)-1])
	}
}

func (s *Server) versions(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub := s.subject(w, r); sub != nil {
		writeJSON(w, http.StatusOK, sub.versions)
	}
}

func (s *Server) find(w http.ResponseWriter, r *http.Request, match func(registry.SchemaRecord) bool) (*subject, int) {
	sub := s.subject(w, r)
	if sub == nil {
		return nil, -1
	}
	i := slices.IndexFunc(sub.versions, match)
	if i < 0 {
		writeError(w, http.StatusNotFound, "schema version not found in subject "+sub.name)
	}
	return sub, i
}

func (s *Server) version(w http.ResponseWriter, r *http.Request) {
	v, _ := strconv.ParseInt(r.PathValue("v"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub, i := s.find(w, r, func(x registry.SchemaRecord) bool { return x.Version == v }); i >= 0 {
		writeJSON(w, http.StatusOK, sub.versions[i])
	}
}

func (s *Server) byID(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub, i := s.find(w, r, func(x registry.SchemaRecord) bool { return x.RecordID == id }); i >= 0 {
		writeJSON(w, http.StatusOK, sub.versions[i])
	}
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := []string{}
	scope := r.PathValue("c") + "/" + r.PathValue("t") + "/"
	for k, sub := range s.subjects {
		if strings.HasPrefix(k, scope) {
			names = append(names, sub.name)
		}
	}
	slices.Sort(names)
	writeJSON(w, http.StatusOK, names)
}

func (s *Server) deleteSubject(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub := s.subject(w, r); sub != nil {
		delete(s.subjects, key(r))
		writeJSON(w, http.StatusOK, map[string]any{"subject": sub.name})
	}
}

func (s *Server) deleteVersion(w http.ResponseWriter, r *http.Request) {
	v, _ := strconv.ParseInt(r.PathValue("v"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub, i := s.find(w, r, func(x registry.SchemaRecord) bool { return x.Version == v }); i >= 0 {
		sub.versions = slices.Delete(sub.versions, i, i+1)
		writeJSON(w, http.StatusOK, map[string]any{"version": v})
	}
}
