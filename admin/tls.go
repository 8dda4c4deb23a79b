package admin

import (
	"crypto/tls"
	"fmt"
)

// EnableTLS makes Run serve HTTPS with the PEM certificate (chain) and key in certFile and
// keyFile, TLS 1.2 or later. The files are read once, here; a renewed certificate takes a
// restart. Call it before Run.
func (s *Server) EnableTLS(certFile, keyFile string) error {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("admin TLS certificate %s / key %s: %w", certFile, keyFile, err)
	}
	s.tls = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	return nil
}
