package jdbc

import "errors"

// Sentinel errors of the jdbc connectors. Match them with errors.Is.
var (
	// ErrNotStarted means a task method was called before Start.
	ErrNotStarted = errors.New("task not started")
	// ErrStopped means a task method was called after Stop.
	ErrStopped = errors.New("task stopped")
	// ErrUnsupportedURL means connection.url names neither PostgreSQL nor MySQL/MariaDB.
	ErrUnsupportedURL = errors.New("unsupported connection.url")
	// ErrBadRecord means a sink record cannot be written as a row (no struct value, no key field, …).
	ErrBadRecord = errors.New("record cannot be written as a row")
	// ErrUnsupportedType means a column or field type has no mapping.
	ErrUnsupportedType = errors.New("unsupported type")
)
