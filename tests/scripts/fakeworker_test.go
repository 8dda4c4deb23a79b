package scripts

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/rmqconnect/rmqconnect/conf"
)

// fakeWorkerEnv, set to a records directory, makes the test binary a fake rmqconnect (TestMain).
const fakeWorkerEnv = "RMQCONNECT_TEST_FAKE_WORKER"

// fakeWorkerScript is the fake binary the scripts run: it makes this test binary a fake worker.
// (GORACE: a -race build otherwise sleeps a second before it exits.)
const fakeWorkerScript = `#!/bin/sh
export ` + fakeWorkerEnv + `=%q
export GORACE="${GORACE:+$GORACE }atexit_sleep_ms=0"
exec %q "$@"
`

// fakeWorker stands in for `rmqconnect standalone|distributed [-c CONFIG] [files...]` as the
// connect-*.sh scripts run it. It records its arguments in <records>/<pid>.args and prints one
// line (to the daemon log); then, as the real worker does, it loads the config (a bad one: the
// error, exit 1), listens for the admin REST API (a port taken: the error, exit 1), logs
// `admin REST listening` with the address in the config's logFormat when its logLevel shows
// Info, and answers GET /health with the config's workerId. It runs until SIGTERM, after which
// it writes <records>/<pid>.stopped and exits 0.
//
// It listens on a free loopback port, unless FAKE_LISTEN=config: then on the config's
// httpBindAddress:httpPort, after FAKE_LISTEN_DELAY (a Go duration). FAKE_NO_HTTP=1: it never
// listens. FAKE_HEALTH=starting: /health answers 503 starting. FAKE_IGNORE_TERM=1: it ignores
// SIGTERM.
func fakeWorker(records string) int {
	// SIGTERM is handled before the arguments are recorded: a test that has seen them may stop it.
	term := make(chan os.Signal, 1)
	if os.Getenv("FAKE_IGNORE_TERM") == "1" {
		signal.Ignore(syscall.SIGTERM)
	} else {
		signal.Notify(term, syscall.SIGTERM)
	}
	args := os.Args[1:]
	pid := strconv.Itoa(os.Getpid())
	tmp := filepath.Join(records, pid+".args.tmp")
	if err := os.WriteFile(tmp, []byte(strings.Join(args, "\n")+"\n"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := os.Rename(tmp, filepath.Join(records, pid+".args")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("fake rmqconnect " + strings.Join(args, " "))

	var g errgroup.Group
	if os.Getenv("FAKE_NO_HTTP") != "1" && len(args) > 0 {
		fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
		path := fs.String("c", "", "worker config")
		if err := fs.Parse(args[1:]); err != nil {
			return 2
		}
		cfg, err := conf.Load(*path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "rmqconnect %s: %v\n", args[0], err)
			return 1
		}
		var lvl slog.Level
		_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
		var h slog.Handler = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})
		if cfg.LogFormat == "json" {
			h = slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})
		}
		log := slog.New(h)
		addr := "127.0.0.1:0"
		if os.Getenv("FAKE_LISTEN") == "config" {
			addr = cfg.HTTPAddr()
			d, _ := time.ParseDuration(os.Getenv("FAKE_LISTEN_DELAY"))
			time.Sleep(d)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			log.Error("stopped with error", "err", err)
			return 1
		}
		srv := &http.Server{Handler: healthHandler(cfg.WorkerID, os.Getenv("FAKE_HEALTH")), ReadHeaderTimeout: 5 * time.Second}
		g.Go(func() error {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
		defer func() { _ = srv.Close(); _ = g.Wait() }()
		log.Info("admin REST listening", "addr", ln.Addr().String())
	}
	<-term
	_ = os.WriteFile(filepath.Join(records, pid+".stopped"), []byte("stopped\n"), 0o644)
	return 0
}

// healthHandler answers GET /health as the worker does, for worker id: 200 healthy, or 503
// when status is "starting".
func healthHandler(id, status string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		code := http.StatusOK
		if status == "" {
			status = "healthy"
		} else if status == "starting" {
			code = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": status, "message": "fake", "worker_id": id, "version": "fake"})
	})
}
