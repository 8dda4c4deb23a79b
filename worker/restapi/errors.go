package restapi

import "errors"

// Sentinel errors of the worker's management API. admin maps each to an HTTP status. A
// rejected connector config is not one of them: it is a cfgerr.List of *cfgerr.Error (conf/cfgerr),
// one per key, wrapped as "connector <name>: invalid config: ...", and answered with 400.
var (
	// ErrNotFound: the connector or task does not exist (404).
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a create named a connector that exists (409).
	ErrAlreadyExists = errors.New("already exists")
	// ErrRebalancing: the answer is not reliable while assignments change (409).
	ErrRebalancing = errors.New("rebalance in progress")
	// ErrBadState: the operation does not apply in the current state, e.g. a DLQ route of a
	// connector without a DLQ (409).
	ErrBadState = errors.New("operation not allowed in the current state")
	// ErrNotStopped: an offsets change of a connector that is not STOPPED (400, as Kafka
	// Connect answers).
	ErrNotStopped = errors.New("connector is not STOPPED")
	// ErrConflict: a write lost a race with a concurrent write to the same connector (409).
	ErrConflict = errors.New("conflicting concurrent update; read the connector again and retry")
	// ErrStopped: the worker is shutting down (503).
	ErrStopped = errors.New("worker is stopping")
	// ErrUnavailable: the cluster's store topics could not be written (the broker is
	// unreachable or timed out); nothing changed, and the request may be retried (503).
	ErrUnavailable = errors.New("the cluster's store cannot be written now; retry")
)
