package worker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

// slowCommitConnector's tasks are mem-source tasks whose Commit blocks until its context ends.
type slowCommitConnector struct{ memSourceConnector }

func (c *slowCommitConnector) NewSourceTask() plugins.SourceTask { return &slowCommitTask{} }

type slowCommitTask struct{ memSourceTask }

func (t *slowCommitTask) Commit(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

// TestCommitTimeout: offsetCommitTimeoutMsConfig bounds a periodic commit, so a task whose
// Commit hangs does not stop the source: every record is sent and its position stored.
func TestCommitTimeout(t *testing.T) {
	topic := rmqtest.Topic(t, 1)
	reg := testRegistry()
	require.NoError(t, reg.Register(plugins.KindSource, "slow-commit-source", nil, func() plugins.Connector { return &slowCommitConnector{} }))
	h, err := NewStandalone(StandaloneConfig{WorkerID: "w", StoreDir: t.TempDir(), KeyConverter: "string", ValueConverter: "string",
		CommitInterval: 50 * time.Millisecond, CommitTimeout: 100 * time.Millisecond, StopTimeout: 5 * time.Second, AutoCreate: true},
		rmqtest.Client(t), reg, quiet())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	defer func() { cancel(); require.NoError(t, <-done) }()
	<-h.Started()
	_, err = h.CreateConnector(ctx, "src", map[string]string{"connector.class": "slow-commit-source", "test.id": rmqtest.Name(t, "id"),
		"connect.topicname": topic, "count": "400"}, "")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		ps, _ := h.Positions("src")
		return len(ps) == 1 && ps[0].Offset["seq"] == int64(399)
	}, 60*time.Second, 50*time.Millisecond, "every record sent and committed despite the hanging Commit")
}
