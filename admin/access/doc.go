// Package access holds the net/http pieces that decide who may reach an HTTP API and what a request may cost
// before a handler runs: basic auth against bcrypt hashes (with bounded pre-auth work), TLS, CORS, the
// browser guard (Host, Origin, Sec-Fetch-Site, JSON content type, body size) and the timeouts of the server.
// The worker's admin REST API (package admin) and the schema registry (wired in cmd) share them, so both
// APIs offer the same options and refuse the same requests.
//
// It imports no gin and no other package of the module: every piece is an http.Handler wrapper, and errors
// are written by the ErrorWriter the caller gives, in that API's own error shape.
package access
