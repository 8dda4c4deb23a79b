package access

import (
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
)

// DefaultMaxBody bounds a request body when GuardConfig.MaxBody is 0: connector configs, offsets and
// schemas are small.
const DefaultMaxBody = 4 << 20

// GuardConfig configures a Guard.
type GuardConfig struct {
	// Bind is the address the server listens on (host:port or host). Its host, when a name, may appear in
	// Host; when it is a wildcard (0.0.0.0, ::, empty), the machine's host name may too.
	Bind string
	// Hosts are more names that may appear in Host (restAllowedHosts); "*" turns the Host check off.
	Hosts []string
	// Origins are the origins whose pages may call the API (restCORSAllowedOrigins): a listed origin may
	// read and change state; "*" lets any page read (GET, HEAD, OPTIONS) but change nothing.
	Origins []string
	// MaxBody bounds a request body (DefaultMaxBody when 0).
	MaxBody int64
	// Fail writes a refusal in the API's error shape (required).
	Fail ErrorWriter
}

// Guard refuses, before any handler runs, the requests a web page in the operator's browser could send
// against the operator's will, and bodies over the size limit:
//
//   - Host must name this server: a loopback name (localhost, *.localhost), an IP literal, the bind
//     address's name, the machine's host name when bound to a wildcard address, or a configured name. A
//     DNS-rebinding page reaches the server under the attacker's own domain name, so its requests are
//     refused (403).
//   - An Origin header must be this server's own origin or an allowed one (403). Browsers send Origin
//     with every request that is not a GET or HEAD, so no page of another origin can change state.
//   - `Sec-Fetch-Site: cross-site` without an allowed Origin is refused (403): it marks a request a page of
//     another site made (a link, an image, a form), even a GET that carries no Origin.
//   - A request that may change state (not GET, HEAD or OPTIONS) and has a body or a Content-Type must
//     have a JSON content type (application/json or application/*+json), else 415: the content types a
//     page may send cross-origin without a preflight (text/plain, forms) are never accepted.
//   - A body declared larger than the limit is refused with 413 before it is read; a body that turns out
//     larger fails its read with *http.MaxBytesError, which the API answers with 413.
//
// Mutating GET routes (the RocketMQ Connect compatibility routes) cannot be told apart here; their handlers
// ask CrossSite before acting.
type Guard struct {
	hosts     map[string]bool
	anyHost   bool
	listed    map[string]bool
	anyOrigin bool
	maxBody   int64
	fail      ErrorWriter
}

// NewGuard returns a guard for cfg.
func NewGuard(cfg GuardConfig) *Guard {
	g := &Guard{hosts: map[string]bool{"localhost": true}, maxBody: cfg.MaxBody, fail: cfg.Fail}
	if g.maxBody <= 0 {
		g.maxBody = DefaultMaxBody
	}
	g.listed, g.anyOrigin = parseOrigins(cfg.Origins)
	host := cfg.Bind
	if h, _, err := net.SplitHostPort(cfg.Bind); err == nil {
		host = h
	}
	host = normHost(host)
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		if name, err := os.Hostname(); err == nil && name != "" {
			g.hosts[normHost(name)] = true
		}
	} else if ip == nil {
		g.hosts[host] = true
	}
	for _, h := range cfg.Hosts {
		switch h = normHost(h); h {
		case "":
		case "*":
			g.anyHost = true
		default:
			g.hosts[h] = true
		}
	}
	return g
}

// normHost lower-cases a host name and drops a trailing dot and IPv6 brackets.
func normHost(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	h = strings.TrimSuffix(h, ".")
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
}

// HostAllowed reports whether the Host header value hostport names this server.
func (g *Guard) HostAllowed(hostport string) bool {
	if g.anyHost || hostport == "" {
		return true // HTTP/1.0 without Host: no browser sends that
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = normHost(host)
	if net.ParseIP(host) != nil {
		// An IP literal cannot be the result of DNS rebinding: the page that sent it has that address as
		// its origin, so it is served by the address it names.
		return true
	}
	return g.hosts[host] || strings.HasSuffix(host, ".localhost")
}

// allowedHosts lists the names HostAllowed accepts, for error messages.
func (g *Guard) allowedHosts() string {
	names := make([]string, 0, len(g.hosts)+2)
	for h := range g.hosts {
		names = append(names, h)
	}
	sort.Strings(names)
	return strings.Join(append(names, "*.localhost", "IP addresses"), ", ")
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// originAllowed reports whether r's Origin may call: absent (not a cross-origin browser request), this
// server's own origin, a listed origin, or, with "*", any origin for a safe method.
func (g *Guard) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	o := strings.ToLower(strings.TrimRight(origin, "/"))
	if g.listed[o] {
		return true
	}
	if u, err := url.Parse(o); err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host) {
		return true // same origin: the page was served by this server under the name it calls
	}
	return g.anyOrigin && safeMethod(r.Method)
}

// CrossSite reports whether r was sent by a browser for a page of another origin that no allowed Origin
// vouches for: `Sec-Fetch-Site` is cross-site or same-site (another port or subdomain) and Origin is absent
// or not allowed. A handler of a GET that changes state refuses such a request; a request typed into the
// address bar (`Sec-Fetch-Site: none`), a same-origin one, and any non-browser client (no such header) pass.
func (g *Guard) CrossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
	default:
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	o := strings.ToLower(strings.TrimRight(origin, "/"))
	if g.listed[o] {
		return false
	}
	u, err := url.Parse(o)
	return err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host)
}

// jsonMediaType reports whether a Content-Type value is application/json or application/*+json.
func jsonMediaType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

// Wrap applies the guard's checks before next.
func (g *Guard) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.HostAllowed(r.Host) {
			g.fail(w, http.StatusForbidden, fmt.Sprintf("Host %q does not name this server (allowed: %s); "+
				"add the name to restAllowedHosts to serve it", r.Host, g.allowedHosts()))
			return
		}
		if !g.originAllowed(r) {
			msg := "origin " + r.Header.Get("Origin") + " may not call this API; list it in restCORSAllowedOrigins to allow it"
			if g.anyOrigin {
				msg = "origin " + r.Header.Get("Origin") + " may only read (restCORSAllowedOrigins is *); list it in restCORSAllowedOrigins to let it change state"
			}
			g.fail(w, http.StatusForbidden, msg)
			return
		}
		if r.Header.Get("Sec-Fetch-Site") == "cross-site" && (r.Header.Get("Origin") == "" || g.CrossSite(r) && !g.anyOrigin) {
			g.fail(w, http.StatusForbidden, "cross-site request refused: a page of another site may not call this API")
			return
		}
		if r.ContentLength > g.maxBody {
			g.fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is %d bytes, more than the limit of %d", r.ContentLength, g.maxBody))
			return
		}
		if !safeMethod(r.Method) {
			ct := r.Header.Get("Content-Type")
			if (ct != "" || r.ContentLength != 0) && !jsonMediaType(ct) {
				if ct == "" {
					ct = "none"
				}
				g.fail(w, http.StatusUnsupportedMediaType, "Content-Type "+ct+" is not accepted: a request body must be sent as application/json")
				return
			}
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, g.maxBody)
		}
		next.ServeHTTP(w, r)
	})
}
