package providers

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinels wrapped by every *Error; match them with errors.Is.
var (
	// ErrSyntax: a placeholder is unterminated or has an empty argument.
	ErrSyntax = errors.New("malformed placeholder")
	// ErrUnknownProvider: the placeholder names a provider other than env or file.
	ErrUnknownProvider = errors.New("unknown config provider")
	// ErrNotFound: the environment variable, file or key does not exist (or cannot be read).
	ErrNotFound = errors.New("config provider value not found")
	// ErrNotAllowed: the file is not one ${file:...} may read: not an absolute path, not a
	// regular file, over the size cap, or outside the allowed directories.
	ErrNotAllowed = errors.New("config provider file not allowed")
)

// Error is one config value that could not be resolved. It names the connector config key and
// the placeholder, never a resolved value or a file's content, so it is safe in REST answers,
// task traces and logs.
type Error struct {
	Key         string // the connector config key, e.g. "connection.password"
	Placeholder string // the placeholder as written, e.g. "${env:DB_PASSWORD}"
	Err         error  // wraps one of the sentinels
}

func (e *Error) Error() string {
	if e.Placeholder == "" {
		return fmt.Sprintf("%s: %v", e.Key, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.Key, e.Placeholder, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ConfigKey names the key, for callers that report problems per key without importing
// this package.
func (e *Error) ConfigKey() string { return e.Key }

// Reason is the problem without the key.
func (e *Error) Reason() string {
	if e.Placeholder == "" {
		return e.Err.Error()
	}
	return e.Placeholder + ": " + e.Err.Error()
}

// Errors is every value of one config that could not be resolved, in key order.
type Errors []*Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Unwrap exposes each *Error to errors.Is/As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}
