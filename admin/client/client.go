package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultTimeout bounds each call unless WithTimeout or WithHTTPClient says otherwise.
const DefaultTimeout = 30 * time.Second

// maxBody caps how much of a response is read; the largest legitimate answer (a list with
// every connector's status and info) is far below it.
const maxBody = 64 << 20

// Client calls one worker. It is safe for concurrent use.
type Client struct {
	base *url.URL
	hc   *http.Client

	user, password string
	basicAuth      bool
	tls            *tls.Config
}

// Option configures a Client.
type Option func(*Client)

// WithTimeout bounds each call, from connecting to reading the whole body; 0 means no bound
// other than the context's.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) { c.hc.Timeout = d }
}

// WithHTTPClient makes the client send through hc (TLS settings, a proxy, a test transport).
// hc's own Timeout applies; a later WithTimeout overrides it.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		cp := *hc
		c.hc = &cp
	}
}

// WithBasicAuth sends user and password as HTTP basic auth on every call. Over plain http
// they cross the network readable; use an https URL when the worker is not local.
func WithBasicAuth(user, password string) Option {
	return func(c *Client) { c.user, c.password, c.basicAuth = user, password, true }
}

// WithTLSConfig makes https calls with cfg: the CAs to trust (RootCAs), a client certificate,
// or InsecureSkipVerify. It applies to the client's *http.Transport (a copy of
// http.DefaultTransport, or of WithHTTPClient's transport); New fails when WithHTTPClient gave
// a transport of another type.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(c *Client) { c.tls = cfg }
}

// New returns a client for the worker at baseURL (for example http://127.0.0.1:8082). A base
// URL with a path prefix (behind a reverse proxy) keeps that prefix.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil {
		return nil, fmt.Errorf("worker URL %q: %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("worker URL %q: scheme must be http or https", baseURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("worker URL %q: no host", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("worker URL %q: must not have a query or fragment", baseURL)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	c := &Client{base: u, hc: &http.Client{Timeout: DefaultTimeout}}
	for _, o := range opts {
		o(c)
	}
	if c.tls != nil {
		var t *http.Transport
		switch rt := c.hc.Transport.(type) {
		case nil:
			t = http.DefaultTransport.(*http.Transport).Clone()
		case *http.Transport:
			t = rt.Clone()
		default:
			return nil, fmt.Errorf("WithTLSConfig: the HTTP client's transport is a %T, not an *http.Transport", rt)
		}
		t.TLSClientConfig = c.tls.Clone()
		c.hc.Transport = t
	}
	return c, nil
}

// IsUnauthorized reports whether err is an *APIError with status 401: the worker wants
// credentials, or refused the ones sent.
func IsUnauthorized(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusUnauthorized
}

// BaseURL is the worker URL the client calls.
func (c *Client) BaseURL() string { return c.base.String() }

// APIError is a non-2xx answer from the worker. Code is the error_code (Kafka Connect routes)
// or errorCode (RocketMQ Connect routes) of the body, 0 when the body has none; Message is the
// body's message, or its text when it is not a JSON error body.
type APIError struct {
	Method  string
	URL     string
	Status  int
	Code    int
	Message string

	body []byte // the raw body, for routes whose error body carries more (GET /health)
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "(no message)"
	}
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.URL, e.Status, http.StatusText(e.Status), msg)
}

// IsNotFound reports whether err is an *APIError with status 404.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// TransportError is a call that got no usable answer: the request could not be sent, timed
// out, or its response could not be read or decoded.
type TransportError struct {
	Method string
	URL    string
	Err    error
}

func (e *TransportError) Error() string { return fmt.Sprintf("%s %s: %v", e.Method, e.URL, e.Err) }
func (e *TransportError) Unwrap() error { return e.Err }

// Timeout reports whether the call ran out of time (the client's timeout or the context's deadline).
func (e *TransportError) Timeout() bool {
	var te interface{ Timeout() bool }
	return errors.Is(e.Err, context.DeadlineExceeded) || (errors.As(e.Err, &te) && te.Timeout())
}

// call is one request: method, path segments (escaped here), an optional query and JSON body.
type call struct {
	method string
	path   []string
	query  url.Values
	body   any
}

// do sends cl and decodes a 2xx body into out (when out is not nil and the body is not empty).
// It returns the status of the 2xx answer.
func (c *Client) do(ctx context.Context, cl call, out any) (int, error) {
	u := *c.base
	for _, p := range cl.path {
		u.Path += "/" + p
		u.RawPath += "/" + url.PathEscape(p)
	}
	u.RawPath = c.base.EscapedPath() + u.RawPath
	u.RawQuery = cl.query.Encode()
	target := u.String()
	terr := func(err error) error { return &TransportError{Method: cl.method, URL: target, Err: err} }

	var body io.Reader
	if cl.body != nil {
		b, err := json.Marshal(cl.body)
		if err != nil {
			return 0, terr(fmt.Errorf("encode request: %w", err))
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, target, body)
	if err != nil {
		return 0, terr(err)
	}
	req.Header.Set("Accept", "application/json")
	if c.basicAuth {
		req.SetBasicAuth(c.user, c.password)
	}
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the method and URL are in TransportError already
		}
		return 0, terr(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return resp.StatusCode, terr(fmt.Errorf("read response (status %d): %w", resp.StatusCode, err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, apiError(cl.method, target, resp.StatusCode, data)
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, terr(fmt.Errorf("decode response (status %d): %w", resp.StatusCode, err))
		}
	}
	return resp.StatusCode, nil
}

// apiError reads either dialect's error body; anything else becomes the message as text.
func apiError(method, target string, status int, data []byte) *APIError {
	e := &APIError{Method: method, URL: target, Status: status, body: data}
	var body struct {
		KafkaCode *int   `json:"error_code"`
		RmqCode   *int   `json:"errorCode"`
		Message   string `json:"message"`
	}
	if json.Unmarshal(data, &body) == nil && (body.KafkaCode != nil || body.RmqCode != nil || body.Message != "") {
		switch {
		case body.KafkaCode != nil:
			e.Code = *body.KafkaCode
		case body.RmqCode != nil:
			e.Code = *body.RmqCode
		}
		e.Message = body.Message
		return e
	}
	text := strings.TrimSpace(string(data))
	if len(text) > 512 {
		text = text[:512] + "..."
	}
	e.Message = text
	return e
}
