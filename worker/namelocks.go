package worker

import "sync"

// nameLocks is a mutex per connector name, created on first use and dropped when no one
// holds or waits for it.
type nameLocks struct {
	mu    sync.Mutex
	locks map[string]*nameLock
}

type nameLock struct {
	mu   sync.Mutex
	refs int // holders and waiters
}

// lock takes name's lock and returns its unlock.
func (n *nameLocks) lock(name string) (unlock func()) {
	n.mu.Lock()
	if n.locks == nil {
		n.locks = map[string]*nameLock{}
	}
	l := n.locks[name]
	if l == nil {
		l = &nameLock{}
		n.locks[name] = l
	}
	l.refs++
	n.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		n.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(n.locks, name)
		}
		n.mu.Unlock()
	}
}

// contenders returns how many callers hold or wait for name's lock.
func (n *nameLocks) contenders(name string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if l := n.locks[name]; l != nil {
		return l.refs
	}
	return 0
}
