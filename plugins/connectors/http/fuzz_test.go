package httpconn

import (
	"strings"
	"testing"
)

// FuzzListenBody: any request body either becomes records or is refused with an error; it never panics,
// and records.path selects only arrays.
func FuzzListenBody(f *testing.F) {
	for _, s := range []string{`{"events":[{"id":1},{"id":"x"}]}`, `[1,2,3]`, `{"events":null}`, `{"events":{"a":1}}`,
		`{"id":`, "\xff\xfe", `{"events":[{"id":1}]}{"x":1}`, ``, `"str"`, `{"events":[[[[[]]]]]}`} {
		f.Add([]byte(s))
	}
	tasks := []*SourceTask{
		{topic: "t", recordsSet: true, records: parsePath("events"), keyPath: parsePath("id"), valueFmt: ValueJSON},
		{topic: "t", records: parsePath(""), valueFmt: ValueJSON},
		{topic: "t", recordsSet: true, records: parsePath("$"), valueFmt: ValueBytes},
		{topic: "t", records: parsePath(""), valueFmt: ValueString},
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, task := range tasks {
			l := &listener{t: task}
			recs, err := l.records(body)
			if err != nil && recs != nil {
				t.Fatalf("records and an error: %v", err)
			}
		}
	})
}

// FuzzTemplates: parsing and rendering any template and any Link header never panics.
func FuzzTemplates(f *testing.F) {
	for _, s := range []string{"http://x/${a}?q=${b}", "${", "$$${}", "${ x }", `<http://a/?p=2>; rel="next"`, `<>; rel=next, <x`,
		`<http://a/?f=a,b>; title="x, \"y; z"; rel="next last", <b>; rel=prev`, "http://x/${a}${b}/${c}#${d}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if tm, err := parseTemplate(s); err == nil {
			_, _ = tm.render(escapeURL, func(name string) (string, error) { return name + "/&?", nil })
			_, _ = tm.render(escapeJSON, func(name string) (string, error) { return name + "\"\\\x00", nil })
			_, _ = tm.renderURL(func(name string) (string, error) { return strings.Repeat(".", len(name)%3), nil })
		}
		_, _ = parseHeaderTemplates(s, "|")
		_ = linkNext([]string{s})
		_ = parsePath(s)
	})
}
