package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
)

// Configuration keys of the Kafka cluster connection, shared by kafka-source and kafka-sink.
const (
	KeyBootstrap       = "kafka.bootstrap.servers"
	KeyClientID        = "kafka.client.id"
	KeySecurity        = "kafka.security.protocol"
	KeySASLMechanism   = "kafka.sasl.mechanism"
	KeySASLUsername    = "kafka.sasl.username"
	KeySASLPassword    = "kafka.sasl.password"
	KeySSLCA           = "kafka.ssl.ca.file"
	KeySSLCert         = "kafka.ssl.cert.file"
	KeySSLKey          = "kafka.ssl.key.file"
	KeySSLServerName   = "kafka.ssl.server.name"
	KeySSLInsecure     = "kafka.ssl.insecure.skip.verify"
	KeyRequestTimeout  = "kafka.request.timeout"
	KeyTopicRename     = "topic.rename.format"
	topicPlaceholder   = "${topic}"
	defaultClientID    = "rmqconnect"
	securityPlaintext  = "PLAINTEXT"
	securitySSL        = "SSL"
	securitySASLPlain  = "SASL_PLAINTEXT"
	securitySASLSSL    = "SASL_SSL"
	mechanismPlain     = "PLAIN"
	mechanismSCRAM256  = "SCRAM-SHA-256"
	mechanismSCRAM512  = "SCRAM-SHA-512"
	defaultDialTimeout = 10 * time.Second
)

// Limits kgo.NewClient checks, so that the spec refuses what would fail every task start instead: a
// fetch response and a record batch must fit the client's default BrokerMaxReadBytes and
// BrokerMaxWriteBytes (100 MiB), and RequestTimeoutOverhead may be at most 15 minutes.
const (
	maxBrokerBytes    = 100 << 20
	maxRequestTimeout = 15 * time.Minute
)

// connectionFields are the keys of the Kafka cluster connection.
func connectionFields() []plugins.Field {
	return []plugins.Field{
		{Name: KeyBootstrap, Type: plugins.TypeList, Required: true, Aliases: []string{"bootstrap.servers"},
			Validators: []plugins.Validator{plugins.NonEmpty()},
			Doc:        "Kafka brokers to start from, `host:port` separated by commas."},
		{Name: KeyClientID, Type: plugins.TypeString, Default: defaultClientID, Aliases: []string{"client.id"},
			Doc: "Client id the Kafka brokers see (quotas, logs)."},
		{Name: KeySecurity, Type: plugins.TypeString, Default: securityPlaintext, Aliases: []string{"security.protocol"},
			Validators: []plugins.Validator{plugins.OneOf(securityPlaintext, securitySSL, securitySASLPlain, securitySASLSSL)},
			Doc:        "PLAINTEXT, SSL (TLS), SASL_PLAINTEXT or SASL_SSL (SASL over TLS), as Kafka clients spell it."},
		{Name: KeySASLMechanism, Type: plugins.TypeString, Default: mechanismPlain, Aliases: []string{"sasl.mechanism"},
			Validators: []plugins.Validator{plugins.OneOf(mechanismPlain, mechanismSCRAM256, mechanismSCRAM512)},
			Doc:        "SASL mechanism with a SASL_* protocol: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512."},
		{Name: KeySASLUsername, Type: plugins.TypeString, Default: "", Doc: "SASL user name (required with a SASL_* protocol)."},
		{Name: KeySASLPassword, Type: plugins.TypePassword, Default: "",
			Doc: "SASL password; may come from a config provider (${file:...}, ${env:...})."},
		{Name: KeySSLCA, Type: plugins.TypeString, Default: "", Doc: "PEM CA bundle to verify the brokers with, instead of the system roots (SSL, SASL_SSL)."},
		{Name: KeySSLCert, Type: plugins.TypeString, Default: "", Doc: "PEM client certificate for mutual TLS (with kafka.ssl.key.file)."},
		{Name: KeySSLKey, Type: plugins.TypeString, Default: "", Doc: "PEM private key of kafka.ssl.cert.file."},
		{Name: KeySSLServerName, Type: plugins.TypeString, Default: "",
			Doc: "Name to verify the brokers' certificates against, when it is not the host of the address dialled."},
		{Name: KeySSLInsecure, Type: plugins.TypeBoolean, Default: false,
			Doc: "Accept any broker certificate (tests only: it disables the protection TLS gives)."},
		{Name: KeyRequestTimeout, Type: plugins.TypeDuration, Default: 30 * time.Second,
			Validators: []plugins.Validator{plugins.DurationBetween(time.Second, maxRequestTimeout)},
			Doc:        "Deadline of one request to a broker (dialling included), at most 15m."},
	}
}

// checkConnection checks the cross-field rules of the connection keys.
func checkConnection(v plugins.Values) cfgerr.List {
	var errs cfgerr.List
	proto := v.String(KeySecurity)
	if strings.HasPrefix(proto, "SASL_") {
		if v.String(KeySASLUsername) == "" {
			errs = append(errs, missing(KeySASLUsername, "required when "+KeySecurity+" is "+proto))
		}
		if v.Password(KeySASLPassword) == "" {
			errs = append(errs, missing(KeySASLPassword, "required when "+KeySecurity+" is "+proto))
		}
	}
	if (v.String(KeySSLCert) == "") != (v.String(KeySSLKey) == "") {
		errs = append(errs, missing(KeySSLKey, KeySSLCert+" and "+KeySSLKey+" go together"))
	}
	for _, b := range v.List(KeyBootstrap) {
		if _, _, err := net.SplitHostPort(b); err != nil {
			errs = append(errs, invalid(KeyBootstrap, b, "not host:port"))
		}
	}
	return errs
}

// clientOptions builds the franz-go options of the connection keys: brokers, client id, TLS and SASL.
func clientOptions(v plugins.Values, log *slog.Logger) ([]kgo.Opt, error) {
	timeout := v.Duration(KeyRequestTimeout)
	opts := []kgo.Opt{
		kgo.SeedBrokers(v.List(KeyBootstrap)...),
		kgo.ClientID(v.String(KeyClientID)),
		kgo.WithLogger(slogger{log}),
		kgo.DialTimeout(min(timeout, defaultDialTimeout)),
		kgo.RequestTimeoutOverhead(timeout),
		kgo.MetadataMinAge(time.Second),
	}
	proto := v.String(KeySecurity)
	if proto == securitySSL || proto == securitySASLSSL {
		tc, err := tlsConfig(v)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if strings.HasPrefix(proto, "SASL_") {
		opts = append(opts, kgo.SASL(saslMechanism(v)))
	}
	return opts, nil
}

func tlsConfig(v plugins.Values) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: v.String(KeySSLServerName),
		InsecureSkipVerify: v.Bool(KeySSLInsecure)} //nolint:gosec // an explicit, documented opt-in for tests
	if ca := v.String(KeySSLCA); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, &cfgerr.Error{Key: KeySSLCA, Value: ca, Reason: err.Error(), Err: plugins.ErrInvalidValue}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &cfgerr.Error{Key: KeySSLCA, Value: ca, Reason: "no PEM certificate in the file", Err: plugins.ErrInvalidValue}
		}
		tc.RootCAs = pool
	}
	if cert := v.String(KeySSLCert); cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, v.String(KeySSLKey))
		if err != nil {
			return nil, &cfgerr.Error{Key: KeySSLCert, Value: cert, Reason: err.Error(), Err: plugins.ErrInvalidValue}
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}

func saslMechanism(v plugins.Values) sasl.Mechanism {
	user, pass := v.String(KeySASLUsername), v.Password(KeySASLPassword).Value()
	switch v.String(KeySASLMechanism) {
	case mechanismSCRAM256:
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
	case mechanismSCRAM512:
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
	default:
		return plain.Auth{User: user, Pass: pass}.AsMechanism()
	}
}

// renameFormat checks topic.rename.format: a template holding ${topic} once at most.
func renameFormat(key, f string) error {
	if strings.Count(f, topicPlaceholder) > 1 {
		return invalid(key, f, "holds "+topicPlaceholder+" more than once")
	}
	if rest := strings.ReplaceAll(f, topicPlaceholder, ""); strings.Contains(rest, "${") {
		return invalid(key, f, "only the placeholder "+topicPlaceholder+" is known")
	}
	return nil
}

// rename applies a topic.rename.format to topic.
func rename(format, topic string) string { return strings.ReplaceAll(format, topicPlaceholder, topic) }

func missing(key, reason string) *cfgerr.Error {
	return &cfgerr.Error{Key: key, Reason: reason, Err: plugins.ErrMissingRequired}
}

func invalid(key, value, reason string) *cfgerr.Error {
	return &cfgerr.Error{Key: key, Value: value, Reason: reason, Err: plugins.ErrInvalidValue}
}

func asError(errs cfgerr.List) error {
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// slogger hands franz-go's log lines to the task's logger, one level down: the client logs a broker
// that went away at Warn and retries it, which is Info for the task.
type slogger struct{ log *slog.Logger }

func (l slogger) Level() kgo.LogLevel {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		return kgo.LogLevelInfo
	}
	return kgo.LogLevelError
}

func (l slogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lv := slog.LevelDebug
	if level == kgo.LogLevelError {
		lv = slog.LevelWarn
	}
	l.log.Log(context.Background(), lv, "kafka client: "+msg, keyvals...)
}
