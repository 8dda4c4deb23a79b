package rmqtest

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rmqconnect/rmqconnect/tests/localserver"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// Defaults for the broker the tests start. They differ from the development broker's ports
// and data directory so tests never disturb a broker started by `make rocketmq-up`.
const (
	testNamesrvPort = "19876"
	testBrokerPort  = "20911"
)

var (
	namesrv    string
	haveBroker bool
	sharedOnce sync.Once
	shared     *rmqclient.Client
	sharedErr  error
	seq        atomic.Int64
	runID      = fmt.Sprintf("%x", time.Now().UnixNano()&0xffffff)
)

// Main is called from TestMain. Unless -short is given it makes sure a broker is up before
// the tests run (RMQ_NAMESRV, or one started with distribution/bin/rocketmq-local.sh) and
// exits non-zero if none can be had: broker tests are never skipped silently. The broker it
// started is stopped when the last test process using it ends.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main returning the exit code instead of exiting, for a TestMain with work to do after
// the tests.
func Run(m *testing.M) int { return run(m, false) }

// MainLeakChecked is Main plus a goroutine-leak check (go.uber.org/goleak) after the tests
// pass: a goroutine still running once every test has returned fails the run. Goroutines of
// rocketmq-client-go's process-wide machinery, which outlive any one client, are ignored, as
// are those matched by ignore.
func MainLeakChecked(m *testing.M, ignore ...goleak.Option) { os.Exit(run(m, true, ignore...)) }

func run(m *testing.M, leaks bool, ignore ...goleak.Option) int {
	flag.Parse()
	check := func(code int) int {
		if !leaks || code != 0 {
			return code
		}
		if err := goleak.Find(append(ClientLibraryGoroutines(), ignore...)...); err != nil {
			fmt.Fprintf(os.Stderr, "rmqtest: goroutines left running after the tests: %v\n", err)
			return 1
		}
		return code
	}
	if testing.Short() {
		return check(m.Run())
	}
	release, err := acquire()
	if err != nil {
		fmt.Fprintf(os.Stderr, "rmqtest: no RocketMQ broker for the tests: %v\n", err)
		os.Exit(1)
	}
	haveBroker = true
	fmt.Fprintf(os.Stderr, "rmqtest: using RocketMQ name server %s\n", namesrv)
	code := m.Run()
	if shared != nil {
		_ = shared.Close()
	}
	code = check(code)
	if err := releaseSecond(); err != nil {
		fmt.Fprintf(os.Stderr, "rmqtest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	if err := release(); err != nil {
		fmt.Fprintf(os.Stderr, "rmqtest: stopping the test broker: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// ClientLibraryGoroutines ignores the goroutines rocketmq-client-go v2.1.2 starts and does
// not stop when a consumer or client shuts down (measured: ~600 after ./worker's broker tests,
// none of them with a frame of ours): everything it runs under primitive.WithRecover, its pull
// loops' pending requests and its rebalance passes. A goroutine of ours blocked inside a
// client call is hidden by the second rule; its own frames would show it anywhere else.
func ClientLibraryGoroutines() []goleak.Option {
	const lib = "github.com/apache/rocketmq-client-go/v2/"
	return []goleak.Option{
		goleak.IgnoreAnyFunction(lib + "primitive.WithRecover"),
		goleak.IgnoreAnyFunction(lib + "internal/remote.(*remotingClient).InvokeSync"),
		goleak.IgnoreAnyFunction(lib + "internal.(*rmqClient).RebalanceImmediately"),
		goleak.IgnoreAnyFunction("github.com/patrickmn/go-cache.(*janitor).Run"),
	}
}

// NameServer returns the name server address, skipping the test in -short mode.
func NameServer(t testing.TB) string {
	t.Helper()
	Require(t)
	return namesrv
}

// Require skips the test under -short and fails it if Main did not set a broker up.
func Require(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a RocketMQ broker; skipped with -short")
	}
	if !haveBroker {
		t.Fatal("rmqtest.Main was not called from TestMain; no broker was set up")
	}
}

// Client returns a client shared by the tests of this process.
func Client(t testing.TB) *rmqclient.Client {
	t.Helper()
	Require(t)
	sharedOnce.Do(func() {
		shared, sharedErr = rmqclient.New(rmqclient.Config{
			NameServers: []string{namesrv},
			Instance:    "rmqtest-" + runID,
			Logger:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		})
	})
	if sharedErr != nil {
		t.Fatalf("rmqtest: client: %v", sharedErr)
	}
	return shared
}

var nonName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// Name returns a name unique to this test and run, usable as a topic or group name.
func Name(t testing.TB, kind string) string {
	base := nonName.ReplaceAllString(t.Name(), "_")
	if len(base) > 60 {
		base = base[len(base)-60:]
	}
	return fmt.Sprintf("%s_%s_%s_%d", kind, base, runID, seq.Add(1))
}

// Group returns a consumer group name unique to this test.
func Group(t testing.TB) string { return Name(t, "g") }

// Topic creates a topic unique to this test with the given number of queues and returns its name.
func Topic(t testing.TB, queues int) string {
	t.Helper()
	name := Name(t, "t")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := Client(t).CreateTopic(ctx, rmqclient.TopicSpec{Name: name, Queues: queues}); err != nil {
		t.Fatalf("rmqtest: create topic: %v", err)
	}
	return name
}

// acquire finds or starts the broker and returns the function that lets it go.
func acquire() (release func() error, err error) {
	if ns := os.Getenv("RMQ_NAMESRV"); ns != "" {
		namesrv = strings.Split(ns, ";")[0]
		return func() error { return nil }, nil
	}
	ns, release, err := startCluster(testBrokerEnv())
	if err != nil {
		return nil, err
	}
	namesrv = ns
	return release, nil
}

// startCluster starts (or joins) the cluster env describes with rocketmq-local.sh and
// returns its name server and the function that lets it go: the last test process using
// it stops it, if a test process started it.
func startCluster(env []string) (ns string, release func() error, err error) {
	script, err := localserver.Script("rocketmq-local.sh", "RMQ_NAMESRV")
	if err != nil {
		return "", nil, err
	}
	dataDir := envValue(env, "RMQ_DATA_DIR")
	if err := os.MkdirAll(filepath.Dir(dataDir), 0o755); err != nil {
		return "", nil, err
	}
	// Every test process holds a shared lock on the users file while it uses the broker; the
	// last one out takes it exclusively and stops the broker if a test process started it.
	users, err := localserver.Use(dataDir + ".users")
	if err != nil {
		return "", nil, err
	}
	marker := dataDir + ".started-by-tests"
	// Always go through `start`: it is a no-op when the broker runs, and it takes the
	// script's lock, so a broker another test process is still starting (running but not
	// yet registered with the name server) is waited for rather than used too early.
	env = append(env, "RMQ_CLEAN_STORE=1") // applies only when it really starts one
	out, err := runScriptOutput(script, env, "start")
	if err != nil {
		_ = localserver.Unlock(users)
		users.Close()
		return "", nil, err
	}
	// The marker names the name server process this run started, so a marker left over
	// from an earlier broker never makes us stop one somebody else started.
	nsPid := func() string {
		b, _ := os.ReadFile(filepath.Join(dataDir, "run", "namesrv.pid"))
		return strings.TrimSpace(string(b))
	}
	if !strings.Contains(out, "already running") {
		_ = os.WriteFile(marker, []byte(nsPid()), 0o644)
	}
	ns = "127.0.0.1:" + envValue(env, "RMQ_NAMESRV_PORT")
	return ns, func() error {
		defer users.Close()
		_ = localserver.Unlock(users)
		if err := localserver.TryLockExclusive(users); err != nil {
			return nil // another test process still uses the broker; it will stop it
		}
		defer localserver.Unlock(users)
		if b, err := os.ReadFile(marker); err != nil || strings.TrimSpace(string(b)) != nsPid() {
			return nil // started by someone else (by hand, or by make test): leave it running
		}
		if err := runScript(script, env, "stop"); err != nil {
			return err
		}
		return os.Remove(marker)
	}, nil
}

func testBrokerEnv() []string {
	env := os.Environ()
	set := func(k, def string) {
		if envValue(env, k) == "" {
			env = append(env, k+"="+def)
		}
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	set("RMQ_TEST_DATA_DIR", filepath.Join(cache, "rmqconnect", "test-broker"))
	env = append(env, "RMQ_DATA_DIR="+envValue(env, "RMQ_TEST_DATA_DIR"))
	set("RMQ_TEST_NAMESRV_PORT", testNamesrvPort)
	set("RMQ_TEST_BROKER_PORT", testBrokerPort)
	env = append(env, "RMQ_NAMESRV_PORT="+envValue(env, "RMQ_TEST_NAMESRV_PORT"),
		"RMQ_BROKER_PORT="+envValue(env, "RMQ_TEST_BROKER_PORT"))
	return env
}

// envValue returns the last value of key in env (later entries win, as exec does).
func envValue(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

func runScript(script string, env []string, arg string) error {
	_, err := runScriptOutput(script, env, arg)
	return err
}

func runScriptOutput(script string, env []string, arg string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script, arg)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", filepath.Base(script), arg, err, out)
	}
	return string(out), nil
}
