package httpconn

import "strings"

// linkNext returns the target of the first link of relation type "next" in Link header values (RFC 8288 §3),
// "" when there is none. A header value is a comma-separated list of link-values, each a URI-reference in <>
// followed by ';'-separated parameters whose values are tokens or quoted strings: a comma or a semicolon inside
// <> or inside a quoted string separates nothing. rel holds space-separated relation types, compared without
// regard to case; a link's rel after its first is ignored (§3.3). A malformed link-value is skipped up to the next
// comma outside a quoted string.
func linkNext(values []string) string {
	for _, v := range values {
		for s := v; s != ""; {
			target, rel, rest, ok := nextLinkValue(s)
			if ok && hasRelType(rel, "next") {
				return target
			}
			s = rest
		}
	}
	return ""
}

// nextLinkValue reads the link-value at the start of s (after white space and empty list elements): its target,
// its first rel parameter's value, and what follows its terminating comma. ok is false for a malformed one.
func nextLinkValue(s string) (target, rel, rest string, ok bool) {
	s = strings.TrimLeft(s, " \t,")
	if s == "" {
		return "", "", "", false
	}
	if s[0] != '<' {
		return "", "", skipLinkValue(s), false
	}
	end := strings.IndexByte(s, '>')
	if end < 0 {
		return "", "", "", false // the URI-reference never ends: nothing after it can be read
	}
	if inner := strings.IndexByte(s[1:end], '<'); inner >= 0 {
		return "", "", s[1+inner:], false // no '>' closed this one: a URI-reference holds no '<'
	}
	target, s = s[1:end], s[end+1:]
	relSeen := false
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return target, rel, "", true
		}
		switch s[0] {
		case ',':
			return target, rel, s[1:], true
		case ';':
		default:
			return "", "", skipLinkValue(s), false
		}
		// An empty parameter (`<u>; rel=next;`, `<u>;; rel=next`) is no parameter: servers send them.
		if t := strings.TrimLeft(s[1:], " \t"); t == "" || t[0] == ';' || t[0] == ',' {
			s = t
			continue
		}
		name, value, after, good := linkParam(s[1:])
		if !good {
			return "", "", skipLinkValue(after), false
		}
		if strings.EqualFold(name, "rel") && !relSeen {
			rel, relSeen = value, true
		}
		s = after
	}
}

// linkParam reads `token [= (token / quoted-string)]`, white space allowed around '=', at the start of s.
func linkParam(s string) (name, value, rest string, ok bool) {
	s = strings.TrimLeft(s, " \t")
	i := 0
	for i < len(s) && isTokenChar(s[i]) {
		i++
	}
	name, s = s[:i], strings.TrimLeft(s[i:], " \t")
	if name == "" {
		return "", "", s, false
	}
	if s == "" || s[0] != '=' {
		return name, "", s, true
	}
	s = strings.TrimLeft(s[1:], " \t")
	if s != "" && s[0] == '"' {
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			switch c := s[i]; c {
			case '"':
				return name, b.String(), s[i+1:], true
			case '\\':
				if i+1 < len(s) {
					i++
					b.WriteByte(s[i])
				}
			default:
				b.WriteByte(c)
			}
		}
		return "", "", "", false // an unterminated quoted string runs to the end of the header value
	}
	i = 0
	for i < len(s) && isTokenChar(s[i]) {
		i++
	}
	return name, s[:i], s[i:], true
}

// skipLinkValue returns what follows the first comma of s outside a quoted string ("" when there is none).
func skipLinkValue(s string) string {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == ',':
			return s[i+1:]
		}
	}
	return ""
}

// hasRelType reports whether the space-separated relation types of rel include typ, compared without regard to
// case.
func hasRelType(rel, typ string) bool {
	for r := range strings.FieldsSeq(rel) {
		if strings.EqualFold(r, typ) {
			return true
		}
	}
	return false
}

// isTokenChar reports whether c may appear in an HTTP token (RFC 9110 §5.6.2).
func isTokenChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
