package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/clustertest"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

// launchWorker runs `rmqconnect MODE` against namesrv with extra worker config lines, logging
// to DIR/worker.log, without waiting for anything.
func launchWorker(t *testing.T, dir, mode, namesrv, extra string) (*workerProc, string) {
	t.Helper()
	port := clustertest.FreePort(t)
	id := strings.ReplaceAll(rmqtest.Name(t, "w"), ".", "_")
	if len(id) > 90 {
		id = id[len(id)-90:]
	}
	cfg := filepath.Join(dir, "worker.properties")
	body := fmt.Sprintf("workerId=%s\nconnectClusterId=%s\nnamesrvAddr=%s\nhttpPort=%d\nstorePathRootDir=%s\n"+
		"offsetCommitIntervalMsConfig=500\nlogLevel=info\nconfigStoreTopic=%[2]s-config\npositionStoreTopic=%[2]s-position\n"+
		"connectStatusTopic=%[2]s-status\nclusterStoreTopic=%[2]s-cluster\n%[6]s",
		id, "c"+id, namesrv, port, filepath.Join(dir, "store"), extra)
	require.NoError(t, os.WriteFile(cfg, []byte(body), 0o644))
	logPath := filepath.Join(dir, "worker.log")
	w, err := clustertest.StartProc(t, exec.Command(binary, mode, "-c", cfg), fmt.Sprintf("http://127.0.0.1:%d", port), logPath)
	require.NoError(t, err)
	return w, logPath
}

func awaitHealthy(t *testing.T, w *workerProc, logPath string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(w.URL + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-w.Exited():
			err := w.Err()
			t.Fatalf("worker exited (%v); log: %s", err, readFile(logPath))
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("worker never became healthy; log: %s", readFile(logPath))
}

// aclBroker returns the name server of a RocketMQ with ACL enabled and its user's keys:
// RMQ_ACL_NAMESRV, RMQ_ACL_ACCESS_KEY and RMQ_ACL_SECRET_KEY when set, else a broker this
// test starts with distribution/bin/rocketmq-local.sh on ports of its own (about 15 s) and
// stops at the end.
func aclBroker(t *testing.T) (namesrv, accessKey, secretKey string) {
	t.Helper()
	rmqtest.Require(t)
	if ns := os.Getenv("RMQ_ACL_NAMESRV"); ns != "" {
		return ns, os.Getenv("RMQ_ACL_ACCESS_KEY"), os.Getenv("RMQ_ACL_SECRET_KEY")
	}
	accessKey, secretKey = "rmqcE2E", "rmqcE2Esecret42"
	data := t.TempDir()
	// Below the ephemeral port range (32768+), where an outgoing connection may hold the
	// broker's HA port (listen port + 1) and make it fail to bind.
	nsPort, brokerPort := 28876, 28911
	script, err := filepath.Abs("../../distribution/bin/rocketmq-local.sh")
	require.NoError(t, err)
	env := append(os.Environ(), "RMQ_DATA_DIR="+data, fmt.Sprintf("RMQ_NAMESRV_PORT=%d", nsPort),
		fmt.Sprintf("RMQ_BROKER_PORT=%d", brokerPort), "RMQ_ACL_ACCESS_KEY="+accessKey, "RMQ_ACL_SECRET_KEY="+secretKey,
		"RMQ_BROKER_HEAP=384m", "RMQ_NAMESRV_HEAP=128m")
	stop := func() {
		cmd := exec.Command(script, "stop")
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("stopping the ACL broker: %v\n%s", err, out)
		}
	}
	t.Cleanup(stop)
	cmd := exec.Command(script, "start")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "start a broker with ACL: %s", out)
	return fmt.Sprintf("127.0.0.1:%d", nsPort), accessKey, secretKey
}

// TestACLBroker: against a broker that requires authentication, a worker without keys (or
// with a wrong secret) stops at start-up with an error naming the ACL keys; with the keys,
// a distributed worker runs a file → topic → file pipeline, so its store topics, membership,
// producers, consumers and admin calls are all signed.
func TestACLBroker(t *testing.T) {
	namesrv, ak, sk := aclBroker(t)

	for name, extra := range map[string]string{
		"no keys":      "",
		"wrong secret": fmt.Sprintf("aclEnable=true\naccessKey=%s\nsecretKey=%s-wrong\n", ak, sk),
	} {
		t.Run(name, func(t *testing.T) {
			w, logPath := launchWorker(t, t.TempDir(), "distributed", namesrv, extra)
			select {
			case <-w.Exited():
				err := w.Err()
				require.Error(t, err, "the worker must exit non-zero")
			case <-time.After(90 * time.Second):
				t.Fatalf("the worker kept running without valid keys; log: %s", readFile(logPath))
			}
			log := readFile(logPath)
			require.Contains(t, log, "RocketMQ refused the worker's credentials")
			require.Contains(t, log, "aclEnable, accessKey, secretKey")
			full, err := os.ReadFile(logPath)
			require.NoError(t, err)
			require.NotContains(t, string(full), sk+"-wrong", "the secret key is never logged")
		})
	}

	dir := t.TempDir()
	w, logPath := launchWorker(t, dir, "distributed", namesrv, fmt.Sprintf("aclEnable=true\naccessKey=%s\nsecretKey=%s\n", ak, sk))
	awaitHealthy(t, w, logPath)
	in, out := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
	appendLines(t, in, 0, 20)
	topic := "acl-" + strings.ReplaceAll(rmqtest.Name(t, "t"), ".", "_")
	if len(topic) > 100 {
		topic = topic[len(topic)-100:]
	}
	createConnector(t, w, "src", map[string]string{"connector.class": "file-source", "filename": in,
		"connect.topicname": topic, "value.converter": "string"})
	waitConnector(t, w, "src", "RUNNING", 1)
	createConnector(t, w, "sink", map[string]string{"connector.class": "file-sink", "filename": out,
		"connect.topicnames": topic, "value.converter": "string"})
	require.Eventually(t, func() bool { return countLines(out) >= 20 }, 2*time.Minute, 200*time.Millisecond,
		"%d of 20 lines arrived through the ACL broker; log: %s", countLines(out), readFile(logPath))
	w.Stop(t, 90*time.Second)
	full, err := os.ReadFile(logPath)
	require.NoError(t, err)
	require.NotContains(t, string(full), sk, "the secret key is never logged")
}
