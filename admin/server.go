package admin

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
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

	// drainGrace is how long Run's stop lets running requests finish; cutGrace how long it
	// then waits for the handlers of those it cut short (their contexts ended) to return.
	drainGrace, cutGrace time.Duration
}

// NewServer builds the server; Run starts it. The connector routes are registered only when
// herder is not nil, so a worker that manages no connectors yet serves / and /health alone.
func NewServer(addr string, info Info, health HealthChecker, herder Herder, log *slog.Logger) *Server {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	// Routes match the escaped path, and each parameter is unescaped once matched (pathParams):
	// a DLQ record id naming a broker whose name has a slash (escaped %2F, as admin/client does)
	// is one parameter, not two path segments. Gin's own unescaping is a query's (+ would be a
	// space), so it is off.
	e.UseEscapedPath, e.UnescapePathValues = true, false
	e.Use(gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, err any) {
		log.Error("admin handler panicked", "path", c.FullPath(), "panic", err)
		writeError(c, http.StatusInternalServerError, "internal error")
	}), pathParams)
	s := &Server{addr: addr, log: log, info: info, health: health, herder: herder, engine: e,
		ready: make(chan struct{}), drainGrace: 5 * time.Second, cutGrace: 5 * time.Second}
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

// Run serves until ctx ends, then stops. It serves HTTPS when EnableTLS was called.
//
// Stop order: the listener closes and idle connections with it; running requests have
// drainGrace (5s) to finish; the contexts of those still running then end, and Run waits up
// to cutGrace (5s) for their handlers to return, logging the requests it cut short. Run
// returns nil once the handlers have returned, so the herder behind them is stopped after
// its last call (a handler that ignores its context past cutGrace is logged, and the stop
// goes on without it).
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	s.bound = ln.Addr()
	close(s.ready)
	srv := s.httpServer()
	// A request's context ends when the drain's grace does, not when ctx does: one running
	// as the stop begins may still finish.
	base, cutShort := context.WithCancel(context.WithoutCancel(ctx))
	defer cutShort()
	srv.BaseContext = func(net.Listener) context.Context { return base }
	var running inflight
	srv.Handler = running.track(srv.Handler)
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
	dctx, cancel := context.WithTimeout(context.Background(), s.drainGrace)
	defer cancel()
	err = srv.Shutdown(dctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	cut := running.names()
	cutShort()
	s.log.Warn("admin requests cut short by the stop", "requests", cut, "grace", s.drainGrace)
	wctx, wcancel := context.WithTimeout(context.Background(), s.cutGrace)
	defer wcancel()
	if left := running.wait(wctx); len(left) > 0 {
		s.log.Error("admin request handlers did not return after their requests were cut short; stopping without them",
			"requests", left, "waited", s.cutGrace)
	}
	_ = srv.Close() // the cut requests' connections
	return nil
}

// inflight is the set of requests whose handlers run, so that Run's stop can name those it
// cuts short and wait for their handlers to return.
type inflight struct {
	mu   sync.Mutex
	reqs map[*http.Request]struct{}
	idle chan struct{} // closed when reqs becomes empty while wait waits
}

// track wraps h so that its requests are in the set while it serves them.
func (f *inflight) track(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		if f.reqs == nil {
			f.reqs = map[*http.Request]struct{}{}
		}
		f.reqs[r] = struct{}{}
		f.mu.Unlock()
		defer f.done(r)
		h.ServeHTTP(w, r)
	})
}

func (f *inflight) done(r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.reqs, r)
	if len(f.reqs) == 0 && f.idle != nil {
		close(f.idle)
		f.idle = nil
	}
}

// names returns "METHOD path" of each request in the set, sorted.
func (f *inflight) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.reqs))
	for r := range f.reqs {
		out = append(out, r.Method+" "+r.URL.Path)
	}
	slices.Sort(out)
	return out
}

// wait returns nil once no handler runs, or the requests still running when ctx ends.
func (f *inflight) wait(ctx context.Context) []string {
	f.mu.Lock()
	if len(f.reqs) == 0 {
		f.mu.Unlock()
		return nil
	}
	if f.idle == nil {
		f.idle = make(chan struct{})
	}
	idle := f.idle
	f.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return f.names()
	}
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

// pathParams unescapes the route's parameters, as path segments (see NewServer).
func pathParams(c *gin.Context) {
	for i, p := range c.Params {
		if v, err := url.PathUnescape(p.Value); err == nil {
			c.Params[i].Value = v
		}
	}
}
