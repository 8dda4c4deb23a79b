package worker

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// TestStandaloneRestartAnswersThePlan: a standalone restart answers the status as the restart
// began, the parts it restarts RESTARTING and the others as they were (as Kafka Connect and the
// distributed herder answer), so a caller can tell which parts were restarted; a connector that
// is not started is not restarted, and its status comes back unchanged.
func TestStandaloneRestartAnswersThePlan(t *testing.T) {
	topic := rmqtest.Topic(t, 2)
	env := startHerder(t, t.TempDir())
	defer env.stop(t)
	ctx := context.Background()
	_, err := env.h.CreateConnector(ctx, "c", map[string]string{"connector.class": "mem-sink", "test.id": rmqtest.Name(t, "state"),
		"connect.topicnames": topic, "max.tasks": "2", "task.group.id": rmqtest.Group(t)}, "")
	require.NoError(t, err)
	waitState(t, env.h, "c", restapi.StateRunning, 2)

	states := func(st restapi.ConnectorStatus) []restapi.State {
		out := []restapi.State{st.Connector.State}
		for _, ts := range st.Tasks {
			out = append(out, ts.State)
		}
		return out
	}
	st, err := env.h.RestartConnector(ctx, "c", restapi.RestartRequest{IncludeTasks: true})
	require.NoError(t, err)
	require.Equal(t, []restapi.State{restapi.StateRestarting, restapi.StateRestarting, restapi.StateRestarting}, states(st))
	waitState(t, env.h, "c", restapi.StateRunning, 2)

	// Nothing failed: nothing is restarted, and the answer says so.
	st, err = env.h.RestartConnector(ctx, "c", restapi.RestartRequest{IncludeTasks: true, OnlyFailed: true})
	require.NoError(t, err)
	require.Equal(t, []restapi.State{restapi.StateRunning, restapi.StateRunning, restapi.StateRunning}, states(st))

	require.NoError(t, env.h.PauseConnector(ctx, "c"))
	waitState(t, env.h, "c", restapi.StatePaused, 2)
	st, err = env.h.RestartConnector(ctx, "c", restapi.RestartRequest{IncludeTasks: true})
	require.NoError(t, err)
	require.Equal(t, []restapi.State{restapi.StatePaused, restapi.StatePaused, restapi.StatePaused}, states(st))
}

// TestStandaloneRestartPlanKeepsTheTrace: a failed connector restarted with onlyFailed is RESTARTING
// in the answer, with the trace of its failure, as the distributed herder and Kafka Connect answer
// (review finding: the plan dropped it).
func TestStandaloneRestartPlanKeepsTheTrace(t *testing.T) {
	topic := rmqtest.Topic(t, 1)
	env := startHerder(t, t.TempDir())
	defer env.stop(t)
	ctx := context.Background()
	_, err := env.h.CreateConnector(ctx, "c", map[string]string{"connector.class": "mem-sink", "test.id": rmqtest.Name(t, "st"),
		"connect.topicnames": topic, "task.group.id": rmqtest.Group(t), "test.fail.start": "true"}, "")
	require.NoError(t, err)
	before, err := env.h.ConnectorStatus(ctx, "c")
	require.NoError(t, err)
	require.Equal(t, restapi.StateFailed, before.Connector.State)
	require.NotEmpty(t, before.Connector.Trace)
	plan, err := env.h.RestartConnector(ctx, "c", restapi.RestartRequest{OnlyFailed: true, IncludeTasks: true})
	require.NoError(t, err)
	require.Equal(t, restapi.StateRestarting, plan.Connector.State)
	require.Equal(t, before.Connector.Trace, plan.Connector.Trace)
}
