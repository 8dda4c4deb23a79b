package providers

import (
	"fmt"
	"strings"
)

// placeholder is one ${provider:arg} found in a value.
type placeholder struct {
	raw      string // as written, "${file:/etc/db.properties:password}"
	provider string // "file"
	arg      string // "/etc/db.properties:password"
}

// segment is a piece of a parsed value: literal text (escapes already undone) or a placeholder.
type segment struct {
	text string
	ph   *placeholder
}

// parse splits a value into literal text and placeholders.
//
// A placeholder is "${", a provider name of letters, digits, '_', '-' or '.', a ':', an
// argument and the first following "}" (placeholders do not nest). "${" not followed by a
// provider name and ':' is literal text, so values such as TimestampRouter's
// "${topic}-${timestamp}" pass through unchanged. "$${" is a literal "${" and starts no
// placeholder. The only error is a placeholder without its closing brace.
func parse(s string) ([]segment, error) {
	var segs []segment
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			segs = append(segs, segment{text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		if s[i] != '$' {
			next := strings.IndexByte(s[i:], '$')
			if next < 0 {
				lit.WriteString(s[i:])
				break
			}
			lit.WriteString(s[i : i+next])
			i += next
			continue
		}
		if strings.HasPrefix(s[i:], "$${") {
			lit.WriteString("${")
			i += 3
			continue
		}
		if strings.HasPrefix(s[i:], "${") {
			j := i + 2
			for j < len(s) && isProviderByte(s[j]) {
				j++
			}
			if j > i+2 && j < len(s) && s[j] == ':' {
				end := strings.IndexByte(s[j+1:], '}')
				if end < 0 {
					return nil, fmt.Errorf("%w: %q has no closing '}'", ErrSyntax, s[i:min(len(s), j+1)]+"...")
				}
				flush()
				stop := j + 1 + end
				segs = append(segs, segment{ph: &placeholder{raw: s[i : stop+1], provider: s[i+2 : j], arg: s[j+1 : stop]}})
				i = stop + 1
				continue
			}
		}
		lit.WriteByte('$')
		i++
	}
	flush()
	return segs, nil
}

func isProviderByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
}

// HasPlaceholder reports whether v holds at least one well-formed placeholder.
func HasPlaceholder(v string) bool {
	if !strings.Contains(v, "${") {
		return false
	}
	segs, err := parse(v)
	if err != nil {
		return false
	}
	for _, s := range segs {
		if s.ph != nil {
			return true
		}
	}
	return false
}

// onlyPlaceholders reports whether v is one or more placeholders and nothing else.
func onlyPlaceholders(v string) bool {
	segs, err := parse(v)
	if err != nil || len(segs) == 0 {
		return false
	}
	for _, s := range segs {
		if s.ph == nil {
			return false
		}
	}
	return true
}
