package admin

import (
	"net/http"
	"strings"
)

// corsAllowHeaders are the request headers a browser may send cross-origin: enough for JSON
// bodies and basic auth.
const corsAllowHeaders = "Accept, Authorization, Content-Type"

// EnableCORS lets web pages from origins call the API from a browser. origins are
// scheme://host[:port] values, or "*" for any origin; methods are the methods a preflight
// allows. For an allowed origin, answers carry Access-Control-Allow-Origin; a listed origin
// also gets Access-Control-Allow-Credentials, so a page may send basic-auth credentials, while
// "*" answers with a literal "*" and no credentials (browsers refuse credentials with "*", and
// a worker that trusts every site with a user's credentials would be open to any page the user
// visits). A preflight (OPTIONS with Origin and Access-Control-Request-Method) is answered here,
// before auth: 204 for an allowed origin, 403 for another. Requests from other origins get no
// CORS headers, so the browser keeps their answers from the page. With no origins it does
// nothing. Call it before Run.
func (s *Server) EnableCORS(origins, methods []string) {
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
	if len(listed) == 0 && !anyOrigin {
		return
	}
	ms := make([]string, 0, len(methods))
	for _, m := range methods {
		if m = strings.ToUpper(strings.TrimSpace(m)); m != "" {
			ms = append(ms, m)
		}
	}
	allowMethods := strings.Join(ms, ", ")
	s.cors = func(next http.Handler) http.Handler {
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
				writePlainError(w, http.StatusForbidden, "origin "+origin+" is not allowed")
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
