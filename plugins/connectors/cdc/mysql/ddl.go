package mysql

import (
	"strings"
	"unicode"
)

// ddlTarget is what a DDL statement changes: tables (db, name) whose schema must be read
// again, and databases dropped whole.
type ddlTarget struct {
	tables  [][2]string
	dropDBs []string
	// alter holds the specifications of an ALTER TABLE (after the table's name, whose
	// schema is tables[0]); a table renamed by it is tables[1].
	alter []token
	// create holds what follows CREATE TABLE name.
	create []token
	// drop: the tables are dropped; rename: tables holds (from, to) pairs.
	drop, rename bool
}

// token is one lexical unit of a statement: an identifier or keyword (word), with quoted
// marking a `back-quoted` identifier (never a keyword), or a punctuation character.
type token struct {
	text   string
	quoted bool
	str    bool // a string literal; text is its value
}

func (t token) is(kw string) bool { return !t.quoted && !t.str && strings.EqualFold(t.text, kw) }

func (t token) punct(c string) bool { return !t.quoted && !t.str && t.text == c }

// tokenize splits a statement into words, string literals and punctuation, dropping
// comments and whitespace.
func tokenize(q string) []token {
	var out []token
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#' || (c == '-' && strings.HasPrefix(q[i:], "-- ")):
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case strings.HasPrefix(q[i:], "/*"):
			end := strings.Index(q[i+2:], "*/")
			if end < 0 {
				return out
			}
			i += end + 4
		case c == '\'' || c == '"':
			var b strings.Builder
			j := i + 1
			for j < len(q) {
				if q[j] == '\\' && j+1 < len(q) {
					b.WriteByte(q[j+1])
					j += 2
					continue
				}
				if q[j] == c {
					if j+1 < len(q) && q[j+1] == c {
						b.WriteByte(c)
						j += 2
						continue
					}
					break
				}
				b.WriteByte(q[j])
				j++
			}
			out = append(out, token{text: b.String(), str: true})
			i = j + 1
		case c == '`':
			var b strings.Builder
			j := i + 1
			for j < len(q) {
				if q[j] == '`' {
					if j+1 < len(q) && q[j+1] == '`' {
						b.WriteByte('`')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(q[j])
				j++
			}
			out = append(out, token{text: b.String(), quoted: true})
			i = j + 1
		case isWordByte(c):
			j := i
			for j < len(q) && isWordByte(q[j]) {
				j++
			}
			out = append(out, token{text: q[i:j]})
			i = j
		default:
			out = append(out, token{text: q[i : i+1]})
			i++
		}
	}
	return out
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 || unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c))
}

// parseDDL recognises the statements that change a table's columns or key, or remove tables:
// CREATE/ALTER/DROP/RENAME TABLE, CREATE/DROP INDEX (a primary key may change), DROP
// DATABASE. Unqualified names belong to defaultDB (the statement's current database). ok is
// false for every other statement.
func parseDDL(q, defaultDB string) (ddlTarget, bool) {
	p := &ddlParser{toks: tokenize(q), db: defaultDB}
	var d ddlTarget
	switch {
	case p.accept("CREATE"):
		p.accept("OR", "REPLACE")
		p.skipAny("TEMPORARY", "UNIQUE", "FULLTEXT", "SPATIAL", "ONLINE", "OFFLINE")
		switch {
		case p.accept("TABLE"):
			p.accept("IF", "NOT", "EXISTS")
			if n, ok := p.name(); ok {
				d.tables = append(d.tables, n)
				d.create = p.toks[p.i:]
			}
		case p.accept("INDEX"):
			return p.indexOn(d)
		case p.accept("DATABASE"), p.accept("SCHEMA"):
			return d, false
		}
	case p.accept("ALTER"):
		p.skipAny("ONLINE", "IGNORE")
		if !p.accept("TABLE") {
			return d, false
		}
		p.accept("IF", "EXISTS")
		n, ok := p.name()
		if !ok {
			return d, false
		}
		d.tables = append(d.tables, n)
		d.alter = p.toks[p.i:]
		// ALTER TABLE a RENAME [TO|AS] b (not RENAME COLUMN/INDEX/KEY), at parenthesis depth 0.
		depth := 0
		for p.i < len(p.toks) {
			tk := p.toks[p.i]
			p.i++
			switch {
			case tk.punct("("):
				depth++
			case tk.punct(")"):
				depth--
			case depth == 0 && tk.is("RENAME"):
				if p.peekIs("COLUMN") || p.peekIs("INDEX") || p.peekIs("KEY") {
					continue
				}
				if !p.accept("TO") {
					p.accept("AS")
				}
				if n, ok := p.name(); ok {
					d.tables = append(d.tables, n)
				}
			}
		}
	case p.accept("DROP"):
		p.skipAny("TEMPORARY")
		switch {
		case p.accept("TABLE"):
			p.accept("IF", "EXISTS")
			d.drop = true
			for {
				n, ok := p.name()
				if !ok {
					break
				}
				d.tables = append(d.tables, n)
				if !p.accept(",") {
					break
				}
			}
		case p.accept("INDEX"):
			p.skipAny("ONLINE", "OFFLINE")
			return p.indexOn(d)
		case p.accept("DATABASE"), p.accept("SCHEMA"):
			p.accept("IF", "EXISTS")
			if p.i < len(p.toks) {
				d.dropDBs = append(d.dropDBs, p.toks[p.i].text)
			}
			return d, len(d.dropDBs) > 0
		}
	case p.accept("RENAME"):
		if !p.accept("TABLE") && !p.accept("TABLES") {
			return d, false
		}
		for {
			from, ok := p.name()
			if !ok {
				break
			}
			p.accept("WAIT")
			if !p.accept("TO") {
				break
			}
			to, ok := p.name()
			if !ok {
				break
			}
			d.tables = append(d.tables, from, to)
			d.rename = true
			if !p.accept(",") {
				break
			}
		}
	}
	return d, len(d.tables) > 0
}

type ddlParser struct {
	toks []token
	i    int
	db   string
}

// accept consumes the keywords kws in order if the next tokens are them.
func (p *ddlParser) accept(kws ...string) bool {
	if p.i+len(kws) > len(p.toks) {
		return false
	}
	for j, kw := range kws {
		if !p.toks[p.i+j].is(kw) {
			return false
		}
	}
	p.i += len(kws)
	return true
}

func (p *ddlParser) skipAny(kws ...string) {
	for p.i < len(p.toks) {
		found := false
		for _, kw := range kws {
			if p.toks[p.i].is(kw) {
				found = true
				break
			}
		}
		if !found {
			return
		}
		p.i++
	}
}

func (p *ddlParser) peekIs(kw string) bool { return p.i < len(p.toks) && p.toks[p.i].is(kw) }

// name reads [db.]table.
func (p *ddlParser) name() ([2]string, bool) {
	first, ok := p.ident()
	if !ok {
		return [2]string{}, false
	}
	if p.i < len(p.toks) && p.toks[p.i].punct(".") {
		p.i++
		second, ok := p.ident()
		if !ok {
			return [2]string{}, false
		}
		return [2]string{first, second}, true
	}
	return [2]string{p.db, first}, true
}

func isWord(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isWordByte(s[i]) {
			return false
		}
	}
	return true
}

// indexOn finishes CREATE/DROP INDEX name ON table.
func (p *ddlParser) indexOn(d ddlTarget) (ddlTarget, bool) {
	p.accept("IF", "NOT", "EXISTS")
	p.accept("IF", "EXISTS")
	if _, ok := p.name(); !ok {
		return d, false
	}
	if !p.accept("ON") {
		return d, false
	}
	if n, ok := p.name(); ok {
		d.tables = append(d.tables, n)
	}
	return d, len(d.tables) > 0
}
