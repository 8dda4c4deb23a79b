package conf

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/conf/rmqname"
)

// Registry is the configuration of a schema registry server process (rmqconnect schema-registry).
type Registry struct {
	// NamesrvAddr lists name servers, ';' or ',' separated.
	NamesrvAddr     string `mapstructure:"namesrvAddr"`
	HTTPBindAddress string `mapstructure:"httpBindAddress"`
	HTTPPort        int    `mapstructure:"httpPort"`
	// StoreTopic is the single-queue topic holding the registry's events; every instance sharing it serves the same
	// subjects, versions and record ids.
	StoreTopic string `mapstructure:"storeTopic"`
	// ClusterName names this registry cluster in logs and in its RocketMQ client instance names.
	ClusterName string `mapstructure:"clusterName"`
	LogLevel    string `mapstructure:"logLevel"`
	LogFormat   string `mapstructure:"logFormat"`
	// SnapshotIntervalHours: how often the state is re-appended to the store topic, so it
	// survives the broker's retention (keep it well under fileReservedTime); 0 disables.
	SnapshotIntervalHours int `mapstructure:"snapshotIntervalHours"`
	// The REST access keys, as for the worker (Worker's fields of the same names): basic auth
	// users, TLS, the origins browsers may call from, and more names the Host header may carry.
	RESTAuthFile           string `mapstructure:"restAuthFile"`
	RESTTLSCertFile        string `mapstructure:"restTLSCertFile"`
	RESTTLSKeyFile         string `mapstructure:"restTLSKeyFile"`
	RESTCORSAllowedOrigins string `mapstructure:"restCORSAllowedOrigins"`
	RESTCORSAllowedMethods string `mapstructure:"restCORSAllowedMethods"`
	RESTAllowedHosts       string `mapstructure:"restAllowedHosts"`
}

// RegistryDefaults returns the registry configuration used for every key a file does not set.
func RegistryDefaults() Registry {
	return Registry{
		NamesrvAddr:     "127.0.0.1:9876",
		HTTPBindAddress: "127.0.0.1",
		HTTPPort:        8081,
		StoreTopic:      "schema-registry-store",
		ClusterName:     "DefaultSchemaRegistry",
		LogLevel:        "info",
		LogFormat:       "text",

		SnapshotIntervalHours: 6,

		RESTCORSAllowedMethods: "GET,POST,PUT,DELETE",
	}
}

// LoadRegistry reads a schema registry config file (empty path: defaults and environment only, RMQCONNECT_<KEY>
// overrides as for the worker; RMQ_NAMESRV when namesrvAddr is not set) and validates it. Unknown keys are errors.
func LoadRegistry(path string) (*Registry, error) {
	r, errs, err := load("schema registry config", path, RegistryDefaults())
	if err != nil {
		return nil, err
	}
	errs = append(errs, r.validate()...)
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Key < errs[j].Key })
		return nil, errs
	}
	r.LogLevel = strings.ToLower(r.LogLevel)
	return r, nil
}

// idChars are the characters of a worker or cluster id (up to 100); the length is checked apart, as a
// counted repetition compiles into a regexp program of ~100 KB kept for good (validID).
var idChars = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func validID(s string) bool { return len(s) <= 100 && idChars.MatchString(s) }

func (r *Registry) validate() cfgerr.List {
	var errs cfgerr.List
	bad := func(key string, val any, reason string) {
		errs = append(errs, &cfgerr.Error{Key: key, Value: fmt.Sprint(val), Reason: reason, ValueFirst: true})
	}
	if len(r.NameServers()) == 0 {
		bad("namesrvAddr", r.NamesrvAddr, "at least one name server host:port is required")
	}
	for _, a := range r.NameServers() {
		if !hostPortPat.MatchString(a) {
			bad("namesrvAddr", a, "not a host:port address")
		} else if _, p, _ := strings.Cut(a[strings.LastIndex(a, ":"):], ":"); !validPort(p, false) {
			bad("namesrvAddr", a, "port must be 1-65535")
		}
	}
	if r.HTTPPort < 0 || r.HTTPPort > 65535 {
		bad("httpPort", r.HTTPPort, "must be 0-65535 (0 picks a free port)")
	}
	if r.SnapshotIntervalHours < 0 {
		bad("snapshotIntervalHours", r.SnapshotIntervalHours, "must be 0 (off) or a number of hours")
	}
	if r.HTTPBindAddress == "" {
		bad("httpBindAddress", r.HTTPBindAddress, "must not be empty")
	}
	if !rmqname.Topic(r.StoreTopic) {
		bad("storeTopic", r.StoreTopic, "not a valid RocketMQ topic name")
	}
	if !validID(r.ClusterName) {
		bad("clusterName", r.ClusterName, "must be 1-100 characters of letters, digits, '_' or '-'")
	}
	switch strings.ToLower(r.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		bad("logLevel", r.LogLevel, "must be debug, info, warn or error")
	}
	switch r.LogFormat {
	case "text", "json":
	default:
		bad("logFormat", r.LogFormat, "must be text or json")
	}
	return append(errs, r.REST().validateREST()...)
}

// REST returns a worker config holding only the registry's REST access keys, whose checks and
// helpers (CORSOrigins, CORSMethods, AllowedHosts) are the worker's.
func (r *Registry) REST() *Worker {
	return &Worker{RESTAuthFile: r.RESTAuthFile, RESTTLSCertFile: r.RESTTLSCertFile, RESTTLSKeyFile: r.RESTTLSKeyFile,
		RESTCORSAllowedOrigins: r.RESTCORSAllowedOrigins, RESTCORSAllowedMethods: r.RESTCORSAllowedMethods,
		RESTAllowedHosts: r.RESTAllowedHosts}
}

// NameServers splits NamesrvAddr on ';' and ','.
func (r *Registry) NameServers() []string {
	w := Worker{NamesrvAddr: r.NamesrvAddr}
	return w.NameServers()
}

// HTTPAddr is the registry's listener address.
func (r *Registry) HTTPAddr() string { return fmt.Sprintf("%s:%d", r.HTTPBindAddress, r.HTTPPort) }
