package worker

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// samples gathers reg and returns the samples of family name as "label=value,..." (labels
// sorted by name) → value (gauge or counter value, histogram count).
func samples(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	fams, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			out[strings.Join(ls, ",")] = sampleValue(m)
		}
	}
	return out
}

func sampleValue(m *dto.Metric) float64 {
	switch {
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetHistogram() != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return m.GetCounter().GetValue()
}

// In a cluster every worker keeps a runtime for every connector; only the worker the
// connector unit is assigned to reports the connector's status and counts it, while the tasks
// each worker runs are reported where they run, whoever holds the connector unit.
func TestCollectReportsOnlyOwnedConnectors(t *testing.T) {
	d := newTestDistributed(t, time.Second)
	mine := newConnRuntime(d.engine, "mine", &parsedConfig{raw: map[string]string{}}, nil)
	theirs := newConnRuntime(d.engine, "theirs", &parsedConfig{raw: map[string]string{}}, nil)
	for _, rt := range []*connRuntime{mine, theirs} {
		rt.inc = 1
		d.engine.adopt(rt)
	}
	mine.mu.Lock()
	mine.ownConn = true
	mine.mu.Unlock()
	mine.setConnState(restapi.StateRunning, "")
	// A task of the connector another worker holds runs here.
	theirs.mu.Lock()
	theirs.taskCfgs = []map[string]string{{}}
	theirs.tasks[0] = &taskRuntime{id: 0, state: restapi.StateInfo{State: restapi.StateRunning, WorkerID: "w1"}}
	theirs.mu.Unlock()

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(d.Collector())
	require.Equal(t, map[string]float64{"connector=mine,state=RUNNING,type=unknown,worker=w1": 1},
		samples(t, reg, "rmqconnect_connector_status"))
	require.Equal(t, map[string]float64{"worker=w1": 1}, samples(t, reg, "rmqconnect_worker_connector_count"))
	require.Equal(t, map[string]float64{"connector=theirs,state=RUNNING,task=0,worker=w1": 1},
		samples(t, reg, "rmqconnect_task_status"))
	require.Equal(t, float64(1), samples(t, reg, "rmqconnect_worker_task_count")["state=RUNNING,worker=w1"])
}
