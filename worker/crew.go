package worker

import (
	"sync"

	"golang.org/x/sync/errgroup"
)

// crew is a set of goroutines that start after Run has begun and must be waited on
// before it returns (task supervisors, reconfigurations, restarts, watchers): each belongs
// to an errgroup until it returns, and once its owner stops it starts no more.
//
// Graceful and forced stop are separate: close waits for every goroutine of the crew except
// those detached, which is how a forced stop gives up on a task run stuck in plugin code
// that ignores its cancellation (logged where it is detached; nothing else can end it).
// The zero value is ready.
type crew struct {
	mu      sync.Mutex
	closed  bool
	g       errgroup.Group
	waiting int           // started, neither returned nor detached
	idle    chan struct{} // closed when waiting drops to 0 while close waits
}

// member is one goroutine of a crew.
type member struct {
	c    *crew
	once sync.Once // counted out of waiting once: at its return or its detach
}

// Go runs f in the crew and returns its member, or nil once the crew is closed.
func (c *crew) Go(f func()) *member {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	m := &member{c: c}
	c.waiting++
	c.g.Go(func() error {
		defer m.leave()
		f()
		return nil
	})
	return m
}

// detach stops close from waiting for m (a forced stop gave up on it). It is safe on nil.
func (m *member) detach() {
	if m != nil {
		m.leave()
	}
}

func (m *member) leave() {
	m.once.Do(func() {
		c := m.c
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.waiting--; c.waiting == 0 && c.idle != nil {
			close(c.idle)
			c.idle = nil
		}
	})
}

// close refuses new goroutines and waits for every one started and not detached.
func (c *crew) close() {
	c.mu.Lock()
	c.closed = true
	var idle chan struct{}
	if c.waiting > 0 {
		if c.idle == nil {
			c.idle = make(chan struct{})
		}
		idle = c.idle
	}
	c.mu.Unlock()
	if idle != nil {
		<-idle
	}
}
