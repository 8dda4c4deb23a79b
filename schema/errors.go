package schema

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinel errors. Functions in this package wrap them in a *FieldError that names the field path and the reason;
// match them with errors.Is.
var (
	// ErrInvalidValue: a value does not match its schema (wrong Go type, out of range, bad logical value).
	ErrInvalidValue = errors.New("invalid value")
	// ErrNullValue: nil given for a schema that is neither optional nor has a default.
	ErrNullValue = errors.New("null value for required field")
	// ErrUnknownField: a struct field name that the struct's schema does not declare.
	ErrUnknownField = errors.New("unknown field")
	// ErrNotStruct: a struct operation on a schema whose type is not STRUCT.
	ErrNotStruct = errors.New("schema is not a struct")
	// ErrInvalidSchema: a schema that is malformed (array without items, duplicate field, bad default, ...).
	ErrInvalidSchema = errors.New("invalid schema")
	// ErrUnknownType: a schema type name that is not one of the Type constants.
	ErrUnknownType = errors.New("unknown schema type")
)

// FieldError says where in a value (or schema) something is wrong and why. Path is a dotted field path with
// array indexes and map keys, e.g. `address.lines[2]` or `tags["k"]`; it is empty for the top level.
type FieldError struct {
	Path   string
	Reason string
	Err    error // a sentinel of this package, or of the caller's package
}

// Error renders `field "a.b": reason: sentinel` (the path part is left out at the top level).
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString("field \"")
		b.WriteString(e.Path)
		b.WriteString("\": ")
	}
	if e.Reason != "" {
		b.WriteString(e.Reason)
		if e.Err != nil {
			b.WriteString(": ")
		}
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the sentinel.
func (e *FieldError) Unwrap() error { return e.Err }

// NewFieldError builds a *FieldError; path may be empty.
func NewFieldError(path string, sentinel error, reason string) *FieldError {
	return &FieldError{Path: path, Reason: reason, Err: sentinel}
}

// JoinPath appends a struct field name to a dotted path.
func JoinPath(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// AtField puts a struct field name in front of the path of the *FieldError inside err (if there is one) and
// returns err. Paths are built this way, on the way out of a failed recursion, so that success costs nothing.
func AtField(err error, name string) error { return prefixPath(err, name) }

// AtIndex puts an array index in front of the path of the *FieldError inside err, like AtField.
func AtIndex(err error, i int) error { return prefixPath(err, "["+strconv.Itoa(i)+"]") }

// AtKey puts a map key in front of the path of the *FieldError inside err, like AtField.
func AtKey(err error, k any) error {
	if s, ok := k.(string); ok {
		return prefixPath(err, "["+strconv.Quote(s)+"]")
	}
	return prefixPath(err, fmt.Sprintf("[%v]", k))
}

func prefixPath(err error, seg string) error {
	var fe *FieldError
	if err == nil || seg == "" || !errors.As(err, &fe) {
		return err
	}
	switch {
	case fe.Path == "":
		fe.Path = seg
	case fe.Path[0] == '[':
		fe.Path = seg + fe.Path
	default:
		fe.Path = seg + "." + fe.Path
	}
	return err
}
