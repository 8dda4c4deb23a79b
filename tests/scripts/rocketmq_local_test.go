package scripts

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const script = "../../distribution/bin/rocketmq-local.sh"

// Ports of the broker this test starts, chosen free at start-up (the broker also takes
// brokerPort-2 and brokerPort+1).
var nsPort, brokerPort = pickPorts()

func pickPorts() (int, int) {
	free := func(p int) bool {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			return false
		}
		l.Close()
		return true
	}
	// Below the kernel's ephemeral range (32768+), so a client connection cannot hold the port
	// between a stop and the next start; clear of the test (19876/20911) and bench (29876/30911) brokers.
	base := 21000 + (os.Getpid()%300)*20
	for i := 0; i < 200; i++ {
		ns, br := base+i*7, base+i*7+3
		if free(ns) && free(br) && free(br-2) && free(br+1) {
			return ns, br
		}
	}
	return 29876, 30911
}

// scriptEnv gives the script its own ports and data directory, apart from the tests' broker.
func scriptEnv(t *testing.T, dir string) []string {
	return append(os.Environ(),
		"RMQ_DATA_DIR="+filepath.Join(dir, "rmq"),
		fmt.Sprintf("RMQ_NAMESRV_PORT=%d", nsPort),
		fmt.Sprintf("RMQ_BROKER_PORT=%d", brokerPort),
		"RMQ_STOP_TIMEOUT=60",
	)
}

func listening(port int) bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// javaFor lists pids of JVMs started by the script for this data directory.
func javaFor(t *testing.T, dir string) []string {
	out, _ := exec.Command("pgrep", "-f", "rocketmq.home.dir="+filepath.Join(dir, "rmq")).Output()
	return strings.Fields(string(out))
}

func TestStartStopStart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a RocketMQ broker")
	}
	dir := t.TempDir()
	env := scriptEnv(t, dir)
	t.Cleanup(func() { _, _ = runCmd(t, env, "bash", script, "stop") })

	out, code := runCmd(t, env, "bash", script, "status")
	require.NotEqual(t, 0, code, out)
	require.Contains(t, out, "stopped")

	start := time.Now()
	out, code = runCmd(t, env, "bash", script, "start")
	require.Equal(t, 0, code, out)
	t.Logf("cold start (jars cached): %s", time.Since(start).Round(100*time.Millisecond))
	require.Contains(t, out, fmt.Sprintf("127.0.0.1:%d", nsPort))
	require.True(t, listening(nsPort) && listening(brokerPort))
	out, code = runCmd(t, env, "bash", script, "status")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "running")

	out, code = runCmd(t, env, "bash", script, "start")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "already running", "a second start is a no-op")

	start = time.Now()
	out, code = runCmd(t, env, "bash", script, "stop")
	require.Equal(t, 0, code, out)
	t.Logf("stop: %s", time.Since(start).Round(100*time.Millisecond))
	require.Empty(t, javaFor(t, dir), "no java process left")
	for _, p := range []int{nsPort, brokerPort, brokerPort - 2, brokerPort + 1} {
		require.False(t, listening(p), "port %d still listening", p)
	}

	out, code = runCmd(t, env, "bash", script, "start")
	require.Equal(t, 0, code, out)
	require.True(t, listening(brokerPort))

	// A broker killed behind the script's back leaves a stale pid file, which status
	// reports and start repairs.
	pid, err := os.ReadFile(filepath.Join(dir, "rmq", "run", "broker.pid"))
	require.NoError(t, err)
	require.NoError(t, exec.Command("kill", "-9", strings.TrimSpace(string(pid))).Run())
	require.Eventually(t, func() bool { return !listening(brokerPort) }, 10*time.Second, 100*time.Millisecond)
	out, code = runCmd(t, env, "bash", script, "status")
	require.NotEqual(t, 0, code)
	require.Contains(t, out, "stale pid file")
	out, code = runCmd(t, env, "bash", script, "start")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "stale pid file")
	require.True(t, listening(brokerPort))

	out, code = runCmd(t, env, "bash", script, "logs")
	require.Equal(t, 0, code)
	require.Contains(t, out, "boot success")

	out, code = runCmd(t, env, "bash", script, "stop")
	require.Equal(t, 0, code, out)
	require.Empty(t, javaFor(t, dir))
}

func TestMissingJavaIsAClearError(t *testing.T) {
	// A PATH with the tools the script needs but neither java nor mvn.
	bin := t.TempDir()
	for _, tool := range []string{"bash", "dirname", "cat", "sed", "head", "grep", "mkdir", "flock", "tr", "rm", "ls", "tail", "sleep", "setsid", "timeout", "dd", "mv", "basename"} {
		p, err := exec.LookPath(tool)
		require.NoError(t, err, tool)
		require.NoError(t, os.Symlink(p, filepath.Join(bin, tool)))
	}
	env := append(scriptEnv(t, t.TempDir()), "PATH="+bin, "RMQ_CACHE_DIR="+t.TempDir())
	out, code := runCmd(t, env, "bash", script, "start")
	require.NotEqual(t, 0, code)
	require.Contains(t, out, "java not found")
	require.Contains(t, out, "openjdk-17")

	// java present, jars not cached, no mvn: says what to install.
	java, err := exec.LookPath("java")
	require.NoError(t, err)
	real, err := filepath.EvalSymlinks(java)
	require.NoError(t, err)
	require.NoError(t, os.Symlink(real, filepath.Join(bin, "java")))
	out, code = runCmd(t, env, "bash", script, "start")
	require.NotEqual(t, 0, code)
	require.Contains(t, out, "mvn not found")
	require.Contains(t, out, "apt-get install maven")
}
