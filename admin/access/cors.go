package access

import (
	"net/http"
	"strings"
)

// corsAllowHeaders are the request headers a browser may send cross-origin: enough for JSON
// bodies and basic auth.
const corsAllowHeaders = "Accept, Authorization, Content-Type"

// CORS returns a wrapper that lets web pages from origins read the API from a browser, or nil when origins
// lists none. origins are scheme://host[:port] values, or "*" for any origin; methods are the methods a
// preflight allows. For an allowed origin, answers carry Access-Control-Allow-Origin; a listed origin also
// gets Access-Control-Allow-Credentials, so a page may send basic-auth credentials, while "*" answers with a
// literal "*" and no credentials (browsers refuse credentials with "*", and a server that trusts every site
// with a user's credentials would be open to any page the user visits). A preflight (OPTIONS with Origin and
// Access-Control-Request-Method) is answered here, before auth: 204 for an allowed origin, 403 for another.
// Whether a request from another origin may run at all is the Guard's decision, made before this one.
func CORS(origins, methods []string, fail ErrorWriter) func(http.Handler) http.Handler {
	listed, anyOrigin := parseOrigins(origins)
	if len(listed) == 0 && !anyOrigin {
		return nil
	}
	ms := make([]string, 0, len(methods))
	for _, m := range methods {
		if m = strings.ToUpper(strings.TrimSpace(m)); m != "" {
			ms = append(ms, m)
		}
	}
	allowMethods := strings.Join(ms, ", ")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			origin := r.Header.Get("Origin")
			preflight := r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != ""
			h := w.Header()
			h.Add("Vary", "Origin")
			if preflight {
				h.Add("Vary", "Access-Control-Request-Method")
				h.Add("Vary", "Access-Control-Request-Headers")
			}
			explicit := listed[strings.ToLower(origin)]
			allowed := origin != "" && (explicit || anyOrigin)
			switch {
			case !allowed && preflight:
				fail(w, http.StatusForbidden, "origin "+origin+" is not allowed")
				return
			case !allowed:
				next.ServeHTTP(w, r)
				return
			case explicit:
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Allow-Credentials", "true")
			default:
				h.Set("Access-Control-Allow-Origin", "*")
			}
			if !preflight {
				next.ServeHTTP(w, r)
				return
			}
			h.Set("Access-Control-Allow-Methods", allowMethods)
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
		})
	}
}

// parseOrigins normalises origins (lower case, no trailing '/') into a set, and reports "*".
func parseOrigins(origins []string) (map[string]bool, bool) {
	listed := map[string]bool{}
	anyOrigin := false
	for _, o := range origins {
		o = strings.ToLower(strings.TrimRight(strings.TrimSpace(o), "/"))
		switch o {
		case "":
		case "*":
			anyOrigin = true
		default:
			listed[o] = true
		}
	}
	return listed, anyOrigin
}
