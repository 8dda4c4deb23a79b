package transforms

import (
	"fmt"
	"strings"
	"time"
)

// javaLayout is a java.text.SimpleDateFormat pattern translated to a Go
// time layout. Supported letters: y M d H h m s S E a z Z X D; text in single
// quotes is literal (” is a quote). Times are formatted and parsed in UTC.
//
// Parsing with z (a zone name) and no numeric zone letter reads only UTC and
// GMT; any other name is an error naming it. Go does not know what PST or CEST
// means (it would read the wall clock as UTC, a silent shift of hours), and
// an abbreviation is not one zone anyway (CST is US Central, China or Cuba;
// IST India, Israel or Ireland), so the error points to a numeric offset
// pattern (X, XXX or Z) instead of guessing. Go also misreads GMT+3
// (golang/go#56392) and +03, so those are errors too. Formatting with z
// writes UTC.
type javaLayout struct {
	pattern string
	goFmt   string
	// zoneName is set when the pattern has z; zoneOffset when it has Z or X, whose offset then decides.
	zoneName, zoneOffset bool
}

func parseJavaLayout(p string) (javaLayout, error) {
	var (
		b                    strings.Builder
		zoneName, zoneOffset bool
	)
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
			tok, zoneName = "MST", true
		case 'Z':
			tok, zoneOffset = "-0700", true
		case 'X':
			tok, zoneOffset = map[int]string{1: "Z07", 2: "Z0700", 3: "Z07:00"}[min(n, 3)], true
		case 'D':
			tok = "002"
		default:
			return javaLayout{}, fmt.Errorf("unsupported letter %q in date pattern %q", c, p)
		}
		b.WriteString(tok)
		i += n
	}
	return javaLayout{pattern: p, goFmt: b.String(), zoneName: zoneName, zoneOffset: zoneOffset}, nil
}

func (l javaLayout) format(t time.Time) string { return t.UTC().Format(l.goFmt) }

func (l javaLayout) parse(s string) (time.Time, error) {
	t, err := time.ParseInLocation(l.goFmt, s, time.UTC)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q does not match date pattern %q", s, l.pattern)
	}
	// Only UTC (which Go resolves to time.UTC) and GMT are read right; any other name Go keeps with a made-up
	// offset and the wall clock taken as UTC.
	if name, _ := t.Zone(); l.zoneName && !l.zoneOffset && t.Location() != time.UTC && name != "GMT" {
		return time.Time{}, fmt.Errorf("%q: time zone %q is not understood by pattern letter z in %q, which reads only UTC and GMT "+
			"(an abbreviation names no single offset); use a numeric offset pattern such as X, XXX or Z", s, name, l.pattern)
	}
	return t.UTC(), nil
}
