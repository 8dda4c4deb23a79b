package httpconn

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/rmqconnect/rmqconnect/plugins"
)

// statusRange is the status codes lo to hi, both included.
type statusRange struct{ lo, hi int }

// tryLater are the 4xx statuses that ask for the request again later (Request Timeout, Too Many
// Requests; retried, errors.go): a range such as 400-499 does not take them, as they say nothing
// about the records. Listed on their own, they count.
var tryLater = []int{408, 429}

// statusSet is a set of HTTP status codes written as codes and ranges; nil holds none.
type statusSet []statusRange

func (s statusSet) has(code int) bool {
	for _, r := range s {
		if code >= r.lo && code <= r.hi && (r.lo == r.hi || !slices.Contains(tryLater, code)) {
			return true
		}
	}
	return false
}

// parseStatuses reads the elements of record.error.statuses: codes ("404") and ranges ("409-410") of
// statuses 400 to 599; a range leaves out 408 and 429 (tryLater). The error names the first bad
// element.
func parseStatuses(elems []string) (statusSet, error) {
	var s statusSet
	for _, e := range elems {
		r, err := parseStatusRange(e)
		if err != nil {
			return nil, fmt.Errorf("element %q: %v", e, err)
		}
		s = append(s, r)
	}
	return s, nil
}

func parseStatusRange(e string) (statusRange, error) {
	lo, hi, isRange := strings.Cut(e, "-")
	if !isRange {
		hi = lo
	}
	a, err := statusCode(strings.TrimSpace(lo))
	if err != nil {
		return statusRange{}, err
	}
	b, err := statusCode(strings.TrimSpace(hi))
	if err != nil {
		return statusRange{}, err
	}
	if a > b {
		return statusRange{}, fmt.Errorf("range from %d down to %d (write the lower code first)", a, b)
	}
	return statusRange{a, b}, nil
}

// statusCode reads a status code of three digits between 400 and 599: only those say that a request
// failed, and only a failure can be the record's.
func statusCode(s string) (int, error) {
	if len(s) != 3 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("not a status code (three digits, e.g. 404) or a range of them (e.g. 409-410)")
	}
	n, _ := strconv.Atoi(s)
	if n < 400 || n > 599 {
		return 0, fmt.Errorf("status %d is not between 400 and 599", n)
	}
	return n, nil
}

// statusesValidator checks record.error.statuses in the spec, so the error names the key and the value.
func statusesValidator() plugins.Validator {
	return plugins.Custom("status codes and ranges between 400 and 599, e.g. 404,405,460-469", func(v any) error {
		elems, _ := v.([]string)
		_, err := parseStatuses(elems)
		return err
	})
}
