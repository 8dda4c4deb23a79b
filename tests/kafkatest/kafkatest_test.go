package kafkatest

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestName(t *testing.T) {
	a, b := Name(t, "p"), Name(t, "p")
	if a == b {
		t.Fatalf("two names alike: %s", a)
	}
	long := Name(&named{T: t, name: strings.Repeat("x", 300)}, "prefix")
	if len(long) > 100 || !regexp.MustCompile(`^[a-zA-Z0-9._-]+$`).MatchString(long) {
		t.Fatalf("not a Kafka and RocketMQ topic name: %q", long)
	}
}

type named struct {
	*testing.T
	name string
}

func (n *named) Name() string { return n.name }

// TestWriteTLS: the keystore holds a key and a certificate for 127.0.0.1 that the CA file verifies.
func TestWriteTLS(t *testing.T) {
	ca, ks, err := writeTLS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := os.ReadFile(ks)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(pemBytes, pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("no CA certificate")
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
}
