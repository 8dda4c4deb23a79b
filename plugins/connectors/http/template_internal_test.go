package httpconn

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRenderURL: a path segment holding placeholders may not render empty, "." or ".."; the query, the
// literal text and a segment the placeholders only share with literal text are not checked.
func TestRenderURL(t *testing.T) {
	for _, tc := range []struct {
		tmpl    string
		vals    map[string]string
		want    string
		wantErr string // in the error, when it fails
	}{
		{"http://h/u/${a}", map[string]string{"a": "x y"}, "http://h/u/x%20y", ""},
		{"http://h/u/${a}", map[string]string{"a": "a/.."}, "http://h/u/a%2F..", ""},
		{"http://h/u/${a}", map[string]string{"a": ""}, "", "segment ${a} is empty"},
		{"http://h/u/${a}/v", map[string]string{"a": ".."}, "", `segment ${a} is ".."`},
		{"http://h/u/${a}${b}?q", map[string]string{"a": ".", "b": ""}, "", `segment ${a}${b} is "."`},
		{"http://h/u/${a}${b}", map[string]string{"a": ".", "b": "."}, "", `segment ${a}${b} is ".."`},
		{"http://h/u/${a}.json", map[string]string{"a": ""}, "http://h/u/.json", ""},
		{"http://h/u/v-${a}", map[string]string{"a": ""}, "http://h/u/v-", ""},
		{"http://h/u/${a}#f", map[string]string{"a": "."}, "", `is "."`},
		{"http://${a}/u", map[string]string{"a": ""}, "", "segment ${a} is empty"},
		{"http://h/u/${a}?k=${b}&j=${a}", map[string]string{"a": "1", "b": ""}, "http://h/u/1?k=&j=1", ""},
		{"http://h/u/", nil, "http://h/u/", ""},
		{"http://h/u/x?k=${a}", map[string]string{"a": ".."}, "http://h/u/x?k=..", ""},
	} {
		tm, err := parseTemplate(tc.tmpl)
		require.NoError(t, err)
		got, err := tm.renderURL(func(name string) (string, error) { return tc.vals[name], nil })
		if tc.wantErr != "" {
			require.ErrorIs(t, err, ErrRender, tc.tmpl)
			require.Contains(t, err.Error(), tc.wantErr, tc.tmpl)
			continue
		}
		require.NoError(t, err, tc.tmpl)
		require.Equal(t, tc.want, got, tc.tmpl)
	}
}

// TestRenderJSON: in a JSON body a value is escaped as the inside of a JSON string; a number is unchanged.
func TestRenderJSON(t *testing.T) {
	tm, err := parseTemplate(`{"after":"${a}","n":${b}}`)
	require.NoError(t, err)
	vals := map[string]string{"a": "q\"b\\s\n<&>é", "b": "12"}
	got, err := tm.render(escapeJSON, func(name string) (string, error) { return vals[name], nil })
	require.NoError(t, err)
	require.Equal(t, `{"after":"q\"b\\s\n<&>é","n":12}`, got)

	// Outside a string a value is written as it is: a cursor that is a JSON array or object (an
	// Elasticsearch search_after, a DynamoDB ExclusiveStartKey) stays one; inside one, after an escaped
	// quote of the template, it is still string content.
	tm, err = parseTemplate(`{"search_after": ${a}, "key": ${b}, "q": "say \"${a}\""}`)
	require.NoError(t, err)
	vals = map[string]string{"a": `["x",1]`, "b": `{"id":{"S":"7"}}`}
	got, err = tm.render(escapeJSON, func(name string) (string, error) { return vals[name], nil })
	require.NoError(t, err)
	require.Equal(t, `{"search_after": ["x",1], "key": {"id":{"S":"7"}}, "q": "say \"[\"x\",1]\""}`, got)
}
