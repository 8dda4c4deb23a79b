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
		// each field's Go token and the literal text before it, to check the layout below.
		pieces []layoutPiece
		lit0   int // start in b of the literal text not yet in pieces
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
		pieces = append(pieces, layoutPiece{literal: b.String()[lit0:], token: tok, fraction: c == 'S'})
		b.WriteString(tok)
		lit0 = b.Len()
		i += n
	}
	pieces = append(pieces, layoutPiece{literal: b.String()[lit0:]})
	if !layoutKeepsLiterals(b.String(), pieces) {
		return javaLayout{}, fmt.Errorf("literal text in date pattern %q would be read as a date field (an underscore before d, "+
			"or quoted text such as 'Mon' or 'PM'); use another separator or dd", p)
	}
	return javaLayout{pattern: p, goFmt: b.String(), zoneName: zoneName, zoneOffset: zoneOffset}, nil
}

// layoutPiece is a field of a pattern with the literal text before it (the last piece has no field).
type layoutPiece struct {
	literal, token string
	fraction       bool // token is digits of a fraction of a second, written after the '.' or ',' in literal
}

// layoutKeepsLiterals reports whether Go reads goFmt as the pattern means: its literal text as text and each field as
// that field alone. Go layouts cannot escape text, so text that spells a Go element next to or inside it ("_" then
// the "2" of d is Go's space-padded day; 'Mon', 'PM' and 'MST' are Go's weekday, AM/PM and zone) would silently
// come out as a date part. The check formats two times (one AM, one PM; single-digit days) whole and piece by piece.
func layoutKeepsLiterals(goFmt string, pieces []layoutPiece) bool {
	for _, ref := range []time.Time{
		time.Date(2031, 11, 9, 14, 37, 49, 123456789, time.UTC),
		time.Date(2002, 3, 4, 5, 6, 7, 89e6, time.UTC),
	} {
		var want strings.Builder
		for _, pc := range pieces {
			want.WriteString(pc.literal)
			switch {
			case pc.fraction:
				want.WriteString(ref.Format("." + pc.token)[1:]) // Go knows a fraction only after its '.'
			case pc.token != "":
				want.WriteString(ref.Format(pc.token))
			}
		}
		if ref.Format(goFmt) != want.String() {
			return false
		}
	}
	return true
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
