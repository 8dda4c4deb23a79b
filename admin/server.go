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

	// Access wrappers around the engine, nil when not enabled (auth.go, cors.go), and the TLS
	// config Run serves with (tls.go). They are set before Run and read-only after.
	auth func(http.Handler) http.Handler
	cors func(http.Handler) http.Handler
	tls  *tls.Config

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
	s := &Server{addr: addr, log: log, info: info, health: health, herder: herder, engine: e, ready: make(chan struct{})}
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

// Handler is what Run serves: the routes behind the access checks enabled so far. CORS is
// outermost, so a browser's preflight (which carries no credentials) is answered without auth
// and a 401 still carries the CORS headers the browser needs to show it; auth comes next.
// The wrappers sit outside gin because gin's Use applies only to routes registered after it,
// and NewServer registers the routes before any Enable call.
func (s *Server) Handler() http.Handler {
	var h http.Handler = s.engine
	if s.auth != nil {
		h = s.auth(h)
	}
	if s.cors != nil {
		h = s.cors(h)
	}
	return h
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
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	if s.tls != nil {
		srv.TLSConfig = s.tls.Clone()
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

func (s *Server) root(c *gin.Context) { c.JSON(http.StatusOK, s.info) }

// healthz answers 200 when the worker is healthy and 503 with the reason when it is not.
func (s *Server) healthz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	if err := s.health.Health(ctx); err != nil {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "DOWN", "message": err.Error(), "worker_id": s.info.WorkerID})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "UP", "worker_id": s.info.WorkerID, "version": s.info.Version})
}
