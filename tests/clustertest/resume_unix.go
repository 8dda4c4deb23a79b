//go:build unix

package clustertest

import (
	"os"
	"syscall"
)

// resume continues a process stopped by SIGSTOP.
func resume(p *os.Process) { _ = p.Signal(syscall.SIGCONT) }
