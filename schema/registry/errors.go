package registry

import (
	"errors"
	"net/http"
	"strconv"
)

// Sentinel errors; match with errors.Is.
var (
	// ErrNotFound: the subject, version or record id does not exist (404).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the schema is incompatible with the subject's compatibility mode, or already exists (409).
	ErrConflict = errors.New("conflict")
	// ErrBadRequest: the server rejected the request or the schema as malformed (400, 422, other 4xx but 408
	// and 429).
	ErrBadRequest = errors.New("bad request")
	// ErrUnauthorized: authentication or authorisation failed (401, 403).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrUnavailable: the server kept failing (transport errors, 5xx, 408 Request Timeout, 429 Too Many
	// Requests) after every retry, or did not answer within the call's time (Config.MaxElapsed, the ctx's
	// deadline). Retrying later may succeed.
	ErrUnavailable = errors.New("schema registry unavailable")
	// ErrInvalidConfig: a Config the client cannot work with.
	ErrInvalidConfig = errors.New("invalid registry client config")
)

// APIError is an answer other than 2xx: the request, the HTTP status and the server's reason.
type APIError struct {
	Method, Path string
	Status       int
	Message      string
}

func (e *APIError) Error() string {
	msg := "schema registry: " + e.Method + " " + e.Path + ": " + strconv.Itoa(e.Status) + " " + http.StatusText(e.Status)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Unwrap maps the status to a sentinel.
func (e *APIError) Unwrap() error {
	switch {
	case e.Status == http.StatusNotFound:
		return ErrNotFound
	case e.Status == http.StatusConflict:
		return ErrConflict
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		return ErrUnauthorized
	case e.unavailable():
		return ErrUnavailable
	}
	return ErrBadRequest
}

// unavailable reports whether the status says "not now" rather than "never": 5xx, and the 408 and 429 that
// proxies and gateways answer when they time out or throttle.
func (e *APIError) unavailable() bool {
	return e.Status >= 500 || e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests
}
