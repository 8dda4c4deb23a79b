package restapi

import (
	"errors"
	"fmt"
)

// Sentinel errors of the worker's management API. admin maps each to an HTTP status.
var (
	// ErrNotFound: the connector or task does not exist (404).
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a create named a connector that exists (409).
	ErrAlreadyExists = errors.New("already exists")
	// ErrInvalidConfig: a connector config was rejected; wrapped by *ConfigError (400).
	ErrInvalidConfig = errors.New("invalid connector config")
	// ErrRebalancing: the answer is not reliable while assignments change (409).
	ErrRebalancing = errors.New("rebalance in progress")
	// ErrBadState: the operation does not apply in the current state, e.g. offsets of a running connector (409).
	ErrBadState = errors.New("operation not allowed in the current state")
	// ErrConflict: a write lost a race with a concurrent write to the same connector (409).
	ErrConflict = errors.New("conflicting concurrent update; read the connector again and retry")
	// ErrStopped: the worker is shutting down (503).
	ErrStopped = errors.New("worker is stopping")
	// ErrUnavailable: the cluster's store topics could not be written (the broker is
	// unreachable or timed out); nothing changed, and the request may be retried (503).
	ErrUnavailable = errors.New("the cluster's store cannot be written now; retry")
)

// ConfigError is one or more rejected connector config keys.
type ConfigError struct {
	Connector string
	Problems  []ConfigProblem
}

// ConfigProblem is one rejected key.
type ConfigProblem struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Reason string `json:"reason"`
}

func (e *ConfigError) Error() string {
	msg := fmt.Sprintf("connector %s: invalid config:", e.Connector)
	for i, p := range e.Problems {
		if i > 0 {
			msg += ";"
		}
		if p.Value != "" {
			msg += fmt.Sprintf(" %s=%q: %s", p.Key, p.Value, p.Reason)
		} else {
			msg += fmt.Sprintf(" %s: %s", p.Key, p.Reason)
		}
	}
	return msg
}

// Unwrap lets errors.Is(err, ErrInvalidConfig) match.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }
