package server

import (
	"context"
	"sync"
)

// MemLog is a Log kept in memory, for tests and for a single registry process that needs no durability. Peer
// returns another reader of the same log, as a second registry instance would have.
type MemLog struct {
	shared *memShared

	mu      sync.Mutex
	applied int64         // events passed to apply
	moved   chan struct{} // closed and replaced whenever applied grows
}

type memShared struct {
	mu     sync.Mutex
	events [][]byte
	grown  chan struct{} // closed and replaced on every append
}

// NewMemLog returns an empty log.
func NewMemLog() *MemLog {
	return newMemReader(&memShared{grown: make(chan struct{})})
}

func newMemReader(sh *memShared) *MemLog {
	return &MemLog{shared: sh, moved: make(chan struct{})}
}

// Peer returns a new reader of the same log, starting from its beginning.
func (m *MemLog) Peer() *MemLog { return newMemReader(m.shared) }

// Len returns the number of events in the log.
func (m *MemLog) Len() int {
	m.shared.mu.Lock()
	defer m.shared.mu.Unlock()
	return len(m.shared.events)
}

// Append adds event at the end of the log.
func (m *MemLog) Append(ctx context.Context, event []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	sh := m.shared
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.events = append(sh.events, append([]byte(nil), event...))
	close(sh.grown)
	sh.grown = make(chan struct{})
	return nil
}

// Run delivers the events to apply in order, with their index as position, until ctx ends.
func (m *MemLog) Run(ctx context.Context, apply func(pos int64, event []byte)) error {
	for {
		sh := m.shared
		sh.mu.Lock()
		m.mu.Lock()
		next := m.applied
		m.mu.Unlock()
		pending := sh.events[next:]
		grown := sh.grown
		sh.mu.Unlock()
		for i, ev := range pending {
			apply(next+int64(i), ev)
			m.mu.Lock()
			m.applied++
			close(m.moved)
			m.moved = make(chan struct{})
			m.mu.Unlock()
		}
		if len(pending) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-grown:
		}
	}
}

// Sync waits until Run has applied every event appended before the call.
func (m *MemLog) Sync(ctx context.Context) error {
	target := int64(m.Len())
	for {
		m.mu.Lock()
		applied, moved := m.applied, m.moved
		m.mu.Unlock()
		if applied >= target {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-moved:
		}
	}
}
