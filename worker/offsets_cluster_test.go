package worker

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// offsetsHarness is a Distributed whose store logs are in memory (memQueue), read and
// folded as a worker does, with a STOPPED source connector c known to its engine; the
// offsets API's position store is gated.
type offsetsHarness struct {
	d    *Distributed
	inc  int64
	gate *gatedPositions
}

func newOffsetsHarness(t *testing.T) *offsetsHarness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := newTestDistributed(t, 5*time.Second)
	d.configLog = newStoreLog("config", &memQueue{}, quiet())
	d.statusLog = newStoreLog("status", &memQueue{}, quiet())
	d.positionLog = newStoreLog("position", &memQueue{}, quiet())
	logCtx, stopLogs := context.WithCancel(context.Background())
	done := make(chan struct{}, 3)
	for _, l := range []struct {
		log   *storeLog
		apply func(int64, []byte) error
	}{{d.configLog, d.applyConfig}, {d.statusLog, d.applyStatus}, {d.positionLog, d.applyPosition}} {
		go func() { l.log.run(logCtx, 0, 0, nil, l.apply); done <- struct{}{} }()
	}
	t.Cleanup(func() {
		stopLogs()
		for range 3 {
			<-done
		}
		d.engine.crew.close()
	})
	close(d.started)

	off, err := d.writeConfigAt(ctx, configRecord{Type: recConnector, Name: "c", Config: map[string]string{}, Target: restapi.TargetStopped})
	require.NoError(t, err)
	rt := newConnRuntime(d.engine, "c", &parsedConfig{raw: map[string]string{}, st: connectorSettings{kind: plugins.KindSource}}, nil)
	rt.inc, rt.target = off+1, restapi.TargetStopped
	d.engine.adopt(rt)
	gate := newGatedPositions(t, d.engine.positions, false)
	d.engine.positions = gate
	return &offsetsHarness{d: d, inc: off + 1, gate: gate}
}

func (h *offsetsHarness) alter() error {
	return h.d.AlterOffsets(context.Background(), "c", []restapi.ConnectorOffset{{
		Partition: map[string]any{"task": "0"}, Offset: map[string]any{"seq": int64(7)}}})
}

// TestClusterOffsetChangeFindsAResumeElsewhere: in a cluster, a task of the connector
// claimed between an offsets change's state check and its write (the connector resumed
// through another worker) may have read the offsets the change replaced; the change then
// fails with ErrConflict. It used to answer success while that task ran from the old
// offsets, its commits overwriting the change.
func TestClusterOffsetChangeFindsAResumeElsewhere(t *testing.T) {
	h := newOffsetsHarness(t)
	altered := make(chan error, 1)
	go func() { altered <- h.alter() }()
	<-h.gate.entered // checked STOPPED, about to write
	claim := statusRecord{Cluster: "c1", Connector: "c", Task: 0, Inc: h.inc, State: restapi.StateRunning,
		Worker: "w2", Proc: "p2", Gen: 1, Claim: true}
	body, err := json.Marshal(claim)
	require.NoError(t, err)
	_, err = h.d.statusLog.append(context.Background(), "c", body)
	require.NoError(t, err)
	h.gate.release()
	require.ErrorIs(t, <-altered, restapi.ErrConflict)
}

// TestClusterOffsetChangeAlone: without a task claimed meanwhile, the change is in force.
func TestClusterOffsetChangeAlone(t *testing.T) {
	h := newOffsetsHarness(t)
	h.gate.release()
	require.NoError(t, h.alter())
	ps, err := h.d.engine.positions.All("c")
	require.NoError(t, err)
	require.Len(t, ps, 1)
	require.Equal(t, int64(7), ps[0].Offset["seq"])
}
