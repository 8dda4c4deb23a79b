package plugins

import (
	"fmt"
	"strings"
)

// Markdown renders the spec as a markdown table (key, type, default,
// required, valid values, description), one row per field in declaration
// order. Secret defaults are shown as HiddenValue.
func (s *ConfigSpec) Markdown() string {
	var b strings.Builder
	b.WriteString("| Key | Type | Default | Required | Valid values | Description |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	if s == nil {
		return b.String()
	}
	for i := range s.fields {
		f := &s.fields[i]
		def := ""
		if d, ok := s.defaults[f.Name]; ok {
			def = "`" + FormatValue(d) + "`"
			if f.secret() {
				def = HiddenValue
			}
		}
		req := "no"
		if f.Required {
			req = "yes"
		}
		var valid []string
		for _, v := range f.Validators {
			if v != nil {
				valid = append(valid, v.String())
			}
		}
		doc := f.Doc
		if len(f.Aliases) > 0 {
			doc = strings.TrimSpace(doc + " Aliases: `" + strings.Join(f.Aliases, "`, `") + "`.")
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", f.Name, f.Type, def, req,
			escapeCell(strings.Join(valid, "; ")), escapeCell(doc))
	}
	return b.String()
}

func escapeCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}
