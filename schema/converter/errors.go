package converter

import (
	"errors"
	"strconv"
)

// Sentinel errors; match with errors.Is. Value/schema mismatches are reported as *schema.FieldError wrapping the
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

// ConfigError names the bad setting and its value. Key is prefix-stripped inside Configure; FromConfig puts the
// full dotted key (for example `value.converter.schemas.enable`) back.
type ConfigError struct {
	Key    string
	Value  string
	Reason string
}

func (e *ConfigError) Error() string {
	return e.Key + "=" + strconv.Quote(e.Value) + ": " + e.Reason + ": " + ErrInvalidConfig.Error()
}

// Unwrap returns ErrInvalidConfig.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }
