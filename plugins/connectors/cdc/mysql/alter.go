package mysql

import (
	"slices"
	"strconv"
	"strings"
)

// applyAlter applies the column and primary-key changes of an ALTER TABLE's specifications
// to ts, the table's schema just before the statement. ok is false when a specification is
// not understood (the caller then reads the catalog instead); specifications that change
// neither columns nor the primary key (indexes, table options, defaults) leave ts as it is.
//
// As MariaDB does, every specification names the columns as they were before the statement
// (CHANGE a b …, CHANGE b a … swaps two names), and the primary key follows its columns
// through their renames.
//
// Interpreting the statement, rather than reading information_schema after it, keeps the
// schema right when the stream is behind the server and later DDLs already changed the
// catalog.
func applyAlter(ts tableSchema, toks []token) (tableSchema, bool) {
	if slices.ContainsFunc(ts.Columns, func(c colDef) bool { return c.RowEnd }) {
		return ts, false // system-versioned: where MariaDB puts its row start and end columns is the catalog's
	}
	a := &alteration{orig: &ts, out: ts}
	a.out.Columns = slices.Clone(ts.Columns)
	a.out.PK = slices.Clone(ts.PK)
	for i := range ts.Columns {
		a.origin = append(a.origin, i)
	}
	for _, k := range ts.PK {
		if i := ts.find(k); i >= 0 {
			a.pkOrigin = append(a.pkOrigin, i)
		}
	}
	if len(a.pkOrigin) != len(ts.PK) { // a key naming no column: kept by name
		a.pkOrigin, a.pkByName = nil, true
	}
	for _, spec := range splitTop(toks) {
		if len(spec) == 0 {
			continue
		}
		if !a.spec(spec) {
			return ts, false
		}
	}
	if !a.pkByName {
		a.out.PK = a.out.PK[:0]
		for _, k := range a.pkOrigin {
			if j := slices.Index(a.origin, k); j >= 0 {
				a.out.PK = append(a.out.PK, a.out.Columns[j].Name)
			}
		}
		if len(a.out.PK) == 0 {
			a.out.PK = nil
		}
	}
	a.out.fillCharsets()
	a.out.pkAsColumns()
	return a.out, true
}

// pkAsColumns spells the primary key's names as its columns are (MariaDB's column names are
// case-insensitive: PRIMARY KEY (id) may key column Id).
func (ts *tableSchema) pkAsColumns() {
	for k, n := range ts.PK {
		if i := ts.find(n); i >= 0 {
			ts.PK[k] = ts.Columns[i].Name
		}
	}
}

// alteration is an ALTER TABLE being applied: out is the table so far, origin[i] the index in orig of
// out's column i (-1 for an added one), pkOrigin the primary key's columns as indexes in orig, unless a
// specification set the key by its new names (pkByName, the names in out.PK).
type alteration struct {
	orig     *tableSchema
	out      tableSchema
	origin   []int
	pkOrigin []int
	pkByName bool
}

// column is the index in out of the column orig names name; ok is false when orig has no such column,
// and i is -1 when a specification dropped it.
func (a *alteration) column(name string) (i int, ok bool) {
	k := a.orig.find(name)
	if k < 0 {
		return -1, false
	}
	return slices.Index(a.origin, k), true
}

func (a *alteration) setPK(names []string) {
	a.out.PK, a.pkOrigin, a.pkByName = names, nil, true
}

// splitTop splits tokens at the commas outside parentheses.
func splitTop(toks []token) [][]token {
	var out [][]token
	depth, start := 0, 0
	for i, tk := range toks {
		switch {
		case tk.punct("("):
			depth++
		case tk.punct(")"):
			depth--
		case tk.punct(",") && depth == 0:
			out = append(out, toks[start:i])
			start = i + 1
		case tk.punct(";") && depth == 0:
			return append(out, toks[start:i])
		}
	}
	return append(out, toks[start:])
}

func (ts *tableSchema) find(name string) int {
	return slices.IndexFunc(ts.Columns, func(c colDef) bool { return strings.EqualFold(c.Name, name) })
}

// ignoredSpecs start specifications that change neither columns nor the primary key.
var ignoredSpecs = []string{"ENGINE", "ROW_FORMAT", "COMMENT", "AUTO_INCREMENT", "ALGORITHM", "LOCK", "FORCE", "DEFAULT",
	"CHARACTER", "CHARSET", "COLLATE", "CONVERT", "ORDER", "KEY_BLOCK_SIZE", "STATS_PERSISTENT", "STATS_AUTO_RECALC",
	"STATS_SAMPLE_PAGES", "PACK_KEYS", "CHECKSUM", "DELAY_KEY_WRITE", "MAX_ROWS", "MIN_ROWS", "PAGE_CHECKSUM",
	"TRANSACTIONAL", "ENCRYPTED", "ENCRYPTION_KEY_ID", "PAGE_COMPRESSED", "PAGE_COMPRESSION_LEVEL", "IETF_QUOTES",
	"SEQUENCE", "WITH", "WITHOUT", "DISABLE", "ENABLE", "IMPORT", "DISCARD", "ANALYZE", "CHECK", "OPTIMIZE", "REBUILD",
	"REPAIR", "TRUNCATE", "COALESCE", "REORGANIZE", "EXCHANGE", "REMOVE", "PARTITION", "RENAME"}

// indexKinds follow ADD or DROP in specifications about indexes and constraints.
var indexKinds = []string{"INDEX", "KEY", "UNIQUE", "FULLTEXT", "SPATIAL", "FOREIGN", "CONSTRAINT", "CHECK", "PERIOD",
	"SYSTEM", "PARTITION"}

// indexDef reports whether toks, after ADD or DROP or as a CREATE TABLE definition, are about an index,
// a constraint or a period rather than a column: system and period name columns too, unless VERSIONING or
// FOR follows.
func indexDef(toks []token) bool {
	if len(toks) == 0 || !isAny(toks[0], indexKinds) {
		return false
	}
	switch {
	case toks[0].is("SYSTEM"):
		return len(toks) > 1 && toks[1].is("VERSIONING")
	case toks[0].is("PERIOD"):
		return len(toks) > 1 && toks[1].is("FOR")
	}
	return true
}

// systemTime reports whether toks, after ADD or DROP or as a CREATE TABLE definition, are about system
// versioning (SYSTEM VERSIONING, PERIOD FOR SYSTEM_TIME), which adds or removes row start and end columns.
func systemTime(toks []token) bool {
	return len(toks) > 1 && ((toks[0].is("SYSTEM") && toks[1].is("VERSIONING")) ||
		(len(toks) > 2 && toks[0].is("PERIOD") && toks[1].is("FOR") && toks[2].is("SYSTEM_TIME")))
}

func isAny(tk token, kws []string) bool {
	return slices.ContainsFunc(kws, tk.is)
}

func (a *alteration) spec(spec []token) bool {
	ts := &a.out
	p := &ddlParser{toks: spec}
	switch {
	case p.accept("ADD"):
		if p.peekIs("PRIMARY") || (p.peekIs("CONSTRAINT") && hasPrimary(spec)) {
			if !ts.setPK(spec) {
				return false
			}
			a.setPK(ts.PK)
			return true
		}
		if systemTime(spec[p.i:]) {
			return false // the row start and end columns: read the catalog
		}
		if indexDef(spec[p.i:]) {
			return true
		}
		p.accept("COLUMN")
		p.accept("IF", "NOT", "EXISTS")
		if p.i < len(spec) && spec[p.i].punct("(") { // ADD (a INT, b INT)
			inner := spec[p.i+1:]
			if n := len(inner); n > 0 && inner[n-1].punct(")") {
				inner = inner[:n-1]
			}
			for _, def := range splitTop(inner) {
				c, pk, _, ok := parseColumnDef(def)
				if !ok {
					return false
				}
				if ts.find(c.Name) >= 0 {
					continue
				}
				ts.Columns = append(ts.Columns, c)
				a.origin = append(a.origin, -1)
				if pk {
					a.setPK([]string{c.Name})
				}
			}
			return true
		}
		c, pk, pos, ok := parseColumnDef(spec[p.i:])
		if !ok {
			return false
		}
		if ts.find(c.Name) >= 0 { // IF NOT EXISTS on an existing column
			return true
		}
		at, ok := ts.insert(c, pos)
		if !ok {
			return false
		}
		a.origin = slices.Insert(a.origin, at, -1)
		if pk {
			a.setPK([]string{c.Name})
		}
		return true
	case p.accept("DROP"):
		if p.accept("PRIMARY", "KEY") {
			a.setPK(nil)
			return true
		}
		if systemTime(spec[p.i:]) {
			return false // the row start and end columns: read the catalog
		}
		if indexDef(spec[p.i:]) {
			return true
		}
		p.accept("COLUMN")
		p.accept("IF", "EXISTS")
		name, ok := p.ident()
		if !ok {
			return false
		}
		if i, _ := a.column(name); i >= 0 {
			ts.Columns = slices.Delete(ts.Columns, i, i+1)
			a.origin = slices.Delete(a.origin, i, i+1)
			if a.pkByName {
				ts.PK = slices.DeleteFunc(ts.PK, func(k string) bool { return strings.EqualFold(k, name) })
			}
		}
		return true
	case p.accept("CHANGE"), p.accept("MODIFY"):
		change := spec[0].is("CHANGE")
		p.accept("COLUMN")
		p.accept("IF", "EXISTS")
		old := ""
		if change {
			var ok bool
			if old, ok = p.ident(); !ok {
				return false
			}
		}
		c, pk, pos, ok := parseColumnDef(spec[p.i:])
		if !ok {
			return false
		}
		if !change {
			old = c.Name
		}
		i, _ := a.column(old)
		if i < 0 {
			return true // IF EXISTS on a missing column
		}
		k := a.origin[i]
		ts.Columns = slices.Delete(ts.Columns, i, i+1)
		a.origin = slices.Delete(a.origin, i, i+1)
		if pos == "" { // stays where it was
			pos = "@" + strconv.Itoa(i)
		}
		at, ok := ts.insert(c, pos)
		if !ok {
			return false
		}
		a.origin = slices.Insert(a.origin, at, k)
		if pk {
			a.setPK([]string{c.Name})
		}
		return true
	case p.accept("RENAME", "COLUMN"):
		from, ok1 := p.ident()
		ok2 := p.accept("TO")
		to, ok3 := p.ident()
		if !ok1 || !ok2 || !ok3 {
			return false
		}
		if i, _ := a.column(from); i >= 0 {
			ts.Columns[i].Name = to
		}
		return true
	case p.accept("ALTER"):
		return !p.peekIs("PRIMARY") // ALTER [COLUMN] c SET/DROP DEFAULT, ALTER INDEX … [NOT] IGNORED
	case p.accept("CONVERT"):
		// CONVERT TO CHARACTER SET x: the character string columns and the table's default.
		cs := tableCharset(spec)
		// binary makes them binary types, DEFAULT names the database's: read the catalog. So does a
		// table whose schema history predates character sets (no table default recorded): its columns'
		// sets are not known, and the catalog says which ones this changes.
		if cs == "" || cs == "binary" || cs == "default" || a.orig.Charset == "" {
			return false
		}
		for i, c := range ts.Columns {
			if isTextType(c.DataType) {
				ts.Columns[i].Charset = cs
			}
		}
		ts.Charset = cs
		return true
	}
	if !isAny(spec[0], ignoredSpecs) {
		return false
	}
	if spec[0].is("RENAME") || spec[0].is("PARTITION") {
		return true
	}
	// Table options: a new default for columns defined without one; DEFAULT, the database's, is in the catalog.
	switch cs := tableCharset(spec); {
	case cs == "":
	case cs == "default" || a.orig.Charset == "":
		// The database's default, or a table whose schema history predates character sets (a new default
		// would be given to columns whose own set is not known): the catalog says.
		return false
	default:
		ts.Charset = cs
	}
	return true
}

func hasPrimary(spec []token) bool {
	return slices.ContainsFunc(spec, func(tk token) bool { return tk.is("PRIMARY") })
}

// setPK reads ADD [CONSTRAINT [name]] PRIMARY KEY [USING …] (a, b(10), …).
func (ts *tableSchema) setPK(spec []token) bool {
	i := slices.IndexFunc(spec, func(tk token) bool { return tk.punct("(") })
	if i < 0 {
		return false
	}
	var pk []string
	depth := 0
	expect := true
	for _, tk := range spec[i+1:] {
		switch {
		case tk.punct("("):
			depth++
		case tk.punct(")"):
			if depth == 0 {
				ts.PK = pk
				return len(pk) > 0
			}
			depth--
		case tk.punct(",") && depth == 0:
			expect = true
		case expect && depth == 0:
			pk = append(pk, tk.text)
			expect = false
		}
	}
	return false
}

// insert places c at pos: "" for the end, "FIRST", "AFTER:<column>" or "@<index>"; at is where.
func (ts *tableSchema) insert(c colDef, pos string) (at int, ok bool) {
	at = len(ts.Columns)
	switch {
	case pos == "FIRST":
		at = 0
	case strings.HasPrefix(pos, "AFTER:"):
		i := ts.find(pos[len("AFTER:"):])
		if i < 0 {
			return 0, false
		}
		at = i + 1
	case strings.HasPrefix(pos, "@"):
		at, _ = strconv.Atoi(pos[1:])
		at = min(at, len(ts.Columns))
	}
	ts.Columns = slices.Insert(ts.Columns, at, c)
	return at, true
}

func (p *ddlParser) ident() (string, bool) {
	if p.i >= len(p.toks) {
		return "", false
	}
	tk := p.toks[p.i]
	if tk.str || (!tk.quoted && !isWord(tk.text)) {
		return "", false
	}
	p.i++
	return tk.text, true
}

// typeAliases maps type names to information_schema's DATA_TYPE.
var typeAliases = map[string]string{"integer": "int", "int1": "tinyint", "int2": "smallint", "int3": "mediumint",
	"int4": "int", "int8": "bigint", "middleint": "mediumint", "bool": "tinyint", "boolean": "tinyint", "dec": "decimal",
	"numeric": "decimal", "fixed": "decimal", "real": "double", "float4": "float", "float8": "double",
	"character": "char", "nchar": "char", "nvarchar": "varchar", "long": "mediumtext", "serial": "bigint"}

// parseColumnDef reads `name type[(args)] [UNSIGNED] [options…] [FIRST | AFTER col]`. pk is
// set by a PRIMARY KEY option; pos is "", "FIRST" or "AFTER:<column>".
func parseColumnDef(def []token) (c colDef, pk bool, pos string, ok bool) {
	p := &ddlParser{toks: def}
	if c.Name, ok = p.ident(); !ok || p.i >= len(def) {
		return c, false, "", false
	}
	typ := strings.ToLower(def[p.i].text)
	if def[p.i].quoted || def[p.i].str {
		return c, false, "", false
	}
	unsigned := typ == "serial"
	p.i++
	if typ == "double" {
		p.accept("PRECISION")
	}
	if (typ == "character" || typ == "char") && p.accept("VARYING") {
		typ = "varchar"
	}
	if a, found := typeAliases[typ]; found {
		typ = a
	}
	c.DataType = typ
	var args []token
	if p.i < len(def) && def[p.i].punct("(") {
		depth := 0
		for ; p.i < len(def); p.i++ {
			tk := def[p.i]
			if tk.punct("(") {
				depth++
				if depth == 1 {
					continue
				}
			}
			if tk.punct(")") {
				depth--
				if depth == 0 {
					p.i++
					break
				}
			}
			args = append(args, tk)
		}
	}
	var ct strings.Builder
	ct.WriteString(typ)
	if len(args) > 0 {
		ct.WriteByte('(')
		for _, a := range args {
			switch {
			case a.str:
				ct.WriteString("'" + strings.ReplaceAll(a.text, "'", "''") + "'")
			default:
				ct.WriteString(a.text)
			}
		}
		ct.WriteByte(')')
	}
	if typ == "decimal" {
		var nums []string
		for _, a := range args {
			if !a.punct(",") {
				nums = append(nums, a.text)
			}
		}
		if len(nums) == 2 {
			s, _ := strconv.Atoi(nums[1])
			c.Scale = int32(s)
		}
	}
	depth := 0
	for ; p.i < len(def); p.i++ {
		tk := def[p.i]
		switch {
		case tk.punct("("):
			depth++
		case tk.punct(")"):
			depth--
		case depth > 0:
		case tk.is("UNSIGNED"), tk.is("ZEROFILL"):
			unsigned = true
		case tk.is("PRIMARY"):
			pk = true
		case tk.is("FIRST"):
			pos = "FIRST"
		case tk.is("AFTER") && p.i+1 < len(def):
			pos = "AFTER:" + def[p.i+1].text
			p.i++
		case (tk.is("CHARSET") || tk.is("COLLATE") || (tk.is("SET") && p.i > 0 && def[p.i-1].is("CHARACTER"))) && p.i+1 < len(def):
			p.i++
			c.Charset = charsetOf(def[p.i].text)
			if c.Charset != "binary" || tk.is("COLLATE") {
				break
			}
			switch typ { // CHARACTER SET binary makes the binary type
			case "char":
				c.DataType = "binary"
			case "varchar":
				c.DataType = "varbinary"
			case "text", "tinytext", "mediumtext", "longtext":
				c.DataType = strings.TrimSuffix(typ, "text") + "blob"
			}
		case tk.is("ASCII"):
			c.Charset = "latin1"
		case tk.is("UNICODE"):
			c.Charset = "ucs2"
		}
	}
	if unsigned {
		ct.WriteString(" unsigned")
	}
	if !isTextType(c.DataType) {
		c.Charset = ""
	}
	c.ColumnType = ct.String()
	return c, pk, pos, true
}

// parseCreate reads the column and primary key definitions of CREATE TABLE name (…); ok is
// false for CREATE TABLE … LIKE / AS SELECT and anything not understood.
func parseCreate(db, name string, toks []token) (tableSchema, bool) {
	ts := tableSchema{DB: db, Table: name}
	if len(toks) == 0 || !toks[0].punct("(") {
		return ts, false
	}
	depth, end := 0, -1
	for i, tk := range toks {
		if tk.punct("(") {
			depth++
		} else if tk.punct(")") {
			depth--
			if depth == 0 {
				end = i
				break
			}
		}
	}
	if end < 0 {
		return ts, false
	}
	for _, tk := range toks[end+1:] { // CREATE TABLE t (…) SELECT … adds the selected columns
		if tk.is("SELECT") || tk.is("AS") || tk.is("LIKE") {
			return ts, false
		}
	}
	versioned, rowEnd := hasWord(toks[end+1:], "VERSIONING"), ""
	for _, def := range splitTop(toks[1:end]) {
		if len(def) == 0 {
			continue
		}
		switch {
		case def[0].is("PRIMARY") || (def[0].is("CONSTRAINT") && hasPrimary(def) && !hasWord(def, "FOREIGN")):
			if !ts.setPK(def) {
				return ts, false
			}
			continue
		case def[0].is("LIKE"):
			return ts, false
		case systemTime(def): // PERIOD FOR SYSTEM_TIME (start, end)
			if args := splitTop(def[4 : len(def)-1]); len(def) > 5 && def[3].punct("(") && len(args) == 2 && len(args[1]) == 1 {
				rowEnd = args[1][0].text
				continue
			}
			return ts, false
		case indexDef(def):
			continue
		}
		c, pk, _, ok := parseColumnDef(def)
		if !ok {
			return ts, false
		}
		ts.Columns = append(ts.Columns, c)
		if pk {
			ts.PK = []string{c.Name}
		}
	}
	ts.Charset = tableCharset(toks[end+1:])
	ts.fillCharsets()
	if versioned {
		if i := ts.find(rowEnd); i >= 0 {
			ts.Columns[i].RowEnd = true
		}
		ts.systemVersioned()
	}
	ts.pkAsColumns()
	return ts, len(ts.Columns) > 0
}

func hasWord(toks []token, kw string) bool {
	return slices.ContainsFunc(toks, func(tk token) bool { return tk.is(kw) })
}

// tableCharset is the character set table options name ([DEFAULT] CHARACTER SET|CHARSET [=] x, else
// [DEFAULT] COLLATE [=] x), "" for none.
func tableCharset(toks []token) string {
	cs := ""
	for i := 0; i+1 < len(toks); i++ {
		tk := toks[i]
		if !tk.is("CHARSET") && !tk.is("COLLATE") && !(tk.is("SET") && i > 0 && toks[i-1].is("CHARACTER")) {
			continue
		}
		j := i + 1
		if toks[j].punct("=") && j+1 < len(toks) {
			j++
		}
		if tk.is("COLLATE") && cs != "" {
			continue
		}
		cs = charsetOf(toks[j].text)
	}
	return cs
}

// fillCharsets gives the character string columns defined without a character set the table's.
func (ts *tableSchema) fillCharsets() {
	for i, c := range ts.Columns {
		if c.Charset == "" && isTextType(c.DataType) {
			ts.Columns[i].Charset = ts.Charset
		}
	}
}
