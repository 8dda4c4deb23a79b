package server

import "errors"

// Sentinel errors; match with errors.Is.
var (
	// ErrInvalidConfig: a Config the server cannot work with.
	ErrInvalidConfig = errors.New("invalid schema registry server config")
	// ErrClosed: the log was used after its Run ended.
	ErrClosed = errors.New("schema registry log closed")
)
