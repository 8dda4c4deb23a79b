package providers

import (
	"errors"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
)

// Sentinels wrapped by every error Resolve returns; match them with errors.Is.
var (
	// ErrSyntax: a placeholder is unterminated or has an empty argument.
	ErrSyntax = errors.New("malformed placeholder")
	// ErrUnknownProvider: the placeholder names a provider other than env or file.
	ErrUnknownProvider = errors.New("unknown config provider")
	// ErrNotFound: the environment variable, file or key does not exist (or cannot be read).
	ErrNotFound = errors.New("config provider value not found")
	// ErrNotAllowed: the file is not one ${file:...} may read: not an absolute path, not a
	// regular file, over the size cap, or outside the allowed directories.
	ErrNotAllowed = errors.New("config provider file not allowed")
)

// keyError is the *cfgerr.Error for the value of key that could not be resolved:
// `key: placeholder: reason`. It names the connector config key and the placeholder, never a
// resolved value or a file's content, so it is safe in REST answers, task traces and logs. err
// wraps one of the sentinels.
func keyError(key, placeholder string, err error) *cfgerr.Error {
	e := &cfgerr.Error{Key: key, Err: err, ValueFirst: true}
	if placeholder != "" {
		e.Reason = placeholder + ": " + err.Error()
	}
	return e
}
