//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package filestore

import "os"

// locking says whether LockDir excludes other holders on this platform.
const locking = false

// tryLock always succeeds: this platform has no flock in package syscall (Windows, Plan 9,
// Solaris, illumos, AIX, wasm), and two workers sharing a store directory here are not
// detected. Windows could use LockFileEx (golang.org/x/sys/windows) if it ever needs to.
func tryLock(*os.File) (bool, error) { return true, nil }
