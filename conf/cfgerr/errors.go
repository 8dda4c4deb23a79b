package cfgerr

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is wrapped by every *Error: errors.Is(err, ErrInvalid) tells that err rejects a
// configuration.
var ErrInvalid = errors.New("invalid configuration")

// Error is one rejected configuration key: the dotted key, the value as written and the
// reason. Value never holds a resolved secret: callers show the placeholder, or a marker such
// as plugins.HiddenValue, instead.
//
// Two message forms are in use and both are kept as users read them. With ValueFirst the
// message is `key="value": reason` (the worker config, the REST API, converters and config
// providers print this form); otherwise it is `key: reason (value "value")`, the form of
// connector specs, transforms and connectors. The value part is left out when Value is "".
type Error struct {
	Key    string // the dotted key, e.g. "transforms.mask.fields" or "offsets[0].partition"
	Value  string // the value as written; "" when there is none to show
	Reason string // why, without the key; "" means Err's message
	// Err is the cause or a sentinel of the reporting package (plugins.ErrInvalidValue,
	// converter.ErrInvalidConfig, providers.ErrNotFound, ...); errors.Is matches it. May be nil.
	Err error
	// ValueFirst selects the `key="value": reason` form.
	ValueFirst bool
}

// Error renders the key, the value and the reason in the form ValueFirst selects.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Key)
	if e.ValueFirst && e.Value != "" {
		fmt.Fprintf(&b, "=%q", e.Value)
	}
	b.WriteString(": ")
	b.WriteString(e.Why())
	if !e.ValueFirst && e.Value != "" {
		fmt.Fprintf(&b, " (value %q)", e.Value)
	}
	return b.String()
}

// Why is the reason without the key and the value: Reason, or Err's message without one.
func (e *Error) Why() string {
	if e.Reason == "" && e.Err != nil {
		return e.Err.Error()
	}
	return e.Reason
}

// Unwrap exposes ErrInvalid and Err.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalid}
	}
	return []error{ErrInvalid, e.Err}
}

// List is every problem found in one configuration, in the order found (callers sort by key
// where they promise key order).
type List []*Error

// Error joins the messages with "; ".
func (l List) Error() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Unwrap exposes each *Error, so errors.Is and errors.As see through the list.
func (l List) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// Flatten returns every *Error in err's tree, in order; nil when err holds none.
func Flatten(err error) List {
	var out List
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *Error:
			out = append(out, e)
		case List:
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

// Prefix returns err with prefix prepended to the key of every *Error it holds, so a nested
// component (a transform configured with its own keys) reports the full dotted key. The
// errors are copied, never changed in place. An error that holds none becomes one *Error
// keyed by prefix without its trailing dot, whose reason is err's message.
func Prefix(err error, prefix string) error {
	if err == nil {
		return nil
	}
	es := Flatten(err)
	if len(es) == 0 {
		return List{{Key: strings.TrimSuffix(prefix, "."), Reason: err.Error(), Err: err}}
	}
	out := make(List, len(es))
	for i, e := range es {
		c := *e
		c.Key = prefix + e.Key
		out[i] = &c
	}
	return out
}
