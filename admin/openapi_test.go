package admin

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// allAbilities is a herder with every optional ability NewServer looks for, so that every
// route is registered. Only route registration is exercised: the optional methods are nil
// interfaces. When NewServer learns a new optional ability, embed it here.
type allAbilities struct {
	Herder
	DLQHerder
	PluginConfigHerder
	OffsetsHerder
	TopicsHerder
}

// fullServer is a server with every route: all herder abilities and every Enable* call.
// When the server gains an Enable* method, call it here.
func fullServer(t *testing.T) *Server {
	t.Helper()
	s := NewServer("127.0.0.1:0", Info{}, fakeHealth{}, allAbilities{Herder: newFakeHerder()}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.EnableMetrics(prometheus.NewRegistry())
	s.EnableLoggers(NewLevelRegistry())
	s.EnableOpenAPI()
	s.EnablePluginReload(fakeReloader{})
	return s
}

type fakeReloader struct{}

func (fakeReloader) ReloadPlugins(context.Context) ([]string, error) { return nil, nil }

// openAPI is the part of the document the tests read.
type openAPI struct {
	OpenAPI string                                `json:"openapi"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
}

type operation struct {
	OperationID string                     `json:"operationId"`
	Parameters  []parameter                `json:"parameters"`
	Responses   map[string]json.RawMessage `json:"responses"`
}

type parameter struct {
	Ref  string `json:"$ref"`
	Name string `json:"name"`
	In   string `json:"in"`
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func loadOpenAPI(t *testing.T) (openAPI, map[string]any) {
	t.Helper()
	var doc openAPI
	require.NoError(t, json.Unmarshal(openAPIDoc, &doc))
	var raw map[string]any
	require.NoError(t, json.Unmarshal(openAPIDoc, &raw))
	return doc, raw
}

var ginParam = regexp.MustCompile(`[:*]([^/]+)`)

// TestOpenAPIMatchesRoutes fails when the document and the registered routes differ.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s := fullServer(t)
	var registered []string
	for _, r := range s.engine.Routes() {
		registered = append(registered, r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}"))
	}
	doc, _ := loadOpenAPI(t)
	var documented []string
	for path, item := range doc.Paths {
		for key := range item {
			if slices.Contains(httpMethods, key) {
				documented = append(documented, strings.ToUpper(key)+" "+path)
			}
		}
	}
	sort.Strings(registered)
	sort.Strings(documented)
	var missing, extra []string
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			missing = append(missing, r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(registered, d) {
			extra = append(extra, d)
		}
	}
	require.True(t, len(missing)+len(extra) == 0,
		"admin/openapi.json and the registered routes differ\nregistered, not documented: %v\ndocumented, not registered: %v", missing, extra)
	require.NotEmpty(t, registered)
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// TestOpenAPIWellFormed checks what a generator or validator would trip on: the version, a
// unique operationId and responses on every operation, path parameters declared exactly as the
// template names them, and every $ref resolving.
func TestOpenAPIWellFormed(t *testing.T) {
	doc, raw := loadOpenAPI(t)
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3.0."), doc.OpenAPI)
	components := raw["components"].(map[string]any)
	params := components["parameters"].(map[string]any)

	ids := map[string]string{}
	for path, item := range doc.Paths {
		var common []parameter
		if p, ok := item["parameters"]; ok {
			require.NoError(t, json.Unmarshal(p, &common), path)
		}
		for key, body := range item {
			if key == "parameters" {
				continue
			}
			require.Contains(t, httpMethods, key, "%s: unknown key %q", path, key)
			where := strings.ToUpper(key) + " " + path
			var op operation
			require.NoError(t, json.Unmarshal(body, &op), where)
			require.NotEmpty(t, op.OperationID, where)
			require.NotContains(t, ids, op.OperationID, "%s: operationId also on %s", where, ids[op.OperationID])
			ids[op.OperationID] = where
			require.NotEmpty(t, op.Responses, where)

			var inPath []string
			for _, p := range append(slices.Clone(common), op.Parameters...) {
				if p.Ref != "" {
					name := strings.TrimPrefix(p.Ref, "#/components/parameters/")
					def, ok := params[name].(map[string]any)
					require.True(t, ok, "%s: %s", where, p.Ref)
					p.Name, p.In = def["name"].(string), def["in"].(string)
				}
				if p.In == "path" {
					inPath = append(inPath, p.Name)
				}
			}
			var want []string
			for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
				want = append(want, m[1])
			}
			sort.Strings(inPath)
			sort.Strings(want)
			require.Equal(t, want, inPath, "%s: path parameters", where)
		}
	}

	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				require.True(t, strings.HasPrefix(ref, "#/"), ref)
				var cur any = raw
				for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					m, ok := cur.(map[string]any)
					require.True(t, ok, "unresolved $ref %s", ref)
					cur, ok = m[part]
					require.True(t, ok, "unresolved $ref %s", ref)
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(raw)
}

func TestOpenAPIServed(t *testing.T) {
	s := fullServer(t)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, newRequest(http.MethodGet, "/openapi.json", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
	require.Equal(t, openAPIDoc, rec.Body.Bytes())
}
