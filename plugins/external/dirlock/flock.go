//go:build darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd

package dirlock

import (
	"errors"
	"os"
	"syscall"
)

// Supported says whether a lock excludes other holders on this platform.
const Supported = true

// tryLock takes an exclusive flock on f without blocking; false when another open file
// description (another process, or another open of the file in this one) holds it. os.Open
// and os.OpenFile set close-on-exec, so processes started by the holder do not inherit the
// lock.
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
