package ui

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func embedded(t *testing.T) map[string]string {
	t.Helper()
	root, err := fs.Sub(static, "static")
	require.NoError(t, err)
	files := map[string]string{}
	require.NoError(t, fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(root, p)
		files[p] = string(b)
		return err
	}))
	return files
}

var (
	importRe = regexp.MustCompile(`(?m)^\s*(?:import|export)\s[^;]*?\sfrom\s+'([^']+)'|import\('([^']+)'\)`)
	attrRe   = regexp.MustCompile(`(?:src|href)="([^"#][^"]*)"`)
	urlRe    = regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
)

// Every module a script imports and every file the page loads is embedded, so a misspelt
// path fails here and not only in a browser.
func TestReferencesResolve(t *testing.T) {
	files := embedded(t)
	require.Contains(t, files, "index.html")
	refs := 0
	for p, body := range files {
		var targets []string
		switch path.Ext(p) {
		case ".js":
			for _, m := range importRe.FindAllStringSubmatch(body, -1) {
				targets = append(targets, m[1]+m[2])
			}
		case ".html":
			for _, m := range attrRe.FindAllStringSubmatch(body, -1) {
				targets = append(targets, m[1])
			}
		}
		for _, ref := range targets {
			require.True(t, strings.HasPrefix(ref, "./") || strings.HasPrefix(ref, "../") || path.Ext(p) == ".html",
				"%s imports %q: only relative paths resolve without a bundler", p, ref)
			target := path.Join(path.Dir(p), ref)
			require.Contains(t, files, target, "%s refers to %s, which is not embedded", p, ref)
			refs++
		}
	}
	require.Greater(t, refs, 10)
}

// Nothing is fetched from another origin: the console works offline and the CSP would block
// it anyway. The SVG namespace name is an identifier, not a fetch.
func TestNoExternalURLs(t *testing.T) {
	for p, body := range embedded(t) {
		body = strings.ReplaceAll(body, "http://www.w3.org/2000/svg", "")
		require.Empty(t, urlRe.FindAllString(body, -1), "%s names another origin", p)
	}
}

func TestHandlerServesEveryFile(t *testing.T) {
	h := Handler()
	for p := range embedded(t) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Prefix+p, nil))
		require.Equal(t, http.StatusOK, rec.Code, p)
		require.NotEmpty(t, rec.Header().Get("Content-Type"), p)
		require.Equal(t, CSP, rec.Header().Get("Content-Security-Policy"), p)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, Prefix, nil))
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	require.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
}

// Every embedded file is served with a type from the table, not as application/octet-stream.
func TestContentTypes(t *testing.T) {
	for p := range embedded(t) {
		require.Contains(t, contentTypes, path.Ext(p), "%s: add its extension to contentTypes", p)
	}
}
