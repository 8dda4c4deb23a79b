package conf

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/conf/rmqname"
	"github.com/rmqconnect/rmqconnect/worker/gcfloor"
)

// Worker is the configuration of one worker process.
type Worker struct {
	WorkerID         string `mapstructure:"workerId"`
	ConnectClusterID string `mapstructure:"connectClusterId"`
	// NamesrvAddr lists name servers, ';' or ',' separated.
	NamesrvAddr     string `mapstructure:"namesrvAddr"`
	HTTPBindAddress string `mapstructure:"httpBindAddress"`
	HTTPPort        int    `mapstructure:"httpPort"`
	// PluginPaths are directories searched for out-of-process plugin binaries, ',' separated
	// absolute paths (see docs/plugins.md).
	PluginPaths string `mapstructure:"pluginPaths"`
	// PluginCallTimeoutMs is how long a call to a plugin process may go unanswered before the
	// process is taken as hung, killed, and its connector or task failed.
	PluginCallTimeoutMs int    `mapstructure:"pluginCallTimeoutMs"`
	StorePathRootDir    string `mapstructure:"storePathRootDir"`
	// AllocTaskStrategy is sticky (default), consistent-hash or round-robin; the Java class names are accepted.
	AllocTaskStrategy             string `mapstructure:"allocTaskStrategy"`
	AutoCreateTopicEnable         bool   `mapstructure:"autoCreateTopicEnable"`
	OffsetCommitIntervalMsConfig  int    `mapstructure:"offsetCommitIntervalMsConfig"`
	OffsetCommitTimeoutMsConfig   int    `mapstructure:"offsetCommitTimeoutMsConfig"`
	MaxStartTimeoutMills          int    `mapstructure:"maxStartTimeoutMills"`
	MaxStopTimeoutMills           int    `mapstructure:"maxStopTimeoutMills"`
	OperationTimeout              int    `mapstructure:"operationTimeout"`
	KeyConverter                  string `mapstructure:"keyConverter"`
	ValueConverter                string `mapstructure:"valueConverter"`
	ConfigStoreTopic              string `mapstructure:"configStoreTopic"`
	PositionStoreTopic            string `mapstructure:"positionStoreTopic"`
	ConnectStatusTopic            string `mapstructure:"connectStatusTopic"`
	ClusterStoreTopic             string `mapstructure:"clusterStoreTopic"`
	ACLEnable                     bool   `mapstructure:"aclEnable"`
	AccessKey                     string `mapstructure:"accessKey"`
	SecretKey                     string `mapstructure:"secretKey"`
	LogLevel                      string `mapstructure:"logLevel"`
	LogFormat                     string `mapstructure:"logFormat"`
	GracefulShutdownTimeoutMillis int    `mapstructure:"gracefulShutdownTimeoutMillis"`
	// A failed task is restarted after taskRestartBackoffInitialMs, doubling up to
	// taskRestartBackoffMaxMs.
	TaskRestartBackoffInitialMs int `mapstructure:"taskRestartBackoffInitialMs"`
	TaskRestartBackoffMaxMs     int `mapstructure:"taskRestartBackoffMaxMs"`
	// RESTAuthFile holds the admin REST users, `user:bcrypt-hash` per line; empty: no auth.
	RESTAuthFile string `mapstructure:"restAuthFile"`
	// RESTTLSCertFile and RESTTLSKeyFile (PEM) make the admin REST API serve HTTPS; both or neither.
	RESTTLSCertFile string `mapstructure:"restTLSCertFile"`
	RESTTLSKeyFile  string `mapstructure:"restTLSKeyFile"`
	// RESTCORSAllowedOrigins lists the origins browsers may call the admin REST API from, ','
	// separated, '*' for any; empty: no CORS headers. RESTCORSAllowedMethods are the methods
	// a preflight allows.
	RESTCORSAllowedOrigins string `mapstructure:"restCORSAllowedOrigins"`
	RESTCORSAllowedMethods string `mapstructure:"restCORSAllowedMethods"`
	// RESTAllowedHosts lists more names the Host header of a REST request may carry, ','
	// separated ('*': any); loopback names, IP addresses and httpBindAddress are always allowed.
	// Other names are refused, which defeats DNS rebinding (docs/security.md).
	RESTAllowedHosts string `mapstructure:"restAllowedHosts"`
	// RESTMutatingGetEnable serves the RocketMQ Connect GET routes that change state
	// (/connectors/{name}?config=, /connectors/{name}/stop|pause|resume, /connectors/*/all);
	// off by default because any web page can make a browser send a GET (docs/security.md).
	RESTMutatingGetEnable bool `mapstructure:"restMutatingGetEnable"`

	// Files and secrets (docs/security-secrets-files-acl.md).
	// FileConnectorAllowedDirs, ',' separated, confines the paths connectors read and write
	// (fields a ConfigSpec declares as paths, e.g. file-source's and file-sink's filename) to
	// these directories and what lies below them, symlinks resolved; empty: any path.
	FileConnectorAllowedDirs string `mapstructure:"fileConnectorAllowedDirs"`
	// ConfigProviderFileAllowedDirs, ',' separated, confines ${file:...} placeholders to
	// these directories; empty: any path the worker can read.
	ConfigProviderFileAllowedDirs string `mapstructure:"configProviderFileAllowedDirs"`
	// ConfigProviderFileMaxBytes is the largest file a ${file:...} placeholder may read.
	ConfigProviderFileMaxBytes int `mapstructure:"configProviderFileMaxBytes"`
	// GCHeapFloorMB keeps the Go garbage collector's heap goal at or above this many MiB (worker/gcfloor);
	// 0 leaves the collector as GOGC says. Ignored when GOGC is set in the environment.
	GCHeapFloorMB int `mapstructure:"gcHeapFloorMB"`
}

// Defaults returns the configuration used for every key a file does not set.
func Defaults() Worker {
	home, _ := os.UserHomeDir()
	return Worker{
		WorkerID:                      "DefaultWorker",
		ConnectClusterID:              "DefaultConnectCluster",
		NamesrvAddr:                   "127.0.0.1:9876",
		HTTPBindAddress:               "127.0.0.1",
		HTTPPort:                      8082,
		StorePathRootDir:              filepath.Join(home, "connectorStore"),
		AllocTaskStrategy:             "sticky",
		AutoCreateTopicEnable:         true,
		OffsetCommitIntervalMsConfig:  30000,
		OffsetCommitTimeoutMsConfig:   5000,
		MaxStartTimeoutMills:          180000,
		PluginCallTimeoutMs:           60000,
		MaxStopTimeoutMills:           60000,
		OperationTimeout:              3000,
		KeyConverter:                  "string",
		ValueConverter:                "json",
		ConfigStoreTopic:              "connector-config-topic",
		PositionStoreTopic:            "connector-position-topic",
		ConnectStatusTopic:            "connector-status-topic",
		ClusterStoreTopic:             "connector-cluster-topic",
		LogLevel:                      "info",
		LogFormat:                     "text",
		GracefulShutdownTimeoutMillis: 30000,
		TaskRestartBackoffInitialMs:   1000,
		TaskRestartBackoffMaxMs:       300000,
		RESTCORSAllowedMethods:        "GET,POST,PUT,PATCH,DELETE",
		ConfigProviderFileMaxBytes:    1 << 20,
		GCHeapFloorMB:                 gcfloor.Default >> 20,
	}
}

// strategies maps accepted allocTaskStrategy spellings to their canonical names.
var strategies = map[string]string{
	"consistent-hash": "consistent-hash",
	"round-robin":     "round-robin",
	"sticky":          "sticky",
	"org.apache.rocketmq.connect.runtime.service.strategy.AllocateConnAndTaskStrategyByConsistentHash": "consistent-hash",
	"org.apache.rocketmq.connect.runtime.service.strategy.DefaultAllocateConnAndTaskStrategy":          "round-robin",
}

// Load reads the file at path (empty path: defaults and environment only), applies
// environment overrides and validates the result.
func Load(path string) (*Worker, error) {
	w, errs, err := load("worker config", path, Defaults())
	if err != nil {
		return nil, err
	}
	errs = append(errs, w.validate()...)
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Key < errs[j].Key })
		return nil, errs
	}
	w.AllocTaskStrategy = strategies[w.AllocTaskStrategy]
	w.LogLevel = strings.ToLower(w.LogLevel)
	return w, nil
}

// load fills a config struct of type T (fields tagged with mapstructure keys) from def, the
// file at path (what names the config in errors) and RMQCONNECT_<KEY> environment
// overrides, with RMQ_NAMESRV as the fallback for namesrvAddr. Unknown keys and values of
// the wrong type are returned as a cfgerr.List naming their key; err is for an unreadable file.
func load[T any](what, path string, def T) (*T, cfgerr.List, error) {
	v := viper.NewWithOptions(viper.WithCodecRegistry(codecs()))
	t := reflect.TypeOf(def)
	keys := make([]string, t.NumField())
	for i := range keys {
		keys[i] = t.Field(i).Tag.Get("mapstructure")
		v.SetDefault(keys[i], reflect.ValueOf(def).Field(i).Interface())
		if err := v.BindEnv(keys[i], "RMQCONNECT_"+strings.ToUpper(keys[i])); err != nil {
			return nil, nil, err
		}
	}
	if path != "" {
		if err := readFile(v, what, path); err != nil {
			return nil, nil, err
		}
	}
	if !v.InConfig(strings.ToLower("namesrvAddr")) && os.Getenv("RMQCONNECT_NAMESRVADDR") == "" {
		if ns := os.Getenv("RMQ_NAMESRV"); ns != "" {
			v.Set("namesrvAddr", ns)
		}
	}
	var errs cfgerr.List
	for _, k := range v.AllKeys() {
		if !knownKey(keys, k) {
			errs = append(errs, &cfgerr.Error{Key: k, Reason: "unknown key (known keys: " + strings.Join(keys, ", ") + ")", ValueFirst: true})
		}
	}
	errs = append(errs, misspeltEnv(keys, os.Environ())...)
	// A key whose value is refused keeps its default, so that validation adds no second error
	// about the zero value it would have.
	out := def
	for i, k := range keys {
		raw := v.Get(k)
		if s, ok := raw.(string); ok {
			raw = strings.TrimSpace(s)
			if raw == "" && t.Field(i).Type.Kind() != reflect.String {
				// Decoded weakly, "" is 0 or false: an unset variable in a templated config
				// (httpPort: "${PORT}") would pick a random port, or turn a safeguard off.
				errs = append(errs, &cfgerr.Error{Key: k, Reason: "empty; remove the key to use the default, or give a " +
					t.Field(i).Type.Kind().String(), ValueFirst: true})
				continue
			}
		}
		if t.Field(i).Type.Kind() == reflect.Int {
			n, ok := wholeNumber(raw)
			if !ok {
				errs = append(errs, &cfgerr.Error{Key: k, Value: fmt.Sprint(raw), Reason: "expected a whole number in decimal digits", ValueFirst: true})
				continue
			}
			raw = n
		}
		// Decode key by key so that a bad value is reported against its own key.
		dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{Result: &out, WeaklyTypedInput: true, MatchName: strings.EqualFold})
		if err != nil {
			return nil, nil, err
		}
		if err := dec.Decode(map[string]any{k: raw}); err != nil {
			errs = append(errs, &cfgerr.Error{Key: k, Value: fmt.Sprint(raw), Reason: "expected " + t.Field(i).Type.Kind().String(), ValueFirst: true})
		}
	}
	return &out, errs, nil
}

// wholeNumber reads the value of an int key. A string (a .properties value, an environment
// override) is decimal, as Java's Integer.parseInt reads it: decoded weakly, "060000" was
// octal 24576 and "0x10" hex. A YAML or JSON number must be whole: decoded weakly, 1.5 was
// cut to 1 and 0.5 to 0, which turns gcHeapFloorMB off. Other values are left to the decoder.
func wholeNumber(raw any) (any, bool) {
	switch x := raw.(type) {
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	case float64:
		if x != math.Trunc(x) || x < math.MinInt64 || x >= math.MaxInt64 {
			return nil, false
		}
		return int64(x), true
	}
	return raw, true
}

// misspeltEnv returns an error for each RMQCONNECT_ environment variable that names a key
// with underscores between its words (RMQCONNECT_HTTP_PORT): the override of httpPort is
// RMQCONNECT_HTTPPORT, and the misspelt one was ignored without a word.
func misspeltEnv(keys []string, environ []string) cfgerr.List {
	var errs cfgerr.List
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		rest, ok := strings.CutPrefix(name, "RMQCONNECT_")
		if !ok || !strings.Contains(rest, "_") {
			continue
		}
		for _, k := range keys {
			if strings.EqualFold(strings.ReplaceAll(rest, "_", ""), k) {
				errs = append(errs, &cfgerr.Error{Key: k, Reason: "environment variable " + name +
					" is not read: the override of " + k + " is RMQCONNECT_" + strings.ToUpper(k), ValueFirst: true})
			}
		}
	}
	return errs
}

func readFile(v *viper.Viper, what, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer f.Close()
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".yaml", ".yml":
		v.SetConfigType("yaml")
	case ".json":
		v.SetConfigType("json")
	case ".properties", ".conf", ".cfg":
		v.SetConfigType("properties")
	default:
		return fmt.Errorf("%s %s: unsupported extension %q (use .yaml, .yml, .json, .properties or .conf)", what, path, ext)
	}
	if err := v.ReadConfig(f); err != nil {
		return fmt.Errorf("%s %s: %w", what, path, err)
	}
	return nil
}

func knownKey(keys []string, k string) bool {
	for _, known := range keys {
		if strings.EqualFold(known, k) {
			return true
		}
	}
	return false
}

var (
	hostPortPat = regexp.MustCompile(`^[A-Za-z0-9._\-\[\]:]+:[0-9]{1,5}$`)
	methodPat   = regexp.MustCompile(`^[A-Za-z]+$`)
)

func (w *Worker) validate() cfgerr.List {
	var errs cfgerr.List
	bad := func(key string, val any, reason string) {
		errs = append(errs, &cfgerr.Error{Key: key, Value: fmt.Sprint(val), Reason: reason, ValueFirst: true})
	}
	if !validID(w.WorkerID) {
		bad("workerId", w.WorkerID, "must be 1-100 characters of letters, digits, '_' or '-'")
	}
	if !validID(w.ConnectClusterID) {
		bad("connectClusterId", w.ConnectClusterID, "must be 1-100 characters of letters, digits, '_' or '-'")
	}
	if len(w.NameServers()) == 0 {
		bad("namesrvAddr", w.NamesrvAddr, "at least one name server host:port is required")
	}
	for _, a := range w.NameServers() {
		if !hostPortPat.MatchString(a) {
			bad("namesrvAddr", a, "not a host:port address")
		} else if _, p, _ := strings.Cut(a[strings.LastIndex(a, ":"):], ":"); !validPort(p, false) {
			bad("namesrvAddr", a, "port must be 1-65535")
		}
	}
	if w.HTTPPort < 0 || w.HTTPPort > 65535 {
		bad("httpPort", w.HTTPPort, "must be 0-65535 (0 picks a free port)")
	}
	if w.HTTPBindAddress == "" {
		bad("httpBindAddress", w.HTTPBindAddress, "must not be empty")
	}
	if w.StorePathRootDir == "" {
		bad("storePathRootDir", "", "must not be empty")
	}
	if _, ok := strategies[w.AllocTaskStrategy]; !ok {
		bad("allocTaskStrategy", w.AllocTaskStrategy, "must be consistent-hash, round-robin or sticky")
	}
	for key, val := range map[string]int{
		"offsetCommitIntervalMsConfig":  w.OffsetCommitIntervalMsConfig,
		"offsetCommitTimeoutMsConfig":   w.OffsetCommitTimeoutMsConfig,
		"maxStartTimeoutMills":          w.MaxStartTimeoutMills,
		"pluginCallTimeoutMs":           w.PluginCallTimeoutMs,
		"maxStopTimeoutMills":           w.MaxStopTimeoutMills,
		"operationTimeout":              w.OperationTimeout,
		"gracefulShutdownTimeoutMillis": w.GracefulShutdownTimeoutMillis,
		"taskRestartBackoffInitialMs":   w.TaskRestartBackoffInitialMs,
		"taskRestartBackoffMaxMs":       w.TaskRestartBackoffMaxMs,
	} {
		if val <= 0 {
			bad(key, val, "must be a positive number of milliseconds")
		}
	}
	for key, val := range map[string]string{
		"configStoreTopic": w.ConfigStoreTopic, "positionStoreTopic": w.PositionStoreTopic,
		"connectStatusTopic": w.ConnectStatusTopic, "clusterStoreTopic": w.ClusterStoreTopic,
	} {
		if !rmqname.Topic(val) {
			bad(key, val, "not a valid RocketMQ topic name")
		}
	}
	switch strings.ToLower(w.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		bad("logLevel", w.LogLevel, "must be debug, info, warn or error")
	}
	switch w.LogFormat {
	case "text", "json":
	default:
		bad("logFormat", w.LogFormat, "must be text or json")
	}
	if w.TaskRestartBackoffMaxMs < w.TaskRestartBackoffInitialMs {
		bad("taskRestartBackoffMaxMs", w.TaskRestartBackoffMaxMs, "must not be below taskRestartBackoffInitialMs")
	}
	errs = append(errs, w.validateREST()...)
	errs = append(errs, w.validateSecretsFilesACL()...)
	return errs
}

// validateREST checks the admin REST access keys. The files are only checked for being
// readable here; their contents are parsed when the server starts.
func (w *Worker) validateREST() cfgerr.List {
	var errs cfgerr.List
	bad := func(key string, val any, reason string) {
		errs = append(errs, &cfgerr.Error{Key: key, Value: fmt.Sprint(val), Reason: reason, ValueFirst: true})
	}
	for _, f := range []struct{ key, path string }{
		{"restAuthFile", w.RESTAuthFile}, {"restTLSCertFile", w.RESTTLSCertFile}, {"restTLSKeyFile", w.RESTTLSKeyFile},
	} {
		if f.path == "" {
			continue
		}
		if err := readable(f.path); err != nil {
			bad(f.key, f.path, "cannot read: "+err.Error())
		}
	}
	switch {
	case w.RESTTLSCertFile != "" && w.RESTTLSKeyFile == "":
		bad("restTLSKeyFile", "", "required when restTLSCertFile is set")
	case w.RESTTLSCertFile == "" && w.RESTTLSKeyFile != "":
		bad("restTLSCertFile", "", "required when restTLSKeyFile is set")
	}
	for _, o := range w.CORSOrigins() {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			bad("restCORSAllowedOrigins", o, "not an origin: want scheme://host[:port] or *")
		}
	}
	if len(w.CORSOrigins()) > 0 && len(w.CORSMethods()) == 0 {
		bad("restCORSAllowedMethods", w.RESTCORSAllowedMethods, "must not be empty when restCORSAllowedOrigins is set")
	}
	for _, m := range w.CORSMethods() {
		if !methodPat.MatchString(m) {
			bad("restCORSAllowedMethods", m, "not an HTTP method")
		}
	}
	for _, h := range w.AllowedHosts() {
		if h != "*" && !hostNamePat.MatchString(h) {
			bad("restAllowedHosts", h, "not a host name (no scheme, port or path): want e.g. connect.example.com, or *")
		}
	}
	return errs
}

var hostNamePat = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?\.?$`)

// PluginDirs splits PluginPaths on ','.
func (w *Worker) PluginDirs() []string { return splitList(w.PluginPaths) }

// AllowedHosts splits RESTAllowedHosts on ','.
func (w *Worker) AllowedHosts() []string { return splitList(w.RESTAllowedHosts) }

// validateSecretsFilesACL checks the ACL, plugin, file-confinement and config-provider keys.
func (w *Worker) validateSecretsFilesACL() cfgerr.List {
	var errs cfgerr.List
	bad := func(key string, val any, reason string) {
		errs = append(errs, &cfgerr.Error{Key: key, Value: fmt.Sprint(val), Reason: reason, ValueFirst: true})
	}
	if w.ACLEnable && (w.AccessKey == "" || w.SecretKey == "") {
		bad("aclEnable", w.ACLEnable, "accessKey and secretKey are required when ACL is enabled")
	}
	for key, list := range map[string]string{
		"pluginPaths":              w.PluginPaths,
		"fileConnectorAllowedDirs": w.FileConnectorAllowedDirs, "configProviderFileAllowedDirs": w.ConfigProviderFileAllowedDirs,
	} {
		for _, d := range splitList(list) {
			if !filepath.IsAbs(d) {
				bad(key, d, "must be an absolute directory path")
			} else if st, err := os.Stat(d); err != nil {
				bad(key, d, "cannot use: "+errors.Unwrap(err).Error())
			} else if !st.IsDir() {
				bad(key, d, "not a directory")
			}
		}
	}
	if w.GCHeapFloorMB < 0 || w.GCHeapFloorMB > 1<<20 {
		bad("gcHeapFloorMB", w.GCHeapFloorMB, "must be a number of MiB from 0 (off) to 1048576")
	}
	if w.ConfigProviderFileMaxBytes <= 0 {
		bad("configProviderFileMaxBytes", w.ConfigProviderFileMaxBytes, "must be a positive number of bytes")
	}
	return errs
}

// FileConnectorDirs splits FileConnectorAllowedDirs on ','.
func (w *Worker) FileConnectorDirs() []string { return splitList(w.FileConnectorAllowedDirs) }

// ConfigProviderFileDirs splits ConfigProviderFileAllowedDirs on ','.
func (w *Worker) ConfigProviderFileDirs() []string { return splitList(w.ConfigProviderFileAllowedDirs) }

// ACLCredentials returns the access and secret key when aclEnable is set, else empty strings.
func (w *Worker) ACLCredentials() (accessKey, secretKey string) {
	if !w.ACLEnable {
		return "", ""
	}
	return w.AccessKey, w.SecretKey
}

// readable reports why the file at path cannot be opened for reading, or nil.
func readable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return pe.Err // the key names the path already
		}
		return err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return errors.New("is a directory")
	}
	return nil
}

// CORSOrigins splits RESTCORSAllowedOrigins on ','.
func (w *Worker) CORSOrigins() []string { return splitList(w.RESTCORSAllowedOrigins) }

// CORSMethods splits RESTCORSAllowedMethods on ',' and upper-cases each method.
func (w *Worker) CORSMethods() []string {
	ms := splitList(w.RESTCORSAllowedMethods)
	for i, m := range ms {
		ms[i] = strings.ToUpper(m)
	}
	return ms
}

// splitList splits s on ',' and drops blanks.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func validPort(s string, allowZero bool) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n <= 65535 && (n > 0 || allowZero && n == 0)
}

// NameServers splits NamesrvAddr on ';' and ','.
func (w *Worker) NameServers() []string {
	var out []string
	for _, p := range strings.FieldsFunc(w.NamesrvAddr, func(r rune) bool { return r == ';' || r == ',' }) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// HTTPAddr is the admin listener's address.
func (w *Worker) HTTPAddr() string {
	return fmt.Sprintf("%s:%d", w.HTTPBindAddress, w.HTTPPort)
}

// Ms turns a millisecond setting into a duration.
func Ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// Redacted returns a copy safe to log or show: secrets are replaced.
func (w Worker) Redacted() Worker {
	if w.SecretKey != "" {
		w.SecretKey = "[hidden]"
	}
	return w
}

// IsNotExist reports whether err means the config file is missing.
func IsNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }
