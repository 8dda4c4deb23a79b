package faults

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rmqconnect/rmqconnect/tests/clustertest"
)

var (
	full   = flag.Bool("faults.full", false, "run every scenario with its full count (make faults); without it, the short subset")
	report = flag.String("faults.report", "", "write the scenarios' figures as markdown to this file (RELIABILITY.md)")
	fuzzN  = flag.Int("faults.fuzz", 40, "schemathesis examples per API operation in TestRESTFuzz")
	bounce = flag.Int("faults.bounces", 10, "bounces of each kind (SIGKILL, SIGTERM) in the full suite")
)

// The private RocketMQ of the suite: its own ports and data directory, on the bridge address.
const (
	namesrvPort = 26876
	brokerPort  = 26911
)

var (
	binary  string
	began   time.Time // when the suite's RocketMQ was being started
	namesrv = fmt.Sprintf("%s:%d", hostAddr, namesrvPort)
	// rmqPorts are every port of the name server and broker (the broker also takes PORT-2 and PORT+1).
	rmqPorts = []int{namesrvPort, brokerPort - 2, brokerPort, brokerPort + 1}
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		return m.Run()
	}
	for _, tool := range []string{"ip", "nft", "mount", "java"} {
		if _, err := exec.LookPath(tool); err != nil {
			fmt.Fprintf(os.Stderr, "faults: %s not found: the fault suite needs ip, nft (Debian nftables), mount and java\n", tool)
			return 1
		}
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "faults: the fault suite needs root (network namespaces, nftables, tmpfs mounts)")
		return 1
	}
	dir, err := os.MkdirTemp("", "rmqconnect-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if binary, err = clustertest.Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := setupNetwork(); err != nil {
		fmt.Fprintf(os.Stderr, "faults: network: %v\n", err)
		teardownNetwork()
		return 1
	}
	defer teardownNetwork()
	began = time.Now()
	if err := rocketmq("start"); err != nil {
		fmt.Fprintf(os.Stderr, "faults: %v\n", err)
		return 1
	}
	code := m.Run()
	if err := rocketmq("stop"); err != nil {
		fmt.Fprintf(os.Stderr, "faults: %v\n", err)
		code = max(code, 1)
	}
	if *report != "" {
		if err := writeReport(*report); err != nil {
			fmt.Fprintf(os.Stderr, "faults: report: %v\n", err)
			code = max(code, 1)
		}
	}
	return code
}

// suite skips a test under -short: the suite needs root, its network and its RocketMQ, which
// TestMain sets up only without -short.
func suite(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("the fault suite starts workers, a RocketMQ and network namespaces; skipped with -short")
	}
}

// rocketmq runs distribution/bin/rocketmq-local.sh with the suite's ports, address and data directory.
func rocketmq(arg string) error {
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	cmd := exec.Command("bash", "../../distribution/bin/rocketmq-local.sh", arg)
	cmd.Env = append(os.Environ(), "RMQ_HOST="+hostAddr, fmt.Sprintf("RMQ_NAMESRV_PORT=%d", namesrvPort),
		fmt.Sprintf("RMQ_BROKER_PORT=%d", brokerPort), "RMQ_DATA_DIR="+filepath.Join(cache, "rmqconnect", "faults-broker"),
		"RMQ_CLEAN_STORE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("rocketmq-local.sh %s: %w: %s", arg, err, strings.TrimSpace(string(out)))
	}
	return nil
}
