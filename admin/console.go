package admin

import (
	"net/http"
	"strings"

	"github.com/rmqconnect/rmqconnect/admin/ui"
)

// withConsole serves the web console (package ui) at /ui/ and passes every other path to
// next. Handler puts it inside the guard, CORS and auth wrappers, so the Host/Origin checks,
// basic auth and TLS apply to the console exactly as to the API it calls. The console is
// files, not API: it stays out of the gin routes that admin/openapi.json documents.
func withConsole(next http.Handler) http.Handler {
	console := ui.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == strings.TrimSuffix(ui.Prefix, "/"):
			http.Redirect(w, r, ui.Prefix, http.StatusMovedPermanently)
		case strings.HasPrefix(r.URL.Path, ui.Prefix):
			console.ServeHTTP(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}
