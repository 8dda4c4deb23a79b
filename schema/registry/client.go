package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rmqconnect/rmqconnect/schema/registry/retryafter"
)

// Config configures a Client. Zero values take the defaults named on each field.
type Config struct {
	// URL is the registry's base address, e.g. http://localhost:8080 (required; the /schema-registry/v1 prefix is
	// added).
	URL string
	// Cluster and Tenant place subjects ("default" both).
	Cluster, Tenant string
	// Timeout bounds each HTTP attempt (10s).
	Timeout time.Duration
	// MaxRetries is how many times a transport failure, a 5xx, a 408 or a 429 is retried (3; negative disables
	// retries).
	MaxRetries int
	// BackoffInitial and BackoffMax shape the exponential backoff with jitter between retries (100ms, 2s). A
	// Retry-After on the answer asks for a longer wait; it is honoured when it ends within MaxElapsed (and the
	// ctx's deadline), otherwise the call gives up at once.
	BackoffInitial, BackoffMax time.Duration
	// MaxElapsed bounds one call, every attempt and wait included (30s; the ctx's deadline when sooner). A call
	// still failing when it runs out gives an error wrapping ErrUnavailable.
	MaxElapsed time.Duration
	// CacheSize bounds each cache (1000 entries; when full it is emptied and refilled).
	CacheSize int
	// SameSchema decides whether two IDLs are the same schema when Ensure looks for an existing version
	// (byte equality when nil).
	SameSchema func(a, b string) bool
	// HTTPClient sends the requests (a new http.Client when nil).
	HTTPClient *http.Client
	// Username and Password are sent as basic-auth credentials when Username is set. A URL of the
	// form http(s)://user:password@host sets them too (the URL's own are used when these are empty).
	Username, Password string
}

// RegisterRequest registers the first version of a subject's schema.
type RegisterRequest struct {
	SchemaIDL     string `json:"schemaIdl"`
	SchemaType    string `json:"schemaType,omitempty"`
	Compatibility string `json:"compatibility,omitempty"`
	Owner         string `json:"owner,omitempty"`
	Desc          string `json:"desc,omitempty"`
}

// UpdateRequest adds a version to a subject's schema.
type UpdateRequest struct {
	SchemaIDL string `json:"schemaIdl"`
	Owner     string `json:"owner,omitempty"`
	Desc      string `json:"desc,omitempty"`
}

// Registered is the answer to a register or update.
type Registered struct {
	RecordID int64 `json:"recordId"`
	Version  int64 `json:"version"`
}

// SchemaRecord is one version of a subject's schema.
type SchemaRecord struct {
	Subject    string `json:"subjectFullName,omitempty"`
	SchemaName string `json:"schemaFullName,omitempty"`
	SchemaID   int64  `json:"schemaId,omitempty"`
	RecordID   int64  `json:"recordId"`
	Version    int64  `json:"version"`
	IDL        string `json:"idl"`
	Type       string `json:"type,omitempty"`
}

// UnmarshalJSON accepts "schema" as well as "schemaFullName" (the Java SchemaRecordDto spelling).
func (r *SchemaRecord) UnmarshalJSON(b []byte) error {
	type plain SchemaRecord
	var aux struct {
		plain
		Schema string `json:"schema"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*r = SchemaRecord(aux.plain)
	if r.SchemaName == "" {
		r.SchemaName = aux.Schema
	}
	return nil
}

// Client talks to one registry. It is safe for concurrent use.
type Client struct {
	cfg  Config
	base string // URL + prefix + cluster + tenant, escaped

	mu       sync.Mutex
	byID     map[idKey]SchemaRecord
	bySchema map[schemaKey]Registered
}

type idKey struct {
	subject string
	id      int64
}

type schemaKey struct {
	subject, idl string
}

// New returns a client; a missing or malformed URL gives an error wrapping ErrInvalidConfig.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(cfg.URL))
	if cfg.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The URL may carry a password: name its shape, not its text.
		return nil, fmt.Errorf("%w: the url must be http(s)://[user:password@]host[:port]", ErrInvalidConfig)
	}
	if u.User != nil && cfg.Username == "" {
		cfg.Username = u.User.Username()
		cfg.Password, _ = u.User.Password()
	}
	u.User = nil // kept out of every URL the client builds, so no error text carries the password
	if cfg.Cluster == "" {
		cfg.Cluster = "default"
	}
	if cfg.Tenant == "" {
		cfg.Tenant = "default"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 3
	}
	if cfg.BackoffInitial <= 0 {
		cfg.BackoffInitial = 100 * time.Millisecond
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = 2 * time.Second
	}
	if cfg.MaxElapsed <= 0 {
		cfg.MaxElapsed = 30 * time.Second
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 1000
	}
	if cfg.SameSchema == nil {
		cfg.SameSchema = func(a, b string) bool { return a == b }
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	base := strings.TrimRight(u.String(), "/") + "/schema-registry/v1/cluster/" + url.PathEscape(cfg.Cluster) +
		"/tenant/" + url.PathEscape(cfg.Tenant)
	return &Client{cfg: cfg, base: base, byID: map[idKey]SchemaRecord{}, bySchema: map[schemaKey]Registered{}}, nil
}

func subjectPath(subject string) string { return "/subject/" + url.PathEscape(subject) }

// Register registers the first version of subject's schema called name.
func (c *Client) Register(ctx context.Context, subject, name string, req RegisterRequest) (Registered, error) {
	var out Registered
	err := c.do(ctx, http.MethodPost, subjectPath(subject)+"/schema/"+url.PathEscape(name), req, &out)
	if err == nil {
		c.rememberSchema(subject, req.SchemaIDL, out)
	}
	return out, err
}

// Update adds a new version of subject's schema called name.
func (c *Client) Update(ctx context.Context, subject, name string, req UpdateRequest) (Registered, error) {
	var out Registered
	err := c.do(ctx, http.MethodPut, subjectPath(subject)+"/schema/"+url.PathEscape(name), req, &out)
	if err == nil {
		c.rememberSchema(subject, req.SchemaIDL, out)
	}
	return out, err
}

// Latest returns the newest version of subject's schema.
func (c *Client) Latest(ctx context.Context, subject string) (SchemaRecord, error) {
	var out SchemaRecord
	err := c.do(ctx, http.MethodGet, subjectPath(subject)+"/schema", nil, &out)
	if err == nil {
		c.rememberID(subject, out)
	}
	return out, err
}

// Version returns one version of subject's schema.
func (c *Client) Version(ctx context.Context, subject string, version int64) (SchemaRecord, error) {
	var out SchemaRecord
	err := c.do(ctx, http.MethodGet, subjectPath(subject)+"/schema/versions/"+strconv.FormatInt(version, 10), nil, &out)
	if err == nil {
		c.rememberID(subject, out)
	}
	return out, err
}

// Versions returns every version of subject's schema, oldest first.
func (c *Client) Versions(ctx context.Context, subject string) ([]SchemaRecord, error) {
	var out []SchemaRecord
	if err := c.do(ctx, http.MethodGet, subjectPath(subject)+"/schema/versions", nil, &out); err != nil {
		return nil, err
	}
	for _, r := range out {
		c.rememberID(subject, r)
	}
	return out, nil
}

// ByRecordID returns the schema version with record id id; answers are cached.
func (c *Client) ByRecordID(ctx context.Context, subject string, id int64) (SchemaRecord, error) {
	c.mu.Lock()
	r, ok := c.byID[idKey{subject, id}]
	c.mu.Unlock()
	if ok {
		return r, nil
	}
	err := c.do(ctx, http.MethodGet, subjectPath(subject)+"/recordId/"+strconv.FormatInt(id, 10)+"/schema", nil, &r)
	if err != nil {
		return SchemaRecord{}, err
	}
	if r.RecordID == 0 {
		r.RecordID = id
	}
	c.rememberID(subject, r)
	return r, nil
}

// Subjects lists the subject names of the client's cluster and tenant.
func (c *Client) Subjects(ctx context.Context) ([]string, error) {
	var out []string
	err := c.do(ctx, http.MethodGet, "/subjects", nil, &out)
	return out, err
}

// DeleteSubject deletes every version of subject and forgets what the caches hold about it.
func (c *Client) DeleteSubject(ctx context.Context, subject string) error {
	err := c.do(ctx, http.MethodDelete, subjectPath(subject)+"/schema", nil, nil)
	c.forget(subject)
	return err
}

// DeleteVersion deletes one version of subject.
func (c *Client) DeleteVersion(ctx context.Context, subject string, version int64) error {
	err := c.do(ctx, http.MethodDelete, subjectPath(subject)+"/schema/versions/"+strconv.FormatInt(version, 10), nil, nil)
	c.forget(subject)
	return err
}

// Lookup returns the version of subject whose IDL is the same schema as idl (Config.SameSchema), newest first;
// answers are cached. No such version gives an error wrapping ErrNotFound.
func (c *Client) Lookup(ctx context.Context, subject, idl string) (Registered, error) {
	c.mu.Lock()
	reg, ok := c.bySchema[schemaKey{subject, idl}]
	c.mu.Unlock()
	if ok {
		return reg, nil
	}
	versions, err := c.Versions(ctx, subject)
	if err != nil {
		return Registered{}, err
	}
	return c.match(subject, idl, versions)
}

func (c *Client) match(subject, idl string, versions []SchemaRecord) (Registered, error) {
	for i := len(versions) - 1; i >= 0; i-- {
		if v := versions[i]; c.cfg.SameSchema(v.IDL, idl) {
			reg := Registered{RecordID: v.RecordID, Version: v.Version}
			c.rememberSchema(subject, idl, reg)
			return reg, nil
		}
	}
	return Registered{}, fmt.Errorf("schema registry: subject %s: no version has this schema: %w", subject, ErrNotFound)
}

// Ensure returns the record id of idl in subject, registering it when needed: the cached answer if any; else the
// existing version whose IDL is the same schema (Config.SameSchema); else a new version called name (Update), or
// the first one (Register, with req's type and compatibility) when the subject does not exist. An incompatible
// schema gives an *APIError wrapping ErrConflict with the server's reason.
func (c *Client) Ensure(ctx context.Context, subject, name string, req RegisterRequest) (Registered, error) {
	c.mu.Lock()
	reg, ok := c.bySchema[schemaKey{subject, req.SchemaIDL}]
	c.mu.Unlock()
	if ok {
		return reg, nil
	}
	versions, err := c.Versions(ctx, subject)
	if errors.Is(err, ErrNotFound) {
		reg, err = c.Register(ctx, subject, name, req)
		if !errors.Is(err, ErrConflict) {
			return reg, err
		}
		// Someone registered the subject meanwhile: look again.
		versions, err = c.Versions(ctx, subject)
	}
	if err != nil {
		return Registered{}, err
	}
	if reg, err := c.match(subject, req.SchemaIDL, versions); err == nil {
		return reg, nil
	}
	return c.Update(ctx, subject, name, UpdateRequest{SchemaIDL: req.SchemaIDL, Owner: req.Owner, Desc: req.Desc})
}

func (c *Client) rememberID(subject string, r SchemaRecord) {
	if r.RecordID == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.byID) >= c.cfg.CacheSize {
		c.byID = map[idKey]SchemaRecord{}
	}
	c.byID[idKey{subject, r.RecordID}] = r
}

func (c *Client) rememberSchema(subject, idl string, reg Registered) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.bySchema) >= c.cfg.CacheSize {
		c.bySchema = map[schemaKey]Registered{}
	}
	c.bySchema[schemaKey{subject, idl}] = reg
}

func (c *Client) forget(subject string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.byID {
		if k.subject == subject {
			delete(c.byID, k)
		}
	}
	for k := range c.bySchema {
		if k.subject == subject {
			delete(c.bySchema, k)
		}
	}
}

// do sends one request with retries and decodes a 2xx JSON answer into out (when out is not nil). The call ends
// within MaxElapsed or the ctx's deadline: a deadline reached while the registry fails or does not answer gives
// an error wrapping ErrUnavailable and context.DeadlineExceeded; a cancelled ctx gives context.Canceled.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("schema registry: %s %s: encode request: %w", method, path, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.MaxElapsed)
	defer cancel()
	backoff := c.cfg.BackoffInitial
	var lastErr error
	for attempt := 0; ; attempt++ {
		retry, retryAfter, err := c.attempt(ctx, method, path, body, out)
		if err == nil {
			return nil
		}
		lastErr = err
		if !retry {
			break
		}
		if ctx.Err() != nil {
			return c.stopped(ctx, method, path, lastErr)
		}
		if attempt >= c.cfg.MaxRetries {
			break
		}
		// Full jitter: sleep a random duration in [backoff/2, backoff), or what the server asked for.
		sleep := max(backoff/2+rand.N(backoff/2+1), retryAfter)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < sleep {
			if retryAfter > 0 {
				lastErr = fmt.Errorf("%w (Retry-After %s is beyond the time left for the call)", lastErr, retryAfter)
			}
			break // waiting would only end at the deadline
		}
		t := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			t.Stop()
			return c.stopped(ctx, method, path, lastErr)
		case <-t.C:
		}
		backoff = min(backoff*2, c.cfg.BackoffMax)
	}
	var api *APIError
	if errors.As(lastErr, &api) {
		return lastErr
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, lastErr)
}

// stopped is the error of a call whose ctx ended: unavailable when its deadline passed, the ctx's error when it
// was cancelled.
func (c *Client) stopped(ctx context.Context, method, path string, lastErr error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: schema registry: %s %s: no answer in time: %w (last error: %v)", ErrUnavailable, method, path, ctx.Err(), lastErr)
	}
	return fmt.Errorf("schema registry: %s %s: %w (last error: %v)", method, path, ctx.Err(), lastErr)
}

// maxRetryAfter caps the wait a Retry-After asks for, in either form: a server asking for more than a day is
// taken to ask for a day.
const maxRetryAfter = 24 * time.Hour

// attempt sends the request once; retry says whether a failure is worth another try, and retryAfter how long
// the server asked to wait first (0 when it did not say).
func (c *Client) attempt(ctx context.Context, method, path string, body []byte, out any) (retry bool, retryAfter time.Duration, err error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, method, c.base+path, rd)
	if err != nil {
		return false, 0, fmt.Errorf("schema registry: %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if c.cfg.Username != "" {
		req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		// Transport failure or attempt timeout.
		return true, 0, fmt.Errorf("schema registry: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return true, 0, fmt.Errorf("schema registry: %s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &APIError{Method: method, Path: path, Status: resp.StatusCode, Message: errorMessage(data)}
		if !e.unavailable() {
			return false, 0, e
		}
		return true, min(retryafter.Parse(resp.Header.Get("Retry-After"), time.Now()), maxRetryAfter), e
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return false, 0, nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return false, 0, fmt.Errorf("schema registry: %s %s: decode answer: %w", method, path, err)
	}
	return false, 0, nil
}

// errorMessage extracts the reason from an error body: a JSON "message" (or "error"), else the text itself.
func errorMessage(data []byte) string {
	var m struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(data, &m) == nil {
		if m.Message != "" {
			return m.Message
		}
		if m.Error != "" {
			return m.Error
		}
	}
	s := strings.TrimSpace(string(data))
	if len(s) > 1000 {
		s = s[:1000] + "…"
	}
	return s
}
