package admin

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// schemaOf returns component schema name of the document.
func schemaOf(t *testing.T, raw map[string]any, name string) map[string]any {
	t.Helper()
	s, ok := raw["components"].(map[string]any)["schemas"].(map[string]any)[name].(map[string]any)
	require.True(t, ok, "admin/openapi.json has no schema %s", name)
	return s
}

// jsonFields are the JSON names of struct type v's fields.
func jsonFields(v any) []string {
	var names []string
	rt := reflect.TypeOf(v)
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// propertiesOf returns the sorted property names of schema s.
func propertiesOf(s map[string]any) []string {
	props, _ := s["properties"].(map[string]any)
	names := make([]string, 0, len(props))
	for p := range props {
		names = append(names, p)
	}
	sort.Strings(names)
	return names
}

// TestOpenAPIDLQSchemasMatchTheAnswers: the document's schemas of the dead-letter queue
// routes' answers have the fields the worker answers with, no more and no fewer (the replay
// answer's in_progress was answered and not documented).
func TestOpenAPIDLQSchemasMatchTheAnswers(t *testing.T) {
	_, raw := loadOpenAPI(t)
	for name, v := range map[string]any{
		"DLQRecord":       restapi.DLQRecord{},
		"ReplayInfo":      restapi.ReplayInfo{},
		"DLQPage":         restapi.DLQPage{},
		"DLQReplayResult": restapi.DLQReplayResult{},
		"DLQInProgress":   restapi.DLQInProgress{},
		"DLQRefusal":      restapi.DLQRefusal{},
	} {
		require.Equal(t, jsonFields(v), propertiesOf(schemaOf(t, raw, name)), "schema %s and %T differ", name, v)
	}
}

// refusalCodes parses package restapi and returns the value of every constant of type
// DLQRefusalCode: each reason a replay can give for refusing a record.
func refusalCodes(t *testing.T) []string {
	t.Helper()
	dir := filepath.Join("..", "worker", "restapi")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	fset := token.NewFileSet()
	var codes []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
		require.NoError(t, err)
		for _, decl := range f.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.CONST {
				continue
			}
			for _, spec := range gen.Specs {
				vs := spec.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "DLQRefusalCode" {
					continue
				}
				for _, v := range vs.Values {
					lit, ok := v.(*ast.BasicLit)
					require.True(t, ok && lit.Kind == token.STRING, "%s: a DLQRefusalCode is a string literal", fset.Position(v.Pos()))
					code, err := strconv.Unquote(lit.Value)
					require.NoError(t, err)
					codes = append(codes, code)
				}
			}
		}
	}
	sort.Strings(codes)
	return codes
}

// TestOpenAPIListsEveryDLQRefusalCode: every reason a replay can refuse a record with (a
// restapi.DLQRefusalCode) is in the document's enum of DLQRefusal.code, explained in its
// description, and the enum lists no other.
func TestOpenAPIListsEveryDLQRefusalCode(t *testing.T) {
	codes := refusalCodes(t)
	require.NotEmpty(t, codes)
	_, raw := loadOpenAPI(t)
	code := schemaOf(t, raw, "DLQRefusal")["properties"].(map[string]any)["code"].(map[string]any)
	var enum []string
	for _, v := range code["enum"].([]any) {
		enum = append(enum, v.(string))
	}
	sort.Strings(enum)
	require.Equal(t, codes, enum, "restapi's DLQRefusalCode constants and admin/openapi.json's DLQRefusal.code enum differ")
	desc, _ := code["description"].(string)
	for _, c := range codes {
		require.True(t, slices.ContainsFunc(strings.Split(desc, ";"), func(s string) bool {
			return strings.HasPrefix(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "Why, for programs:")), c+",")
		}), "DLQRefusal.code's description does not explain %s", c)
	}
}

// TestOpenAPIDLQReplayRequest: the document's replay body is one of two objects, ids (at
// least one) or all: true without ids, with restapi.DLQReplayRequest's fields between them
// and no others; the document used to say an empty or absent ids replays every record.
func TestOpenAPIDLQReplayRequest(t *testing.T) {
	_, raw := loadOpenAPI(t)
	op := raw["paths"].(map[string]any)["/connectors/{name}/dlq/replay"].(map[string]any)["post"].(map[string]any)
	body := op["requestBody"].(map[string]any)
	require.Equal(t, true, body["required"], "an empty body is refused")
	schema := body["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
	branches, ok := schema["oneOf"].([]any)
	require.True(t, ok && len(branches) == 2, "the replay body is oneOf ids and all: %v", schema)
	fields := map[string]bool{}
	var some, every map[string]any
	for _, b := range branches {
		br := b.(map[string]any)
		require.Equal(t, false, br["additionalProperties"])
		props := br["properties"].(map[string]any)
		for p := range props {
			fields[p] = true
		}
		switch req := br["required"].([]any); {
		case slices.Equal(req, []any{"ids"}):
			some = props
		case slices.Equal(req, []any{"all"}):
			every = props
		default:
			t.Fatalf("a replay body branch requires %v, not ids or all", req)
		}
	}
	require.Equal(t, jsonFields(restapi.DLQReplayRequest{}), slices.Sorted(maps.Keys(fields)))
	require.NotNil(t, some, "no branch with ids")
	require.NotNil(t, every, "no branch with all")
	require.EqualValues(t, 1, some["ids"].(map[string]any)["minItems"], "an empty ids list is refused")
	require.Equal(t, []any{false}, some["all"].(map[string]any)["enum"], "ids go with all false or absent")
	require.Equal(t, []any{true}, every["all"].(map[string]any)["enum"])
	require.NotContains(t, every, "ids", "all goes without ids")
}
