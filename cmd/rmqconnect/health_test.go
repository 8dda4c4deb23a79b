package main

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/admin"
)

// fakeMember is a distributed worker's view for distributedHealth: started or not, and its
// lease's state.
type fakeMember struct {
	started chan struct{}
	lease   error
}

func (f fakeMember) Started() <-chan struct{}     { return f.started }
func (f fakeMember) Health(context.Context) error { return f.lease }

// TestDistributedHealthFollowsTheLease: a distributed worker is starting until it joined,
// then healthy exactly while its membership lease holds. Its health does not ask the name
// servers (it has nothing to ask them with), so their outage, which a worker holding its lease
// works through, does not fail every worker's probe at once.
func TestDistributedHealthFollowsTheLease(t *testing.T) {
	m := fakeMember{started: make(chan struct{})}
	require.ErrorIs(t, distributedHealth{m}.Health(t.Context()), admin.ErrStarting)

	close(m.started)
	require.NoError(t, distributedHealth{m}.Health(t.Context()))

	m.lease = errors.New("worker w1 has not confirmed its cluster membership for 40s")
	require.Equal(t, m.lease, distributedHealth{m}.Health(t.Context()))
}
