package wire

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	pb "github.com/rmqconnect/rmqconnect/plugins/internal/pluginpb"
)

// EncodeError keeps what the engine acts on: the message, whether it is retriable (and
// its backoff hint), a cancellation, and the keys of configuration errors. nil stays nil.
func EncodeError(err error) *pb.Error {
	if err == nil {
		return nil
	}
	if fes := cfgerr.Flatten(err); len(fes) > 0 && errors.Is(err, cfgerr.ErrInvalid) {
		m := &pb.Error{Kind: pb.Error_CONFIG, Message: err.Error()}
		for _, fe := range fes {
			// Why, not Reason: an error whose reason is its Err's message (Reason empty) would
			// cross with none, as only the three sentinels of Cause travel, not Err itself.
			m.Fields = append(m.Fields, &pb.FieldError{Key: fe.Key, Value: fe.Value, Reason: fe.Why(), Cause: causeOf(fe.Err)})
		}
		return m
	}
	var re *plugins.RetriableError
	if errors.As(err, &re) {
		msg := err.Error()
		if re.Err != nil && err == error(re) {
			msg = re.Err.Error()
		}
		return &pb.Error{Kind: pb.Error_RETRIABLE, Message: msg, BackoffMs: re.Backoff.Milliseconds()}
	}
	// After the retriable kind: a task that marks a timeout of its own (an HTTP client's,
	// which wraps context.DeadlineExceeded) retriable is retried, as it is in the worker.
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &pb.Error{Kind: pb.Error_CANCELED, Message: err.Error()}
	}
	return &pb.Error{Kind: pb.Error_FATAL, Message: err.Error()}
}

func causeOf(err error) pb.FieldError_Cause {
	switch {
	case errors.Is(err, plugins.ErrMissingRequired):
		return pb.FieldError_MISSING
	case errors.Is(err, plugins.ErrInvalidValue):
		return pb.FieldError_INVALID
	case errors.Is(err, plugins.ErrConflictingKeys):
		return pb.FieldError_CONFLICT
	}
	return pb.FieldError_OTHER
}

func sentinelOf(c pb.FieldError_Cause) error {
	switch c {
	case pb.FieldError_MISSING:
		return plugins.ErrMissingRequired
	case pb.FieldError_INVALID:
		return plugins.ErrInvalidValue
	case pb.FieldError_CONFLICT:
		return plugins.ErrConflictingKeys
	}
	return nil
}

// DecodeError rebuilds an error the engine handles as it would the original: errors.Is
// sees cfgerr.ErrInvalid and the field sentinels, plugins.IsRetriable a retriable
// one and context.Canceled a cancellation. nil stays nil.
func DecodeError(m *pb.Error) error {
	if m == nil {
		return nil
	}
	switch m.Kind {
	case pb.Error_CANCELED:
		return fmt.Errorf("%s: %w", m.Message, context.Canceled)
	case pb.Error_CONFIG:
		out := make(cfgerr.List, len(m.Fields))
		for i, f := range m.Fields {
			out[i] = &cfgerr.Error{Key: f.Key, Value: f.Value, Reason: f.Reason, Err: sentinelOf(f.Cause)}
		}
		if len(out) > 0 {
			return &configError{msg: m.Message, list: out}
		}
	case pb.Error_RETRIABLE:
		return &plugins.RetriableError{Err: errors.New(m.Message), Backoff: time.Duration(m.BackoffMs) * time.Millisecond}
	}
	return errors.New(m.Message)
}

// configError is a decoded config error: its message is the plugin's own (with whatever
// wrapped the keys' errors, "open the database: url: ..."), and it unwraps to their list, so
// errors.Is, errors.As and cfgerr.Flatten see the keys as they would the plugin's error.
type configError struct {
	msg  string
	list cfgerr.List
}

func (e *configError) Error() string {
	if e.msg == "" {
		return e.list.Error()
	}
	return e.msg
}

func (e *configError) Unwrap() error { return e.list }
