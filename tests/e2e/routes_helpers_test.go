package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// apiSpec is admin/openapi.json, read as plain JSON so the sweep can walk its paths and check
// answers against its response schemas.
type apiSpec struct {
	raw   []byte
	doc   map[string]any
	ops   map[string]map[string]any // "METHOD /template" → operation
	order []string                  // the keys of ops, sorted
}

var specMethods = []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}

func loadSpec(t *testing.T) *apiSpec {
	t.Helper()
	raw, err := os.ReadFile("../../admin/openapi.json")
	require.NoError(t, err)
	s := &apiSpec{raw: raw, ops: map[string]map[string]any{}}
	require.NoError(t, json.Unmarshal(raw, &s.doc))
	paths, ok := s.doc["paths"].(map[string]any)
	require.True(t, ok, "openapi.json has no paths")
	for path, item := range paths {
		for method, op := range item.(map[string]any) {
			if slices.Contains(specMethods, method) {
				key := strings.ToUpper(method) + " " + path
				s.ops[key] = op.(map[string]any)
				s.order = append(s.order, key)
			}
		}
	}
	sort.Strings(s.order)
	require.NotEmpty(t, s.order)
	return s
}

// resolve follows a local $ref ("#/components/...").
func (s *apiSpec) resolve(ref string) (map[string]any, error) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, fmt.Errorf("$ref %s: only local references are supported", ref)
	}
	var cur any = s.doc
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %s does not resolve", ref)
		}
		if cur, ok = m[part]; !ok {
			return nil, fmt.Errorf("$ref %s does not resolve", ref)
		}
	}
	m, ok := cur.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("$ref %s is not an object", ref)
	}
	return m, nil
}

// response is the documented answer of route (METHOD /template) with status, or an error
// when the document does not list that status.
func (s *apiSpec) response(route string, status int) (map[string]any, error) {
	op, ok := s.ops[route]
	if !ok {
		return nil, fmt.Errorf("%s is not in admin/openapi.json", route)
	}
	resps, _ := op["responses"].(map[string]any)
	r, ok := resps[strconv.Itoa(status)].(map[string]any)
	if !ok {
		documented := make([]string, 0, len(resps))
		for code := range resps {
			documented = append(documented, code)
		}
		sort.Strings(documented)
		return nil, fmt.Errorf("%s answered %d, which admin/openapi.json does not document (documented: %s)",
			route, status, strings.Join(documented, ", "))
	}
	if ref, ok := r["$ref"].(string); ok {
		return s.resolve(ref)
	}
	return r, nil
}

// documentedStatuses lists the statuses admin/openapi.json gives route.
func (s *apiSpec) documentedStatuses(route string) []int {
	resps, _ := s.ops[route]["responses"].(map[string]any)
	var out []int
	for code := range resps {
		if n, err := strconv.Atoi(code); err == nil {
			out = append(out, n)
		}
	}
	sort.Ints(out)
	return out
}

// isRocketMQ reports whether route is one of the RocketMQ Connect compatibility routes.
func (s *apiSpec) isRocketMQ(route string) bool {
	tags, _ := s.ops[route]["tags"].([]any)
	return slices.Contains(tags, any("rocketmq-connect"))
}

// templateRegexp matches the concrete paths of an OpenAPI path template.
func templateRegexp(template string) *regexp.Regexp {
	quoted := regexp.QuoteMeta(template)
	return regexp.MustCompile("^" + regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(quoted, `[^/]+`) + "$")
}

// checkSchema appends to probs every way v (decoded with UseNumber) differs from schema: types,
// required properties, enums, nullability, allOf, anyOf (at least one alternative) and oneOf
// (exactly one, as a strict validator reads it).
func (s *apiSpec) checkSchema(schema map[string]any, v any, at string, probs *[]string) {
	bad := func(format string, args ...any) { *probs = append(*probs, at+": "+fmt.Sprintf(format, args...)) }
	if ref, ok := schema["$ref"].(string); ok {
		r, err := s.resolve(ref)
		if err != nil {
			bad("%v", err)
			return
		}
		schema = r
	}
	if v == nil {
		if nullable, _ := schema["nullable"].(bool); !nullable && len(schema) > 0 {
			bad("null, but the schema is not nullable")
		}
		return
	}
	if all, ok := schema["allOf"].([]any); ok {
		for _, sub := range all {
			s.checkSchema(sub.(map[string]any), v, at, probs)
		}
	}
	for _, kw := range []string{"oneOf", "anyOf"} {
		alts, ok := schema[kw].([]any)
		if !ok {
			continue
		}
		var why []string
		var matched []int
		for i, alt := range alts {
			var p []string
			s.checkSchema(alt.(map[string]any), v, at, &p)
			if len(p) == 0 {
				matched = append(matched, i)
				continue
			}
			why = append(why, fmt.Sprintf("%s[%d]: %s", kw, i, strings.Join(p, "; ")))
		}
		switch {
		case len(matched) == 0:
			bad("matches no %s alternative (%s)", kw, strings.Join(why, " | "))
		case kw == "oneOf" && len(matched) > 1:
			bad("matches more than one oneOf alternative %v", matched)
		}
	}
	if enum, ok := schema["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if fmt.Sprint(e) == fmt.Sprint(v) {
				found = true
			}
		}
		if !found {
			bad("%v is not one of %v", v, enum)
		}
	}
	typ, _ := schema["type"].(string)
	switch typ {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			bad("%s, want an object", jsonType(v))
			return
		}
		props, _ := schema["properties"].(map[string]any)
		if req, ok := schema["required"].([]any); ok {
			for _, k := range req {
				if _, ok := m[k.(string)]; !ok {
					bad("required property %q is missing", k)
				}
			}
		}
		for k, val := range m {
			if p, ok := props[k].(map[string]any); ok {
				s.checkSchema(p, val, at+"."+k, probs)
				continue
			}
			switch ap := schema["additionalProperties"].(type) {
			case map[string]any:
				s.checkSchema(ap, val, at+"."+k, probs)
			case bool:
				if !ap {
					bad("property %q is not allowed", k)
				}
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			bad("%s, want an array", jsonType(v))
			return
		}
		if items, ok := schema["items"].(map[string]any); ok {
			for i, e := range a {
				s.checkSchema(items, e, fmt.Sprintf("%s[%d]", at, i), probs)
			}
		}
	case "string":
		if _, ok := v.(string); !ok {
			bad("%s, want a string", jsonType(v))
		}
	case "integer":
		n, ok := v.(json.Number)
		if _, err := n.Int64(); !ok || err != nil {
			bad("%s %v, want an integer", jsonType(v), v)
		}
	case "number":
		if _, ok := v.(json.Number); !ok {
			bad("%s, want a number", jsonType(v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			bad("%s, want a boolean", jsonType(v))
		}
	}
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	}
	return fmt.Sprintf("%T", v)
}

// answer is one HTTP answer of the worker.
type answer struct {
	status int
	header http.Header
	raw    []byte
	json   any // the body decoded with UseNumber; nil when it is not JSON
}

// send does one request. body is sent as is when it is a string or []byte, else JSON-encoded.
func send(t *testing.T, base, method, path string, body any) *answer {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, base+path, rd)
	require.NoError(t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err, "%s %s", method, path)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := &answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(bytes.TrimSpace(raw)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) == nil {
			a.json = v
		}
	}
	return a
}

// get returns the value at a dotted path of a decoded JSON body ("connector.state",
// "tasks.0.id", "config.connector.class"), and whether it is there. Object keys may hold dots:
// at each level the longest key that the path continues with is taken.
func get(v any, path string) (any, bool) {
	if path == "" {
		return v, true
	}
	parts := strings.Split(path, ".")
	for i := 0; i < len(parts); {
		switch x := v.(type) {
		case map[string]any:
			found := false
			for j := len(parts); j > i; j-- {
				if next, ok := x[strings.Join(parts[i:j], ".")]; ok {
					v, i, found = next, j, true
					break
				}
			}
			if !found {
				return nil, false
			}
		case []any:
			n, err := strconv.Atoi(parts[i])
			if err != nil || n < 0 || n >= len(x) {
				return nil, false
			}
			v, i = x[n], i+1
		default:
			return nil, false
		}
	}
	return v, true
}

// fields asserts that each "path:type" is present with that JSON type (object, array, string,
// number, boolean, null); "path:integer" is a number without a fraction; a bare "path" only
// has to be present.
func fields(t require.TestingT, v any, specs ...string) {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	for _, s := range specs {
		path, typ, _ := strings.Cut(s, ":")
		got, ok := get(v, path)
		require.True(t, ok, "field %q is missing in %s", path, compact(v))
		if typ == "" {
			continue // presence alone
		}
		want := typ
		if typ == "integer" {
			want = "number"
			n, isNum := got.(json.Number)
			_, err := n.Int64()
			require.True(t, isNum && err == nil, "field %q = %v, want an integer", path, got)
		}
		require.Equal(t, want, jsonType(got), "field %q = %s", path, compact(got))
	}
}

// str returns the string at path, failing when it is not one.
func str(t require.TestingT, v any, path string) string {
	got, ok := get(v, path)
	s, isStr := got.(string)
	require.True(t, ok && isStr, "field %q = %s, want a string", path, compact(got))
	return s
}

func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 600 {
		return string(b[:600]) + "..."
	}
	return string(b)
}

// softT collects the failures of a case's assertions, so that a case marked as a known bug
// can report them as the reason it is skipped, and fail when they stop happening.
type softT struct{ errs []string }

type softFailNow struct{}

func (s *softT) Errorf(format string, args ...any) {
	s.errs = append(s.errs, fmt.Sprintf(format, args...))
}
func (s *softT) FailNow() { panic(softFailNow{}) }
func (s *softT) Helper()  {}

// collect runs check against a softT and returns its failures.
func collect(check func(t require.TestingT)) (errs []string) {
	st := &softT{}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(softFailNow); !ok {
				panic(r)
			}
		}
		errs = st.errs
	}()
	check(st)
	return st.errs
}

// TestSpecChecker keeps the sweep's checks from passing vacuously: each wrong answer below
// must be caught. It needs no broker.
func TestSpecChecker(t *testing.T) {
	spec := loadSpec(t)
	decode := func(s string) any {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var v any
		require.NoError(t, dec.Decode(&v))
		return v
	}
	for _, tc := range []struct {
		route  string
		status int
		body   string
		want   string // a fragment of the first problem; "" for none
	}{
		{"GET /connectors/{name}", 404, `{"error_code": 404, "message": "connector ghost: not found"}`, ""},
		{"GET /connectors/{name}", 404, `{"errorCode": 404, "message": "connector ghost: not found"}`, `"error_code" is missing`},
		{"GET /connectors/{name}", 404, `{"error_code": "404", "message": "m"}`, "want an integer"},
		{"GET /connectors/{name}/status", 200, `{"name": "a", "connector": {"state": "SLEEPING"}, "tasks": []}`, "is not one of"},
		{"GET /connectors/{name}/status", 200, `{"name": "a", "tasks": null}`, "not nullable"},
		{"GET /connectors/{name}/tasks", 200, `{"id": 1}`, "want an array"},
		{"GET /getClusterInfo", 200, `{"status": 200, "body": ["w1"]}`, ""},
		{"GET /getClusterInfo", 200, `{"status": 500, "body": ["w1"]}`, "is not one of"},
		{"GET /getClusterInfo", 200, `["w1"]`, "want an object"},
		{"GET /connectors", 200, `"a"`, "matches no oneOf alternative"},
		{"GET /connectors/{name}", 200, `{"name": "a", "config": {"name": "a"}, "tasks": [], "type": "sink"}`, ""},
		{"GET /connectors/{name}", 200, `{"status": 200, "body": {"name": "a"}}`, ""},
		{"GET /connectors/{name}", 200, `{"name": "a"}`, "matches no oneOf alternative"},
		{"GET /connectors/{name}", 400, `{"errorCode": 400, "message": "query parameter config is not valid JSON"}`, ""},
		{"GET /connector-plugins", 400, `{"error_code": 400, "message": "connectorsOnly: not a boolean"}`, ""},
		{"GET /admin/loggers/{name}", 200, `{"level": "INFO", "last_modified": 1.5}`, "want an integer"},
	} {
		resp, err := spec.response(tc.route, tc.status)
		require.NoError(t, err, tc.route)
		schema := resp["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
		var probs []string
		spec.checkSchema(schema, decode(tc.body), "body", &probs)
		if tc.want == "" {
			require.Empty(t, probs, "%s %s", tc.route, tc.body)
			continue
		}
		require.NotEmpty(t, probs, "%s %s", tc.route, tc.body)
		require.Contains(t, probs[0], tc.want, "%s %s", tc.route, tc.body)
	}
	var probs []string
	spec.checkSchema(map[string]any{"oneOf": []any{map[string]any{"type": "object"}, map[string]any{"type": "object"}}},
		decode(`{}`), "body", &probs)
	require.Len(t, probs, 1)
	require.Contains(t, probs[0], "matches more than one oneOf alternative")
	probs = nil
	spec.checkSchema(map[string]any{"anyOf": []any{map[string]any{"type": "object"}, map[string]any{"type": "object"}}},
		decode(`{}`), "body", &probs)
	require.Empty(t, probs, "anyOf accepts a value that matches several alternatives")
	spec.checkSchema(map[string]any{"anyOf": []any{map[string]any{"type": "string"}}}, decode(`1`), "body", &probs)
	require.Len(t, probs, 1)
	require.Contains(t, probs[0], "matches no anyOf alternative")
	_, err := spec.response("GET /connectors/{name}", 418)
	require.ErrorContains(t, err, "does not document")
	_, err = spec.response("GET /nope", 200)
	require.ErrorContains(t, err, "not in admin/openapi.json")
	require.Regexp(t, templateRegexp("/connectors/{name}/tasks/{task}/status"), "/connectors/a.b/tasks/0/status")
	require.NotRegexp(t, templateRegexp("/connectors/{name}/status"), "/connectors/a/b/status")
	v, ok := get(decode(`{"body": {"src": {"connector.class": "file-source", "tasks": [{"id": 3}]}}}`), "body.src.connector.class")
	require.True(t, ok)
	require.Equal(t, "file-source", v)
	v, ok = get(decode(`{"tasks": [{"id": 3}]}`), "tasks.0.id")
	require.True(t, ok)
	require.Equal(t, json.Number("3"), v)
}
