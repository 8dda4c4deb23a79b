package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// RootLogger names the logger every other one descends from.
const RootLogger = "root"

// LevelRegistry holds the run-time level of each named logger, as log4j does for Kafka
// Connect's /admin/loggers. Names form a dotted hierarchy under RootLogger: "worker", "admin",
// "rocketmq-client", "connector", "connector.<name>", ... A logger created on first use starts
// at the level of its nearest existing ancestor; setting a level sets it on the logger and all
// its existing descendants (on every logger for RootLogger). Levels change only through Set, so
// a level the API reports is the one in force. Safe for concurrent use.
type LevelRegistry struct {
	mu      sync.Mutex
	loggers map[string]*namedLevel
	now     func() time.Time
}

type namedLevel struct {
	level    slog.LevelVar
	modified time.Time // when Set last changed it; zero if never (guarded by the registry's mu)
}

// NewLevelRegistry returns a registry holding only RootLogger, at Info.
func NewLevelRegistry() *LevelRegistry {
	return &LevelRegistry{loggers: map[string]*namedLevel{RootLogger: {}}, now: time.Now}
}

// Root is the root logger's level; cmd sets it from the worker config's logLevel at start.
func (r *LevelRegistry) Root() *slog.LevelVar { return r.Level(RootLogger) }

// Level returns the named logger's level, creating the logger at its nearest ancestor's level.
// Components keep the returned variable: a later Set changes it in place.
func (r *LevelRegistry) Level(name string) *slog.LevelVar {
	r.mu.Lock()
	defer r.mu.Unlock()
	return &r.lookup(name).level
}

// lookup finds or creates a logger; r.mu is held.
func (r *LevelRegistry) lookup(name string) *namedLevel {
	if l, ok := r.loggers[name]; ok {
		return l
	}
	l := &namedLevel{}
	l.level.Set(r.loggers[r.parent(name)].level.Level())
	r.loggers[name] = l
	return l
}

// parent is the nearest existing ancestor of name: "a.b.c" → "a.b", else "a", else root.
func (r *LevelRegistry) parent(name string) string {
	for i := strings.LastIndexByte(name, '.'); i > 0; i = strings.LastIndexByte(name[:i], '.') {
		if _, ok := r.loggers[name[:i]]; ok {
			return name[:i]
		}
	}
	return RootLogger
}

// Set gives the named logger (created if new) and its descendants lvl, and returns their names,
// sorted. For RootLogger it sets every logger.
func (r *LevelRegistry) Set(name string, lvl slog.Level) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lookup(name)
	now := r.now()
	var affected []string
	for n, l := range r.loggers {
		if name == RootLogger || n == name || strings.HasPrefix(n, name+".") {
			l.level.Set(lvl)
			l.modified = now
			affected = append(affected, n)
		}
	}
	slices.Sort(affected)
	return affected
}

// LoggerLevel is one logger in GET /admin/loggers: its level and, as in Kafka Connect 3.7+,
// when the API last set it (Unix milliseconds; null if never).
type LoggerLevel struct {
	Level        string `json:"level"`
	LastModified *int64 `json:"last_modified"`
}

func (l *namedLevel) snapshot() LoggerLevel {
	out := LoggerLevel{Level: l.level.Level().String()}
	if !l.modified.IsZero() {
		ms := l.modified.UnixMilli()
		out.LastModified = &ms
	}
	return out
}

// Levels returns every logger's level.
func (r *LevelRegistry) Levels() map[string]LoggerLevel {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]LoggerLevel, len(r.loggers))
	for n, l := range r.loggers {
		out[n] = l.snapshot()
	}
	return out
}

// get returns one logger's level, false if it does not exist.
func (r *LevelRegistry) get(name string) (LoggerLevel, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := r.loggers[name]
	if !ok {
		return LoggerLevel{}, false
	}
	return l.snapshot(), true
}

// LevelHandler returns a handler that passes next the records at or above level and drops the
// rest. The level alone decides: next should itself accept every level (HandlerOptions.Level
// set very low), so that a logger set to Debug below a root at Info still logs.
func LevelHandler(level slog.Leveler, next slog.Handler) slog.Handler {
	return &levelHandler{level: level, next: next}
}

type levelHandler struct {
	level slog.Leveler
	next  slog.Handler
}

func (h *levelHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

func (h *levelHandler) Handle(ctx context.Context, rec slog.Record) error {
	return h.next.Handle(ctx, rec)
}

func (h *levelHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &levelHandler{level: h.level, next: h.next.WithAttrs(as)}
}

func (h *levelHandler) WithGroup(name string) slog.Handler {
	return &levelHandler{level: h.level, next: h.next.WithGroup(name)}
}

// Named returns a logger writing where parent writes, at the named logger's level. When
// parent's handler is a LevelHandler its level is replaced, not stacked, so "connector.x" at
// Debug logs Debug under a root at Info. Example: log := levels.Named(root, "worker").
func (r *LevelRegistry) Named(parent *slog.Logger, name string) *slog.Logger {
	next := parent.Handler()
	if h, ok := next.(*levelHandler); ok {
		next = h.next
	}
	return slog.New(&levelHandler{level: r.Level(name), next: next})
}

// EnableLoggers serves Kafka Connect's run-time log level routes for reg. Call it before Run.
//
//	GET /admin/loggers          200 {"<logger>": {"level": "INFO", "last_modified": null}, ...}
//	GET /admin/loggers/{name}   200 {"level": "INFO", "last_modified": null}; 404 if unknown
//	PUT /admin/loggers/{name}   {"level": "DEBUG|INFO|WARN|ERROR"} → 200 ["<affected logger>", ...]
//	PUT /admin/loggers/{name}?scope=cluster                      → 204
//
// PUT creates an unknown logger, so a level can be set before the component using it starts.
// scope=worker (the default) changes this worker only. scope=cluster (KIP-976) changes every
// worker of the cluster: a herder that is a ClusterLogLevels publishes the change to the
// cluster, which applies it on each worker (this one included); a standalone worker is its
// own cluster and applies it itself. An unknown scope is taken as worker, as Kafka does. No
// change is persisted: a worker that starts later has its configured levels.
func (s *Server) EnableLoggers(reg *LevelRegistry) {
	s.engine.GET("/admin/loggers", func(c *gin.Context) { c.JSON(http.StatusOK, reg.Levels()) })
	s.engine.GET("/admin/loggers/:name", func(c *gin.Context) {
		l, ok := reg.get(c.Param("name"))
		if !ok {
			writeError(c, http.StatusNotFound, fmt.Sprintf("logger %s: not found", c.Param("name")))
			return
		}
		c.JSON(http.StatusOK, l)
	})
	s.engine.PUT("/admin/loggers/:name", func(c *gin.Context) { s.putLogger(c, reg) })
}

// loggerLevels are the levels PUT /admin/loggers/{name} accepts, in any case.
var loggerLevels = map[string]slog.Level{
	"DEBUG": slog.LevelDebug, "INFO": slog.LevelInfo, "WARN": slog.LevelWarn, "WARNING": slog.LevelWarn, "ERROR": slog.LevelError,
}

func (s *Server) putLogger(c *gin.Context, reg *LevelRegistry) {
	raw, err := readBody(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	obj, err := decodeObject(raw, "request body")
	if err != nil {
		s.fail(c, err)
		return
	}
	var level *string
	if json.Unmarshal(obj["level"], &level) != nil || level == nil {
		writeError(c, http.StatusBadRequest, "level: is required, a string: DEBUG, INFO, WARN or ERROR")
		return
	}
	lvl, err := ParseLevel(*level)
	if err != nil {
		writeError(c, http.StatusBadRequest, err.Error())
		return
	}
	name := c.Param("name")
	switch scope := c.Query("scope"); {
	case strings.EqualFold(scope, "cluster"):
		if cl, ok := s.herder.(ClusterLogLevels); ok {
			if err := cl.SetClusterLogLevel(c.Request.Context(), name, strings.ToUpper(lvl.String())); err != nil {
				s.fail(c, err)
				return
			}
		} else {
			s.applyLevel(reg, name, lvl, "cluster")
		}
		c.Status(http.StatusNoContent)
		return
	case scope != "" && !strings.EqualFold(scope, "worker"):
		s.log.Warn("unknown logger scope; applying to this worker", "scope", scope, "logger", name)
	}
	c.JSON(http.StatusOK, s.applyLevel(reg, name, lvl, "worker"))
}

// ClusterLogLevels is the optional herder ability to set a log level on every worker of the
// cluster (PUT /admin/loggers/{name}?scope=cluster); level is DEBUG, INFO, WARN or ERROR.
type ClusterLogLevels interface {
	SetClusterLogLevel(ctx context.Context, logger, level string) error
}

// ParseLevel parses a level as PUT /admin/loggers/{name} accepts it (DEBUG, INFO, WARN,
// WARNING, ERROR, any case).
func ParseLevel(level string) (slog.Level, error) {
	lvl, ok := loggerLevels[strings.ToUpper(strings.TrimSpace(level))]
	if !ok {
		return 0, fmt.Errorf("level=%q: must be DEBUG, INFO, WARN or ERROR", level)
	}
	return lvl, nil
}

// ApplyClusterLevel applies a cluster-scoped change that reached this worker (cmd wires it to
// the herder's log-level records), logging it as an operator's change.
func ApplyClusterLevel(reg *LevelRegistry, log *slog.Logger, logger, level string) {
	lvl, err := ParseLevel(level)
	if err != nil {
		log.Warn("cluster log level change ignored", "logger", logger, "err", err)
		return
	}
	affected := reg.Set(logger, lvl)
	log.Info("log level changed", "logger", logger, "level", lvl.String(), "scope", "cluster", "affected", len(affected))
}

// applyLevel sets a level on this worker and logs the change.
func (s *Server) applyLevel(reg *LevelRegistry, name string, lvl slog.Level, scope string) []string {
	affected := reg.Set(name, lvl)
	// An operator's change to what the logs show is worth a line whatever the new level.
	s.log.Info("log level changed", "logger", name, "level", lvl.String(), "scope", scope, "affected", len(affected))
	return affected
}
