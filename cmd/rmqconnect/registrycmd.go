package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/rmqconnect/rmqconnect/admin/access"
	"github.com/rmqconnect/rmqconnect/conf"
	"github.com/rmqconnect/rmqconnect/schema/registry/server"
	"github.com/rmqconnect/rmqconnect/worker/registrylog"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// cmdSchemaRegistry runs a schema registry server whose state lives in a RocketMQ topic, until SIGINT/SIGTERM.
// Shutdown order: the HTTP server stops accepting and drains (10s), then the log reader stops, then the
// producer and the RocketMQ client close.
func cmdSchemaRegistry(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("schema-registry", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "", "schema registry config file (.yaml, .properties, .conf, .json)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := conf.LoadRegistry(*path)
	if err != nil {
		fmt.Fprintf(stderr, "rmqconnect schema-registry: %v\n", err)
		return 1
	}
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	log := slog.New(slog.NewTextHandler(stderr, opts))
	if cfg.LogFormat == "json" {
		log = slog.New(slog.NewJSONHandler(stderr, opts))
	}
	log = log.With("registry", cfg.ClusterName)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runSchemaRegistry(ctx, cfg, log); err != nil {
		log.Error("schema registry stopped with error", "err", err)
		return 1
	}
	return 0
}

func runSchemaRegistry(ctx context.Context, cfg *conf.Registry, log *slog.Logger) error {
	client, err := rmqclient.New(rmqclient.Config{
		NameServers: cfg.NameServers(),
		Instance:    fmt.Sprintf("%s-%d", cfg.ClusterName, os.Getpid()),
		Logger:      log,
	})
	if err != nil {
		return err
	}
	defer client.Close()
	openCtx, cancel := context.WithTimeout(ctx, time.Minute)
	store, err := registrylog.Open(openCtx, registrylog.Config{Client: client, Topic: cfg.StoreTopic, Logger: log})
	cancel()
	if err != nil {
		return err
	}
	defer store.Close()
	srv, err := server.New(server.Config{Log: store, Logger: log,
		SnapshotInterval: time.Duration(cfg.SnapshotIntervalHours) * time.Hour})
	if err != nil {
		return err
	}
	handler, tlsCfg, err := registryAccess(srv, cfg, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr())
	if err != nil {
		return fmt.Errorf("httpPort: %w", err)
	}
	hs := access.NewHTTPServer(handler, tlsCfg, log)

	// The log reader outlives the HTTP server, so that writes in flight while it drains are answered.
	runCtx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	var g errgroup.Group
	stopped := make(chan struct{}, 2) // the log reader or the HTTP server ended on its own
	g.Go(func() error {
		err := srv.Run(runCtx)
		stopped <- struct{}{}
		return err
	})
	g.Go(func() error {
		var err error
		if tlsCfg != nil {
			err = hs.ServeTLS(ln, "", "")
		} else {
			err = hs.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		stopped <- struct{}{}
		return err
	})
	log.Info("schema registry listening", "addr", ln.Addr().String(), "topic", cfg.StoreTopic)
	select {
	case <-ctx.Done():
	case <-stopped:
	}
	shutCtx, cancelShut := context.WithTimeout(context.Background(), 10*time.Second)
	_ = hs.Shutdown(shutCtx)
	cancelShut()
	stopRun()
	return g.Wait()
}

// registryAccess puts the registry behind the access checks the worker's REST API has, from the
// same keys: the browser guard (Host, Origin, Sec-Fetch-Site, JSON bodies, body size), CORS,
// basic auth on every route, and TLS. Refusals use the registry's error body.
func registryAccess(srv *server.Server, cfg *conf.Registry, log *slog.Logger) (http.Handler, *tls.Config, error) {
	rest := cfg.REST()
	var h http.Handler = srv
	if cfg.RESTAuthFile != "" {
		users, err := access.LoadUsers(cfg.RESTAuthFile)
		if err != nil {
			return nil, nil, fmt.Errorf("restAuthFile: %w", err)
		}
		h = access.NewBasicAuth(users, "rmqconnect-schema-registry", 0, log, server.WriteError).Wrap(h, nil)
	}
	if cors := access.CORS(rest.CORSOrigins(), rest.CORSMethods(), server.WriteError); cors != nil {
		h = cors(h)
	}
	h = access.NewGuard(access.GuardConfig{Bind: cfg.HTTPAddr(), Hosts: rest.AllowedHosts(), Origins: rest.CORSOrigins(),
		Fail: server.WriteError}).Wrap(h)
	var tlsCfg *tls.Config
	if cfg.RESTTLSCertFile != "" {
		c, err := access.LoadTLS(cfg.RESTTLSCertFile, cfg.RESTTLSKeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("restTLSCertFile/restTLSKeyFile: %w", err)
		}
		tlsCfg = c
	}
	return h, tlsCfg, nil
}
