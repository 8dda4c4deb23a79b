package cfgerr

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

var errCause = errors.New("invalid value")

// TestErrorForms pins the two message forms byte for byte: each line is a message some layer
// printed before the layers shared this type, and users, the REST API and tests read them.
func TestErrorForms(t *testing.T) {
	for _, tc := range []struct {
		err  *Error
		want string
	}{
		// The connector SPI's form (specs, transforms, connectors).
		{&Error{Key: "max.tasks", Value: "1000", Reason: "must be between 1 and 100", Err: errCause}, `max.tasks: must be between 1 and 100 (value "1000")`},
		{&Error{Key: "a", Err: errors.New("missing required configuration")}, "a: missing required configuration"},
		{&Error{Key: "transforms.a.type", Value: "Nope", Reason: "unknown transform type"}, `transforms.a.type: unknown transform type (value "Nope")`},
		{&Error{Key: "k", Reason: "bad"}, "k: bad"},
		// The worker config's and the REST API's form.
		{&Error{Key: "httpPort", Value: "0", Reason: "must be 1-65535", ValueFirst: true}, `httpPort="0": must be 1-65535`},
		{&Error{Key: "connect.topicnames", Reason: "is required for a sink", ValueFirst: true}, "connect.topicnames: is required for a sink"},
		// Config providers: the placeholder is part of the reason.
		{&Error{Key: "db.password", Reason: "${env:X}: config provider value not found", Err: errCause, ValueFirst: true}, "db.password: ${env:X}: config provider value not found"},
		// Converters: the reason ends with the converter package's sentinel.
		{&Error{Key: "value.converter.schemas.enable", Value: "maybe", Reason: "not a boolean (true|false): invalid converter config", ValueFirst: true},
			`value.converter.schemas.enable="maybe": not a boolean (true|false): invalid converter config`},
	} {
		require.Equal(t, tc.want, tc.err.Error())
	}
	list := List{{Key: "a", Reason: "x"}, {Key: "b", Value: "v", Reason: "y", ValueFirst: true}}
	require.Equal(t, `a: x; b="v": y`, list.Error())
	require.Equal(t, `connector c: invalid config: a: x; b="v": y`, fmt.Errorf("connector c: invalid config: %w", list).Error())
}

func TestUnwrap(t *testing.T) {
	plain := &Error{Key: "k", Reason: "bad"}
	require.ErrorIs(t, plain, ErrInvalid)
	caused := &Error{Key: "k", Err: errCause}
	require.ErrorIs(t, caused, ErrInvalid)
	require.ErrorIs(t, caused, errCause)
	require.Equal(t, "invalid value", caused.Why())

	wrapped := fmt.Errorf("start connector x: %w", List{plain, caused})
	require.ErrorIs(t, wrapped, errCause)
	var got *Error
	require.ErrorAs(t, wrapped, &got)
	require.Equal(t, "k", got.Key)
}

func TestFlatten(t *testing.T) {
	a, b := &Error{Key: "a"}, &Error{Key: "b"}
	require.Equal(t, List{a, b}, Flatten(fmt.Errorf("ctx: %w", List{a, b})))
	require.Equal(t, List{a, b, a}, Flatten(errors.Join(a, errors.New("other"), fmt.Errorf("x: %w", List{b, a}))))
	require.Nil(t, Flatten(errors.New("x")))
	require.Nil(t, Flatten(nil))
}

func TestPrefix(t *testing.T) {
	orig := &Error{Key: "regex", Value: "(", Reason: "bad", Err: errCause}
	err := Prefix(List{orig}, "transforms.a.")
	es := Flatten(err)
	require.Len(t, es, 1)
	require.Equal(t, "transforms.a.regex", es[0].Key)
	require.Equal(t, "regex", orig.Key, "Prefix copies, never changes in place")
	require.ErrorIs(t, err, errCause)
	require.NoError(t, Prefix(nil, "x."))

	plain := Prefix(errors.New("boom"), "transforms.b.")
	require.Equal(t, "transforms.b: boom", plain.Error())
	require.ErrorIs(t, plain, ErrInvalid)
}
