package mysql

// dmlTables returns the tables a data-changing statement (INSERT, REPLACE, UPDATE, DELETE, or a CREATE
// TABLE … SELECT) may write to, as [db, table] with unqualified names in defaultDB, and whether q is one.
// A server logs such a statement as a query event only when the writing session's binlog_format is
// STATEMENT or MIXED: its changes then have no row events. For a multi-table UPDATE or DELETE every table
// named in its table references counts (an alias or a table only read may be among them): the answer may
// name more tables than are written, never fewer.
func dmlTables(q, defaultDB string) ([][2]string, bool) {
	p := &ddlParser{toks: tokenize(q), db: defaultDB}
	p.skipSetStatement()
	p.skipWith()
	switch {
	case p.accept("INSERT"):
		p.skipAny("LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "IGNORE")
		p.accept("INTO")
		return p.one()
	case p.accept("REPLACE"):
		p.skipAny("LOW_PRIORITY", "DELAYED")
		p.accept("INTO")
		return p.one()
	case p.accept("UPDATE"):
		p.skipAny("LOW_PRIORITY", "IGNORE")
		return p.tableRefs("SET"), true
	case p.accept("DELETE"):
		p.skipAny("LOW_PRIORITY", "QUICK", "IGNORE")
		// DELETE FROM t …, DELETE FROM t1, t2 USING refs …, DELETE t1, t2 FROM refs …: every name in
		// the statement's table references.
		return p.tableRefs("WHERE", "ORDER", "LIMIT", "RETURNING"), true
	case p.accept("CREATE"):
		p.accept("OR", "REPLACE")
		p.skipAny("TEMPORARY")
		if !p.accept("TABLE") {
			return nil, false
		}
		p.accept("IF", "NOT", "EXISTS")
		n, ok := p.name()
		if !ok {
			return nil, false
		}
		// Logged as rows, a CREATE TABLE … SELECT is the table's definition followed by row events;
		// logged as a statement, the SELECT is in it.
		for depth := 0; p.i < len(p.toks); p.i++ {
			switch tk := p.toks[p.i]; {
			case tk.punct("("):
				depth++
			case tk.punct(")"):
				depth--
			case depth == 0 && tk.is("SELECT"), depth == 1 && tk.is("SELECT") && p.toks[p.i-1].punct("("):
				return [][2]string{n}, true
			}
		}
	}
	return nil, false
}

// one reads the single table an INSERT or REPLACE writes to.
func (p *ddlParser) one() ([][2]string, bool) {
	n, ok := p.name()
	if !ok {
		return nil, false
	}
	return [][2]string{n}, true
}

// skipSetStatement skips MariaDB's leading SET STATEMENT var = value, … FOR, which is logged with the
// statement it prefixes.
func (p *ddlParser) skipSetStatement() {
	if !p.accept("SET", "STATEMENT") {
		return
	}
	for p.i < len(p.toks) {
		switch tk := p.toks[p.i]; {
		case tk.punct("("):
			p.skipGroup()
			continue
		case tk.is("FOR"):
			p.i++
			return
		}
		p.i++
	}
}

// skipWith skips a leading WITH [RECURSIVE] name [(columns)] AS (query), … clause (MySQL 8 allows one
// before UPDATE and DELETE).
func (p *ddlParser) skipWith() {
	if !p.accept("WITH") {
		return
	}
	p.accept("RECURSIVE")
	for p.i < len(p.toks) {
		p.i++ // the name
		if p.i < len(p.toks) && p.toks[p.i].punct("(") {
			p.skipGroup()
		}
		p.accept("AS")
		if p.i < len(p.toks) && p.toks[p.i].punct("(") {
			p.skipGroup()
		}
		if !p.accept(",") {
			return
		}
	}
}

// skipGroup skips a parenthesised group starting at the current token.
func (p *ddlParser) skipGroup() {
	for depth := 0; p.i < len(p.toks); {
		tk := p.toks[p.i]
		p.i++
		switch {
		case tk.punct("("):
			depth++
		case tk.punct(")"):
			if depth--; depth == 0 {
				return
			}
		}
	}
}

// tableRefs collects the names in table references up to one of the keywords ends outside parentheses:
// a name starts the references, or follows a comma, JOIN, FROM, USING or an opening parenthesis of
// nested references ((a JOIN b) …). A parenthesised query (a subquery or derived table) is only read and
// skipped.
func (p *ddlParser) tableRefs(ends ...string) [][2]string {
	var out [][2]string
	expect := true // a table name may come next
	depth := 0     // nested references entered
	for p.i < len(p.toks) {
		tk := p.toks[p.i]
		if depth == 0 {
			for _, e := range ends {
				if tk.is(e) {
					return out
				}
			}
		}
		switch {
		case tk.is("USING") && p.i+1 < len(p.toks) && p.toks[p.i+1].punct("("):
			// a join's USING (columns)
			p.i++
			p.skipGroup()
			expect = false
			continue
		case tk.punct("(") && expect && !p.queryAhead():
			p.i++
			depth++
			continue
		case tk.punct(")") && depth > 0:
			p.i++
			depth--
			expect = false
			continue
		case tk.punct("("):
			p.skipGroup()
			expect = false
			continue
		case tk.punct(","), tk.is("JOIN"), tk.is("STRAIGHT_JOIN"), tk.is("FROM"), tk.is("USING"):
			p.i++
			expect = true
			continue
		case expect && (tk.quoted || isWord(tk.text)) && !tk.str:
			start := p.i
			if p.i+2 < len(p.toks) && p.toks[p.i+1].punct(".") && p.toks[p.i+2].punct("*") {
				// DELETE t.* FROM …
				out, p.i, expect = append(out, [2]string{p.db, tk.text}), p.i+3, false
				continue
			}
			if n, ok := p.name(); ok {
				out = append(out, n)
				if p.i+1 < len(p.toks) && p.toks[p.i].punct(".") && p.toks[p.i+1].punct("*") {
					p.i += 2 // DELETE db.t.* FROM …
				}
				expect = false
				continue
			}
			p.i = start
		}
		p.i++
		expect = false
	}
	return out
}

// queryAhead reports whether the parenthesis at the current token opens a query (after any more
// opening parentheses), not nested table references.
func (p *ddlParser) queryAhead() bool {
	j := p.i + 1
	for j < len(p.toks) && p.toks[j].punct("(") {
		j++
	}
	if j >= len(p.toks) {
		return true
	}
	tk := p.toks[j]
	return tk.is("SELECT") || tk.is("WITH") || tk.is("VALUES") || tk.is("TABLE")
}
