package access

import (
	"crypto/tls"
	"fmt"
)

// LoadTLS reads the PEM certificate (chain) and key in certFile and keyFile for a server that accepts TLS
// 1.2 or later. The files are read once, here; a renewed certificate takes a restart.
func LoadTLS(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s / key %s: %w", certFile, keyFile, err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}
