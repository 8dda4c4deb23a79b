package httpconn

import (
	"errors"
	"fmt"
)

// Sentinel errors of the HTTP connectors. Match them with errors.Is.
var (
	// ErrNotStarted is returned by Put, Flush and Poll on a task whose Start did not succeed.
	ErrNotStarted = errors.New("task not started")
	// ErrStopped is returned by Put, Flush and Poll after Stop.
	ErrStopped = errors.New("task stopped")
	// ErrRejected means the server refused the request's content: a 4xx other than 401, 403, 404, 405, 407,
	// 408 and 429 (which are retried), or a status listed in http-sink's record.error.statuses; the records
	// of the request are at fault.
	ErrRejected = errors.New("request rejected by the server")
	// ErrRedirect means the server redirected the request where it cannot follow unchanged (another host or
	// scheme, a 301/302 of a request with a body, a 303 of a poll's POST, too many redirects): the configured
	// URL is wrong. http-sink takes a 303 to a request other than GET or HEAD for success.
	ErrRedirect = errors.New("redirect not followed")
	// ErrGaveUp means a retriable failure persisted through retry.max.attempts attempts.
	ErrGaveUp = errors.New("retries exhausted")
	// ErrRender means a template, a header or a body could not be built from a record.
	ErrRender = errors.New("cannot build the request from the record")
	// ErrResponseTooLarge means a polled response is longer than response.max.bytes.
	ErrResponseTooLarge = errors.New("response larger than response.max.bytes")
	// ErrBadResponse means a polled response could not be read as configured (not JSON, no array at the path).
	ErrBadResponse = errors.New("malformed response")
	// ErrForeignLink means a next link points to another scheme or host than url.
	ErrForeignLink = errors.New("next link leaves the configured host")
)

// StatusError is an HTTP answer that is not 2xx: the status and the first bytes of the body.
type StatusError struct {
	Method  string
	URL     string // user info and query values masked
	Status  int
	Excerpt string
	Err     error // ErrRejected, ErrRedirect or nil (a retriable status)
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: status %d: %q", e.Method, e.URL, e.Status, e.Excerpt)
}

// Unwrap exposes ErrRejected or ErrRedirect for statuses that are not retried.
func (e *StatusError) Unwrap() error { return e.Err }
