package access

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"time"
)

// The limits of a server built by NewHTTPServer. A request's headers must arrive within ReadHeaderTimeout
// and its whole body within ReadTimeout (bodies are at most a few MiB, see Guard); its answer must be
// written within WriteTimeout, which leaves room for the slowest handler (a connector write that waits
// for RocketMQ, a DLQ replay page); an idle keep-alive connection is closed after IdleTimeout.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 2 * time.Minute
	IdleTimeout       = 2 * time.Minute
	MaxHeaderBytes    = 64 << 10
)

// NewHTTPServer returns an http.Server for h with the limits above, serving TLS with tlsCfg when it is not
// nil (call ServeTLS(ln, "", "")). The server's own errors (a failed TLS handshake, a panic) go to log at
// Warn level, not to the standard logger.
func NewHTTPServer(h http.Handler, tlsCfg *tls.Config, log *slog.Logger) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if tlsCfg != nil {
		srv.TLSConfig = tlsCfg.Clone()
	}
	return srv
}
