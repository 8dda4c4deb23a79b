package plugins

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors of the plugins package. Match them with errors.Is.
var (
	// ErrInvalidConfig is wrapped by every configuration error (FieldError).
	ErrInvalidConfig = errors.New("invalid configuration")
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

// FieldError is one configuration problem: the dotted key, the offending value
// (HiddenValue when the field is secret) and the reason. Err is a sentinel
// (ErrMissingRequired, ErrInvalidValue, ...) or a package-specific one;
// errors.Is matches both it and ErrInvalidConfig.
type FieldError struct {
	Key    string
	Value  string
	Reason string
	Err    error
}

// Error renders `key: reason (value "v")`.
func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.Key)
	b.WriteString(": ")
	if e.Reason != "" {
		b.WriteString(e.Reason)
	} else if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	if e.Value != "" || e.Err == ErrInvalidValue {
		fmt.Fprintf(&b, " (value %q)", e.Value)
	}
	return b.String()
}

// Unwrap exposes ErrInvalidConfig and the specific cause.
func (e *FieldError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalidConfig}
	}
	return []error{ErrInvalidConfig, e.Err}
}

// ConfigErrors is every problem found in one configuration, in key order.
type ConfigErrors []*FieldError

// Error joins the messages with "; ".
func (e ConfigErrors) Error() string {
	parts := make([]string, len(e))
	for i, fe := range e {
		parts[i] = fe.Error()
	}
	return strings.Join(parts, "; ")
}

// Unwrap exposes each FieldError so errors.Is/As see through the list.
func (e ConfigErrors) Unwrap() []error {
	out := make([]error, len(e))
	for i, fe := range e {
		out[i] = fe
	}
	return out
}

// AsConfigErrors flattens err into its FieldErrors. It returns nil when err
// holds none.
func AsConfigErrors(err error) ConfigErrors {
	var out ConfigErrors
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *FieldError:
			out = append(out, e)
		case ConfigErrors:
			out = append(out, e...)
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				walk(inner)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return out
}

// PrefixKeys returns err with prefix prepended to the key of every FieldError
// it holds, so a nested component (a transform configured with its own keys)
// reports the full dotted key. Errors without FieldErrors become one
// FieldError keyed by prefix without its trailing dot.
func PrefixKeys(err error, prefix string) error {
	if err == nil {
		return nil
	}
	fes := AsConfigErrors(err)
	if len(fes) == 0 {
		return ConfigErrors{{Key: strings.TrimSuffix(prefix, "."), Reason: err.Error(), Err: err}}
	}
	out := make(ConfigErrors, len(fes))
	for i, fe := range fes {
		c := *fe
		c.Key = prefix + fe.Key
		out[i] = &c
	}
	return out
}

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
