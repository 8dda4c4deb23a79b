package worker

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// countingConnector counts the calls of its Validate.
type countingConnector struct{ memSourceConnector }

var countedValidates atomic.Int32

func (c *countingConnector) Validate(cfg map[string]string) error {
	countedValidates.Add(1)
	return c.memSourceConnector.Validate(cfg)
}

// TestDistributedReadsDoNotValidate: showing a stored connector (its config, status and task
// configs) reads the class from the registry and masks with the class's secret keys; it
// resolves nothing and never calls the plugin's Validate, which only a create or a change of
// the config (and the runtime built for its epoch) needs.
func TestDistributedReadsDoNotValidate(t *testing.T) {
	d := newTestDistributed(t, time.Second)
	d.engine.registry = fileRegistry(t)
	require.NoError(t, d.engine.registry.Register(plugins.KindSource, "counting-source", nil, func() plugins.Connector { return &countingConnector{} }))
	cfg := map[string]string{"connector.class": "counting-source", "test.id": "x", "connect.topicname": "t",
		"db.password": "${env:RMQC_DISPLAY_TEST_UNSET}"}
	d.config.Connectors["c"] = &clusterConnector{Config: cfg, Target: restapi.TargetStopped, Epoch: 1, Inc: 1,
		Tasks: []map[string]string{{"test.id": "x", "db.password": "${env:RMQC_DISPLAY_TEST_UNSET}"}}, TasksVersion: 2}
	ctx := context.Background()
	countedValidates.Store(0)

	info, err := d.ConnectorInfo(ctx, "c")
	require.NoError(t, err)
	require.Equal(t, restapi.TypeSource, info.Type)
	require.Equal(t, "${env:RMQC_DISPLAY_TEST_UNSET}", info.Config["db.password"], "a placeholder is shown as written")
	st, err := d.ConnectorStatus(ctx, "c")
	require.NoError(t, err)
	require.Equal(t, restapi.TypeSource, st.Type)
	tasks, err := d.TaskConfigs(ctx, "c")
	require.NoError(t, err)
	require.Len(t, tasks, 1)
	require.Zero(t, countedValidates.Load(), "a read called the plugin's Validate")
}
