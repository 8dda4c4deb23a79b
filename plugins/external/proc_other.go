//go:build !linux

package external

import "syscall"

// sysProcAttr has no parent-death signal outside Linux; the SDK's parent watch covers it.
func sysProcAttr() *syscall.SysProcAttr { return nil }
