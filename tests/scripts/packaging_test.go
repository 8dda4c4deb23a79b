package scripts

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/rmqconnect/rmqconnect/conf"
)

// The packaging under distribution/: the container image file, the Kubernetes manifests and the
// Prometheus rules. No Docker daemon or Kubernetes cluster is needed: the image file and the
// manifests are parsed and checked against the code they package (the worker config loads, the
// ports, paths and probes agree, the health check command works against a /health that answers
// each KIP-1017 status), and the rules go through promtool.

const (
	dockerfile = "../../distribution/docker/Dockerfile"
	k8sDir     = "../../distribution/k8s"
	rulesDir   = "../../distribution/prometheus"
)

// instruction is one Dockerfile instruction with its continuation lines joined.
type instruction struct {
	cmd  string // upper case
	args string
}

func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []instruction
	var cur strings.Builder
	for _, line := range strings.Split(string(raw), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	require.Zero(t, cur.Len(), "a continuation line runs off the end of the file")
	return out
}

// adminBinary builds the rmqconnect binary once per test binary run.
func adminBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "rmqconnect")
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/rmqconnect").CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

// TestDockerfile: the image is a static build (CGO off, the ldflags the Makefile sets), on a
// static base, run as a non-root user; it ships a worker config that loads, exposes its
// httpPort, and its HEALTHCHECK command exits 0 only on 200 healthy.
func TestDockerfile(t *testing.T) {
	ins := parseDockerfile(t, dockerfile)
	var froms []int
	for i, in := range ins {
		if in.cmd == "FROM" {
			froms = append(froms, i)
		}
	}
	require.GreaterOrEqual(t, len(froms), 2, "a build stage and a runtime stage")
	final := ins[froms[len(froms)-1]:]
	require.Regexp(t, `(distroless/static|^scratch)`, final[0].args, "the runtime stage is a static base")

	var build string
	for _, in := range ins[:froms[len(froms)-1]] {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			build = in.args
		}
		if in.cmd == "ARG" && strings.HasPrefix(in.args, "GO_VERSION=") {
			gomod, err := os.ReadFile("../../go.mod")
			require.NoError(t, err)
			want := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
			require.NotNil(t, want)
			require.Equal(t, "GO_VERSION="+string(want[1]), in.args, "the builder's Go is go.mod's")
		}
	}
	require.Contains(t, build, "CGO_ENABLED=0", "a static binary")
	require.Contains(t, build, "./cmd/rmqconnect")
	cmdSrc, err := os.ReadFile("../../cmd/rmqconnect/commands.go")
	require.NoError(t, err)
	for _, m := range regexp.MustCompile(`-X main\.(\w+)=`).FindAllStringSubmatch(build, -1) {
		require.Regexp(t, `(?m)^\s*`+m[1]+`\s+=`, string(cmdSrc), "-X main.%s names a variable of package main", m[1])
	}

	var user, expose, health, cmdArgs string
	var copies []string
	for _, in := range final {
		switch in.cmd {
		case "USER":
			user = in.args
		case "EXPOSE":
			expose = in.args
		case "HEALTHCHECK":
			health = in.args
		case "CMD":
			cmdArgs = in.args
		case "COPY":
			if !strings.Contains(in.args, "--from=") {
				copies = append(copies, in.args)
			}
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	require.NotEmpty(t, uid, "the image sets USER")
	require.NotContains(t, []string{"0", "root"}, uid, "the worker does not run as root")

	// The shipped worker config exists, loads, and listens where the image says.
	require.Len(t, copies, 1)
	parts := strings.Fields(copies[0])
	src, dst := parts[len(parts)-2], parts[len(parts)-1]
	require.Contains(t, cmdArgs, dst, "the default command reads the shipped config")
	t.Setenv("RMQCONNECT_WORKERID", "image-test")
	w, err := conf.Load(filepath.Join("../..", src))
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(w.HTTPPort), expose)
	require.Equal(t, "0.0.0.0", w.HTTPBindAddress, "reachable from outside the container")

	// HEALTHCHECK CMD ["...rmqconnect", "admin", ..., "health"]: run it against /health answers.
	_, exec0, ok := strings.Cut(health, "CMD ")
	require.True(t, ok, "HEALTHCHECK has a CMD: %q", health)
	var argv []string
	for _, m := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(exec0, -1) {
		argv = append(argv, m[1])
	}
	require.GreaterOrEqual(t, len(argv), 3)
	require.Equal(t, []string{"admin"}, argv[1:2])
	require.Contains(t, argv, "http://127.0.0.1:"+expose, "the check asks the exposed port")
	bin := adminBinary(t)
	for _, tc := range []struct {
		status int
		body   string
		exit   int
	}{
		{200, `{"status":"healthy","message":"ready","worker_id":"w"}`, 0},
		{503, `{"status":"starting","message":"joining","worker_id":"w"}`, 1},
		{500, `{"status":"unhealthy","message":"rocketmq unreachable","worker_id":"w"}`, 1},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/health" {
				http.NotFound(rw, r)
				return
			}
			rw.Header().Set("Content-Type", "application/json")
			rw.WriteHeader(tc.status)
			_, _ = io.WriteString(rw, tc.body)
		}))
		args := append([]string{}, argv[1:]...)
		for i, a := range args {
			if a == "http://127.0.0.1:"+expose {
				args[i] = srv.URL
			}
		}
		out, code := runCmd(t, nil, bin, args...)
		srv.Close()
		require.Equal(t, tc.exit, code, "health check on %d: %s", tc.status, out)
	}
}

// manifests reads every document of the kustomization's resources, by kind and name.
func manifests(t *testing.T) map[string]map[string]any {
	t.Helper()
	var kust struct {
		Resources []string `yaml:"resources"`
	}
	raw, err := os.ReadFile(filepath.Join(k8sDir, "kustomization.yaml"))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(raw, &kust))
	out := map[string]map[string]any{}
	for _, r := range kust.Resources {
		raw, err := os.ReadFile(filepath.Join(k8sDir, r))
		require.NoError(t, err, "kustomization resource %s", r)
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		for {
			var doc map[string]any
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err, r)
			if doc == nil {
				continue
			}
			key := fmt.Sprintf("%v/%v", doc["kind"], dig(t, doc, "metadata", "name"))
			require.NotContains(t, out, key, "duplicate %s", key)
			out[key] = doc
		}
	}
	return out
}

// dig walks maps by key and lists by index ("0").
func dig(t *testing.T, v any, path ...string) any {
	t.Helper()
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i, err := strconv.Atoi(p)
			require.NoError(t, err)
			require.Less(t, i, len(x), "index %d of %v", i, path)
			v = x[i]
		default:
			t.Fatalf("%v: %T at %q", path, v, p)
		}
	}
	return v
}

func str(t *testing.T, v any, path ...string) string {
	t.Helper()
	s, _ := dig(t, v, path...).(string)
	return s
}

// TestKubernetesManifests: the manifests describe a distributed cluster that can work: a
// StatefulSet whose pods read the ConfigMap's worker config (which loads, each pod naming its
// own workerId), probes on the worker's port (readiness on /health), Prometheus scrape
// annotations on the metrics port, non-root pods, and a Service and PodDisruptionBudget that
// select those pods.
func TestKubernetesManifests(t *testing.T) {
	m := manifests(t)
	for _, k := range []string{"StatefulSet/rmqconnect", "ConfigMap/rmqconnect-worker", "Service/rmqconnect",
		"Service/rmqconnect-headless", "PodDisruptionBudget/rmqconnect"} {
		require.Contains(t, m, k)
	}
	sts := m["StatefulSet/rmqconnect"]
	require.Equal(t, "rmqconnect-headless", str(t, sts, "spec", "serviceName"))
	require.GreaterOrEqual(t, dig(t, sts, "spec", "replicas"), 2, "a cluster")
	podLabels := dig(t, sts, "spec", "template", "metadata", "labels").(map[string]any)
	require.Equal(t, podLabels, dig(t, sts, "spec", "selector", "matchLabels"))
	pod := dig(t, sts, "spec", "template", "spec")
	require.Equal(t, true, dig(t, pod, "securityContext", "runAsNonRoot"))
	ctr := dig(t, pod, "containers", "0")
	require.Equal(t, "distributed", str(t, ctr, "args", "0"))

	// The config the container reads is the ConfigMap's, mounted where -c points.
	args := dig(t, ctr, "args").([]any)
	cfgPath := fmt.Sprint(args[len(args)-1])
	var cfgVolume string
	for _, vm := range dig(t, ctr, "volumeMounts").([]any) {
		if strings.HasPrefix(cfgPath, str(t, vm, "mountPath")+"/") {
			cfgVolume = str(t, vm, "name")
		}
	}
	require.NotEmpty(t, cfgVolume, "no volume mounted at %s", cfgPath)
	var cmName string
	for _, v := range dig(t, pod, "volumes").([]any) {
		if str(t, v, "name") == cfgVolume {
			cmName = str(t, v, "configMap", "name")
		}
	}
	cm := m["ConfigMap/"+cmName]
	require.NotNil(t, cm, "the config volume names ConfigMap %q", cmName)
	body := str(t, cm, "data", filepath.Base(cfgPath))
	require.NotEmpty(t, body, "ConfigMap %s has no key %s", cmName, filepath.Base(cfgPath))
	var workerIDFromPod bool
	for _, e := range dig(t, ctr, "env").([]any) {
		if str(t, e, "name") == "RMQCONNECT_WORKERID" && str(t, e, "valueFrom", "fieldRef", "fieldPath") == "metadata.name" {
			workerIDFromPod = true
		}
	}
	require.True(t, workerIDFromPod, "each pod is its own worker: RMQCONNECT_WORKERID from metadata.name")
	cfgFile := filepath.Join(t.TempDir(), filepath.Base(cfgPath))
	require.NoError(t, os.WriteFile(cfgFile, []byte(body), 0o644))
	t.Setenv("RMQCONNECT_WORKERID", "rmqconnect-0")
	w, err := conf.Load(cfgFile)
	require.NoError(t, err, "the ConfigMap's worker config")
	require.Equal(t, "0.0.0.0", w.HTTPBindAddress)
	var storeMounted bool
	for _, vm := range dig(t, ctr, "volumeMounts").([]any) {
		storeMounted = storeMounted || str(t, vm, "mountPath") == w.StorePathRootDir
	}
	require.True(t, storeMounted, "storePathRootDir %s is a writable volume (the root file system is read-only)", w.StorePathRootDir)

	// Ports, probes and scrape annotations agree with httpPort.
	port := dig(t, ctr, "ports", "0")
	require.Equal(t, w.HTTPPort, dig(t, port, "containerPort"))
	portName := str(t, port, "name")
	require.Equal(t, "/health", str(t, ctr, "readinessProbe", "httpGet", "path"))
	require.Equal(t, portName, str(t, ctr, "readinessProbe", "httpGet", "port"))
	require.NotNil(t, dig(t, ctr, "livenessProbe"))
	ann := dig(t, sts, "spec", "template", "metadata", "annotations")
	require.Equal(t, "true", str(t, ann, "prometheus.io/scrape"))
	require.Equal(t, strconv.Itoa(w.HTTPPort), str(t, ann, "prometheus.io/port"))
	require.Equal(t, "/metrics", str(t, ann, "prometheus.io/path"))

	for _, k := range []string{"Service/rmqconnect", "Service/rmqconnect-headless"} {
		require.Equal(t, podLabels, dig(t, m[k], "spec", "selector"), k)
		require.Equal(t, portName, str(t, m[k], "spec", "ports", "0", "targetPort"), k)
	}
	require.Equal(t, podLabels, dig(t, m["PodDisruptionBudget/rmqconnect"], "spec", "selector", "matchLabels"))
	for _, h := range []string{"rmqconnect", "rmqconnect.rmqconnect.svc"} {
		require.Contains(t, strings.Split(w.RESTAllowedHosts, ","), h, "the Service's names pass the Host check")
	}
}

// TestAlertRules: promtool accepts the alert rules and their unit tests pass.
func TestAlertRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if testing.Short() {
			t.Skip("promtool not installed (Debian package prometheus); .ci/run installs it")
		}
		t.Fatal("promtool not installed (Debian package prometheus)")
	}
	for _, args := range [][]string{
		{"check", "rules", "rmqconnect-alerts.yaml"},
		{"test", "rules", "rmqconnect-alerts_test.yaml"},
	} {
		c := exec.Command(promtool, args...)
		c.Dir = rulesDir
		out, err := c.CombinedOutput()
		require.NoError(t, err, "promtool %s:\n%s", strings.Join(args, " "), out)
	}
}
