package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/builtin"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

func TestScrubber(t *testing.T) {
	var s scrubber
	require.Equal(t, "nothing learned", s.text("nothing learned"))
	s.add("hunter2-secret", "abc", `we"ird\value`, "p@ss word/x", "hunter2-secret-longer")
	for in, want := range map[string]string{
		"open /nonexistent/hunter2-secret: no such file":      "open /nonexistent/[hidden]: no such file",
		"hunter2-secret-longer wins over its prefix":          "[hidden] wins over its prefix",
		`value "we\"ird\\value" is bad`:                       `value "[hidden]" is bad`, // Go-quoted (%q)
		`{"k":"we\"ird\\value"}`:                              `{"k":"[hidden]"}`,        // JSON-escaped
		"GET /x?pw=p%40ss+word%2Fx failed":                    "GET /x?pw=[hidden] failed",
		"short values such as abc are left alone (too noisy)": "short values such as abc are left alone (too noisy)",
	} {
		require.Equal(t, want, s.text(in))
	}
	var none *scrubber
	none.add("x")
	require.Equal(t, "hunter2-secret", none.text("hunter2-secret"))
}

func TestScrubbedLogger(t *testing.T) {
	var buf bytes.Buffer
	s := &scrubber{}
	log := scrubbedLogger(slog.New(slog.NewJSONHandler(&buf, nil)), s).With("connector", "c")
	s.add("s3cr3t-value") // learned after the logger was made: it applies at once
	log = log.With("bound", "s3cr3t-value")
	log.Error("failed with s3cr3t-value", "err", errors.New("open /x/s3cr3t-value"), "trace", "s3cr3t-value",
		"n", 3, slog.Group("g", "inner", "s3cr3t-value"), "any", []string{"s3cr3t-value"})
	out := buf.String()
	require.NotContains(t, out, "s3cr3t-value")
	require.Contains(t, out, `"msg":"failed with [hidden]"`)
	require.Contains(t, out, `"err":"open /x/[hidden]"`)
	require.Contains(t, out, `"n":3`)
	require.Contains(t, out, `"connector":"c"`)
}

// TestDLQContextScrubbed: the exception message and stack trace a DLQ record carries hide
// the connector's secrets.
func TestDLQContextScrubbed(t *testing.T) {
	s := &scrubber{}
	s.add("s3cr3t-value")
	var sent *rmqclient.Message
	r := &errorReporter{policy: errorPolicy{tolerateAll: true, dlqTopic: "dlq", dlqContextProps: true}, connector: "c",
		log: scrubbedLogger(quiet(), s), metrics: &taskCounters{}, scrub: s.text,
		dlq: func(_ context.Context, m *rmqclient.Message) error { sent = m; return nil }}
	cause := fmt.Errorf("put: %w", errors.New("login s3cr3t-value refused"))
	require.NoError(t, r.report(context.Background(), failedRecord{stage: "PUT", body: []byte("b")}, cause))
	require.NotNil(t, sent)
	require.Equal(t, "put: login [hidden] refused", sent.Properties[ErrHeaderExcMessage])
	for k, v := range sent.Properties {
		require.NotContains(t, v, "s3cr3t-value", k)
	}
}

// fileRegistry has the built-in connectors (file-source, file-sink) and the blocking test
// connector.
func fileRegistry(t *testing.T) *plugins.Registry {
	reg, err := builtin.Registry()
	require.NoError(t, err)
	require.NoError(t, reg.Register(plugins.KindSource, "block-source", nil, func() plugins.Connector { return &blockConnector{} }))
	return reg
}

// blockConnector's Start blocks until its context ends; its Stop records its deadline.
type blockConnector struct{ memSourceConnector }

var stopDeadlines = make(chan time.Duration, 8)

func (c *blockConnector) Validate(map[string]string) error { return nil }
func (c *blockConnector) Start(ctx context.Context, _ plugins.ConnectorContext, cfg map[string]string) error {
	if cfg["block"] == "true" {
		<-ctx.Done()
		return ctx.Err()
	}
	return c.memConnector.Start(ctx, nil, cfg)
}
func (c *blockConnector) Stop(ctx context.Context) error {
	dl, ok := ctx.Deadline()
	if !ok {
		stopDeadlines <- -1
	} else {
		stopDeadlines <- time.Until(dl)
	}
	return nil
}

func offlineHerder(t *testing.T, cfg StandaloneConfig, log *slog.Logger) *Standalone {
	t.Helper()
	c, err := rmqclient.New(rmqclient.Config{NameServers: []string{"127.0.0.1:1"}})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	cfg.WorkerID, cfg.StoreDir, cfg.KeyConverter, cfg.ValueConverter = "w", t.TempDir(), "string", "string"
	if cfg.Secrets == nil {
		cfg.Secrets = secretsForTest{}
	}
	h, err := NewStandalone(cfg, c, fileRegistry(t), log)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-h.Started()
	return h
}

// TestConfigErrorsScrubbed: a connector's Validate error that quotes a resolved secret is
// returned with the secret hidden.
func TestConfigErrorsScrubbed(t *testing.T) {
	t.Setenv("RMQC_SCRUB_SECRET", "env-s3cr3t-value")
	h := offlineHerder(t, StandaloneConfig{}, quiet())
	_, err := h.CreateConnector(context.Background(), "src", map[string]string{"connector.class": "file-source",
		"filename": "/tmp/x", "connect.topicname": "t", "batch.size": "${env:RMQC_SCRUB_SECRET}",
		"value.converter": "${env:RMQC_SCRUB_SECRET}"}, "")
	require.ErrorIs(t, err, cfgerr.ErrInvalid)
	require.Contains(t, err.Error(), "batch.size")
	require.Contains(t, err.Error(), "[hidden]", "the converter error quotes the value")
	require.NotContains(t, err.Error(), "env-s3cr3t-value")
}

// TestTraceAndLogScrubbed: a task whose start fails with an error quoting a resolved
// secret (file-source's "open /nonexistent/<secret>") shows FAILED with the secret hidden,
// in the status and in the log.
func TestTraceAndLogScrubbed(t *testing.T) {
	t.Setenv("RMQC_SCRUB_SECRET", "env-s3cr3t-value")
	var logs syncBuffer
	h := offlineHerder(t, StandaloneConfig{RestartBackoffMin: time.Hour, RestartBackoffMax: time.Hour},
		slog.New(slog.NewTextHandler(&logs, nil)))
	ctx := context.Background()
	_, err := h.CreateConnector(ctx, "src", map[string]string{"connector.class": "file-source",
		"filename": "/nonexistent/${env:RMQC_SCRUB_SECRET}", "connect.topicname": "t"}, "")
	require.NoError(t, err)
	var trace string
	require.Eventually(t, func() bool {
		st, err := h.ConnectorStatus(ctx, "src")
		if err != nil || len(st.Tasks) != 1 || st.Tasks[0].State != restapi.StateFailed {
			return false
		}
		trace = st.Tasks[0].Trace
		return true
	}, 30*time.Second, 20*time.Millisecond)
	require.Contains(t, trace, "/nonexistent/[hidden]")
	require.NotContains(t, trace, "env-s3cr3t-value")
	require.Contains(t, logs.String(), "task failed")
	require.NotContains(t, logs.String(), "env-s3cr3t-value")
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// blockingSecrets blocks Resolve while gate is open (not closed) for configs with "gate".
type blockingSecrets struct {
	secretsForTest
	entered chan struct{}
	gate    chan struct{}
}

func (b blockingSecrets) Resolve(cfg map[string]string) (map[string]string, []string, error) {
	if cfg["gate"] == "true" {
		b.entered <- struct{}{}
		<-b.gate
	}
	return b.secretsForTest.Resolve(cfg)
}

// TestResolveOutsideHerderLock: while a config's placeholders are being resolved (a slow
// ${file:}), the herder keeps answering: resolution does not hold its lock.
func TestResolveOutsideHerderLock(t *testing.T) {
	sec := blockingSecrets{entered: make(chan struct{}, 1), gate: make(chan struct{})}
	h := offlineHerder(t, StandaloneConfig{Secrets: sec}, quiet())
	created := make(chan error, 1)
	go func() {
		_, err := h.CreateConnector(context.Background(), "slow", map[string]string{"connector.class": "block-source",
			"gate": "true", "block": "false", "test.id": "x"}, "")
		created <- err
	}()
	<-sec.entered
	listed := make(chan []string, 1)
	go func() { names, _ := h.Connectors(context.Background()); listed <- names }()
	select {
	case names := <-listed:
		require.Empty(t, names)
	case err := <-created:
		t.Fatalf("create returned while resolution was blocked: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the herder lock is held while placeholders are resolved")
	}
	close(sec.gate)
	require.NoError(t, <-created)
}

// TestStartAndStopTimeouts: maxStartTimeoutMills ends a connector Start that hangs (FAILED
// with the deadline), maxStopTimeoutMills is the deadline of its Stop.
func TestStartAndStopTimeouts(t *testing.T) {
	h := offlineHerder(t, StandaloneConfig{StartTimeout: 200 * time.Millisecond, ConnectorStopTimeout: 1500 * time.Millisecond}, quiet())
	ctx := context.Background()
	_, err := h.CreateConnector(ctx, "hang", map[string]string{"connector.class": "block-source", "block": "true", "test.id": "x"}, "")
	require.NoError(t, err)
	st, err := h.ConnectorStatus(ctx, "hang")
	require.NoError(t, err)
	require.Equal(t, restapi.StateFailed, st.Connector.State)
	require.Contains(t, st.Connector.Trace, context.DeadlineExceeded.Error())

	_, err = h.CreateConnector(ctx, "ok", map[string]string{"connector.class": "block-source", "block": "false", "test.id": "x",
		"max.tasks": "1"}, "")
	require.NoError(t, err)
	for len(stopDeadlines) > 0 {
		<-stopDeadlines
	}
	require.NoError(t, h.StopConnector(ctx, "ok"))
	left := <-stopDeadlines
	require.Greater(t, left, time.Duration(0))
	require.LessOrEqual(t, left, 1500*time.Millisecond, "the connector's Stop gets ConnectorStopTimeout")
}

// TestFileConnectorConfinement: with fileConnectorAllowedDirs set, a file connector whose
// filename lies outside them (directly, through "..", or through a symlink) is refused
// with a config error naming the key and the path; one inside is accepted.
func TestFileConnectorConfinement(t *testing.T) {
	base := t.TempDir()
	allowed, outside := filepath.Join(base, "allowed"), filepath.Join(base, "outside")
	require.NoError(t, os.MkdirAll(allowed, 0o755))
	require.NoError(t, os.MkdirAll(outside, 0o755))
	require.NoError(t, os.Symlink(outside, filepath.Join(allowed, "link")))
	files, err := plugins.NewFileAccess([]string{allowed}, "fileConnectorAllowedDirs")
	require.NoError(t, err)
	h := offlineHerder(t, StandaloneConfig{Files: files}, quiet())
	ctx := context.Background()
	for i, p := range []string{filepath.Join(outside, "out.txt"), filepath.Join(allowed, "..", "outside", "out.txt"),
		filepath.Join(allowed, "link", "out.txt"), "/etc/passwd"} {
		for _, class := range []string{"file-sink", "file-source"} {
			_, err := h.CreateConnector(ctx, fmt.Sprintf("f%d-%s", i, class), map[string]string{"connector.class": class,
				"filename": p, "connect.topicname": "t", "connect.topicnames": "t"}, "")
			problems := cfgerr.Flatten(err)
			require.Len(t, problems, 1, "%v", err)
			require.Equal(t, "filename", problems[0].Key)
			require.Contains(t, problems[0].Reason, p)
			require.Contains(t, problems[0].Reason, "fileConnectorAllowedDirs")
		}
	}
	_, err = h.CreateConnector(ctx, "in", map[string]string{"connector.class": "file-sink",
		"filename": filepath.Join(allowed, "sub", "..", "in.txt"), "connect.topicnames": "t"}, "")
	require.NoError(t, err)
}
