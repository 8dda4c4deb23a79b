package httpconn

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLinkNext: Link header values are read as RFC 8288 link-values: commas and semicolons inside <> or inside a
// quoted parameter value do not separate, rel lists space-separated types compared case-insensitively, and only
// a link's first rel counts.
func TestLinkNext(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []string
		want   string
	}{
		{"comma in the URL", []string{`<https://a/items?fields=id,name&page=2>; rel="next"`}, "https://a/items?fields=id,name&page=2"},
		{"semicolon in the URL", []string{`<https://a/items;v=1?page=2>; rel=next`}, "https://a/items;v=1?page=2"},
		{"after another link", []string{`<https://a/1>; rel="prev", <https://a/3>; rel="next"`}, "https://a/3"},
		{"quoted parameter with a comma", []string{`<https://a/0>; title="a, b; rel=next", <https://a/2>; title="x, y"; rel="next"`}, "https://a/2"},
		{"escaped quote in a parameter", []string{`<https://a/2>; title="say \"hi\", then; go"; rel=next`}, "https://a/2"},
		{"several types", []string{`<https://a/9>; rel="next last"`}, "https://a/9"},
		{"case-insensitive", []string{`<https://a/2>; REL="Next"`}, "https://a/2"},
		{"trailing empty parameter", []string{`<https://a/2>; rel="next";`}, "https://a/2"},
		{"empty parameter between", []string{`<https://a/1>;; rel=prev, <https://a/2>; ; rel=next;, <https://a/3>`}, "https://a/2"},
		{"white space around =", []string{` <https://a/2> ; rel = "next" `}, "https://a/2"},
		{"in a second header value", []string{`<https://a/1>; rel=prev`, `<https://a/2>; rel=next`}, "https://a/2"},
		{"after a malformed link-value", []string{`junk; rel=next, <https://a/2>; rel=next`}, "https://a/2"},
		{"first rel only", []string{`<https://a/1>; rel=prev; rel=next`}, ""},
		{"a type that only starts with next", []string{`<https://a/1>; rel="nextpage"`}, ""},
		{"rel only in a title", []string{`<https://a/1>; title="rel=next"`}, ""},
		{"no parameters", []string{`<https://a/1>`}, ""},
		{"unterminated URI", []string{`<https://a/1; rel=next`}, ""},
		{"unterminated URI before a link", []string{`<https://a/1; rel=next, <https://a/2>; rel=next`}, "https://a/2"},
		{"unterminated quoted value", []string{`<https://a/1>; title="x, <https://a/2>; rel=next`}, ""},
		{"empty", []string{``, ` , ,`}, ""},
	} {
		require.Equal(t, tc.want, linkNext(tc.values), tc.name)
	}
}
