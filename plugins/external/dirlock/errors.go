package dirlock

import "errors"

// ErrLocked is returned by LockDir when another holder has the directory.
var ErrLocked = errors.New("directory in use")
