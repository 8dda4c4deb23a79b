package admin

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/rmqconnect/rmqconnect/admin/access"
)

// HealthChecker reports whether the worker can do its job; a nil error means healthy.
type HealthChecker interface {
	Health(ctx context.Context) error
}

// Info describes the running worker for the root route.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	WorkerID  string `json:"worker_id"`
	ClusterID string `json:"cluster_id"`
	Mode      string `json:"mode"`
}

// Server is the admin REST server.
type Server struct {
	addr   string
	log    *slog.Logger
	info   Info
	health HealthChecker
	herder Herder
	engine *gin.Engine

	// Access settings (auth.go): set before Run and read-only after. guard is rebuilt whenever
	// the settings it depends on change; auth and tls are nil when not enabled.
	auth         *access.BasicAuth
	corsOrigins  []string
	corsMethods  []string
	hosts        []string
	mutatingGETs bool
	guard        *access.Guard
	tls          *tls.Config

	ready chan struct{}
	bound net.Addr
}

// NewServer builds the server; Run starts it. The connector routes are registered only when
// herder is not nil, so a worker that manages no connectors yet serves / and /health alone.
func NewServer(addr string, info Info, health HealthChecker, herder Herder, log *slog.Logger) *Server {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.Use(gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, err any) {
		log.Error("admin handler panicked", "path", c.FullPath(), "panic", err)
		writeError(c, http.StatusInternalServerError, "internal error")
	}))
	s := &Server{addr: addr, log: log, info: info, health: health, herder: herder, engine: e,
		ready: make(chan struct{})}
	s.rebuildGuard()
	e.GET("/", s.root)
	e.GET("/health", s.healthz)
	if herder != nil {
		s.connectorRoutes()
		if d, ok := herder.(DLQHerder); ok {
			s.dlqRoutes(d)
		}
		if p, ok := herder.(PluginConfigHerder); ok {
			s.pluginConfigRoutes(p)
		}
		if o, ok := herder.(OffsetsHerder); ok {
			s.offsetsRoutes(o)
		}
		if t, ok := herder.(TopicsHerder); ok {
			s.topicsRoutes(t)
		}
		e.PATCH("/connectors/:name/config", s.patchConnectorConfig)
	}
	e.NoRoute(func(c *gin.Context) {
		writeError(c, http.StatusNotFound, "no route "+c.Request.Method+" "+c.Request.URL.Path)
	})
	e.HandleMethodNotAllowed = true
	e.NoMethod(func(c *gin.Context) {
		writeError(c, http.StatusMethodNotAllowed, "method "+c.Request.Method+" not allowed on "+c.Request.URL.Path)
	})
	return s
}

// Handler is what Run serves: the routes and the web console (withConsole) behind the access
// checks. The guard is outermost (access.Guard: Host, Origin, Sec-Fetch-Site, content type,
// body size), so what a page of another origin sends is refused before anything else runs,
// auth's bcrypt work included. CORS comes next, so a browser's preflight (which carries no
// credentials) is answered without auth and a 401 still carries the CORS headers the browser
// needs to show it; auth comes last.
// The wrappers sit outside gin because gin's Use applies only to routes registered after it,
// and NewServer registers the routes before any Enable call.
func (s *Server) Handler() http.Handler {
	h := withConsole(s.engine)
	if s.auth != nil {
		h = s.auth.Wrap(h, isHealth)
	}
	if cors := access.CORS(s.corsOrigins, s.corsMethods, access.KafkaError); cors != nil {
		h = cors(h)
	}
	return s.guard.Wrap(h)
}

// Addr returns the bound address once Run has started listening (useful with port 0).
func (s *Server) Addr(ctx context.Context) (net.Addr, error) {
	select {
	case <-s.ready:
		return s.bound, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Run serves until ctx ends, then stops accepting and drains requests for up to 5s. It serves
// HTTPS when EnableTLS was called.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	s.bound = ln.Addr()
	close(s.ready)
	srv := s.httpServer()
	errc := make(chan error, 1)
	if s.tls != nil {
		go func() { errc <- srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { errc <- srv.Serve(ln) }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// httpServer is the server Run serves with: the handler, TLS when enabled, and the limits of
// access.NewHTTPServer.
func (s *Server) httpServer() *http.Server { return access.NewHTTPServer(s.Handler(), s.tls, s.log) }

// root answers the worker's Info plus kafka_cluster_id, Kafka Connect's name for the cluster's
// id (the same value as cluster_id), so Kafka Connect clients find it where they look.
func (s *Server) root(c *gin.Context) {
	c.JSON(http.StatusOK, struct {
		Info
		KafkaClusterID string `json:"kafka_cluster_id"`
	}{s.info, s.info.ClusterID})
}

// healthz answers as Kafka Connect's /health (KIP-1017): 200 {"status":"healthy"} when the
// worker can do its job, 503 {"status":"starting"} while the checker returns ErrStarting, and
// 500 {"status":"unhealthy"} with the reason otherwise; every answer also names the worker and
// its version. /health needs no credentials, so a checker that does I/O (the RocketMQ ping)
// should be wrapped in CachedHealth: then probes cannot make the worker call RocketMQ more than
// once per interval.
func (s *Server) healthz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), HealthTimeout)
	defer cancel()
	code, status, msg := http.StatusOK, HealthHealthy, "Worker has completed startup and is ready to handle requests."
	if err := s.health.Health(ctx); errors.Is(err, ErrStarting) {
		code, status, msg = http.StatusServiceUnavailable, HealthStarting, err.Error()
	} else if err != nil {
		code, status, msg = http.StatusInternalServerError, HealthUnhealthy, err.Error()
	}
	c.JSON(code, gin.H{"status": status, "message": msg, "worker_id": s.info.WorkerID, "version": s.info.Version})
}
