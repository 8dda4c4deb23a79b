package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// storeUnread appends v to q (a store queue in memory) without telling its reader, which
// therefore reads it only when asked to catch up (sync).
func storeUnread(t *testing.T, q *memQueue, v any) {
	t.Helper()
	body, err := json.Marshal(v)
	require.NoError(t, err)
	_, err = q.send(context.Background(), "", body)
	require.NoError(t, err)
}

// appendAndApply appends v to log and waits until it is applied, whatever the fold said.
func appendAndApply(t *testing.T, log *storeLog, v any) {
	t.Helper()
	body, err := json.Marshal(v)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	off, err := log.append(ctx, "", body)
	require.NoError(t, err)
	require.NoError(t, log.waitPast(ctx, off))
}

// idlePositionReader returns once the harness's position reader has read the queue (a
// record of another connector): it reads again only when asked to.
func idlePositionReader(t *testing.T, h *claimHarness) {
	t.Helper()
	appendAndApply(t, h.d.positionLog, positionRecord{Cluster: "c1", Connector: "other", Inc: 1, Gen: 1,
		Positions: []positionEntry{{Partition: map[string]any{"f": "x"}, Offset: map[string]any{"n": int64(1)}}}})
}

var partP = map[string]any{"file": "p"}

// TestClaimGenAbovePositionFold: the status fold started over (here: empty) while the
// position topic holds partition P at generation 7. The claim takes a generation above 7,
// read from the position topic before the claim is written, and the task's commit of P
// under it is stored. It used to claim generation 1 (the status fold's highest + 1), under
// which every commit of P was refused as older than the stored one.
func TestClaimGenAbovePositionFold(t *testing.T) {
	h := newClaimHarnessOf(t, true)
	idlePositionReader(t, h)
	// Written by a task of an earlier status topic: not yet read by this worker.
	storeUnread(t, h.positions, positionRecord{Cluster: "c1", Connector: "c", Inc: 1, Gen: 7,
		Positions: []positionEntry{{Partition: partP, Offset: map[string]any{"n": int64(10)}}}})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	gen, err := h.d.claim(ctx, h.rt, 0)
	require.NoError(t, err)
	require.GreaterOrEqual(t, gen, int64(8), "the claim's generation is not above the positions stored for the connector")
	r, ok := h.inForce()
	require.True(t, ok)
	require.Equal(t, gen, r.Gen)

	ps := forTask(clusterPositions{d: h.d, inc: 1, gen: gen}, 0)
	require.NoError(t, ps.Put("c", []plugins.PartitionPosition{{Partition: partP, Offset: map[string]any{"n": int64(11)}}}),
		"a commit of the new claim was refused")
	got, err := ps.Get("c", partP)
	require.NoError(t, err)
	require.Equal(t, int64(11), got["n"])
}

// TestClaimGenAboveOffsetsFloor: an offsets change's floor counts as a generation of the
// position fold: a claim from a status fold that started over takes a generation above it.
func TestClaimGenAboveOffsetsFloor(t *testing.T) {
	h := newClaimHarnessOf(t, true)
	appendAndApply(t, h.d.positionLog, positionRecord{Cluster: "c1", Connector: "c", Inc: 1, Gen: adminGen, Floor: 12,
		Positions: []positionEntry{{Partition: partP, Offset: map[string]any{"n": int64(3)}}}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	gen, err := h.d.claim(ctx, h.rt, 0)
	require.NoError(t, err)
	require.Greater(t, gen, int64(12))
	require.NoError(t, forTask(clusterPositions{d: h.d, inc: 1, gen: gen}, 0).Put("c",
		[]plugins.PartitionPosition{{Partition: partP, Offset: map[string]any{"n": int64(4)}}}))
}

// TestPositionFoldMaxGenFromSavedFold: a fold saved without MaxGen (a cache or snapshot
// of an older worker) gets it from its positions' generations.
func TestPositionFoldMaxGenFromSavedFold(t *testing.T) {
	body := []byte(`{"connectors":{"c":{"inc":1,"parts":{"{\"file\":\"p\"}":{"partition":{"file":"p"},"offset":{"n":1},"gen":9}}}},"cleared":{}}`)
	var s positionState
	require.NoError(t, decodeExact(body, &s))
	s.normalize()
	require.Equal(t, int64(9), s.maxGen("c"))
}

// behindPlacement is the cluster placement, except that the first run of a task commits
// nothing and ends as a run whose claim was found older than a position stored meanwhile
// by another writer (generation stored) would; later runs fail at once.
type behindPlacement struct {
	clusterPlacement
	t      *testing.T
	stored int64
	runs   atomic.Int32
}

func (p *behindPlacement) taskConnector(rt *connRuntime) (plugins.Connector, error) {
	if p.runs.Add(1) > 1 {
		return nil, errors.New("not this time")
	}
	appendAndApply(p.t, p.d.positionLog, positionRecord{Cluster: "c1", Connector: rt.name, Inc: rt.inc, Gen: p.stored,
		Positions: []positionEntry{{Partition: partP, Offset: map[string]any{"n": int64(1)}}}})
	return nil, fmt.Errorf("commit positions: %w", errClaimBehind)
}

// TestRestartAfterClaimBehindClaimsAgain: a run that failed because its claim was older
// than positions stored for its partitions is restarted under a new claim, above those
// positions' generation. Restarts kept the claim they were first started under, so every
// later run was refused the same way.
func TestRestartAfterClaimBehindClaimsAgain(t *testing.T) {
	h := newClaimHarnessOf(t, true)
	place := &behindPlacement{clusterPlacement: clusterPlacement{h.d}, t: t, stored: 20}
	h.d.engine.place = place
	h.rt.startTasks()
	defer h.rt.stopTaskSet([]int{0}, restapi.StateUnassigned)

	require.Eventually(t, func() bool {
		r, _ := h.inForce()
		return h.d.mine(r) && r.Gen > place.stored
	}, 30*time.Second, 5*time.Millisecond, "the task restarted under a claim older than the positions stored for it")
}
