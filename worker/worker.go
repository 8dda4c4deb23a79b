package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// Config is what a worker needs from the process configuration.
type Config struct {
	WorkerID    string
	ClusterID   string
	NameServers []string
	// ConnectTimeout bounds the start-up wait for RocketMQ; zero means 60s.
	ConnectTimeout time.Duration
	// ClientLogger receives the RocketMQ client's logs; nil means the worker's logger.
	ClientLogger *slog.Logger
	// AccessKey and SecretKey sign every RocketMQ request when both are set (ACL).
	AccessKey, SecretKey string
	// OperationTimeout bounds one RocketMQ request; zero means the client's default.
	OperationTimeout time.Duration
}

// Worker runs the connectors and tasks assigned to this process.
type Worker struct {
	cfg    Config
	log    *slog.Logger
	client *rmqclient.Client
}

// New builds a worker; it does not contact RocketMQ until Run.
func New(cfg Config, log *slog.Logger) (*Worker, error) {
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 60 * time.Second
	}
	clientLog := cfg.ClientLogger
	if clientLog == nil {
		clientLog = log
	}
	c, err := rmqclient.New(rmqclient.Config{NameServers: cfg.NameServers, Instance: cfg.WorkerID, Logger: clientLog,
		AccessKey: cfg.AccessKey, SecretKey: cfg.SecretKey, OperationTimeout: cfg.OperationTimeout})
	if err != nil {
		return nil, fmt.Errorf("worker %s: %w", cfg.WorkerID, err)
	}
	return &Worker{cfg: cfg, log: log, client: c}, nil
}

// Client is the worker's RocketMQ client, shared by everything the worker runs.
func (w *Worker) Client() *rmqclient.Client { return w.client }

// Run waits until RocketMQ answers (or ConnectTimeout passes, which is an error), then runs
// the herder until ctx ends; once herder has started, ready is called (to create the
// connectors given on the command line). Shutdown order: the herder stops its tasks, then
// the RocketMQ client closes. With a nil herder Run just waits for ctx.
func (w *Worker) Run(ctx context.Context, ready func(context.Context) error, herder func(context.Context) error) error {
	defer w.client.Close()
	if err := w.awaitBroker(ctx); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return nil
	}
	w.log.Info("worker started", "worker", w.cfg.WorkerID, "cluster", w.cfg.ClusterID, "namesrv", w.cfg.NameServers)
	defer w.log.Info("worker stopped", "worker", w.cfg.WorkerID)
	if herder == nil {
		<-ctx.Done()
		return nil
	}
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The herder ending first (it failed to start) stops ready, and its error is Run's;
	// ready failing first stops the herder, and ready's error is Run's.
	var g errgroup.Group
	var herderErr, readyErr error
	var herderEnded atomic.Bool
	g.Go(func() error {
		herderErr = herder(hctx)
		herderEnded.Store(true)
		cancel()
		return nil
	})
	if ready != nil {
		g.Go(func() error {
			if err := ready(hctx); err != nil && !herderEnded.Load() {
				readyErr = err
				cancel()
			}
			return nil
		})
	}
	_ = g.Wait()
	if readyErr != nil {
		return readyErr
	}
	return herderErr
}

func (w *Worker) awaitBroker(ctx context.Context) error {
	deadline := time.Now().Add(w.cfg.ConnectTimeout)
	backoff := 200 * time.Millisecond
	for {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := w.client.Ping(pctx)
		if err == nil {
			err = w.client.CheckAccess(pctx)
		}
		cancel()
		if err == nil {
			return nil
		}
		if errors.Is(err, rmqclient.ErrAccessDenied) {
			// Retrying cannot help: the credentials are wrong or missing.
			return fmt.Errorf("worker %s: RocketMQ refused the worker's credentials (check aclEnable, accessKey, secretKey): %w",
				w.cfg.WorkerID, err)
		}
		if ctx.Err() != nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("worker %s: RocketMQ not reachable after %s: %w", w.cfg.WorkerID, w.cfg.ConnectTimeout, err)
		}
		w.log.Warn("waiting for RocketMQ", "namesrv", w.cfg.NameServers, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// Health reports whether RocketMQ answers this worker.
func (w *Worker) Health(ctx context.Context) error {
	if err := w.client.Ping(ctx); err != nil {
		return fmt.Errorf("rocketmq: %w", err)
	}
	return nil
}
