package transforms

import (
	"fmt"
	"strings"
	"time"
)

// javaLayout is a java.text.SimpleDateFormat pattern translated to a Go
// time layout. Supported letters: y M d H h m s S E a z Z X D; text in single
// quotes is literal (” is a quote). Times are formatted and parsed in UTC.
type javaLayout struct {
	pattern string
	goFmt   string
}

func parseJavaLayout(p string) (javaLayout, error) {
	var b strings.Builder
	for i := 0; i < len(p); {
		c := p[i]
		if c == '\'' {
			j := i + 1
			if j < len(p) && p[j] == '\'' {
				b.WriteByte('\'')
				i += 2
				continue
			}
			var lit strings.Builder
			closed := false
			for j < len(p) {
				if p[j] == '\'' {
					if j+1 < len(p) && p[j+1] == '\'' {
						lit.WriteByte('\'')
						j += 2
						continue
					}
					closed = true
					break
				}
				lit.WriteByte(p[j])
				j++
			}
			if !closed {
				return javaLayout{}, fmt.Errorf("unterminated quote in date pattern %q", p)
			}
			if strings.ContainsAny(lit.String(), "0123456789") {
				return javaLayout{}, fmt.Errorf("digits in quoted text are not supported in date pattern %q", p)
			}
			b.WriteString(lit.String())
			i = j + 1
			continue
		}
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			if c >= '0' && c <= '9' {
				return javaLayout{}, fmt.Errorf("digits are not supported in date pattern %q", p)
			}
			b.WriteByte(c)
			i++
			continue
		}
		n := 1
		for i+n < len(p) && p[i+n] == c {
			n++
		}
		var tok string
		switch c {
		case 'y':
			tok = "2006"
			if n == 2 {
				tok = "06"
			}
		case 'M':
			tok = map[int]string{1: "1", 2: "01", 3: "Jan"}[min(n, 4)]
			if n >= 4 {
				tok = "January"
			}
		case 'd':
			tok = "2"
			if n >= 2 {
				tok = "02"
			}
		case 'H':
			tok = "15"
		case 'h':
			tok = "3"
			if n >= 2 {
				tok = "03"
			}
		case 'm':
			tok = "4"
			if n >= 2 {
				tok = "04"
			}
		case 's':
			tok = "5"
			if n >= 2 {
				tok = "05"
			}
		case 'S':
			prev := b.String()
			if !strings.HasSuffix(prev, ".") && !strings.HasSuffix(prev, ",") {
				return javaLayout{}, fmt.Errorf("fraction-of-second letter S must follow '.' or ',' in date pattern %q", p)
			}
			tok = strings.Repeat("0", min(n, 9))
		case 'E':
			tok = "Mon"
			if n >= 4 {
				tok = "Monday"
			}
		case 'a':
			tok = "PM"
		case 'z':
			tok = "MST"
		case 'Z':
			tok = "-0700"
		case 'X':
			tok = map[int]string{1: "Z07", 2: "Z0700", 3: "Z07:00"}[min(n, 3)]
		case 'D':
			tok = "002"
		default:
			return javaLayout{}, fmt.Errorf("unsupported letter %q in date pattern %q", c, p)
		}
		b.WriteString(tok)
		i += n
	}
	return javaLayout{pattern: p, goFmt: b.String()}, nil
}

func (l javaLayout) format(t time.Time) string { return t.UTC().Format(l.goFmt) }

func (l javaLayout) parse(s string) (time.Time, error) {
	t, err := time.ParseInLocation(l.goFmt, s, time.UTC)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q does not match date pattern %q", s, l.pattern)
	}
	return t.UTC(), nil
}
