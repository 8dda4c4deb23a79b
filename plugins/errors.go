package plugins

import (
	"errors"
	"time"
)

// Sentinel errors of the plugins package. Match them with errors.Is. A configuration problem
// is a *cfgerr.Error (errors.Is matches cfgerr.ErrInvalid) whose Err is one of the first three.
var (
	// ErrMissingRequired means a required key has no value and no default.
	ErrMissingRequired = errors.New("missing required configuration")
	// ErrInvalidValue means a value does not parse as its type or fails a validator.
	ErrInvalidValue = errors.New("invalid value")
	// ErrConflictingKeys means a key and one of its aliases are both set to different values.
	ErrConflictingKeys = errors.New("conflicting keys")
	// ErrDuplicatePlugin means a name or alias is registered twice.
	ErrDuplicatePlugin = errors.New("duplicate plugin name")
	// ErrUnknownPlugin means no plugin is registered under the requested name or alias.
	ErrUnknownPlugin = errors.New("unknown plugin")
	// ErrKindMismatch means a factory built a connector that does not implement
	// the interface of the kind it was registered with.
	ErrKindMismatch = errors.New("connector does not match its registered kind")
	// ErrInvalidSpec means a ConfigSpec itself is malformed (a programming error).
	ErrInvalidSpec = errors.New("invalid config spec")
	// ErrPathNotAllowed means a file path lies outside the directories the worker lets
	// connectors use (FileAccess).
	ErrPathNotAllowed = errors.New("path not allowed")
)

// HiddenValue replaces the value of a secret field in errors, logs and docs.
const HiddenValue = "[hidden]"

// RetriableError marks a failure the engine may retry: the same call
// (Poll, Put, Flush, Commit) with the same input may succeed later. The engine
// decides whether and how often to retry (errors.retry.timeout); Backoff is a
// hint for the minimum wait, zero meaning "use the engine's backoff".
type RetriableError struct {
	Err     error
	Backoff time.Duration
}

// Retriable wraps err as a RetriableError (nil stays nil).
func Retriable(err error) error {
	if err == nil {
		return nil
	}
	return &RetriableError{Err: err}
}

func (e *RetriableError) Error() string {
	if e.Err == nil {
		return "retriable error"
	}
	return "retriable: " + e.Err.Error()
}

func (e *RetriableError) Unwrap() error { return e.Err }

// IsRetriable reports whether err is or wraps a RetriableError.
func IsRetriable(err error) bool {
	var re *RetriableError
	return errors.As(err, &re)
}

// Record extensions by which a source task hands the engine a record it could not read
// (an over-long line, undecodable input) instead of failing or dropping it silently. The
// engine routes such a record by the connector's errors.tolerance: to the dead-letter queue
// (body = the raw bytes) or failing the task. Its source position still counts, so the
// task moves past it.
const (
	// ExtErrorMessage holds the reason; its presence marks the record as failed. The
	// record's Value carries the raw input bytes for the dead-letter queue.
	ExtErrorMessage = "connect.error"
	// ExtErrorRaw optionally holds the raw input (as a string) when Value cannot.
	ExtErrorRaw = "connect.error.raw"
)
