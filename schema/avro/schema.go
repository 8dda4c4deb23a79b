package avro

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Kind is an Avro type: a primitive name, a complex type name, or "union".
type Kind string

// The Avro types.
const (
	Null    Kind = "null"
	Boolean Kind = "boolean"
	Int     Kind = "int"
	Long    Kind = "long"
	Float   Kind = "float"
	Double  Kind = "double"
	Bytes   Kind = "bytes"
	String  Kind = "string"
	Record  Kind = "record"
	Enum    Kind = "enum"
	Array   Kind = "array"
	Map     Kind = "map"
	Fixed   Kind = "fixed"
	Union   Kind = "union"
)

// Logical type names this package understands.
const (
	LogicalDecimal         = "decimal"
	LogicalDate            = "date"
	LogicalTimeMillis      = "time-millis"
	LogicalTimestampMillis = "timestamp-millis"
)

// Schema is a parsed Avro schema. A named type (record, enum, fixed) appears once as a node; every later reference
// to its name points to the same node, so a recursive record is a cycle. Treat a shared Schema as read-only.
type Schema struct {
	Kind Kind
	// Name and Namespace of a named type; FullName joins them.
	Name, Namespace string
	// Aliases of a named type, as full names.
	Aliases []string
	Doc     string
	Fields  []*Field // record
	Symbols []string // enum
	// EnumDefault is the symbol a reader uses for a writer symbol it does not know (HasEnumDefault).
	EnumDefault    string
	HasEnumDefault bool
	Items          *Schema   // array
	Values         *Schema   // map
	Size           int       // fixed
	Branches       []*Schema // union
	// LogicalType annotates a primitive or fixed; Precision and Scale belong to "decimal".
	LogicalType      string
	Precision, Scale int
	// Props holds every other attribute (for example connect.name), as decoded JSON.
	Props map[string]any
}

// Field is a record field.
type Field struct {
	Name    string
	Aliases []string
	Doc     string
	Type    *Schema
	// Default is the field's default as decoded JSON (numbers as json.Number); HasDefault tells a null default
	// from none.
	Default    any
	HasDefault bool
	Order      string
}

// FullName is the namespace-qualified name of a named type ("" for other types).
func (s *Schema) FullName() string {
	if s.Namespace == "" {
		return s.Name
	}
	return s.Namespace + "." + s.Name
}

// IsNamed reports whether s is a record, enum or fixed.
func (s *Schema) IsNamed() bool { return s.Kind == Record || s.Kind == Enum || s.Kind == Fixed }

// Prop returns a string property ("" when absent or not a string).
func (s *Schema) Prop(name string) string {
	v, _ := s.Props[name].(string)
	return v
}

// branchName is the name goavro (and Avro JSON encoding) gives a union branch: the full name of a named type,
// the type name otherwise.
func (s *Schema) branchName() string {
	if s.IsNamed() {
		return s.FullName()
	}
	return string(s.Kind)
}

// Parse parses an Avro schema in its JSON form. Errors wrap ErrInvalidSchema and say where.
func Parse(text string) (*Schema, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSchema, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the schema", ErrInvalidSchema)
	}
	p := parser{named: map[string]*Schema{}}
	return p.parse(raw, "", "")
}

// MustParse is Parse that panics; for schemas written in code.
func MustParse(text string) *Schema {
	s, err := Parse(text)
	if err != nil {
		panic("avro: " + err.Error())
	}
	return s
}

type parser struct {
	named map[string]*Schema
}

func invalid(path, format string, a ...any) error {
	if path == "" {
		return fmt.Errorf("%w: %s", ErrInvalidSchema, fmt.Sprintf(format, a...))
	}
	return fmt.Errorf("%w: at %s: %s", ErrInvalidSchema, path, fmt.Sprintf(format, a...))
}

var primitives = map[string]Kind{"null": Null, "boolean": Boolean, "int": Int, "long": Long, "float": Float,
	"double": Double, "bytes": Bytes, "string": String}

func (p *parser) parse(raw any, ns, path string) (*Schema, error) {
	switch v := raw.(type) {
	case string:
		if k, ok := primitives[v]; ok {
			return &Schema{Kind: k}, nil
		}
		if s := p.lookup(v, ns); s != nil {
			return s, nil
		}
		return nil, invalid(path, "unknown type %q", v)
	case []any:
		u := &Schema{Kind: Union}
		seen := map[string]bool{}
		for i, b := range v {
			bs, err := p.parse(b, ns, path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			if bs.Kind == Union {
				return nil, invalid(path, "a union may not directly contain a union")
			}
			if seen[bs.branchName()] {
				return nil, invalid(path, "union has two branches of type %s", bs.branchName())
			}
			seen[bs.branchName()] = true
			u.Branches = append(u.Branches, bs)
		}
		return u, nil
	case map[string]any:
		return p.parseObject(v, ns, path)
	}
	return nil, invalid(path, "a schema must be a string, an array or an object, got %v", raw)
}

func (p *parser) lookup(name, ns string) *Schema {
	if !strings.Contains(name, ".") && ns != "" {
		if s, ok := p.named[ns+"."+name]; ok {
			return s
		}
	}
	return p.named[name]
}

var reservedAttrs = map[string]bool{"type": true, "name": true, "namespace": true, "aliases": true, "doc": true,
	"fields": true, "symbols": true, "default": true, "items": true, "values": true, "size": true,
	"logicalType": true, "precision": true, "scale": true}

func (p *parser) parseObject(m map[string]any, ns, path string) (*Schema, error) {
	t, ok := m["type"]
	if !ok {
		return nil, invalid(path, "object without \"type\"")
	}
	ts, isString := t.(string)
	if !isString {
		// {"type": {...}} or {"type": [...]}: the attributes around it are ignored, as Avro does.
		return p.parse(t, ns, path)
	}
	s := &Schema{Props: map[string]any{}}
	for k, v := range m {
		if !reservedAttrs[k] {
			s.Props[k] = v
		}
	}
	if len(s.Props) == 0 {
		s.Props = nil
	}
	s.Doc, _ = m["doc"].(string)
	if lt, ok := m["logicalType"].(string); ok {
		s.LogicalType = lt
	}
	switch ts {
	case "record", "error", "enum", "fixed":
		s.Kind = Kind(ts)
		if ts == "error" {
			s.Kind = Record
		}
		if err := p.define(s, m, ns, path); err != nil {
			return nil, err
		}
		path = s.FullName()
	case "array":
		s.Kind = Array
		items, err := p.parse(m["items"], ns, path+"[]")
		if err != nil {
			return nil, err
		}
		s.Items = items
	case "map":
		s.Kind = Map
		values, err := p.parse(m["values"], ns, path+"{}")
		if err != nil {
			return nil, err
		}
		s.Values = values
	default:
		k, ok := primitives[ts]
		if !ok {
			if named := p.lookup(ts, ns); named != nil {
				return named, nil
			}
			return nil, invalid(path, "unknown type %q", ts)
		}
		s.Kind = k
	}
	switch s.Kind {
	case Record:
		return s, p.parseFields(s, m, path)
	case Enum:
		syms, ok := m["symbols"].([]any)
		if !ok {
			return nil, invalid(path, "enum without \"symbols\"")
		}
		seen := map[string]bool{}
		for _, x := range syms {
			sym, ok := x.(string)
			if !ok || !validName(sym) || seen[sym] {
				return nil, invalid(path, "bad or duplicate enum symbol %v", x)
			}
			seen[sym] = true
			s.Symbols = append(s.Symbols, sym)
		}
		if d, ok := m["default"]; ok {
			ds, isStr := d.(string)
			if !isStr || !seen[ds] {
				return nil, invalid(path, "enum default %v is not one of its symbols", d)
			}
			s.EnumDefault, s.HasEnumDefault = ds, true
		}
	case Fixed:
		n, err := intAttr(m, "size")
		if err != nil || n < 0 || n > maxAvroInt {
			return nil, invalid(path, "fixed needs an integer \"size\" in [0, %d], got %s", maxAvroInt, renderJSON(m["size"]))
		}
		s.Size = n
	}
	if s.LogicalType == LogicalDecimal && (s.Kind == Bytes || s.Kind == Fixed) {
		prec, err := intAttr(m, "precision")
		if err != nil || prec <= 0 || prec > maxAvroInt {
			return nil, invalid(path, "decimal needs an integer \"precision\" in [1, %d], got %s", maxAvroInt, renderJSON(m["precision"]))
		}
		scale := 0
		if _, ok := m["scale"]; ok {
			if scale, err = intAttr(m, "scale"); err != nil || scale < 0 || scale > prec {
				return nil, invalid(path, "decimal \"scale\" must be an integer in [0, precision]")
			}
		}
		s.Precision, s.Scale = prec, scale
	}
	return s, nil
}

// maxAvroInt bounds a fixed size and a decimal precision. Java Avro holds both in a Java int (it refuses a larger
// size), and the bound keeps a schema from asking a writer to allocate more than a slice can hold, or the digit
// arithmetic on precision from overflowing.
const maxAvroInt = math.MaxInt32

func intAttr(m map[string]any, key string) (int, error) {
	n, ok := m[key].(json.Number)
	if !ok {
		return 0, fmt.Errorf("%s is not a number", key)
	}
	i, err := strconv.Atoi(n.String())
	return i, err
}

func (p *parser) define(s *Schema, m map[string]any, ns, path string) error {
	name, _ := m["name"].(string)
	if name == "" {
		return invalid(path, "%s without a \"name\"", s.Kind)
	}
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		s.Namespace, s.Name = name[:i], name[i+1:]
	} else {
		s.Name = name
		if v, ok := m["namespace"].(string); ok {
			s.Namespace = v
		} else {
			s.Namespace = ns
		}
	}
	if !validFullName(s.FullName()) {
		return invalid(path, "%q is not a valid Avro name", s.FullName())
	}
	if _, dup := p.named[s.FullName()]; dup {
		return invalid(path, "type %q is defined twice", s.FullName())
	}
	p.named[s.FullName()] = s
	aliases, err := stringList(m["aliases"])
	if err != nil {
		return invalid(path, "aliases: %v", err)
	}
	for _, a := range aliases {
		if !strings.Contains(a, ".") && s.Namespace != "" {
			a = s.Namespace + "." + a
		}
		s.Aliases = append(s.Aliases, a)
	}
	return nil
}

func (p *parser) parseFields(s *Schema, m map[string]any, path string) error {
	raw, ok := m["fields"].([]any)
	if !ok {
		return invalid(path, "record without \"fields\"")
	}
	seen := map[string]bool{}
	for _, rf := range raw {
		fm, ok := rf.(map[string]any)
		if !ok {
			return invalid(path, "a field must be an object")
		}
		f := &Field{}
		f.Name, _ = fm["name"].(string)
		if !validName(f.Name) || seen[f.Name] {
			return invalid(path, "bad or duplicate field name %q", f.Name)
		}
		seen[f.Name] = true
		fpath := path + "." + f.Name
		f.Doc, _ = fm["doc"].(string)
		f.Order, _ = fm["order"].(string)
		var err error
		if f.Aliases, err = stringList(fm["aliases"]); err != nil {
			return invalid(fpath, "aliases: %v", err)
		}
		if f.Type, err = p.parse(fm["type"], s.Namespace, fpath); err != nil {
			return err
		}
		if d, ok := fm["default"]; ok {
			if err := checkDefault(f.Type, d); err != nil {
				return invalid(fpath, "default %s: %v", renderJSON(d), err)
			}
			f.Default, f.HasDefault = d, true
		}
		s.Fields = append(s.Fields, f)
	}
	return nil
}

func stringList(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("not a list of strings")
	}
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("not a list of strings")
		}
		out = append(out, s)
	}
	return out, nil
}

func validName(n string) bool {
	if n == "" {
		return false
	}
	for i, r := range n {
		letter := r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}

func validFullName(n string) bool {
	for part := range strings.SplitSeq(n, ".") {
		if !validName(part) {
			return false
		}
	}
	return true
}

// checkDefault reports whether d (decoded JSON) is a valid default for t; a union's default belongs to its first
// branch.
func checkDefault(t *Schema, d any) error {
	return checkDefaultDepth(t, d, 0)
}

func checkDefaultDepth(t *Schema, d any, depth int) error {
	if depth > 64 {
		return fmt.Errorf("nested too deeply")
	}
	bad := fmt.Errorf("not a valid %s", t.Kind)
	switch t.Kind {
	case Null:
		if d != nil {
			return bad
		}
	case Boolean:
		if _, ok := d.(bool); !ok {
			return bad
		}
	case Int, Long, Float, Double:
		n, ok := d.(json.Number)
		if !ok {
			if _, special := nonFiniteDefault(d); special && (t.Kind == Float || t.Kind == Double) {
				return nil
			}
			return bad
		}
		if t.Kind == Int || t.Kind == Long {
			if _, err := strconv.ParseInt(n.String(), 10, 64); err != nil {
				return bad
			}
		}
	case String, Bytes, Fixed:
		s, ok := d.(string)
		if !ok {
			return bad
		}
		if t.Kind == Fixed && len([]rune(s)) != t.Size {
			return bad
		}
	case Enum:
		s, ok := d.(string)
		if !ok || !slices.Contains(t.Symbols, s) {
			return bad
		}
	case Array:
		l, ok := d.([]any)
		if !ok {
			return bad
		}
		for _, e := range l {
			if err := checkDefaultDepth(t.Items, e, depth+1); err != nil {
				return err
			}
		}
	case Map:
		m, ok := d.(map[string]any)
		if !ok {
			return bad
		}
		for _, e := range m {
			if err := checkDefaultDepth(t.Values, e, depth+1); err != nil {
				return err
			}
		}
	case Record:
		m, ok := d.(map[string]any)
		if !ok {
			return bad
		}
		for _, f := range t.Fields {
			v, ok := m[f.Name]
			if !ok {
				if !f.HasDefault {
					return fmt.Errorf("record default lacks field %q", f.Name)
				}
				continue
			}
			if err := checkDefaultDepth(f.Type, v, depth+1); err != nil {
				return err
			}
		}
	case Union:
		if len(t.Branches) == 0 {
			return bad
		}
		return checkDefaultDepth(t.Branches[0], d, depth+1)
	}
	return nil
}

// String renders the schema as JSON with attributes in a fixed order (type, name, namespace, doc, aliases, then the
// type's own attributes, then logical-type attributes, then other properties sorted by name). A named type is
// written in full at its first occurrence and by full name afterwards. Equal renderings mean equal schemas.
func (s *Schema) String() string {
	r := renderer{defined: map[string]bool{}}
	r.schema(s, "")
	return r.b.String()
}

// physical renders the schema with only what the binary encoding depends on (no defaults, docs, aliases, logical
// types or properties): the schema handed to goavro, which then never interprets logical types itself.
func (s *Schema) physical() string {
	r := renderer{defined: map[string]bool{}, physical: true}
	r.schema(s, "")
	return r.b.String()
}

type renderer struct {
	b        bytes.Buffer
	defined  map[string]bool
	physical bool
}

func (r *renderer) str(s string) {
	out, _ := json.Marshal(s)
	r.b.Write(out)
}

func (r *renderer) key(k string) {
	r.b.WriteByte(',')
	r.str(k)
	r.b.WriteByte(':')
}

func (r *renderer) schema(s *Schema, ns string) {
	if s.IsNamed() {
		if r.defined[s.FullName()] {
			r.str(s.FullName())
			return
		}
		r.defined[s.FullName()] = true
	}
	switch s.Kind {
	case Union:
		r.b.WriteByte('[')
		for i, b := range s.Branches {
			if i > 0 {
				r.b.WriteByte(',')
			}
			r.schema(b, ns)
		}
		r.b.WriteByte(']')
		return
	case Null, Boolean, Int, Long, Float, Double, Bytes, String:
		if r.physical || (s.LogicalType == "" && len(s.Props) == 0 && s.Doc == "") {
			r.str(string(s.Kind))
			return
		}
	}
	r.b.WriteString(`{"type":`)
	r.str(string(s.Kind))
	if s.IsNamed() {
		r.key("name")
		r.str(s.Name)
		if s.Namespace != ns || ns == "" && s.Namespace != "" {
			r.key("namespace")
			r.str(s.Namespace)
		}
		ns = s.Namespace
	}
	if !r.physical {
		if s.Doc != "" {
			r.key("doc")
			r.str(s.Doc)
		}
		if len(s.Aliases) > 0 {
			r.key("aliases")
			r.json(s.Aliases)
		}
	}
	switch s.Kind {
	case Record:
		r.key("fields")
		r.b.WriteByte('[')
		for i, f := range s.Fields {
			if i > 0 {
				r.b.WriteByte(',')
			}
			r.field(f, ns)
		}
		r.b.WriteByte(']')
	case Enum:
		r.key("symbols")
		r.json(append([]string{}, s.Symbols...))
		if s.HasEnumDefault && !r.physical {
			r.key("default")
			r.str(s.EnumDefault)
		}
	case Array:
		r.key("items")
		r.schema(s.Items, ns)
	case Map:
		r.key("values")
		r.schema(s.Values, ns)
	case Fixed:
		r.key("size")
		r.b.WriteString(strconv.Itoa(s.Size))
	}
	if !r.physical {
		if s.LogicalType != "" {
			r.key("logicalType")
			r.str(s.LogicalType)
			if s.LogicalType == LogicalDecimal && (s.Kind == Bytes || s.Kind == Fixed) {
				r.key("precision")
				r.b.WriteString(strconv.Itoa(s.Precision))
				r.key("scale")
				r.b.WriteString(strconv.Itoa(s.Scale))
			}
		}
		for _, k := range slices.Sorted(maps.Keys(s.Props)) {
			r.key(k)
			r.json(s.Props[k])
		}
	}
	r.b.WriteByte('}')
}

func (r *renderer) field(f *Field, ns string) {
	r.b.WriteString(`{"name":`)
	r.str(f.Name)
	r.key("type")
	r.schema(f.Type, ns)
	if !r.physical {
		if f.Doc != "" {
			r.key("doc")
			r.str(f.Doc)
		}
		if f.HasDefault {
			r.key("default")
			r.json(f.Default)
		}
		if len(f.Aliases) > 0 {
			r.key("aliases")
			r.json(f.Aliases)
		}
		if f.Order != "" {
			r.key("order")
			r.str(f.Order)
		}
	}
	r.b.WriteByte('}')
}

func (r *renderer) json(v any) { r.b.WriteString(renderJSON(v)) }

// renderJSON encodes decoded JSON deterministically (encoding/json sorts map keys).
func renderJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "null"
	}
	return strings.TrimSuffix(b.String(), "\n")
}
