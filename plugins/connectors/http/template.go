package httpconn

import (
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
)

// render replaces every placeholder by lookup(name).
func (t *template) render(esc escaping, lookup func(name string) (string, error)) (string, error) {
	if len(t.parts) == 1 && t.parts[0].name == "" {
		return t.parts[0].lit, nil
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.name == "" {
			b.WriteString(p.lit)
			continue
		}
		v, err := lookup(p.name)
		if err != nil {
			return "", err
		}
		if esc == escapeURL {
			if p.inQuery {
				v = url.QueryEscape(v)
			} else {
				v = url.PathEscape(v)
			}
		}
		b.WriteString(v)
	}
	return b.String(), nil
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
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
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
