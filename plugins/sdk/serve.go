package sdk

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/internal/pluginpb"
	"github.com/rmqconnect/rmqconnect/plugins/internal/wire"
	"github.com/rmqconnect/rmqconnect/worker/gcfloor"
)

// Plugin is what one binary serves.
type Plugin struct {
	// Version is the plugin's own version, shown by GET /connector-plugins. Required.
	Version string
	// Connectors are the connectors the binary holds; names and aliases follow the rules of
	// the worker's registry (unique, and not taken by a built-in connector). At least one.
	Connectors []Connector
	// Procs is how many threads may run the process's Go code at once (runtime.GOMAXPROCS). 0 means
	// one: a process holds one instance, which the worker calls one call at a time, and waking idle
	// threads for each call costs CPU the worker could use. A connector that computes on several
	// goroutines at once sets more, or -1 for Go's default (one per CPU). A GOMAXPROCS environment
	// variable wins over it.
	Procs int
}

// Connector is one connector class of a plugin.
type Connector struct {
	Kind    plugins.Kind
	Name    string
	Aliases []string
	// New returns a fresh, unstarted connector; it must implement plugins.SourceConnector
	// for KindSource and plugins.SinkConnector for KindSink.
	New plugins.Factory
}

// EnvLogLevel carries the lowest level the worker logs for the plugin's instance; records
// below it are not sent.
const EnvLogLevel = "RMQCONNECT_PLUGIN_LOG_LEVEL"

// ProtocolVersion is the version of the plugin protocol this SDK speaks.
const ProtocolVersion = wire.ProtocolVersion

// Serve serves p to the worker that started this process and returns when the worker stops
// the instance; main should return after it. Started by hand (not by a worker), it prints
// what the binary is and exits with status 1. It exits the process with status 1 when p is
// malformed, and with status 3 when the worker that started it has gone.
func Serve(p Plugin) {
	if err := p.check(); err != nil {
		fmt.Fprintf(os.Stderr, "rmqconnect plugin: %v\n", err)
		os.Exit(1)
	}
	if os.Getenv(wire.Handshake.MagicCookieKey) != wire.Handshake.MagicCookieValue {
		fmt.Fprintf(os.Stderr, "This program is an rmqconnect connector plugin (%s, protocol version %d): copy it into a "+
			"directory named by the worker's pluginPaths setting; the worker starts it.\n", p.Version, wire.ProtocolVersion)
		os.Exit(1)
	}
	tuneGC()
	tuneProcs(p.Procs)
	// go-plugin sends os.Stderr through its stdio stream once serving; logs go to the
	// process's own standard error, which the worker reads line by line.
	log := newLogger(os.Stderr)
	watchParent(log)
	srv := &server{plugin: p, log: log}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: wire.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{wire.ProtocolVersion: {wire.PluginName: &wire.GRPCPlugin{
			ServeGRPC: func(b *plugin.GRPCBroker, s *grpc.Server) error {
				srv.broker = b
				pluginpb.RegisterPluginServer(s, srv)
				return nil
			}}}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, wire.ServerOptions()...)...)
		},
		Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Off, Output: io.Discard}),
	})
}

// tuneGC keeps the worker's default floor under the plugin process's heap goal (worker/gcfloor,
// docs/adr/20261204-gc-heap-floor.md) unless GOGC is set in its environment: a task process keeps
// little live heap while every batch it is handed is garbage after the call, so at Go's default
// goal (4 MiB) a busy process collected every few dozen Puts and spent about 30% of its CPU on it
// (BenchmarkPut of plugins/external).
func tuneGC() { gcfloor.Set(gcfloor.Default) }

// tuneProcs sets how many threads run the process's Go code (Plugin.Procs) unless GOMAXPROCS is set
// in its environment. With the default of one: a process holds one instance, which the worker calls
// one call at a time (a sink task's Flush may overlap its Put), so a second thread mostly sat idle,
// and waking one for each goroutine a call hands work to (the stream's reader, its handler, the
// writer) cost futex wake-ups and spinning threads on every call: about a third more CPU a Put of 32
// records (BenchmarkPut of plugins/external), taken from the worker on a shared host.
func tuneProcs(procs int) {
	if _, ok := os.LookupEnv("GOMAXPROCS"); ok {
		return
	}
	switch {
	case procs == 0:
		runtime.GOMAXPROCS(1)
	case procs > 0:
		runtime.GOMAXPROCS(procs)
	default:
		runtime.GOMAXPROCS(runtime.NumCPU())
	}
}

func (p Plugin) check() error {
	if p.Version == "" {
		return fmt.Errorf("Plugin.Version is empty")
	}
	if len(p.Connectors) == 0 {
		return fmt.Errorf("Plugin.Connectors is empty")
	}
	// A registry checks names, aliases and kinds as the worker will.
	reg := plugins.NewRegistry()
	for _, c := range p.Connectors {
		if err := reg.Register(c.Kind, c.Name, c.Aliases, c.New); err != nil {
			return err
		}
		if _, err := reg.New(c.Name); err != nil {
			return err
		}
	}
	return nil
}

func newLogger(w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if s := os.Getenv(EnvLogLevel); s != "" {
		if n, err := strconv.Atoi(s); err == nil {
			level = slog.Level(n)
		}
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// watchParent exits the process once its parent is no longer the worker that started it.
// On Linux the worker also asks the kernel for SIGKILL on its death; this covers the other
// systems and a worker thread exiting before the process.
func watchParent(log *slog.Logger) {
	want, err := strconv.Atoi(os.Getenv(wire.EnvParentPID))
	if err != nil {
		return
	}
	if os.Getppid() != want {
		os.Exit(3)
	}
	// A daemon goroutine: it lives as long as the process and ends it.
	go func() {
		defer func() {
			if r := recover(); r != nil {
				log.Error("parent watch panicked", "panic", r, "stack", string(debug.Stack()))
			}
		}()
		for range time.Tick(500 * time.Millisecond) {
			if os.Getppid() != want {
				log.Warn("the worker that started this plugin is gone; exiting")
				os.Exit(3)
			}
		}
	}()
}
