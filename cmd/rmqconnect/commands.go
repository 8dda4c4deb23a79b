package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/rmqconnect/rmqconnect/admin"
	"github.com/rmqconnect/rmqconnect/admin/access"
	"github.com/rmqconnect/rmqconnect/conf"
	"github.com/rmqconnect/rmqconnect/conf/providers"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/builtin"
	"github.com/rmqconnect/rmqconnect/plugins/external"
	"github.com/rmqconnect/rmqconnect/worker"
	"github.com/rmqconnect/rmqconnect/worker/gcfloor"
)

// Set by the Makefile with -ldflags.
var (
	version = "dev"
	commit  = "unknown"
)

func loadConfig(name string, args []string, stderr io.Writer) (*conf.Worker, int) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "", "worker config file (.yaml, .properties, .conf, .json)")
	if err := fs.Parse(args); err != nil {
		return nil, 2
	}
	cfg, err := conf.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "rmqconnect %s: %v\n", name, err)
		return nil, 1
	}
	return cfg, 0
}

func cmdCheckConfig(args []string, stdout, stderr io.Writer) int {
	cfg, code := loadConfig("check-config", args, stderr)
	if cfg == nil {
		return code
	}
	fmt.Fprintf(stdout, "config OK: workerId=%s namesrvAddr=%s http=%s\n", cfg.WorkerID, cfg.NamesrvAddr, cfg.HTTPAddr())
	return 0
}

// newLogger sets root to the config's logLevel and returns the root logger, filtered by root so
// that PUT /admin/loggers/root takes effect at once. The handler under it accepts every level:
// loggers derived with LevelRegistry.Named are filtered by their own level alone.
func newLogger(cfg *conf.Worker, w io.Writer, root *slog.LevelVar) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	root.Set(lvl)
	opts := &slog.HandlerOptions{Level: slog.Level(math.MinInt)}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(admin.LevelHandler(root, h))
}

// cmdStandalone wires a worker, its standalone herder and the admin server, creates the
// connectors named on the command line, and runs until SIGINT/SIGTERM.
// Shutdown order: the admin server stops accepting, then the herder stops its tasks
// (sources commit positions, sinks flush), then the RocketMQ client closes.
func cmdStandalone(args []string, stderr io.Writer) int {
	return runWorker("standalone", args, stderr)
}

// cmdDistributed runs a worker of a cluster: the same wiring with the distributed herder,
// which shares connectors, status and positions with its peers through RocketMQ.
func cmdDistributed(args []string, stderr io.Writer) int {
	return runWorker("distributed", args, stderr)
}

// herder is what runWorker needs of either herder.
type herder interface {
	admin.Herder
	Run(ctx context.Context) error
	Started() <-chan struct{}
	Collector() *worker.Collector
	PluginCollector() prometheus.Collector
}

func runWorker(mode string, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet(mode, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "", "worker config file (.yaml, .properties, .conf, .json)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := conf.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "rmqconnect %s: %v\n", mode, err)
		return 1
	}
	var connFiles []*conf.ConnectorFile
	for _, p := range fs.Args() {
		cf, err := conf.LoadConnector(p)
		if err != nil {
			fmt.Fprintf(stderr, "rmqconnect %s: %v\n", mode, err)
			return 1
		}
		connFiles = append(connFiles, cf)
	}
	levels := admin.NewLevelRegistry()
	log := newLogger(cfg, stderr, levels.Root())
	// Each component logs through its own level (GET|PUT /admin/loggers/{name}).
	workerLog := levels.Named(log, "worker")
	if cfg.GCHeapFloorMB > 0 && !gcfloor.Set(uint64(cfg.GCHeapFloorMB)<<20) {
		workerLog.Info("GOGC is set in the environment: gcHeapFloorMB is not applied", "gcHeapFloorMB", cfg.GCHeapFloorMB)
	}
	accessKey, secretKey := cfg.ACLCredentials()
	w, err := worker.New(worker.Config{
		WorkerID:         cfg.WorkerID,
		ClusterID:        cfg.ConnectClusterID,
		NameServers:      cfg.NameServers(),
		ClientLogger:     levels.Named(log, "rocketmq-client"),
		AccessKey:        accessKey,
		SecretKey:        secretKey,
		OperationTimeout: conf.Ms(cfg.OperationTimeout),
	}, workerLog)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	reg, err := builtin.Registry()
	if err != nil {
		log.Error("plugin registry", "err", err)
		return 1
	}
	// Plugin processes end with the worker: Close runs after everything else has stopped.
	pluginMgr := external.New(reg, external.Options{Dirs: cfg.PluginDirs(),
		CallTimeout: conf.Ms(cfg.PluginCallTimeoutMs), Logger: levels.Named(log, "plugins")})
	defer pluginMgr.Close()
	if _, err := pluginMgr.Reload(context.Background()); err != nil {
		log.Error("plugin registry", "err", err)
		return 1
	}
	files, sec, err := filesAndSecrets(cfg)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	local := worker.StandaloneConfig{
		WorkerID:       cfg.WorkerID,
		StoreDir:       cfg.StorePathRootDir,
		KeyConverter:   cfg.KeyConverter,
		ValueConverter: cfg.ValueConverter,
		CommitInterval: conf.Ms(cfg.OffsetCommitIntervalMsConfig),
		StopTimeout:    conf.Ms(cfg.GracefulShutdownTimeoutMillis),
		AutoCreate:     cfg.AutoCreateTopicEnable,

		RestartBackoffMin: conf.Ms(cfg.TaskRestartBackoffInitialMs),
		RestartBackoffMax: conf.Ms(cfg.TaskRestartBackoffMaxMs),
		Secrets:           sec,

		StartTimeout:         conf.Ms(cfg.MaxStartTimeoutMills),
		ConnectorStopTimeout: conf.Ms(cfg.MaxStopTimeoutMills),
		CommitTimeout:        conf.Ms(cfg.OffsetCommitTimeoutMsConfig),
		Files:                files,
	}
	var h herder
	var health admin.HealthChecker
	if mode == "distributed" {
		d, err := worker.NewDistributed(worker.DistributedConfig{
			StandaloneConfig: local,
			ClusterID:        cfg.ConnectClusterID,
			ConfigTopic:      cfg.ConfigStoreTopic,
			PositionTopic:    cfg.PositionStoreTopic,
			StatusTopic:      cfg.ConnectStatusTopic,
			ClusterTopic:     cfg.ClusterStoreTopic,
			Strategy:         cfg.AllocTaskStrategy,
			OnLogLevel: func(logger, level string) {
				admin.ApplyClusterLevel(levels, levels.Named(log, "admin"), logger, level)
			},
		}, w.Client(), reg, workerLog)
		if err != nil {
			log.Error("cannot start", "err", err)
			return 1
		}
		h, health = d, distributedHealth{d}
	} else {
		s, err := worker.NewStandalone(local, w.Client(), reg, workerLog)
		if err != nil {
			log.Error("cannot start", "err", err)
			return 1
		}
		h, health = s, startedHealth{pingOf(w), s}
	}
	srv := admin.NewServer(cfg.HTTPAddr(), admin.Info{
		Version: version, Commit: commit, WorkerID: cfg.WorkerID, ClusterID: cfg.ConnectClusterID, Mode: mode,
	}, health, h, levels.Named(log, "admin"))
	metrics := prometheus.NewRegistry()
	metrics.MustRegister(h.Collector(), h.PluginCollector(), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv.EnableMetrics(metrics)
	srv.EnableLoggers(levels)
	srv.EnableOpenAPI()
	srv.EnablePluginReload(pluginMgr)
	if err := enableAccess(srv, cfg); err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = runInOrder(ctx, func(gctx context.Context) error {
		g, gctx := errgroup.WithContext(gctx)
		g.Go(func() error { return srv.Run(gctx) })
		g.Go(func() error {
			// Addr waits until Run listens (or gctx ends).
			if addr, err := srv.Addr(gctx); err == nil {
				log.Info("admin REST listening", "addr", addr.String())
			}
			return nil
		})
		return g.Wait()
	}, func(hctx context.Context) error {
		// The worker owns the RocketMQ client; it closes it after the herder has stopped.
		return w.Run(hctx, func(wctx context.Context) error {
			select {
			case <-h.Started():
			case <-wctx.Done():
				return nil
			}
			for _, cf := range connFiles {
				if _, _, err := h.PutConnectorConfig(wctx, cf.Name, cf.Config); err != nil {
					return fmt.Errorf("connector %s from the command line: %w", cf.Name, err)
				}
			}
			return nil
		}, h.Run)
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Error("stopped with error", "err", err)
		return 1
	}
	return 0
}

// enableAccess applies the worker config's REST access keys: basic auth, TLS, CORS, the
// allowed Host names and the RocketMQ Connect GET routes that change state.
func enableAccess(srv *admin.Server, cfg *conf.Worker) error {
	if cfg.RESTAuthFile != "" {
		users, err := access.LoadUsers(cfg.RESTAuthFile)
		if err != nil {
			return fmt.Errorf("restAuthFile: %w", err)
		}
		srv.EnableAuth(users, access.DefaultRealm)
	}
	srv.AllowHosts(cfg.AllowedHosts())
	srv.EnableMutatingGETs(cfg.RESTMutatingGetEnable)
	if cfg.RESTTLSCertFile != "" {
		if err := srv.EnableTLS(cfg.RESTTLSCertFile, cfg.RESTTLSKeyFile); err != nil {
			return fmt.Errorf("restTLSCertFile/restTLSKeyFile: %w", err)
		}
	}
	srv.EnableCORS(cfg.CORSOrigins(), cfg.CORSMethods())
	return nil
}

// secrets resolves ${env:..} and ${file:..} placeholders for the worker (conf/providers),
// which keeps them in stored and shown configs and masks secret values.
type secrets struct{ r providers.Resolver }

func (s secrets) Resolve(cfg map[string]string) (map[string]string, []string, error) {
	return s.r.ResolveSecrets(cfg)
}
func (secrets) Restore(raw, task map[string]string) map[string]string {
	return providers.Restore(raw, task)
}
func (secrets) Mask(cfg map[string]string, isSecret func(string) bool) map[string]string {
	return providers.Mask(cfg, func(k string) bool { return isSecret(k) || providers.DefaultSecretKey(k) })
}

// filesAndSecrets builds the worker's file confinement for connectors
// (fileConnectorAllowedDirs) and its placeholder resolver, whose ${file:...} reads are
// confined to configProviderFileAllowedDirs and capped at configProviderFileMaxBytes.
func filesAndSecrets(cfg *conf.Worker) (*plugins.FileAccess, secrets, error) {
	files, err := plugins.NewFileAccess(cfg.FileConnectorDirs(), "fileConnectorAllowedDirs")
	if err != nil {
		return nil, secrets{}, err
	}
	provFiles, err := plugins.NewFileAccess(cfg.ConfigProviderFileDirs(), "configProviderFileAllowedDirs")
	if err != nil {
		return nil, secrets{}, err
	}
	open := func(path string, flag int, perm fs.FileMode) (*os.File, error) {
		f, err := provFiles.OpenFile(path, flag, perm)
		if errors.Is(err, plugins.ErrPathNotAllowed) {
			return nil, fmt.Errorf("%w: %w", providers.ErrNotAllowed, err)
		}
		return f, err
	}
	return files, secrets{r: providers.Resolver{Open: open, MaxFileBytes: int64(cfg.ConfigProviderFileMaxBytes)}}, nil
}

// startedHealth is the worker's health: starting (503) until the herder has started its
// stored connectors, then whether RocketMQ answers (unhealthy, 500, when it does not).
type startedHealth struct {
	w admin.HealthChecker
	h *worker.Standalone
}

// pingInterval is the longest a RocketMQ ping result is reused for /health.
const pingInterval = time.Second

// pingOf is w's RocketMQ ping, run at most once per pingInterval however often /health (open
// without credentials) is probed.
func pingOf(w *worker.Worker) admin.HealthChecker { return admin.CachedHealth(w, pingInterval) }

func (s startedHealth) Health(ctx context.Context) error {
	select {
	case <-s.h.Started():
	default:
		return fmt.Errorf("%w: the stored connectors are not started yet", admin.ErrStarting)
	}
	return s.w.Health(ctx)
}

// distributedHealth is starting (503) until the worker has caught up with the store topics and
// joined the cluster; then unhealthy (500) while its membership lease has lapsed. The lease is
// renewed by asking the broker itself, so it says whether this worker can still work; the name
// servers are not asked: a worker that keeps its lease keeps its tasks while they are down
// (routes are cached), and a probe failing every worker at once then would have an orchestrator
// restart the whole cluster, none of which could start again until they are back.
type distributedHealth struct {
	d interface {
		Started() <-chan struct{}
		Health(context.Context) error
	}
}

func (s distributedHealth) Health(ctx context.Context) error {
	select {
	case <-s.d.Started():
	default:
		return fmt.Errorf("%w: catching up with the store topics and joining the cluster", admin.ErrStarting)
	}
	return s.d.Health(ctx)
}

// runInOrder runs front (the admin server) and back (the worker and its herder) until ctx ends
// or either returns, and stops them in that order: back's context is cancelled only once front
// has returned, so no REST call reaches a herder that is stopping its tasks. It returns the
// first error.
func runInOrder(ctx context.Context, front, back func(context.Context) error) error {
	g, gctx := errgroup.WithContext(ctx)
	backCtx, stopBack := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBack()
	var frontErr error // read after Wait
	g.Go(func() error {
		defer stopBack()
		frontErr = front(gctx)
		return frontErr
	})
	g.Go(func() error {
		// back returning for any reason must stop front too: errgroup cancels gctx on an
		// error, so a nil return is turned into errBackDone.
		err := back(backCtx)
		if err == nil {
			err = errBackDone
		}
		return err
	})
	err := g.Wait()
	if errors.Is(err, errBackDone) {
		// back was stopped by front's end (stopBack runs before the group records front's
		// error): front's error, if any, is the run's.
		return frontErr
	}
	return err
}

// errBackDone ends the run when the worker returns without an error.
var errBackDone = errors.New("worker stopped")
