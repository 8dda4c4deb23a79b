package admin

import (
	"fmt"
	"net/http"

	"github.com/rmqconnect/rmqconnect/admin/access"
)

// healthPath stays open under auth: load balancers and orchestrators probe it without
// credentials, and it tells nothing beyond up/down, the worker id and the version.
const healthPath = "/health"

// EnableAuth requires HTTP basic auth on every route but /health: users maps a user name to
// the bcrypt hash of its password (access.LoadUsers reads them from a file); realm defaults to
// access.DefaultRealm. A request without credentials, or with an unknown user or a wrong
// password, is a 401 with `WWW-Authenticate: Basic realm="<realm>"` and the usual error body;
// the three cases answer alike. The bcrypt work a client can cause is bounded as
// access.BasicAuth describes. Call it before Run.
func (s *Server) EnableAuth(users map[string][]byte, realm string) {
	s.auth = access.NewBasicAuth(users, realm, 0, s.log, access.KafkaError)
}

// EnableCORS lets web pages from origins (scheme://host[:port], or "*" for any) read the API
// from a browser, and lets listed origins change state; methods are the methods a preflight
// allows (access.CORS, access.Guard). With no origins, no page of another origin may call the
// API. Call it before Run.
func (s *Server) EnableCORS(origins, methods []string) {
	s.corsOrigins, s.corsMethods = origins, methods
	s.rebuildGuard()
}

// AllowHosts adds names the Host header may carry besides the defaults (access.Guard: loopback
// names, IP literals, the bind address's name); "*" turns the Host check off. Call it before Run.
func (s *Server) AllowHosts(hosts []string) {
	s.hosts = hosts
	s.rebuildGuard()
}

// EnableMutatingGETs serves the RocketMQ Connect compatibility GET routes that change state
// (GET /connectors/{name}?config=, /connectors/{name}/stop|pause|resume,
// /connectors/stop|pause|resume/all). They are refused with 403 unless enabled, because a
// link or an image on any page can send a GET; enabled, they still refuse a request that a
// browser marks as coming from another site (access.Guard.CrossSite). Call it before Run.
func (s *Server) EnableMutatingGETs(on bool) { s.mutatingGETs = on }

// EnableTLS makes Run serve HTTPS with the PEM certificate (chain) and key in certFile and
// keyFile, TLS 1.2 or later. Call it before Run.
func (s *Server) EnableTLS(certFile, keyFile string) error {
	cfg, err := access.LoadTLS(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("admin %w", err)
	}
	s.tls = cfg
	return nil
}

func (s *Server) rebuildGuard() {
	s.guard = access.NewGuard(access.GuardConfig{Bind: s.addr, Hosts: s.hosts, Origins: s.corsOrigins,
		MaxBody: maxBodyBytes, Fail: access.KafkaError})
}

// isHealth lets /health through auth.
func isHealth(r *http.Request) bool { return r.URL.Path == healthPath }
