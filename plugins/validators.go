package plugins

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Validator checks a parsed value. Validate returns the reason a value is
// rejected (the caller adds the key and value); String describes the valid
// values for docs.
type Validator interface {
	Validate(v any) error
	String() string
}

type validatorFunc struct {
	desc string
	fn   func(any) error
}

func (f validatorFunc) Validate(v any) error { return f.fn(v) }
func (f validatorFunc) String() string       { return f.desc }

// Custom builds a Validator from a function; desc documents the valid values.
func Custom(desc string, fn func(v any) error) Validator {
	return validatorFunc{desc: desc, fn: fn}
}

func asFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// Between accepts INT, LONG and DOUBLE values in [lo, hi].
func Between(lo, hi float64) Validator {
	return validatorFunc{desc: fmt.Sprintf("[%v, ..., %v]", lo, hi), fn: func(v any) error {
		f, ok := asFloat(v)
		if !ok {
			return fmt.Errorf("not a number")
		}
		if f < lo || f > hi {
			return fmt.Errorf("must be between %v and %v", lo, hi)
		}
		return nil
	}}
}

// AtLeast accepts INT, LONG and DOUBLE values ≥ lo.
func AtLeast(lo float64) Validator {
	return validatorFunc{desc: fmt.Sprintf("[%v, ...]", lo), fn: func(v any) error {
		f, ok := asFloat(v)
		if !ok {
			return fmt.Errorf("not a number")
		}
		if f < lo {
			return fmt.Errorf("must be at least %v", lo)
		}
		return nil
	}}
}

// DurationBetween accepts DURATION values in [lo, hi].
func DurationBetween(lo, hi time.Duration) Validator {
	return validatorFunc{desc: fmt.Sprintf("[%v, ..., %v]", lo, hi), fn: func(v any) error {
		d, ok := v.(time.Duration)
		if !ok {
			return fmt.Errorf("not a duration")
		}
		if d < lo || d > hi {
			return fmt.Errorf("must be between %v and %v", lo, hi)
		}
		return nil
	}}
}

// strings of a STRING, CLASS, PASSWORD or LIST value.
func stringsOf(v any) ([]string, bool) {
	switch s := v.(type) {
	case string:
		return []string{s}, true
	case Password:
		return []string{string(s)}, true
	case []string:
		return s, true
	}
	return nil, false
}

// OneOf accepts strings (or every item of a list) equal to one of allowed,
// ignoring case as Kafka's CaseInsensitiveValidString does. ConfigSpec.Parse
// then gives the value as allowed spells it, so that code comparing it with
// the allowed spelling reads "LISTEN" as "listen" (a listen.auth of "Secret"
// compared unequal to "secret" and left a webhook without authentication).
func OneOf(allowed ...string) Validator {
	return oneOf{allowed: allowed}
}

type oneOf struct{ allowed []string }

func (o oneOf) String() string { return "one of " + strings.Join(o.allowed, ", ") }

func (o oneOf) Validate(v any) error {
	ss, ok := stringsOf(v)
	if !ok {
		return fmt.Errorf("not a string")
	}
	for _, s := range ss {
		if _, ok := o.spelling(s); !ok {
			return fmt.Errorf("%q is not one of %s", s, strings.Join(o.allowed, ", "))
		}
	}
	return nil
}

// spelling returns the allowed value s matches, as allowed spells it.
func (o oneOf) spelling(s string) (string, bool) {
	if i := slices.Index(o.allowed, s); i >= 0 {
		return s, true
	}
	i := slices.IndexFunc(o.allowed, func(a string) bool { return strings.EqualFold(a, s) })
	if i < 0 {
		return "", false
	}
	return o.allowed[i], true
}

// canonical returns a valid v (a string or a list of them) spelled as allowed.
func (o oneOf) canonical(v any) any {
	switch t := v.(type) {
	case string:
		if c, ok := o.spelling(t); ok {
			return c
		}
	case []string:
		out := make([]string, len(t))
		for i, s := range t {
			out[i] = s
			if c, ok := o.spelling(s); ok {
				out[i] = c
			}
		}
		return out
	}
	return v
}

// MatchesRegex accepts strings (or every list item) fully matching pattern.
// It panics if pattern does not compile (a programming error). Bound a length with
// MaxLength rather than a counted repetition: `[a-z]{1,127}` compiles into a program of
// ~120 KB that the spec keeps for good, `[a-z]+` into one of ~3 KB.
func MatchesRegex(pattern string) Validator {
	re := regexp.MustCompile(`^(?:` + pattern + `)$`)
	return validatorFunc{desc: "matches " + pattern, fn: func(v any) error {
		ss, ok := stringsOf(v)
		if !ok {
			return fmt.Errorf("not a string")
		}
		for _, s := range ss {
			if !re.MatchString(s) {
				return fmt.Errorf("does not match %s", pattern)
			}
		}
		return nil
	}}
}

// MaxLength accepts strings (or every list item) of at most n bytes.
func MaxLength(n int) Validator {
	return validatorFunc{desc: fmt.Sprintf("at most %d characters", n), fn: func(v any) error {
		ss, ok := stringsOf(v)
		if !ok {
			return fmt.Errorf("not a string")
		}
		for _, s := range ss {
			if len(s) > n {
				return fmt.Errorf("longer than %d characters", n)
			}
		}
		return nil
	}}
}

// IsRegex accepts strings that compile as Go (RE2) regular expressions.
func IsRegex() Validator {
	return validatorFunc{desc: "a regular expression (RE2 syntax)", fn: func(v any) error {
		ss, ok := stringsOf(v)
		if !ok {
			return fmt.Errorf("not a string")
		}
		for _, s := range ss {
			if _, err := regexp.Compile(s); err != nil {
				return fmt.Errorf("invalid regular expression: %v", err)
			}
		}
		return nil
	}}
}

// NonEmpty rejects empty (or blank) strings and empty lists.
func NonEmpty() Validator {
	return validatorFunc{desc: "non-empty", fn: func(v any) error {
		switch s := v.(type) {
		case string:
			if strings.TrimSpace(s) == "" {
				return fmt.Errorf("must not be empty")
			}
		case Password:
			if s == "" {
				return fmt.Errorf("must not be empty")
			}
		case []string:
			if len(s) == 0 {
				return fmt.Errorf("must not be empty")
			}
		}
		return nil
	}}
}
