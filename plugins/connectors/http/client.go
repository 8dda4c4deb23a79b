package httpconn

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/schema/converter"
	"github.com/rmqconnect/rmqconnect/schema/registry/retryafter"
)

// Fixed bounds (not configurable: they only protect memory and sanity).
const (
	excerptBytes   = 512      // of a failed response, in errors and DLQ messages
	drainBytes     = 64 << 10 // read from a successful response so the connection can be reused
	maxRetryAfter  = 10 * time.Minute
	maxHeaderBytes = 64 << 10
)

// jsonConv renders schemaless and schema'd values as bare JSON (no envelope), as Kafka's JsonConverter does with
// schemas.enable=false, except that a Decimal is a JSON number (decimal.format=NUMERIC) wherever it stands: a
// schemaless Decimal is one already, and a base64 string in a webhook body would pass for text. Date, Time and
// Timestamp stay days since the epoch, milliseconds of the day and epoch milliseconds.
var jsonConv = func() *converter.JSONConverter {
	c := converter.NewJSONConverter()
	if err := c.Configure(map[string]string{"schemas.enable": "false", "decimal.format": "NUMERIC"}, false); err != nil {
		panic(err)
	}
	return c
}()

func jsonOf(v any) ([]byte, error) {
	var s *schema.Schema
	if st, ok := v.(*schema.Struct); ok && st != nil {
		s = st.Schema()
	}
	return jsonConv.FromConnect("", s, v)
}

// requester is what both connectors share: the client, auth, signature, retry policy and rate limit.
type requester struct {
	client      *http.Client
	transport   *http.Transport
	authHeader  string // full Authorization value, "" for none
	hmacSecret  []byte
	hmacHeader  string
	hmacAlgo    string
	timeout     time.Duration
	maxAttempts int // 0 = unlimited
	backoff0    time.Duration
	backoffMax  time.Duration
	limiter     *limiter
	metrics     *requestMetrics // nil: nothing recorded
	// refused are the statuses that refuse the request's content whatever retriableStatus says
	// (http-sink's record.error.statuses); nil for none.
	refused statusSet
	// seeOtherDone makes a 303 See Other to a request other than GET or HEAD a success, not followed: the
	// server carried the request out and points to its result (RFC 9110 §15.4.4). For http-sink, which
	// delivers and reads no result; a poll wants the result and follows the rules of checkRedirect.
	seeOtherDone bool
}

// newRequester builds the client from the common keys; maxConns bounds connections per host.
func newRequester(v plugins.Values, maxConns int) (*requester, error) {
	tr := &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		MaxIdleConns:           maxConns,
		MaxIdleConnsPerHost:    maxConns,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: maxHeaderBytes,
	}
	tlsCfg, err := tlsConfig(v)
	if err != nil {
		return nil, err
	}
	if tlsCfg != nil {
		tr.TLSClientConfig = tlsCfg
	}
	r := &requester{
		transport:   tr,
		timeout:     v.Duration(KeyRequestTimeout),
		maxAttempts: v.Int(KeyRetryMax),
		backoff0:    v.Duration(KeyRetryInitial),
		backoffMax:  v.Duration(KeyRetryMaxBackoff),
		limiter:     newLimiter(v.Double(KeyRPS)),
		hmacSecret:  []byte(v.Password(KeyHMACSecret).Value()),
		hmacHeader:  v.String(KeyHMACHeader),
		hmacAlgo:    strings.ToLower(v.String(KeyHMACAlgorithm)),
	}
	r.client = &http.Client{Transport: tr, CheckRedirect: r.checkRedirect}
	switch strings.ToLower(v.String(KeyAuthType)) {
	case AuthBasic:
		cred := v.String(KeyAuthUsername) + ":" + v.Password(KeyAuthPassword).Value()
		r.authHeader = "Basic " + base64.StdEncoding.EncodeToString([]byte(cred))
	case AuthBearer:
		r.authHeader = "Bearer " + v.Password(KeyAuthToken).Value()
	}
	return r, nil
}

// maxRedirects bounds the redirects followed for one attempt.
const maxRedirects = 5

// checkRedirect follows a redirect only when the request stays the same: same scheme and host (credentials
// and signatures must not leak elsewhere), same method and same body, which for a request with a body means
// 307 or 308 (net/http re-sends the body through GetBody). After a 301, 302 or 303 net/http re-sends a
// request as a GET without its body, and a 2xx to that GET would pass for the delivery of records it never
// carried. A redirect not followed is an ErrRedirect: the configured URL is wrong, not the record. A 303
// that seeOtherDone makes a success is not followed either: do returns it as the answer; but only one to
// the same scheme and host, the endpoint's own answer. A 303 elsewhere, as a forward-auth proxy sends a
// request whose token expired to its login page, is an ErrRedirect: taken for delivered, the records
// would be committed and lost.
func (r *requester) checkRedirect(req *http.Request, via []*http.Request) error {
	prev := via[len(via)-1]
	sameOrigin := req.URL.Scheme == via[0].URL.Scheme && req.URL.Host == via[0].URL.Host
	if req.Response != nil && sameOrigin && r.doneBySeeOther(prev.Method, req.Response.StatusCode) {
		return http.ErrUseLastResponse
	}
	var why string
	switch {
	case !sameOrigin:
		why = "another host or scheme, where credentials and signatures are not sent"
	case req.Method != prev.Method || req.ContentLength != prev.ContentLength:
		why = fmt.Sprintf("which would re-send the %s request as a %s without its body (only 307 and 308 keep method and body)", prev.Method, req.Method)
	case len(via) >= maxRedirects:
		why = fmt.Sprintf("after %d redirects", len(via))
	default:
		return nil
	}
	status := 0
	if req.Response != nil {
		status = req.Response.StatusCode
	}
	return fmt.Errorf("%w: status %d to %s, %s; set url to the final location", ErrRedirect, status, redact(req.URL.String()), why)
}

func tlsConfig(v plugins.Values) (*tls.Config, error) {
	certFile, keyFile, caFile := v.String(KeyTLSCert), v.String(KeyTLSKey), v.String(KeyTLSCA)
	if certFile == "" && caFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, &cfgerr.Error{Key: KeyTLSCert, Value: certFile, Reason: "load client certificate: " + err.Error(), Err: plugins.ErrInvalidValue}
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, &cfgerr.Error{Key: KeyTLSCA, Value: caFile, Reason: err.Error(), Err: plugins.ErrInvalidValue}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &cfgerr.Error{Key: KeyTLSCA, Value: caFile, Reason: "no PEM certificate in the file", Err: plugins.ErrInvalidValue}
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// doneBySeeOther reports whether status answers a request of method with success under seeOtherDone.
func (r *requester) doneBySeeOther(method string, status int) bool {
	return r.seeOtherDone && status == http.StatusSeeOther && method != http.MethodGet && method != http.MethodHead
}

// close releases idle connections (and their goroutines).
func (r *requester) close() { r.transport.CloseIdleConnections() }

// Sign returns the signature header value of body: "<algorithm>=<hex HMAC>", algorithm one of sha256, sha512
// and sha1 in any case (written lowercase). http-sink sends it in hmac.header; http-source (listen.auth=hmac)
// expects it there.
func Sign(algo string, secret, body []byte) string {
	algo = strings.ToLower(algo)
	var h func() hash.Hash
	switch algo {
	case "sha512":
		h = sha512.New
	case "sha1":
		h = sha1.New
	default:
		h = sha256.New
	}
	m := hmac.New(h, secret)
	m.Write(body)
	return algo + "=" + hex.EncodeToString(m.Sum(nil))
}

// verifySignature reports whether got is the signature of body (constant time).
func verifySignature(algo string, secret, body []byte, got string) bool {
	return hmac.Equal([]byte(Sign(algo, secret, body)), []byte(strings.TrimSpace(got)))
}

// request is one HTTP request to send, possibly several times.
type request struct {
	method string
	url    string
	header http.Header
	body   []byte
}

// attemptResult classifies one attempt.
type attemptResult struct {
	status     int           // 0 when no response
	header     http.Header   // response headers (nil when no response)
	body       []byte        // the response body when keepBody, else an excerpt
	retryAfter time.Duration // from a Retry-After header
	err        error         // nil on 2xx; else a *StatusError, an ErrRedirect, an ErrRender or a transport error
	retriable  bool          // the request may be sent again; otherwise err is final
}

// do sends req once. With keepBody the whole body (up to maxBody bytes, more is ErrResponseTooLarge) is
// returned on 2xx; otherwise the body is drained up to drainBytes.
func (r *requester) do(ctx context.Context, req *request, keepBody bool, maxBody int64) attemptResult {
	actx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	hreq, err := http.NewRequestWithContext(actx, req.method, req.url, body)
	if err != nil {
		// url.Parse's error quotes the URL, password included: say why in words of checkURL.
		why := checkURL(req.url)
		if why == nil {
			why = unwrapURLError(err)
		}
		return attemptResult{err: fmt.Errorf("%w: %s %s: %v", ErrRender, req.method, redact(req.url), why)}
	}
	for k, vs := range req.header {
		hreq.Header[k] = vs
	}
	if r.authHeader != "" {
		hreq.Header.Set("Authorization", r.authHeader)
	}
	if len(r.hmacSecret) > 0 {
		hreq.Header.Set(r.hmacHeader, Sign(r.hmacAlgo, r.hmacSecret, req.body))
	}
	if hreq.Header.Get("User-Agent") == "" {
		hreq.Header.Set("User-Agent", "rmqconnect-http")
	}
	start := time.Now()
	resp, err := r.client.Do(hreq)
	if err != nil {
		if ctx.Err() != nil {
			return attemptResult{err: ctx.Err()} // stopped: not an outcome of the target, not recorded
		}
		if errors.Is(err, ErrRedirect) {
			status := 0
			if resp != nil { // the redirect answer, its body already closed
				status = resp.StatusCode
			}
			r.metrics.observe(status, time.Since(start))
			return attemptResult{status: status, err: fmt.Errorf("%s %s: %w", req.method, redact(req.url), unwrapURLError(err))}
		}
		r.metrics.observe(0, time.Since(start))
		return attemptResult{err: fmt.Errorf("%s %s: %w", req.method, redact(req.url), unwrapURLError(err)), retriable: true}
	}
	defer resp.Body.Close()
	defer func() { r.metrics.observe(resp.StatusCode, time.Since(start)) }()
	res := attemptResult{status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 || r.doneBySeeOther(req.method, resp.StatusCode) {
		if keepBody {
			b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
			if err != nil {
				return attemptResult{status: resp.StatusCode, err: fmt.Errorf("%s %s: read response: %w", req.method, redact(req.url), err), retriable: true}
			}
			if int64(len(b)) > maxBody {
				return attemptResult{status: resp.StatusCode, err: fmt.Errorf("%s %s: %w (%d bytes)", req.method, redact(req.url), ErrResponseTooLarge, maxBody)}
			}
			res.body = b
		} else {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainBytes))
		}
		return res
	}
	ex, _ := io.ReadAll(io.LimitReader(resp.Body, excerptBytes))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainBytes))
	se := &StatusError{Method: req.method, URL: redact(req.url), Status: resp.StatusCode, Excerpt: string(ex)}
	res.err, res.body = se, ex
	switch code := resp.StatusCode; {
	case r.refused.has(code):
		se.Err = ErrRejected
	case retriableStatus(code):
		res.retriable = true
		res.retryAfter = min(retryafter.Parse(resp.Header.Get("Retry-After"), time.Now()), maxRetryAfter)
	case code >= 300 && code < 400:
		se.Err = ErrRedirect // one net/http does not follow (no Location, 300, 304): the URL is wrong
	default:
		se.Err = ErrRejected
	}
	return res
}

// retriableStatus reports whether a status says nothing about the request's content, so the request is
// retried and, when retries run out, the task fails rather than the records being blamed: 408, 429 and 5xx
// (the server is busy or down) and 401, 403, 404, 405 and 407 (credentials, URL, method or proxy are wrong,
// or not yet right: an expired token, a route not yet deployed). A status in requester.refused is checked
// first and never retried.
func retriableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests,
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusMethodNotAllowed,
		http.StatusProxyAuthRequired:
		return true
	}
	return code >= 500
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redact hides user info and query values of a URL for errors and logs (which reach task traces and DLQ
// messages): either may hold a resolved secret, such as an API key.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{"xxxxx"}
		}
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// checkURL reports why raw is not an absolute http or https URL (nil when it is). Its words never include
// raw's user info: url.Parse's own errors quote the whole URL, and some quote the bad part of a password.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		if masked := hidePassword(raw); masked != raw {
			_, merr := url.Parse(masked)
			if merr == nil {
				return errors.New("the user info is not valid in a URL (percent-encode %, @, :, / and ? in the user name and password)")
			}
			err = merr
		}
		return errors.New(unwrapURLError(err).Error())
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("not an http or https URL")
	}
	if u.Host == "" {
		return errors.New("no host")
	}
	return nil
}

// hidePassword masks the password in raw's user info ("user:xxxxx@host"), keeping the rest as written, for
// configuration errors (redact re-encodes, which would garble a template). raw need not parse: when it does
// not, everything up to its last '@' is taken as user info, which masks too much rather than too little.
func hidePassword(raw string) string {
	i := strings.Index(raw, "://")
	if i < 0 {
		return raw
	}
	start := i + len("://")
	rest := raw[start:]
	end := len(rest)
	if _, err := url.Parse(raw); err == nil {
		if j := strings.IndexAny(rest, "/?#"); j >= 0 {
			end = j
		}
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return raw
	}
	colon := strings.IndexByte(rest[:at], ':')
	if colon < 0 {
		return raw // a user name alone
	}
	return raw[:start] + rest[:colon+1] + "xxxxx" + rest[at:]
}

// backoff is the delay before retry number attempt (1-based): initial·2^(attempt-1) capped at max, drawn
// uniformly from its upper half (jitter), and never below retryAfter.
func (r *requester) backoff(attempt int, retryAfter time.Duration) time.Duration {
	d := r.backoff0
	for i := 1; i < attempt && d < r.backoffMax; i++ {
		d *= 2
	}
	d = min(d, r.backoffMax)
	d = d/2 + rand.N(d/2+1)
	return max(d, retryAfter)
}

// giveUp reports whether attempt (1-based) was the last one allowed.
func (r *requester) giveUp(attempt int) bool { return r.maxAttempts > 0 && attempt >= r.maxAttempts }

// sleep waits d or until ctx or stop ends; false when interrupted.
func sleep(ctx context.Context, stop <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-stop:
		return false
	}
}

// limiter spaces requests 1/rate apart (no burst); nil means unlimited.
type limiter struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

func newLimiter(rate float64) *limiter {
	if rate <= 0 {
		return nil
	}
	return &limiter{interval: time.Duration(float64(time.Second) / rate)}
}

// wait blocks until the next request may go; false when ctx or stop ended first.
func (l *limiter) wait(ctx context.Context, stop <-chan struct{}) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	now := time.Now()
	at := l.next
	if at.Before(now) {
		at = now
	}
	l.next = at.Add(l.interval)
	l.mu.Unlock()
	return sleep(ctx, stop, time.Until(at))
}
