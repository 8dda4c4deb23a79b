package httpconn

import (
	"regexp"
	"strings"
	"time"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
)

// Configuration keys shared by http-sink and http-source (poll mode).
const (
	KeyURL             = "url"
	KeyMethod          = "method"
	KeyHeaders         = "headers"
	KeyHeaderSeparator = "header.separator"
	KeyAuthType        = "auth.type"
	KeyAuthUsername    = "auth.username"
	KeyAuthPassword    = "auth.password"
	KeyAuthToken       = "auth.bearer.token"
	KeyTLSCert         = "tls.client.cert.file"
	KeyTLSKey          = "tls.client.key.file"
	KeyTLSCA           = "tls.ca.file"
	KeyRequestTimeout  = "request.timeout"
	KeyRetryMax        = "retry.max.attempts"
	KeyRetryInitial    = "retry.backoff.initial"
	KeyRetryMaxBackoff = "retry.backoff.max"
	KeyRPS             = "requests.per.second"
	KeyHMACSecret      = "hmac.secret"
	KeyHMACHeader      = "hmac.header"
	KeyHMACAlgorithm   = "hmac.algorithm"
)

// Authentication types (auth.type).
const (
	AuthNone   = "none"
	AuthBasic  = "basic"
	AuthBearer = "bearer"
)

// commonFields are the request, auth, TLS and retry keys of both connectors; method is declared by each.
func commonFields() []plugins.Field {
	return []plugins.Field{
		// url is checked by checkCommon, not by a validator: the spec's errors quote the value as written, and
		// a URL may hold a password.
		{Name: KeyURL, Type: plugins.TypeString,
			Doc: "Target URL (http or https). A template: ${...} placeholders are replaced per record (sink) or per request (source); values are escaped for where they stand (path or query)."},
		{Name: KeyHeaders, Type: plugins.TypeString, Default: "",
			Doc: "Extra request headers, `Name:template` entries separated by header.separator, e.g. `X-Topic:${topic}|X-Id:${value.id}`."},
		{Name: KeyHeaderSeparator, Type: plugins.TypeString, Default: "|", Validators: []plugins.Validator{plugins.NonEmpty()},
			Doc: "Separator between the entries of headers."},
		{Name: KeyAuthType, Type: plugins.TypeString, Default: AuthNone,
			Validators: []plugins.Validator{plugins.OneOf(AuthNone, AuthBasic, AuthBearer)},
			Doc:        "Authorization header: none, basic (auth.username, auth.password) or bearer (auth.bearer.token)."},
		{Name: KeyAuthUsername, Type: plugins.TypeString, Default: "", Doc: "User name for auth.type=basic."},
		{Name: KeyAuthPassword, Type: plugins.TypePassword, Default: "",
			Doc: "Password for auth.type=basic; may come from a config provider (${file:...}, ${env:...})."},
		{Name: KeyAuthToken, Type: plugins.TypePassword, Default: "",
			Doc: "Token for auth.type=bearer; may come from a config provider (${file:...}, ${env:...})."},
		{Name: KeyTLSCert, Type: plugins.TypeString, Default: "", Doc: "PEM client certificate for mutual TLS (with tls.client.key.file; https url only)."},
		{Name: KeyTLSKey, Type: plugins.TypeString, Default: "", Doc: "PEM private key of tls.client.cert.file."},
		{Name: KeyTLSCA, Type: plugins.TypeString, Default: "", Doc: "PEM CA bundle to verify the server with, instead of the system roots (https url only)."},
		{Name: KeyRequestTimeout, Type: plugins.TypeDuration, Default: 30 * time.Second,
			Validators: []plugins.Validator{plugins.DurationBetween(time.Millisecond, time.Hour)},
			Doc:        "Deadline of one attempt, from connecting to reading the response."},
		{Name: KeyRetryMax, Type: plugins.TypeInt, Default: 10, Validators: []plugins.Validator{plugins.AtLeast(0)},
			Doc: "Attempts per request on connection errors, timeouts, 401, 403, 404, 405, 407, 408, 429 and 5xx; 0 retries until the task stops."},
		{Name: KeyRetryInitial, Type: plugins.TypeDuration, Default: 100 * time.Millisecond,
			Validators: []plugins.Validator{plugins.DurationBetween(time.Millisecond, time.Hour)},
			Doc:        "Delay before the first retry; doubled after each failure, with jitter."},
		{Name: KeyRetryMaxBackoff, Type: plugins.TypeDuration, Default: 30 * time.Second,
			Validators: []plugins.Validator{plugins.DurationBetween(time.Millisecond, time.Hour)},
			Doc:        "Cap of the retry delay (a Retry-After header is honoured up to 10 minutes)."},
		{Name: KeyRPS, Type: plugins.TypeDouble, Default: 0.0, Validators: []plugins.Validator{plugins.AtLeast(0)},
			Doc: "Most requests per second per task (retries included); 0 means no limit."},
		{Name: KeyHMACSecret, Type: plugins.TypePassword, Default: "",
			Doc: "When set, every request carries hmac.header = `<algorithm>=<hex HMAC of the body>`."},
		{Name: KeyHMACHeader, Type: plugins.TypeString, Default: "X-Signature-256", Validators: []plugins.Validator{plugins.MatchesRegex(`[A-Za-z0-9-]+`)},
			Doc: "Header carrying the body's HMAC signature."},
		{Name: KeyHMACAlgorithm, Type: plugins.TypeString, Default: "sha256", Validators: []plugins.Validator{plugins.OneOf("sha256", "sha512", "sha1")},
			Doc: "Hash of the HMAC signature."},
	}
}

// urlShape is what url must look like, placeholders included.
var urlShape = regexp.MustCompile(`(?i)^https?://\S+$`)

// checkCommon checks headers and url: a constant url must parse as an http(s) URL, a templated one must
// parse as a template. Errors show url with its password masked.
func checkCommon(v plugins.Values) cfgerr.List {
	var errs cfgerr.List
	if _, err := parseHeaderTemplates(v.String(KeyHeaders), v.String(KeyHeaderSeparator)); err != nil {
		errs = append(errs, &cfgerr.Error{Key: KeyHeaders, Value: v.String(KeyHeaders), Reason: err.Error(), Err: plugins.ErrInvalidValue})
	}
	if u := v.String(KeyURL); u != "" {
		if err := checkURLKey(u); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// checkURLKey checks the url key; the error shows the value with its password masked.
func checkURLKey(u string) *cfgerr.Error {
	bad := func(reason string) *cfgerr.Error {
		return &cfgerr.Error{Key: KeyURL, Value: hidePassword(u), Reason: reason, Err: plugins.ErrInvalidValue}
	}
	if !urlShape.MatchString(u) {
		return bad("must start with http:// or https:// and hold no white space")
	}
	t, err := parseTemplate(u)
	if err != nil {
		return bad(err.Error())
	}
	if t.constant() {
		if err := checkURL(u); err != nil {
			return bad(err.Error())
		}
	}
	return nil
}

// checkClient checks the keys of the requests a task sends: auth and TLS keys that go together, and TLS
// keys only with an https url (they would have no effect on http://).
func checkClient(v plugins.Values) cfgerr.List {
	var errs cfgerr.List
	switch strings.ToLower(v.String(KeyAuthType)) {
	case AuthBasic:
		if v.String(KeyAuthUsername) == "" {
			errs = append(errs, missing(KeyAuthUsername, "required when auth.type is basic"))
		}
	case AuthBearer:
		if v.Password(KeyAuthToken) == "" {
			errs = append(errs, missing(KeyAuthToken, "required when auth.type is bearer"))
		}
	}
	if (v.String(KeyTLSCert) == "") != (v.String(KeyTLSKey) == "") {
		errs = append(errs, missing(KeyTLSKey, "tls.client.cert.file and tls.client.key.file go together"))
	}
	if strings.HasPrefix(strings.ToLower(v.String(KeyURL)), "http://") {
		for _, k := range []string{KeyTLSCert, KeyTLSKey, KeyTLSCA} {
			if f := v.String(k); f != "" {
				errs = append(errs, &cfgerr.Error{Key: k, Value: f, Err: plugins.ErrInvalidValue,
					Reason: "has no effect with an http:// url: TLS is used only for https://"})
			}
		}
	}
	return errs
}

func missing(key, reason string) *cfgerr.Error {
	return &cfgerr.Error{Key: key, Reason: reason, Err: plugins.ErrMissingRequired}
}

func asError(errs cfgerr.List) error {
	if len(errs) == 0 {
		return nil
	}
	return errs
}
