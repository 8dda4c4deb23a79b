package httpconn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/internal/position"
	"github.com/rmqconnect/rmqconnect/schema"
)

// SourceName is the registered name of the HTTP source.
const SourceName = "http-source"

// Configuration keys of http-source (besides the common ones).
const (
	KeyMode           = "mode"
	KeyTopic          = "connect.topicname"
	KeyRequestBody    = "request.body"
	KeyPollInterval   = "poll.interval"
	KeyRecordsPath    = "records.path"
	KeyKeyPath        = "record.key.path"
	KeyValueFormat    = "record.value.format"
	KeyPositionPath   = "position.path"
	KeyPositionInit   = "position.initial"
	KeyPagination     = "pagination.mode"
	KeyCursorPath     = "pagination.cursor.path"
	KeyCursorParam    = "pagination.cursor.param"
	KeyNextPath       = "pagination.next.path"
	KeyResponseMax    = "response.max.bytes"
	KeyListenAddress  = "listen.address"
	KeyListenPath     = "listen.path"
	KeyListenAuth     = "listen.auth"
	KeyListenSecret   = "listen.secret"
	KeyListenHeader   = "listen.secret.header"
	KeyListenMaxBody  = "listen.max.body.bytes"
	KeyListenQueue    = "listen.queue.size"
	KeyListenTimeout  = "listen.ack.timeout"
	KeyListenMaxBatch = "listen.poll.max.records"
)

// Values of mode, pagination.mode, record.value.format and listen.auth.
const (
	ModePoll      = "poll"
	ModeListen    = "listen"
	PageNone      = "none"
	PageCursor    = "cursor"
	PageNextLink  = "next-link"
	ValueJSON     = "json"
	ValueString   = "string"
	ValueBytes    = "bytes"
	ListenNone    = "none"
	ListenSecret  = "secret"
	ListenHMAC    = "hmac"
	offsetPage    = "page"
	offsetIndex   = "next" // elements of the page done: the next one to emit
	offsetPos     = "position"
	offsetPagePos = "page.position" // ${position} the page was requested with
	offsetSeq     = "seq"
	partitionURL  = "url"
	partitionPath = "listen"
)

var sourceSpec = plugins.MustConfigSpec(append(commonFields(),
	plugins.Field{Name: KeyMode, Type: plugins.TypeString, Default: ModePoll, Validators: []plugins.Validator{plugins.OneOf(ModePoll, ModeListen)},
		Doc: "poll: request url on an interval; listen: serve listen.address and turn each request into records."},
	plugins.Field{Name: KeyTopic, Type: plugins.TypeString, Required: true, Aliases: []string{"topic"},
		Validators: []plugins.Validator{plugins.NonEmpty()}, Doc: "Topic the records are sent to."},
	plugins.Field{Name: KeyMethod, Type: plugins.TypeString, Default: http.MethodGet, Validators: []plugins.Validator{plugins.OneOf(http.MethodGet, http.MethodPost)},
		Doc: "Poll mode: GET or POST."},
	plugins.Field{Name: KeyRequestBody, Type: plugins.TypeString, Default: "",
		Doc: "Poll mode: body of a POST, a template over ${cursor} and ${position}; with a JSON Content-Type (the default) their values are JSON-escaped, so write \"${cursor}\" for a string."},
	plugins.Field{Name: KeyPollInterval, Type: plugins.TypeDuration, Default: 10 * time.Second,
		Validators: []plugins.Validator{plugins.DurationBetween(time.Millisecond, 24*time.Hour)},
		Doc:        "Poll mode: wait between the end of one poll (its last page) and the next."},
	plugins.Field{Name: KeyRecordsPath, Type: plugins.TypeString, Default: "",
		Doc: "Dotted path (e.g. data.items, $ for the root) of a JSON array whose elements are the records; empty: the whole body is one record."},
	plugins.Field{Name: KeyKeyPath, Type: plugins.TypeString, Default: "",
		Doc: "Dotted path in a record of its key (a string); empty: no key."},
	plugins.Field{Name: KeyValueFormat, Type: plugins.TypeString, Default: ValueJSON, Validators: []plugins.Validator{plugins.OneOf(ValueJSON, ValueString, ValueBytes)},
		Doc: "Record value: json (decoded, schemaless; the body must be JSON), string or bytes (the record's text as it is)."},
	plugins.Field{Name: KeyPositionPath, Type: plugins.TypeString, Default: "",
		Doc: "Poll mode: dotted path in a record of its position (a last id or timestamp), available to templates as ${position} and resumed after a restart."},
	plugins.Field{Name: KeyPositionInit, Type: plugins.TypeString, Default: "", Doc: "Poll mode: ${position} before any record was read."},
	plugins.Field{Name: KeyPagination, Type: plugins.TypeString, Default: PageNone, Validators: []plugins.Validator{plugins.OneOf(PageNone, PageCursor, PageNextLink)},
		Doc: "Poll mode: none, cursor (pagination.cursor.path in the body) or next-link (pagination.next.path in the body, else the Link header's rel=next)."},
	plugins.Field{Name: KeyCursorPath, Type: plugins.TypeString, Default: "", Doc: "Cursor pagination: dotted path of the next cursor in the body."},
	plugins.Field{Name: KeyCursorParam, Type: plugins.TypeString, Default: "",
		Doc: "Cursor pagination: query parameter the cursor is sent in (else use ${cursor} in url or request.body)."},
	plugins.Field{Name: KeyNextPath, Type: plugins.TypeString, Default: "", Doc: "Next-link pagination: dotted path of the next page's URL in the body."},
	plugins.Field{Name: KeyResponseMax, Type: plugins.TypeInt, Default: 10 << 20, Validators: []plugins.Validator{plugins.Between(1, 1<<30)},
		Doc: "Poll mode: longest response body read; a longer one fails the task."},
	plugins.Field{Name: KeyListenAddress, Type: plugins.TypeString, Default: "", Doc: "Listen mode: host:port the task serves."},
	plugins.Field{Name: KeyListenPath, Type: plugins.TypeString, Default: "/", Validators: []plugins.Validator{plugins.MatchesRegex(`/\S*`)},
		Doc: "Listen mode: path requests are accepted on (POST or PUT)."},
	plugins.Field{Name: KeyListenAuth, Type: plugins.TypeString, Default: ListenNone, Validators: []plugins.Validator{plugins.OneOf(ListenNone, ListenSecret, ListenHMAC)},
		Doc: "Listen mode: none; secret (listen.secret.header must equal listen.secret); hmac (hmac.header must be the body's HMAC with listen.secret)."},
	plugins.Field{Name: KeyListenSecret, Type: plugins.TypePassword, Default: "", Doc: "Listen mode: the shared secret or HMAC key."},
	plugins.Field{Name: KeyListenHeader, Type: plugins.TypeString, Default: "X-Webhook-Secret", Doc: "Listen mode: header carrying the shared secret."},
	plugins.Field{Name: KeyListenMaxBody, Type: plugins.TypeInt, Default: 1 << 20, Validators: []plugins.Validator{plugins.Between(1, 256<<20)},
		Doc: "Listen mode: largest body accepted; larger ones get 413."},
	plugins.Field{Name: KeyListenQueue, Type: plugins.TypeInt, Default: 256, Validators: []plugins.Validator{plugins.Between(1, 1<<20)},
		Doc: "Listen mode: most requests being read, waiting to be polled or waiting for their acknowledgement (memory is bounded by this times listen.max.body.bytes); beyond it (the task is paused or behind) requests get 429."},
	plugins.Field{Name: KeyListenTimeout, Type: plugins.TypeDuration, Default: 30 * time.Second,
		Validators: []plugins.Validator{plugins.DurationBetween(time.Millisecond, time.Hour)},
		Doc:        "Listen mode: how long a request waits for RocketMQ's acknowledgement before it gets 503."},
	plugins.Field{Name: KeyListenMaxBatch, Type: plugins.TypeInt, Default: 1000, Validators: []plugins.Validator{plugins.Between(1, 1<<20)},
		Doc: "Listen mode: most records returned by one poll (whole requests; one request may exceed it)."},
)...)

// SourceConnector is http-source.
type SourceConnector struct {
	cfg map[string]string
}

// NewSourceConnector returns an unstarted http-source connector.
func NewSourceConnector() *SourceConnector { return &SourceConnector{} }

var _ plugins.SourceConnector = (*SourceConnector)(nil)

// Spec declares the keys of http-source.
func (c *SourceConnector) Spec() *plugins.ConfigSpec { return sourceSpec }

// Validate checks the cross-field rules of the mode, pagination and auth keys; in listen mode it rejects
// the auth, HMAC and TLS keys of the poller's requests, which would have no effect.
func (c *SourceConnector) Validate(cfg map[string]string) error {
	v, err := sourceSpec.Parse(cfg)
	if err != nil {
		return err
	}
	errs := checkCommon(v)
	switch v.String(KeyMode) {
	case ModePoll:
		errs = append(errs, checkClient(v)...)
		if v.String(KeyURL) == "" {
			errs = append(errs, missing(KeyURL, "required when mode is poll"))
		}
	case ModeListen:
		errs = append(errs, clientKeysInListen(v)...)
		if v.String(KeyListenAddress) == "" {
			errs = append(errs, missing(KeyListenAddress, "required when mode is listen"))
		}
		if v.String(KeyListenAuth) != ListenNone && v.Password(KeyListenSecret) == "" {
			errs = append(errs, missing(KeyListenSecret, "required when listen.auth is secret or hmac"))
		}
	}
	if v.String(KeyPagination) == PageCursor {
		if v.String(KeyCursorPath) == "" {
			errs = append(errs, missing(KeyCursorPath, "required when pagination.mode is cursor"))
		}
		if v.String(KeyMode) == ModePoll && v.String(KeyCursorParam) == "" && !placesCursor(v) {
			errs = append(errs, missing(KeyCursorParam, "required when pagination.mode is cursor and neither url, headers nor "+
				"request.body (with method POST) holds ${cursor}: the cursor would never be sent and the first page would be requested forever"))
		}
	}
	if b := v.String(KeyRequestBody); b != "" {
		if _, err := parseTemplate(b); err != nil {
			errs = append(errs, &cfgerr.Error{Key: KeyRequestBody, Value: b, Reason: err.Error(), Err: plugins.ErrInvalidValue})
		}
	}
	return asError(errs)
}

// placesCursor reports whether a poll request carries ${cursor}: in url, in a headers entry, or in request.body
// of a POST (a GET sends no body). Templates that do not parse are reported by their own checks.
func placesCursor(v plugins.Values) bool {
	uses := func(raw string) bool {
		t, err := parseTemplate(raw)
		return err == nil && t.uses("cursor")
	}
	if uses(v.String(KeyURL)) || (v.String(KeyMethod) == http.MethodPost && uses(v.String(KeyRequestBody))) {
		return true
	}
	hs, _ := parseHeaderTemplates(v.String(KeyHeaders), v.String(KeyHeaderSeparator))
	for _, h := range hs {
		if h.tmpl.uses("cursor") {
			return true
		}
	}
	return false
}

// clientKeysInListen rejects the keys of the requests a poller sends, which have no effect in listen mode:
// set there, they would leave a user believing the endpoint is protected.
func clientKeysInListen(v plugins.Values) cfgerr.List {
	const useListenAuth = "has no effect in listen mode (it is for the requests mode=poll sends); protect the endpoint with listen.auth and listen.secret"
	const noTLS = "has no effect in listen mode: the listener serves plain HTTP; terminate TLS in front of it (a load balancer or reverse proxy)"
	var errs cfgerr.List
	reject := func(key, value, reason string) {
		errs = append(errs, &cfgerr.Error{Key: key, Value: value, Reason: reason, Err: plugins.ErrInvalidValue})
	}
	if a := v.String(KeyAuthType); !strings.EqualFold(a, AuthNone) {
		reject(KeyAuthType, a, useListenAuth)
	}
	if u := v.String(KeyAuthUsername); u != "" {
		reject(KeyAuthUsername, u, useListenAuth)
	}
	for _, k := range []string{KeyAuthPassword, KeyAuthToken} {
		if v.Password(k) != "" {
			reject(k, plugins.HiddenValue, useListenAuth)
		}
	}
	if v.Password(KeyHMACSecret) != "" {
		reject(KeyHMACSecret, plugins.HiddenValue, "has no effect in listen mode; check signatures with listen.auth=hmac and listen.secret")
	}
	for _, k := range []string{KeyTLSCert, KeyTLSKey, KeyTLSCA} {
		if f := v.String(k); f != "" {
			reject(k, f, noTLS)
		}
	}
	return errs
}

// Start keeps cfg for TaskConfigs.
func (c *SourceConnector) Start(_ context.Context, _ plugins.ConnectorContext, cfg map[string]string) error {
	c.cfg = maps.Clone(cfg)
	return nil
}

// TaskConfigs returns one task config: a poller's pages are one ordered stream, and a listener's address can
// be bound once.
func (c *SourceConnector) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{maps.Clone(c.cfg)}, nil
}

// Stop does nothing; the connector holds no resources.
func (c *SourceConnector) Stop(context.Context) error { return nil }

// NewSourceTask returns an unstarted task.
func (c *SourceConnector) NewSourceTask() plugins.SourceTask { return NewSourceTask() }

// SourceTask is an http-source task in poll or listen mode. Poll runs on one goroutine; Stop (and, in listen
// mode, CommitRecord) may run concurrently with it.
type SourceTask struct {
	mu       sync.Mutex
	started  bool
	stopped  bool
	stop     chan struct{}
	stopOnce sync.Once

	log        *slog.Logger
	topic      string
	keyPath    []string
	valueFmt   string
	recordsSet bool
	records    []string

	poll   *poller
	listen *listener
}

// NewSourceTask returns an unstarted http-source task.
func NewSourceTask() *SourceTask { return &SourceTask{stop: make(chan struct{})} }

var (
	_ plugins.SourceTask      = (*SourceTask)(nil)
	_ plugins.RecordCommitter = (*SourceTask)(nil)
)

// Start prepares the poller (resuming from the committed position) or binds the listener.
func (t *SourceTask) Start(ctx context.Context, tctx plugins.SourceTaskContext, _ map[string]string) error {
	v := tctx.Config()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.started || t.stopped {
		return fmt.Errorf("http-source: start: task already started or stopped")
	}
	t.log = tctx.Logger()
	t.topic = v.String(KeyTopic)
	t.keyPath = nil
	if p := v.String(KeyKeyPath); p != "" {
		t.keyPath = parsePath(p)
	}
	t.valueFmt = v.String(KeyValueFormat)
	t.recordsSet = v.String(KeyRecordsPath) != ""
	t.records = parsePath(v.String(KeyRecordsPath))
	var err error
	if v.String(KeyMode) == ModeListen {
		var l *listener
		var metrics *receivedMetrics
		if metrics, err = newReceivedMetrics(plugins.MetricsOf(tctx)); err != nil {
			return fmt.Errorf("http-source: %w", err)
		}
		if l, err = newListener(t, v, metrics); err == nil {
			if err = l.resume(ctx, tctx.Positions()); err != nil {
				_ = l.close(ctx)
			} else {
				t.listen = l
			}
		}
	} else {
		var metrics *requestMetrics
		if metrics, err = newRequestMetrics(plugins.MetricsOf(tctx)); err != nil {
			return fmt.Errorf("http-source: %w", err)
		}
		t.poll, err = newPoller(ctx, t, v, tctx.Positions(), metrics)
	}
	if err != nil {
		return err
	}
	t.started = true
	return nil
}

// Poll returns the next records: in poll mode from the next page when it is due, in listen mode from the
// requests received. It waits at most about a second.
func (t *SourceTask) Poll(ctx context.Context) ([]*schema.Record, error) {
	t.mu.Lock()
	started, stopped := t.started, t.stopped
	t.mu.Unlock()
	if stopped {
		return nil, nil
	}
	if !started {
		return nil, fmt.Errorf("http-source: poll: %w", ErrNotStarted)
	}
	if t.listen != nil {
		return t.listen.poll(ctx)
	}
	return t.poll.poll(ctx)
}

// CommitRecord answers a received request once all its records are acknowledged; a no-op in poll mode.
func (t *SourceTask) CommitRecord(_ context.Context, r *schema.Record, md *plugins.RecordMetadata) error {
	if t.listen != nil {
		t.listen.commit(r, md)
	}
	return nil
}

// Commit does nothing: positions are the engine's.
func (t *SourceTask) Commit(context.Context) error { return nil }

// Stop ends a waiting Poll and, in listen mode, answers every waiting request 503 and closes the listener.
// Idempotent and safe without Start.
func (t *SourceTask) Stop(ctx context.Context) error {
	t.mu.Lock()
	t.stopped = true
	t.mu.Unlock()
	t.stopOnce.Do(func() { close(t.stop) })
	if t.listen != nil {
		return t.listen.close(ctx)
	}
	if t.poll != nil {
		t.poll.req.close()
	}
	return nil
}

// element turns one piece of a response or request body into a record value and key; a JSON value keeps its
// numbers exact (decodeJSON).
func (t *SourceTask) element(raw []byte) (keySchema *schema.Schema, key any, valueSchema *schema.Schema, value any, err error) {
	if len(t.keyPath) > 0 {
		k, err := scalarAt(raw, t.keyPath)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		keySchema, key = schema.StringSchema, k
	}
	switch t.valueFmt {
	case ValueString:
		return keySchema, key, schema.StringSchema, string(raw), nil
	case ValueBytes:
		return keySchema, key, schema.BytesSchema, append([]byte(nil), raw...), nil
	}
	v, err := decodeJSON(raw)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	return keySchema, key, nil, v, nil
}

// split returns the record elements of a body: the elements of the array at records.path, or the body.
func (t *SourceTask) split(body []byte) ([]json.RawMessage, error) {
	if t.recordsSet {
		return arrayAt(body, t.records)
	}
	if t.valueFmt == ValueJSON && !json.Valid(body) {
		return nil, fmt.Errorf("%w: not a JSON document", ErrBadResponse)
	}
	return []json.RawMessage{body}, nil
}

// poller is the poll mode's state. Used by the Poll goroutine only (req.close by Stop).
type poller struct {
	t         *SourceTask
	req       *requester
	method    string
	urlT      *template
	bodyT     *template
	headers   []headerTemplate
	base      *url.URL
	interval  time.Duration
	maxBody   int64
	paging    string
	cursorP   []string
	cursorQ   string
	nextP     []string
	posPath   []string
	partition map[string]any

	posInReq bool // a request template uses ${position}

	page     string // cursor or URL of the current page; "" for the first request
	seen     int64  // elements of page already emitted, when requested again with pagePos
	position string // of the last element emitted
	pagePos  string // ${position} of the requests of the current run of pages
	nextAt   time.Time
	attempt  int
}

func newPoller(ctx context.Context, t *SourceTask, v plugins.Values, positions plugins.PositionReader, metrics *requestMetrics) (*poller, error) {
	req, err := newRequester(v, 1)
	if err != nil {
		return nil, fmt.Errorf("http-source: %w", err)
	}
	req.metrics = metrics
	p := &poller{t: t, req: req, method: v.String(KeyMethod), interval: v.Duration(KeyPollInterval),
		maxBody: int64(v.Int(KeyResponseMax)), paging: v.String(KeyPagination), cursorQ: v.String(KeyCursorParam),
		position: v.String(KeyPositionInit)}
	fail := func(key, val string, err error) (*poller, error) {
		req.close()
		return nil, &cfgerr.Error{Key: key, Value: val, Reason: err.Error(), Err: plugins.ErrInvalidValue}
	}
	raw := v.String(KeyURL)
	if cerr := checkURLKey(raw); cerr != nil {
		req.close()
		return nil, cerr // Validate rejects it too
	}
	if p.urlT, err = parseTemplate(raw); err != nil {
		return fail(KeyURL, hidePassword(raw), err)
	}
	if p.base, err = url.Parse(raw); err != nil {
		return fail(KeyURL, hidePassword(raw), errors.New(unwrapURLError(err).Error()))
	}
	if p.bodyT, err = parseTemplate(v.String(KeyRequestBody)); err != nil {
		return fail(KeyRequestBody, v.String(KeyRequestBody), err)
	}
	if p.headers, err = parseHeaderTemplates(v.String(KeyHeaders), v.String(KeyHeaderSeparator)); err != nil {
		return fail(KeyHeaders, v.String(KeyHeaders), err)
	}
	if s := v.String(KeyCursorPath); s != "" {
		p.cursorP = parsePath(s)
	}
	if s := v.String(KeyNextPath); s != "" {
		p.nextP = parsePath(s)
	}
	if s := v.String(KeyPositionPath); s != "" {
		p.posPath = parsePath(s)
	}
	p.posInReq = p.urlT.uses("position") || (p.method == http.MethodPost && p.bodyT.uses("position"))
	for _, h := range p.headers {
		p.posInReq = p.posInReq || h.tmpl.uses("position")
	}
	// The partition names the endpoint without query or user info: a URL may carry a resolved secret (an API
	// key from a config provider), and positions are stored in a topic.
	p.partition = map[string]any{partitionURL: p.base.Scheme + "://" + p.base.Host + p.base.Path}
	var off map[string]any
	if positions != nil {
		off, err = positions.Position(ctx, p.partition)
		if err != nil {
			req.close()
			return nil, fmt.Errorf("http-source: read position: %w", err)
		}
		if off != nil {
			if s, ok := off[offsetPage].(string); ok {
				p.page = s
			}
			if s, ok := off[offsetPos].(string); ok {
				p.position = s
			}
			if _, has := off[offsetIndex]; has {
				next, _, err := position.Int64(off, offsetIndex)
				if err != nil {
					req.close()
					return nil, fmt.Errorf("http-source: %w", err)
				}
				p.seen = next
			}
		}
	}
	p.pagePos = p.position
	if s, ok := off[offsetPagePos].(string); ok && p.paging != PageNone { // without pages every poll is a run
		p.pagePos = s
	} else if off != nil && p.posInReq && p.paging != PageNone {
		// An offset without page.position does not tell which position its page was requested with: a new
		// run starts from the last position.
		p.page, p.seen = "", 0
	}
	return p, nil
}

// lookup resolves ${cursor} and ${position} in request templates.
func (p *poller) lookup(name string) (string, error) {
	switch name {
	case "cursor":
		if p.paging == PageCursor {
			return p.page, nil
		}
		return "", nil
	case "position":
		return p.pagePos, nil
	}
	return "", fmt.Errorf("%w: unknown placeholder ${%s} (poll requests know ${cursor} and ${position})", ErrRender, name)
}

// build makes the request of the current page.
func (p *poller) build() (*request, error) {
	var u string
	var err error
	if p.paging == PageNextLink && p.page != "" {
		u = p.page
	} else {
		if u, err = p.urlT.render(escapeURL, p.lookup); err != nil {
			return nil, err
		}
		if p.paging == PageCursor && p.cursorQ != "" && p.page != "" {
			pu, err := url.Parse(u)
			if err != nil {
				return nil, fmt.Errorf("%w: url %s: %v", ErrRender, redact(u), unwrapURLError(err))
			}
			q := pu.Query()
			q.Set(p.cursorQ, p.page)
			pu.RawQuery = q.Encode()
			u = pu.String()
		}
	}
	h := http.Header{"Accept": {"application/json"}}
	for _, ht := range p.headers {
		val, err := ht.tmpl.render(escapeNone, p.lookup)
		if err != nil {
			return nil, err
		}
		if !validHeaderValue(val) {
			return nil, fmt.Errorf("%w: header %s: value has control characters", ErrRender, ht.name)
		}
		h.Set(ht.name, val)
	}
	r := &request{method: p.method, url: u, header: h}
	if p.method == http.MethodPost {
		if h.Get("Content-Type") == "" {
			h.Set("Content-Type", "application/json")
		}
		esc := escapeNone
		if isJSONMediaType(h.Get("Content-Type")) {
			esc = escapeJSON
		}
		b, err := p.bodyT.render(esc, p.lookup)
		if err != nil {
			return nil, err
		}
		r.body = []byte(b)
	}
	return r, nil
}

// isJSONMediaType reports whether a Content-Type is JSON: application/json or a +json type.
func isJSONMediaType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// poll makes one request when it is due. Transient failures (and 401, 403, 404, 405, 407: see
// retriableStatus) are retried on later polls with backoff; after retry.max.attempts the error is returned
// as retriable. Any other 4xx, a redirect not followed, a response over response.max.bytes or a next link
// to another host fails the task. A 2xx body that cannot be read as configured becomes an
// error record (routed by errors.tolerance) and the page is requested again after poll.interval. An empty
// body has no records: the page is requested again after poll.interval, as after a page with nothing new.
func (p *poller) poll(ctx context.Context) ([]*schema.Record, error) {
	if wait := time.Until(p.nextAt); wait > 0 {
		if !sleep(ctx, p.t.stop, min(wait, time.Second)) || wait > time.Second {
			return nil, nil
		}
	}
	if !p.req.limiter.wait(ctx, p.t.stop) {
		return nil, nil
	}
	req, err := p.build()
	if err != nil {
		return nil, fmt.Errorf("http-source: %w", err)
	}
	res := p.req.do(ctx, req, true, p.maxBody)
	select {
	case <-p.t.stop:
		p.req.close() // Stop may have closed idle connections before this request returned its own
		return nil, nil
	default:
	}
	if ctx.Err() != nil {
		return nil, nil
	}
	if res.err != nil {
		if !res.retriable {
			return nil, fmt.Errorf("http-source: %w", res.err)
		}
		p.attempt++
		if p.req.giveUp(p.attempt) {
			p.attempt = 0
			p.nextAt = time.Now().Add(p.req.backoff(1, res.retryAfter))
			return nil, plugins.Retriable(fmt.Errorf("http-source: %w after %d attempts (%s): %w", ErrGaveUp, p.req.maxAttempts, KeyRetryMax, res.err))
		}
		wait := p.req.backoff(p.attempt, res.retryAfter)
		p.t.log.Debug("http poll retried", "status", res.status, "attempt", p.attempt, "wait", wait, "err", res.err)
		p.nextAt = time.Now().Add(wait)
		return nil, nil
	}
	p.attempt = 0
	// An empty body (204 No Content, or a 200 with nothing but white space) holds no records and no next page.
	empty := len(bytes.TrimSpace(res.body)) == 0
	var elems []json.RawMessage
	var next string
	if !empty {
		if elems, err = p.t.split(res.body); err != nil {
			p.nextAt = time.Now().Add(p.interval)
			return []*schema.Record{p.errorRecord(req, res.body, err)}, nil
		}
		if next, err = p.next(req, res); err != nil {
			return nil, fmt.Errorf("http-source: %w", err)
		}
	}
	skip := int64(0)
	if p.paging != PageNone {
		skip = min(p.seen, int64(len(elems)))
	}
	out := make([]*schema.Record, 0, len(elems)-int(skip))
	for i := skip; i < int64(len(elems)); i++ {
		raw := elems[i]
		ks, k, vs, v, err := p.t.element(raw)
		if err == nil && len(p.posPath) > 0 {
			var pos string
			if pos, err = scalarAt(raw, p.posPath); err == nil && pos != "" {
				p.position = pos
			}
		}
		var r *schema.Record
		if err != nil {
			r = p.errorRecord(req, raw, err)
		} else {
			r = schema.NewRecord(p.t.topic, ks, k, vs, v)
		}
		r.SourcePartition = p.partition
		r.SourceOffset = map[string]any{offsetPage: p.page, offsetIndex: i + 1, offsetPos: p.position, offsetPagePos: p.pagePos}
		out = append(out, r)
	}
	switch {
	case next != "" && next != p.page:
		// The next page of the run, requested with the same ${position} as its first: a cursor or link
		// continues the query it came from.
		p.page, p.seen, p.nextAt = next, 0, time.Time{}
	case p.posInReq && p.position != p.pagePos:
		// The run ended and the position moved: the next poll is a new run, from the first page, asking for
		// what came after the new position. Skipping what this page held would skip new elements.
		p.page, p.seen, p.pagePos = "", 0, p.position
		p.nextAt = time.Now().Add(p.interval)
	default:
		// The same request is sent again: only the elements past those already emitted are new (after an
		// empty answer, as many as before).
		if p.paging != PageNone && !empty {
			p.seen = int64(len(elems))
		}
		p.nextAt = time.Now().Add(p.interval)
	}
	return out, nil
}

// next returns the reference of the page after this one ("" when there is none).
func (p *poller) next(req *request, res attemptResult) (string, error) {
	switch p.paging {
	case PageCursor:
		c, err := scalarAt(res.body, p.cursorP)
		if err != nil {
			return "", nil // the body was split already; a cursor that cannot be read ends the pages
		}
		return c, nil
	case PageNextLink:
		var link string
		if len(p.nextP) > 0 {
			link, _ = scalarAt(res.body, p.nextP)
		} else {
			link = linkNext(res.header.Values("Link"))
		}
		if link == "" {
			return "", nil
		}
		cur, err := url.Parse(req.url)
		if err != nil {
			return "", fmt.Errorf("%w: url %s: %v", ErrRender, redact(req.url), unwrapURLError(err))
		}
		nu, err := cur.Parse(link)
		if err != nil {
			return "", fmt.Errorf("%w: next link %s: %v", ErrBadResponse, redact(link), unwrapURLError(err))
		}
		if nu.Scheme != p.base.Scheme || nu.Host != p.base.Host {
			return "", fmt.Errorf("%w: %s", ErrForeignLink, nu.Redacted())
		}
		return nu.String(), nil
	}
	return "", nil
}

// errorRecord hands a body that could not be read to the engine's error policy. Its position is the
// current one, so a restart does not move past anything.
func (p *poller) errorRecord(req *request, raw []byte, err error) *schema.Record {
	r := schema.NewRecord(p.t.topic, nil, nil, schema.BytesSchema, append([]byte(nil), raw...))
	r.Extensions = map[string]string{plugins.ExtErrorMessage: fmt.Sprintf("http-source: %s %s: %v", req.method, redact(req.url), err)}
	r.SourcePartition = p.partition
	r.SourceOffset = map[string]any{offsetPage: p.page, offsetIndex: p.seen, offsetPos: p.position, offsetPagePos: p.pagePos}
	return r
}
