//go:build !(linux || darwin || freebsd || netbsd || dragonfly || illumos)

package external

import "log/slog"

// No socket directory is kept here: go-plugin uses TCP on Windows, and the other systems lack
// the lock that tells a live worker's directory from a dead one's. Plugin sockets go to the
// temporary directory, where go-plugin places them by default.
type socketDir struct{ path string }

const socketEnv = ""

func openSocketDir(*slog.Logger) (*socketDir, error) { return nil, nil }

func (d *socketDir) gone() bool { return false }

func (d *socketDir) close() error { return nil }
