package generator

import (
	"errors"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/internal/position"
)

// Sentinel errors of the generator connectors. Match them with errors.Is.
var (
	// ErrNotStarted is returned by Poll and Put on a task whose Start did not succeed.
	ErrNotStarted = errors.New("task not started")
	// ErrStopped is returned by Put after Stop.
	ErrStopped = errors.New("task stopped")
	// ErrBadPosition means a committed position holds no non-negative seq.
	ErrBadPosition = position.ErrBadPosition
)
