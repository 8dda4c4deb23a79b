//go:build unix

package external_test

import (
	"syscall"
	"time"
)

const (
	cpuSelf     = syscall.RUSAGE_SELF
	cpuChildren = syscall.RUSAGE_CHILDREN
)

// cpuTime is the user and system CPU time of who (cpuSelf, or cpuChildren: the processes
// this one started and reaped).
func cpuTime(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
