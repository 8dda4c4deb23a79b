//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package filestore

import (
	"errors"
	"os"
	"syscall"
)

// locking says whether LockDir excludes other holders on this platform.
const locking = true

// tryLock takes an exclusive flock on f without blocking; false when another open file
// description (another process, or another open of the file in this one) holds it. os.OpenFile
// sets close-on-exec, so plugin processes started by the worker do not inherit the lock.
func tryLock(f *os.File) (bool, error) {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return false, nil
		default:
			return false, err
		}
	}
}
