package worker

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/stretchr/testify/require"
)

// scriptedMembers answers membership looks from a script; the last answer repeats.
type scriptedMembers struct {
	mu      sync.Mutex
	answers [][]string
	looks   int
}

func (s *scriptedMembers) Members(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.answers[min(s.looks, len(s.answers)-1)]
	s.looks++
	return a, nil
}

func newMembershipTest(t *testing.T, answers ...[]string) (*Distributed, *scriptedMembers) {
	d := newTestDistributed(t, time.Second)
	d.proc = "p1"
	d.cfg.DepartGrace = time.Second
	view := &scriptedMembers{answers: answers}
	d.view = view
	d.members = []string{"w1.p1", "w2.p2"}
	return d, view
}

// A member missing from the broker's list is dropped after a second look confirms it,
// unless the broker's view was disrupted: a look that lacks this worker drops no one, and
// after a disruption departures wait until members had the time to register again.
func TestDeparturesDuringABrokerDisruption(t *testing.T) {
	t.Run("a plain departure is confirmed", func(t *testing.T) {
		d, _ := newMembershipTest(t, []string{"w1.p1"})
		d.confirmDepartures([]string{"w2.p2"})
		require.Equal(t, []string{"w1.p1"}, d.members)
	})
	t.Run("a look without this worker drops no one", func(t *testing.T) {
		d, _ := newMembershipTest(t, []string{"w3.p3"})
		d.confirmDepartures([]string{"w2.p2"})
		require.Equal(t, []string{"w1.p1", "w2.p2"}, d.members)
		require.False(t, d.disrupted.IsZero())
	})
	t.Run("members re-registering after a broker restart keep their units", func(t *testing.T) {
		// The restarted broker lists this worker first (it registered again); w2's
		// registration comes a little later.
		d, view := newMembershipTest(t, []string{"w1.p1"}, []string{"w1.p1", "w2.p2"})
		d.markDisrupted()
		d.confirmDepartures([]string{"w2.p2"})
		require.Equal(t, []string{"w1.p1", "w2.p2"}, d.members)
		require.GreaterOrEqual(t, view.looks, 2)
	})
}

// The lease is renewed only while the broker lists this worker; missing from two looks
// in a row, it registers again.
func TestRenewRequiresMembership(t *testing.T) {
	d, _ := newMembershipTest(t, []string{"w2.p2"})
	d.lastRenew = time.Time{} // never renewed
	require.False(t, d.renew(context.Background()))
	require.True(t, d.renew(context.Background()), "still missing: register again")
	require.True(t, d.lastRenew.IsZero(), "lease renewed although the broker does not list this worker")
	require.Error(t, d.fence())
}

// TestRepairReleasesAClaimNeverReported: a task this worker claimed and stopped before it
// reported RUNNING leaves its claim record in force. The release repairClaims writes for it
// must apply; copied as a claim (with the claim's Prev) the fold refused it as a stale claim,
// every 2 s, and the task's new owner waited for it forever.
func TestRepairReleasesAClaimNeverReported(t *testing.T) {
	d := &Distributed{status: newStatusState(), engine: &engine{}, log: quiet(),
		pending: map[taskKey]statusRecord{}, reportWake: make(chan struct{}, 1)}
	d.cfg.WorkerID, d.proc = "w1", "p1"
	claim := statusRecord{Connector: "c", Task: 2, Inc: 1, State: restapi.StateRunning, Worker: "w1", Proc: "p1", Gen: 1, Claim: true}
	require.NoError(t, d.status.apply(claim))
	d.repairClaims()
	rel, ok := d.pending[taskKey{"c", 2}]
	require.True(t, ok, "a release is written")
	require.NoError(t, d.status.apply(rel))
	r, ok := d.status.task("c", 1, 2)
	require.True(t, ok)
	require.Equal(t, restapi.StateUnassigned, r.State)
}
