package admin

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// errBadRequest marks input the REST layer rejects before it reaches the herder: a body that is
// not JSON, a missing or illegal name, a config value that is not a scalar.
var errBadRequest = errors.New("bad request")

// badInput is a request the REST layer rejected; its message is the whole error text, so a
// client reads "config.batch.size: ..." and not "bad request: ...".
type badInput struct{ msg string }

func (e *badInput) Error() string        { return e.msg }
func (e *badInput) Is(target error) bool { return target == errBadRequest }

func badRequestf(format string, args ...any) error {
	return &badInput{msg: fmt.Sprintf(format, args...)}
}

// sentinelStatuses is the HTTP status of each worker sentinel. codes_test.go fails when an
// exported sentinel of package worker is missing here.
var sentinelStatuses = []struct {
	err    error
	status int
}{
	{restapi.ErrNotFound, http.StatusNotFound},
	{restapi.ErrAlreadyExists, http.StatusConflict},
	// Kafka Connect answers 409 while a rebalance is in progress; clients retry on it.
	{restapi.ErrRebalancing, http.StatusConflict},
	{restapi.ErrBadState, http.StatusConflict},
	// Kafka Connect answers 400 to an offsets change of a connector that is not STOPPED.
	{restapi.ErrNotStopped, http.StatusBadRequest},
	// A write that lost a race with a concurrent write to the same connector.
	{restapi.ErrConflict, http.StatusConflict},
	{restapi.ErrStopped, http.StatusServiceUnavailable},
	{restapi.ErrUnavailable, http.StatusServiceUnavailable},
}

// httpStatus is the one place an error becomes an HTTP status. The stable error code in every
// error body is this status. A rejected configuration (a *cfgerr.Error, whichever layer found
// it) is a 400 whose message names the key. Anything unrecognised is a 500.
func httpStatus(err error) int {
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, errBadRequest):
		return http.StatusBadRequest
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge
	}
	for _, s := range sentinelStatuses {
		if errors.Is(err, s.err) {
			return s.status
		}
	}
	if errors.Is(err, cfgerr.ErrInvalid) {
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// writeError is the one place that shapes Kafka-style error bodies: {"error_code": N, "message": "..."}.
func writeError(c *gin.Context, status int, msg string) {
	c.AbortWithStatusJSON(status, gin.H{"error_code": status, "message": msg})
}
