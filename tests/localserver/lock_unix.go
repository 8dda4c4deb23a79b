//go:build unix

package localserver

import (
	"os"
	"syscall"
)

// lockShared takes a shared advisory lock on f, held until f is closed.
func lockShared(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_SH) }

// Unlock drops the lock this process holds on f.
func Unlock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }

// TryLockExclusive takes an exclusive lock on f without waiting: it fails while another
// process holds a lock on f.
func TryLockExclusive(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
