// Package ui is the worker's web console: plain HTML, CSS and JavaScript modules embedded in
// the binary (no build step, nothing fetched from another origin) and served by the admin
// server at /ui/, behind the same Host/Origin guard, CORS, basic auth and TLS as the REST API.
//
// The console is a client of the public REST API only: every page reads and writes through
// the routes any other client uses, so it can do nothing a REST client cannot. Its responses
// carry a Content-Security-Policy that allows scripts, styles and connections to this origin
// alone and forbids framing, so another site can neither inject into it nor overlay it.
package ui
