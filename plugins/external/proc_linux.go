package external

import "syscall"

// sysProcAttr asks the kernel to kill the plugin when the worker dies, even by SIGKILL.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
