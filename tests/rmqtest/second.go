package rmqtest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rmqconnect/rmqconnect/tests/localserver"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// Ports and data directory of the second cluster (cluster "B" of replication tests): apart
// from the dev broker's, the test broker's and each other's.
const (
	secondNamesrvPort = "27876"
	secondBrokerPort  = "27911"
)

var (
	secondMu      sync.Mutex
	secondNS      string
	secondRelease func() error
	secondOwned   bool // started by this package's harness (it may stop and restart it)
)

// Second returns the name server of a second RocketMQ cluster, for tests that replicate
// between clusters. RMQ_SECOND_NAMESRV points at an existing one; otherwise it is started
// on first use with distribution/bin/rocketmq-local.sh on its own ports and data
// directory (RMQ_SECOND_NAMESRV_PORT, RMQ_SECOND_BROKER_PORT, RMQ_SECOND_DATA_DIR override
// them) and stopped when the test process ends, as the first broker is. Both clusters are
// named DefaultCluster with a broker broker-local: tell them apart by address.
func Second(t testing.TB) string {
	t.Helper()
	Require(t)
	secondMu.Lock()
	defer secondMu.Unlock()
	if secondNS != "" {
		return secondNS
	}
	if ns := os.Getenv("RMQ_SECOND_NAMESRV"); ns != "" {
		secondNS = strings.Split(ns, ";")[0]
		return secondNS
	}
	ns, release, err := startCluster(secondEnv())
	if err != nil {
		t.Fatalf("rmqtest: second cluster: %v", err)
	}
	secondNS, secondRelease, secondOwned = ns, release, true
	return secondNS
}

// StopSecond stops the second cluster's broker and name server (keeping its messages), for
// fault tests; StartSecond brings it back. The test is skipped when the cluster was not
// started by this harness (RMQ_SECOND_NAMESRV).
func StopSecond(t testing.TB) {
	t.Helper()
	Second(t)
	if !secondOwned {
		t.Skip("the second cluster is RMQ_SECOND_NAMESRV's: not stopped by tests")
	}
	script, err := localserver.Script("rocketmq-local.sh", "RMQ_NAMESRV")
	if err == nil {
		err = runScript(script, secondEnv(), "stop")
	}
	if err != nil {
		t.Fatalf("rmqtest: stop the second cluster: %v", err)
	}
}

// StartSecond starts the second cluster again after StopSecond, with its messages.
func StartSecond(t testing.TB) {
	t.Helper()
	script, err := localserver.Script("rocketmq-local.sh", "RMQ_NAMESRV")
	if err == nil {
		err = runScript(script, secondEnv(), "start")
	}
	if err != nil {
		t.Fatalf("rmqtest: restart the second cluster: %v", err)
	}
	// The marker names the name server this harness started: the new one, so that the
	// release at the end still stops it.
	data := envValue(secondEnv(), "RMQ_DATA_DIR")
	pid, _ := os.ReadFile(filepath.Join(data, "run", "namesrv.pid"))
	_ = os.WriteFile(data+".started-by-tests", []byte(strings.TrimSpace(string(pid))), 0o644)
}

var (
	secondClientOnce sync.Once
	secondClient     *rmqclient.Client
	secondClientErr  error
)

// SecondClient returns a client of the second cluster shared by the tests of this process;
// its instance name differs from Client's, as the client library requires.
func SecondClient(t testing.TB) *rmqclient.Client {
	t.Helper()
	ns := Second(t)
	secondClientOnce.Do(func() {
		secondClient, secondClientErr = rmqclient.New(rmqclient.Config{
			NameServers: []string{ns},
			Instance:    "rmqtest-second-" + runID,
			Logger:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		})
	})
	if secondClientErr != nil {
		t.Fatalf("rmqtest: second cluster client: %v", secondClientErr)
	}
	return secondClient
}

// SecondTopic creates a topic unique to this test on the second cluster.
func SecondTopic(t testing.TB, queues int) string {
	t.Helper()
	name := Name(t, "t")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := SecondClient(t).CreateTopic(ctx, rmqclient.TopicSpec{Name: name, Queues: queues}); err != nil {
		t.Fatalf("rmqtest: create topic on the second cluster: %v", err)
	}
	return name
}

// releaseSecond lets the second cluster go at the end of the test process.
func releaseSecond() error {
	secondMu.Lock()
	defer secondMu.Unlock()
	if secondRelease == nil {
		return nil
	}
	err := secondRelease()
	secondRelease = nil
	if err != nil {
		return fmt.Errorf("second cluster: %w", err)
	}
	return nil
}

func secondEnv() []string {
	env := os.Environ()
	get := func(k, def string) string {
		if v := envValue(env, k); v != "" {
			return v
		}
		return def
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	return append(env,
		"RMQ_DATA_DIR="+get("RMQ_SECOND_DATA_DIR", filepath.Join(cache, "rmqconnect", "test-broker-second")),
		"RMQ_NAMESRV_PORT="+get("RMQ_SECOND_NAMESRV_PORT", secondNamesrvPort),
		"RMQ_BROKER_PORT="+get("RMQ_SECOND_BROKER_PORT", secondBrokerPort))
}
