package position

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// ErrBadPosition means an offset field is missing its integer value or holds something else.
var ErrBadPosition = errors.New("bad committed position")

// Int64 returns off[key] as a non-negative integer. ok is false when off is nil (nothing committed). A
// present offset whose key is missing, negative or not an integer gives an error wrapping ErrBadPosition.
func Int64(off map[string]any, key string) (n int64, ok bool, err error) {
	n, ok, err = SignedInt64(off, key)
	if err == nil && n < 0 {
		return 0, false, fmt.Errorf("%w: %s=%d", ErrBadPosition, key, n)
	}
	return n, ok, err
}

// SignedInt64 is Int64 for a field that may be negative, such as a value copied from a database column.
func SignedInt64(off map[string]any, key string) (n int64, ok bool, err error) {
	if off == nil {
		return 0, false, nil
	}
	switch v := off[key].(type) {
	case int64:
		n = v
	case int:
		n = int64(v)
	case int32:
		n = int64(v)
	case float64:
		if v != math.Trunc(v) || v >= math.MaxInt64 || v < math.MinInt64 { // float64(MaxInt64) is 2^63
			return 0, false, fmt.Errorf("%w: %s=%v", ErrBadPosition, key, v)
		}
		n = int64(v)
	case json.Number:
		if n, err = v.Int64(); err != nil {
			return 0, false, fmt.Errorf("%w: %s=%v", ErrBadPosition, key, v)
		}
	case string:
		if n, err = strconv.ParseInt(v, 10, 64); err != nil {
			return 0, false, fmt.Errorf("%w: %s=%q", ErrBadPosition, key, v)
		}
	default:
		return 0, false, fmt.Errorf("%w: %s=%v (%T)", ErrBadPosition, key, v, v)
	}
	return n, true, nil
}
