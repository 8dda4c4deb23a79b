package file

import (
	"errors"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/internal/position"
)

// Sentinel errors of the file connectors. Match them with errors.Is.
var (
	// ErrLineTooLong is the error an over-long line's error record describes (ExtErrorClass
	// ErrorClassLineTooLong); it is never returned by Poll.
	ErrLineTooLong = errors.New("line longer than max.line.bytes")
	// ErrNotStarted is returned by Poll, Put and Flush on a task whose Start did not succeed.
	ErrNotStarted = errors.New("task not started")
	// ErrStopped is returned by Put and Flush after Stop.
	ErrStopped = errors.New("task stopped")
	// ErrBadPosition means the committed position of the file is not a non-negative byte offset.
	ErrBadPosition = position.ErrBadPosition
)
