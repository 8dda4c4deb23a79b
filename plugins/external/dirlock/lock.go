package dirlock

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// LockName is the file in a locked directory that carries the lock and its holder's pid.
const LockName = "rmqconnect.lock"

// Lock is an exclusive lock (flock on an open file), held until Close or until the process
// ends, however it ends.
type Lock struct {
	mu sync.Mutex
	f  *os.File
}

// LockDir takes the lock on dir, which must exist, without waiting. When another process
// (or another Lock of this one) holds it, the error wraps ErrLocked and names dir and, if
// recorded, the holder's pid. On a platform without flock it always succeeds.
func LockDir(dir string) (*Lock, error) {
	path := filepath.Join(dir, LockName)
	// Not truncated here: the file holds the current holder's pid until the lock is ours.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	ok, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if !ok {
		f.Close()
		holder := ""
		if b, err := os.ReadFile(path); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				holder = fmt.Sprintf("pid %d, ", pid)
			}
		}
		return nil, fmt.Errorf("%s is locked by another worker (%slock file %s): %w", dir, holder, path, ErrLocked)
	}
	// The pid is for the message above only: a full disk must not stop the holder.
	if f.Truncate(0) == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// Close releases the lock. It may be called more than once, and on a nil Lock.
func (l *Lock) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	// Closing the only descriptor of the open file releases the flock. A lock file stays: one
	// removed while another process has it open would let two holders lock two different
	// files.
	err := l.f.Close()
	l.f = nil
	return err
}
