package remoting

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// decodeJSONHeader reads the JSON header brokers and name servers answer with (a flat
// object: code, language, version, opaque, flag, remark, extFields of string values, and
// fields this client does not use) without reflection: the strings are cut from one copy
// of h. It returns false, having possibly set some of c's fields, for anything beyond
// that shape (escapes in a string, a nested value where none is expected, bad JSON), which
// the caller then decodes with encoding/json.
func decodeJSONHeader(h []byte, c *Command) bool {
	s := string(h)
	p := &jsonScan{s: s}
	if !p.consume('{') {
		return false
	}
	if p.consume('}') {
		return p.end()
	}
	for {
		key, ok := p.str()
		if !ok || !p.consume(':') {
			return false
		}
		switch key {
		case "code", "version", "opaque", "flag":
			n, ok := p.int()
			if !ok {
				return false
			}
			switch key {
			case "code":
				c.Code = n
			case "version":
				c.Version = n
			case "opaque":
				c.Opaque = int32(n)
			case "flag":
				c.Flag = n
			}
		case "language", "remark":
			v, ok := p.strOrNull()
			if !ok {
				return false
			}
			if key == "language" {
				c.Language = v
			} else {
				c.Remark = v
			}
		case "extFields":
			if !p.ext(c) {
				return false
			}
		default:
			if knownField(key) {
				return false // encoding/json matches field names regardless of case
			}
			if !p.scalar() {
				return false
			}
		}
		if p.consume('}') {
			return p.end()
		}
		if !p.consume(',') {
			return false
		}
	}
}

func knownField(key string) bool {
	for _, f := range []string{"code", "version", "opaque", "flag", "language", "remark", "extFields"} {
		if strings.EqualFold(key, f) {
			return true
		}
	}
	return false
}

type jsonScan struct {
	s   string
	pos int
}

func (p *jsonScan) ws() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonScan) consume(c byte) bool {
	p.ws()
	if p.pos < len(p.s) && p.s[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

func (p *jsonScan) end() bool {
	p.ws()
	return p.pos == len(p.s)
}

// str reads a string without escapes, control characters or invalid UTF-8 (which
// encoding/json would replace).
func (p *jsonScan) str() (string, bool) {
	if !p.consume('"') {
		return "", false
	}
	start := p.pos
	ascii := true
	for p.pos < len(p.s) {
		switch c := p.s[p.pos]; {
		case c == '"':
			v := p.s[start:p.pos]
			p.pos++
			return v, ascii || utf8.ValidString(v)
		case c == '\\' || c < 0x20:
			return "", false
		case c >= 0x80:
			ascii = false
		}
		p.pos++
	}
	return "", false
}

func (p *jsonScan) literal(lit string) bool {
	p.ws()
	if len(p.s)-p.pos >= len(lit) && p.s[p.pos:p.pos+len(lit)] == lit {
		p.pos += len(lit)
		return true
	}
	return false
}

func (p *jsonScan) strOrNull() (string, bool) {
	if p.literal("null") {
		return "", true
	}
	return p.str()
}

// int reads an integer that fits in 32 bits, as the header's numbers are.
func (p *jsonScan) int() (int, bool) {
	num, ok := p.number()
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(num, 10, 32)
	return int(n), err == nil
}

// number reads a JSON number: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
func (p *jsonScan) number() (string, bool) {
	p.ws()
	start := p.pos
	digits := func() int {
		n := 0
		for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if p.pos < len(p.s) && p.s[p.pos] == '-' {
		p.pos++
	}
	intStart := p.pos
	if n := digits(); n == 0 || n > 1 && p.s[intStart] == '0' {
		return "", false
	}
	if p.pos < len(p.s) && p.s[p.pos] == '.' {
		p.pos++
		if digits() == 0 {
			return "", false
		}
	}
	if p.pos < len(p.s) && (p.s[p.pos] == 'e' || p.s[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.s) && (p.s[p.pos] == '+' || p.s[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			return "", false
		}
	}
	return p.s[start:p.pos], true
}

// scalar skips a string, number, true, false or null.
func (p *jsonScan) scalar() bool {
	p.ws()
	if p.pos >= len(p.s) {
		return false
	}
	switch c := p.s[p.pos]; {
	case c == '"':
		_, ok := p.str()
		return ok
	case c == '-' || c >= '0' && c <= '9':
		_, ok := p.number()
		return ok
	default:
		return p.literal("true") || p.literal("false") || p.literal("null")
	}
}

// ext reads extFields: null or an object of string values (a later duplicate wins, as in
// encoding/json).
func (p *jsonScan) ext(c *Command) bool {
	if p.literal("null") {
		return true
	}
	if !p.consume('{') {
		return false
	}
	if c.ExtFields == nil {
		c.ExtFields = make(map[string]string, 8)
	}
	if p.consume('}') {
		return true
	}
	for {
		k, ok := p.str()
		if !ok || !p.consume(':') {
			return false
		}
		v, ok := p.str()
		if !ok {
			return false
		}
		c.ExtFields[k] = v
		if p.consume('}') {
			return true
		}
		if !p.consume(',') {
			return false
		}
	}
}
