package retryafter

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Parse reads a Retry-After value received at now: delay-seconds or an HTTP-date (IMF-fixdate, or the obsolete
// RFC 850 and asctime forms, which a recipient must also accept). It is 0 when v is empty, unreadable (digits
// beyond int64 included), zero or negative, or a date not after now. A delay too long for a time.Duration is the
// longest Duration.
func Parse(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > int64(math.MaxInt64/time.Second) {
			return math.MaxInt64
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now) // saturates for a date past the longest Duration
	}
	return 0
}
