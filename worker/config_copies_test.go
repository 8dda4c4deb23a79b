package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// A send the producer retried after the broker stored its first attempt (the answer was
// lost) leaves two copies of one config record, with other records in between: the fold
// applies it once, whether it reads the whole topic or starts from a snapshot taken
// between the copies.
func TestConfigRecordCopyAppliedOnce(t *testing.T) {
	create := configRecord{Type: recConnector, Name: "a", Config: map[string]string{"k": "v"}, Req: "p-1"}
	pause := configRecord{Type: recTarget, Name: "a", Inc: 1, Target: restapi.TargetPaused, Req: "p-2"}
	for _, tc := range []struct {
		name string
		// the records from offset 0 on; the last is a copy of an earlier one
		records []configRecord
		check   func(t *testing.T, s *configState)
	}{{
		name: "a copy of a create does not bring back the connector deleted in between",
		records: []configRecord{create, {Type: recDelete, Name: "a", Inc: 1, Req: "q-1"},
			{Type: recConnector, Name: "b", Config: map[string]string{}, Req: "q-2"}, create},
		check: func(t *testing.T, s *configState) {
			assert.NotContains(t, s.Connectors, "a")
			assert.Contains(t, s.Connectors, "b")
		},
	}, {
		name: "a copy of a pause does not undo the resume in between",
		records: []configRecord{create, pause, {Type: recTarget, Name: "a", Inc: 1, Target: restapi.TargetStarted, Req: "q-1"},
			{Type: recConnector, Name: "b", Config: map[string]string{}, Req: "q-2"}, pause},
		check: func(t *testing.T, s *configState) {
			assert.Equal(t, restapi.TargetStarted, s.Connectors["a"].Target)
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			last := int64(len(tc.records) - 1)
			// The snapshot is taken after every record but the copy: at through=last, or one
			// record earlier (the record before the copy is applied after adopting it).
			for _, through := range []int64{0, last - 1, last} {
				s := newConfigState()
				for off, r := range tc.records {
					if int64(off) == through && through > 0 {
						b, err := json.Marshal(s)
						require.NoError(t, err)
						s = &configState{}
						require.NoError(t, json.Unmarshal(b, s))
					}
					_ = s.apply(int64(off), r)
				}
				tc.check(t, s)
			}
		})
	}

	// Records without a request id (an earlier release's, or written by hand) are folded
	// each time, as before; so is a copy stored further than reqWindow offsets after it.
	s := newConfigState()
	require.NoError(t, s.apply(0, configRecord{Type: recConnector, Name: "a", Config: map[string]string{}}))
	require.NoError(t, s.apply(1, configRecord{Type: recDelete, Name: "a", Inc: 1}))
	require.NoError(t, s.apply(2, configRecord{Type: recConnector, Name: "a", Config: map[string]string{}}))
	assert.Contains(t, s.Connectors, "a")
	s = newConfigState()
	require.NoError(t, s.apply(0, create))
	require.NoError(t, s.apply(1, configRecord{Type: recDelete, Name: "a", Inc: 1, Req: "q-1"}))
	require.NoError(t, s.apply(reqWindow+1, create))
	assert.Contains(t, s.Connectors, "a")
}

// The request ids the fold keeps are bounded: those older than reqWindow offsets go.
func TestConfigFoldForgetsOldRequestIDs(t *testing.T) {
	s := newConfigState()
	for off := range int64(5 * reqWindow) {
		require.NoError(t, s.apply(off, configRecord{Type: recLogLevel, Name: "x", Level: "INFO", Req: fmt.Sprint("p-", off)}))
		require.LessOrEqual(t, len(s.Reqs), 2*reqWindow+1)
	}
}

// retriedQueue is a store queue on which every send is stored twice, as a send the producer
// retried because the broker's answer to the first attempt was lost; the writer learns the
// offset of the second copy.
type retriedQueue struct{ *memQueue }

func (q retriedQueue) send(ctx context.Context, key string, body []byte) (int64, error) {
	if _, err := q.memQueue.send(ctx, key, body); err != nil {
		return 0, err
	}
	return q.memQueue.send(ctx, key, body)
}

// A REST write whose record was stored twice answers as the write did, not as its copy's
// fold did: a create is created (not "already exists"), a delete is done (not "not found")
// and goes on to clear the positions and purge the status records of the incarnation.
func TestRetriedConfigWriteAnswersAsTheWrite(t *testing.T) {
	d := storeLogsHarnessWith(t, retriedQueue{&memQueue{}})
	ctx := context.Background()
	require.NoError(t, d.write(ctx, configRecord{Type: recConnector, Name: "c", Config: map[string]string{"k": "v"},
		Target: restapi.TargetStopped}), "create")
	c, err := d.connector("c")
	require.NoError(t, err)
	require.NoError(t, d.write(ctx, configRecord{Type: recConnector, Name: "c", Config: map[string]string{"k": "w"}, Base: c.Epoch}),
		"update")
	c, err = d.connector("c")
	require.NoError(t, err)
	require.Equal(t, "w", c.Config["k"])

	require.NoError(t, d.DeleteConnector(ctx, "c"), "delete")
	require.Eventually(t, func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.status.Purged["c"] == c.Inc
	}, 10*time.Second, 5*time.Millisecond, "the deleted incarnation's status records are purged")
	d.mu.Lock()
	defer d.mu.Unlock()
	assert.NotContains(t, d.config.Connectors, "c")
	assert.Equal(t, c.Inc, d.posState.Cleared["c"], "the deleted incarnation's positions are cleared")
}
