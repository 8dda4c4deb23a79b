//go:build !unix

package localserver

import (
	"errors"
	"os"
)

// lockShared fails: the local servers this package starts run on Unix systems only.
func lockShared(*os.File) error { return errors.ErrUnsupported }

// Unlock fails: see lockShared.
func Unlock(*os.File) error { return errors.ErrUnsupported }

// TryLockExclusive fails: see lockShared.
func TryLockExclusive(*os.File) error { return errors.ErrUnsupported }
