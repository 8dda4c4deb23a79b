package converter

import (
	"errors"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
)

// Sentinel errors; match with errors.Is. A bad setting is a *cfgerr.Error wrapping ErrInvalidConfig. Value/schema mismatches are reported as *schema.FieldError wrapping the
// schema package's sentinels (schema.ErrInvalidValue, schema.ErrNullValue, schema.ErrUnknownType, ...).
var (
	// ErrUnknownConverter: a converter name that is not in the table.
	ErrUnknownConverter = errors.New("unknown converter")
	// ErrMissingConverter: the `key.converter` / `value.converter` key is not set.
	ErrMissingConverter = errors.New("converter not configured")
	// ErrInvalidConfig: a converter setting with a bad value.
	ErrInvalidConfig = errors.New("invalid converter config")
	// ErrMalformed: input bytes that are not valid for the format (bad JSON, wrong length, bad base64, no envelope).
	ErrMalformed = errors.New("malformed data")
	// ErrUnsupportedType: FromConnect given a Go value or schema the converter cannot encode.
	ErrUnsupportedType = errors.New("unsupported type")
)

// configError is the *cfgerr.Error for a bad converter setting: `key="value": reason: invalid
// converter config`. Key is prefix-stripped inside Configure; FromConfig puts the full dotted key
// (for example `value.converter.schemas.enable`) back.
func configError(key, value, reason string) *cfgerr.Error {
	return &cfgerr.Error{Key: key, Value: value, Reason: reason + ": " + ErrInvalidConfig.Error(), Err: ErrInvalidConfig, ValueFirst: true}
}
