package httpconn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rmqconnect/rmqconnect/schema"
)

// template is a string with ${name} placeholders, parsed once.
type template struct {
	parts []tmplPart
}

type tmplPart struct {
	lit     string
	name    string // placeholder name; "" for a literal
	inQuery bool   // the placeholder stands after the first '?' (URL escaping)
}

// parseTemplate splits s into literals and ${name} placeholders. "$$" is a literal "$".
func parseTemplate(s string) (*template, error) {
	t := &template{}
	var lit strings.Builder
	inQuery := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '?' {
			inQuery = true
		}
		if c != '$' || i+1 >= len(s) || (s[i+1] != '{' && s[i+1] != '$') {
			lit.WriteByte(c)
			continue
		}
		if s[i+1] == '$' {
			lit.WriteByte('$')
			i++
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return nil, fmt.Errorf("unterminated placeholder at offset %d", i)
		}
		name := strings.TrimSpace(s[i+2 : i+2+end])
		if name == "" {
			return nil, fmt.Errorf("empty placeholder at offset %d", i)
		}
		if lit.Len() > 0 {
			t.parts = append(t.parts, tmplPart{lit: lit.String()})
			lit.Reset()
		}
		t.parts = append(t.parts, tmplPart{name: name, inQuery: inQuery})
		i += 2 + end
	}
	if lit.Len() > 0 {
		t.parts = append(t.parts, tmplPart{lit: lit.String()})
	}
	return t, nil
}

// constant reports whether the template has no placeholder.
func (t *template) constant() bool {
	for _, p := range t.parts {
		if p.name != "" {
			return false
		}
	}
	return true
}

// uses reports whether the template has the placeholder name.
func (t *template) uses(name string) bool {
	for _, p := range t.parts {
		if p.name == name {
			return true
		}
	}
	return false
}

// escaping says how a rendered placeholder is written.
type escaping int

const (
	escapeNone escaping = iota
	escapeURL           // path-escaped before '?', query-escaped after
	escapeJSON          // within a JSON string of the template, as string content (a value stays one string); elsewhere as it is
)

// render replaces every placeholder by lookup(name).
func (t *template) render(esc escaping, lookup func(name string) (string, error)) (string, error) {
	out, _, err := t.renderPlaced(esc, lookup, false)
	return out, err
}

// placed is where a placeholder's value stands in a rendering.
type placed struct {
	span
	name    string
	inQuery bool
}

// renderPlaced renders as render does and, with track, returns where each placeholder's value stands.
func (t *template) renderPlaced(esc escaping, lookup func(name string) (string, error), track bool) (string, []placed, error) {
	if len(t.parts) == 1 && t.parts[0].name == "" {
		return t.parts[0].lit, nil, nil
	}
	var b strings.Builder
	var at []placed
	inString := false // escapeJSON: the template's text so far ends inside a JSON string
	for _, p := range t.parts {
		if p.name == "" {
			b.WriteString(p.lit)
			if esc == escapeJSON {
				inString = endsInString(p.lit, inString)
			}
			continue
		}
		v, err := lookup(p.name)
		if err != nil {
			return "", nil, err
		}
		switch {
		case esc == escapeURL && p.inQuery:
			v = url.QueryEscape(v)
		case esc == escapeURL:
			v = url.PathEscape(v)
		case esc == escapeJSON && inString:
			v = jsonStringContent(v)
		}
		if track {
			at = append(at, placed{span: span{b.Len(), b.Len() + len(v)}, name: p.name, inQuery: p.inQuery})
		}
		b.WriteString(v)
	}
	return b.String(), at, nil
}

// renderURL renders a url template (escapeURL) and refuses a rendering in which a path segment holding a
// placeholder is empty, "." or "..": such a URL names another resource than the record's (/users/${key} with
// an empty key is /users/, the collection; with "..", the parent of /users). A value holds no '/', '?' or '#'
// (path escaping encodes them), so a segment's bounds are the literal text's. Empty values in the query are
// values like any other.
func (t *template) renderURL(lookup func(name string) (string, error)) (string, error) {
	u, at, err := t.renderPlaced(escapeURL, lookup, true)
	if err != nil {
		return "", err
	}
	for i := 0; i < len(at); i++ {
		if at[i].inQuery {
			continue
		}
		start := strings.LastIndexByte(u[:at[i].start], '/') + 1
		end := len(u)
		if j := strings.IndexAny(u[at[i].end:], "/?#"); j >= 0 {
			end = at[i].end + j
		}
		names := "${" + at[i].name + "}"
		for i+1 < len(at) && at[i+1].start <= end && !at[i+1].inQuery { // the other placeholders of the segment
			i++
			names += "${" + at[i].name + "}"
		}
		why := ""
		switch seg := u[start:end]; seg {
		case "":
			why = "is empty (a null or empty value, or a header the record does not have)"
		case ".", "..":
			why = fmt.Sprintf("is %q", seg)
		default:
			continue
		}
		return "", fmt.Errorf("%w: url path segment %s %s, which would send the request to another resource", ErrRender, names, why)
	}
	return u, nil
}

// endsInString reports whether JSON text lit, begun inside a string when in, ends inside one. A
// placeholder there is escaped as string content; one outside a string is a value of its own (a number,
// or a cursor that is a JSON object or array, `{"search_after": ${cursor}}`) and is written as it is.
func endsInString(lit string, in bool) bool {
	for i := 0; i < len(lit); i++ {
		switch {
		case in && lit[i] == '\\':
			i++
		case lit[i] == '"':
			in = !in
		}
	}
	return in
}

// jsonStringContent is s JSON-escaped, without the quotes around it.
func jsonStringContent(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	q := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	return string(q[1 : len(q)-1])
}

// headerTemplate is one `Name:template` entry of headers.
type headerTemplate struct {
	name string
	tmpl *template
}

// parseHeaderTemplates parses the headers key.
func parseHeaderTemplates(raw, sep string) ([]headerTemplate, error) {
	var out []headerTemplate
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	for entry := range strings.SplitSeq(raw, sep) {
		if strings.TrimSpace(entry) == "" {
			continue
		}
		name, value, ok := strings.Cut(entry, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || !validHeaderName(name) {
			return nil, fmt.Errorf("entry %q is not Name:value", entry)
		}
		t, err := parseTemplate(strings.TrimSpace(value))
		if err != nil {
			return nil, fmt.Errorf("header %s: %w", name, err)
		}
		out = append(out, headerTemplate{name: name, tmpl: t})
	}
	return out, nil
}

func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return s != ""
}

// validHeaderValue rejects control characters (CR, LF, NUL, ...) that would split or break a header.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// recordLookup resolves the placeholders of a sink record:
//
//	topic, partition (queue id), offset, timestamp (ms), key, key.<path>, value.<path>,
//	header.<name> (alias property.<name>)
//
// A path is dotted field names (struct fields or map keys), with numeric segments indexing arrays.
func recordLookup(r *schema.Record) func(string) (string, error) {
	return func(name string) (string, error) {
		switch name {
		case "topic":
			return r.Topic, nil
		case "partition":
			return strconv.Itoa(r.QueueID), nil
		case "offset":
			return strconv.FormatInt(r.QueueOffset, 10), nil
		case "timestamp":
			if r.Timestamp.IsZero() {
				return "", nil
			}
			return strconv.FormatInt(r.Timestamp.UnixMilli(), 10), nil
		case "key":
			return scalarString(r.Key)
		case "value":
			return scalarString(r.Value)
		}
		root, rest, _ := strings.Cut(name, ".")
		switch root {
		case "key", "value":
			v := r.Key
			if root == "value" {
				v = r.Value
			}
			got, ok := lookupPath(v, strings.Split(rest, "."))
			if !ok {
				return "", fmt.Errorf("%w: ${%s}: no such field in the record's %s", ErrRender, name, root)
			}
			return scalarString(got)
		case "header", "property":
			h, ok := r.Headers.Get(rest)
			if !ok {
				return "", nil
			}
			return scalarString(h.Value)
		}
		return "", fmt.Errorf("%w: unknown placeholder ${%s}", ErrRender, name)
	}
}

// lookupPath walks path through structs, maps and slices.
func lookupPath(v any, path []string) (any, bool) {
	for _, seg := range path {
		switch x := v.(type) {
		case *schema.Struct:
			if x == nil {
				return nil, false
			}
			got, err := x.Get(seg)
			if err != nil {
				return nil, false
			}
			v = got
		case map[string]any:
			got, ok := x[seg]
			if !ok {
				return nil, false
			}
			v = got
		case map[any]any:
			got, ok := x[seg]
			if !ok {
				return nil, false
			}
			v = got
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// scalarString renders a value for a URL or header: strings as they are, numbers in their shortest form,
// anything else as JSON.
func scalarString(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int8:
		return strconv.FormatInt(int64(x), 10), nil
	case int16:
		return strconv.FormatInt(int64(x), 10), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), nil
	case json.Number:
		return x.String(), nil
	}
	b, err := jsonOf(v)
	if err != nil {
		return "", fmt.Errorf("%w: render %T: %v", ErrRender, v, err)
	}
	return string(b), nil
}
