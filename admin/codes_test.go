package admin

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// workerSentinels names every sentinel of package worker with the status it must map to. When
// the test below finds an exported sentinel missing here, add it here and to sentinelStatuses.
var workerSentinels = map[string]struct {
	err    error
	status int
}{
	"ErrNotFound":      {restapi.ErrNotFound, http.StatusNotFound},
	"ErrAlreadyExists": {restapi.ErrAlreadyExists, http.StatusConflict},
	"ErrRebalancing":   {restapi.ErrRebalancing, http.StatusConflict},
	"ErrBadState":      {restapi.ErrBadState, http.StatusConflict},
	"ErrNotStopped":    {restapi.ErrNotStopped, http.StatusBadRequest},
	"ErrConflict":      {restapi.ErrConflict, http.StatusConflict},
	"ErrStopped":       {restapi.ErrStopped, http.StatusServiceUnavailable},
	"ErrUnavailable":   {restapi.ErrUnavailable, http.StatusServiceUnavailable},
}

// exportedSentinels parses the management API's errors.go (package restapi) and worker's own
// errors.go if it has one (where STYLE.md puts a package's sentinels), and returns the exported package-level variables initialised with
// errors.New or fmt.Errorf. Sentinels elsewhere in worker are internal to its loops and never
// reach the Management API.
func exportedSentinels(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	fset := token.NewFileSet()
	for _, path := range []string{filepath.Join(dir, "restapi", "errors.go"), filepath.Join(dir, "errors.go")} {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) && filepath.Base(filepath.Dir(path)) != "restapi" {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		require.NoError(t, err)
		for _, decl := range f.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.VAR {
				continue
			}
			for _, spec := range gen.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !name.IsExported() || i >= len(vs.Values) || !isErrorCtor(vs.Values[i]) {
						continue
					}
					names = append(names, name.Name)
				}
			}
		}
	}
	sort.Strings(names)
	return names
}

func isErrorCtor(e ast.Expr) bool {
	call, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && (pkg.Name == "errors" && sel.Sel.Name == "New" || pkg.Name == "fmt" && sel.Sel.Name == "Errorf")
}

// TestEveryWorkerSentinelHasAStatus is the contract between package worker's errors and HTTP:
// a new exported sentinel fails this test until it is given a status.
func TestEveryWorkerSentinelHasAStatus(t *testing.T) {
	found := exportedSentinels(t, filepath.Join("..", "worker"))
	require.Contains(t, found, "ErrNotFound", "the parser must see worker/restapi/errors.go's sentinels")
	for _, name := range found {
		s, ok := workerSentinels[name]
		require.True(t, ok, "worker.%s has no HTTP status: add it to workerSentinels and sentinelStatuses", name)
		require.Equal(t, s.status, httpStatus(s.err), "worker.%s", name)
		require.Equal(t, s.status, httpStatus(fmt.Errorf("connector x: %w", s.err)), "wrapped worker.%s", name)
	}
	for name := range workerSentinels {
		require.Contains(t, found, name, "workerSentinels lists worker.%s, which no longer exists", name)
	}
	require.Len(t, sentinelStatuses, len(workerSentinels))
}

func TestHTTPStatus(t *testing.T) {
	cfgErr := fmt.Errorf("connector c: invalid config: %w", cfgerr.List{
		{Key: "connector.class", Value: "nope", Reason: "unknown connector class", ValueFirst: true},
		{Key: "connect.topicnames", Reason: "is required for a sink", ValueFirst: true},
	})
	for _, tc := range []struct {
		err    error
		status int
	}{
		{nil, http.StatusOK},
		{cfgErr, http.StatusBadRequest},
		{fmt.Errorf("create c: %w", cfgErr), http.StatusBadRequest},
		{badRequestf("name is required"), http.StatusBadRequest},
		{&http.MaxBytesError{Limit: 1}, http.StatusRequestEntityTooLarge},
		{errors.New("boom"), http.StatusInternalServerError},
	} {
		require.Equal(t, tc.status, httpStatus(tc.err), "%v", tc.err)
	}
	require.Equal(t, "name is required", badRequestf("name is required").Error(), "no prefix on bad-input messages")
}

// TestConfigErrorNamesEveryKey: a herder's config error (*cfgerr.Error per key) reaches the client as a 400 whose
// message names each rejected key and value.
func TestConfigErrorNamesEveryKey(t *testing.T) {
	h, f := newTestServer(t)
	f.Fail(fmt.Errorf("create c: connector c: invalid config: %w", cfgerr.List{
		{Key: "connector.class", Value: "nope", Reason: "unknown connector class", ValueFirst: true},
		{Key: "connect.topicnames", Reason: "is required for a sink", ValueFirst: true},
	}))
	requireError(t, h, http.MethodPost, "/connectors", `{"name":"c","config":{"connector.class":"nope"}}`, 400,
		`connector.class="nope": unknown connector class`, "connect.topicnames: is required for a sink")
	requireRmqError(t, h, http.MethodPost, "/connectors/c", `{"connector.class":"nope"}`, 400, "connector.class", "connect.topicnames")
}
