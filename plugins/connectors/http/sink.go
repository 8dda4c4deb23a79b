package httpconn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
)

// SinkName is the registered name of the HTTP sink.
const SinkName = "http-sink"

// Configuration keys of http-sink (besides the common ones).
const (
	KeyBodyFormat      = "body.format"
	KeyContentType     = "content.type"
	KeyBatchMaxRecords = "batch.max.records"
	KeyBatchMaxBytes   = "batch.max.bytes"
	KeyLinger          = "linger.ms"
	KeyBatchFormat     = "batch.format"
	KeyMaxConcurrent   = "max.concurrent.requests"
	KeyOrderingPerKey  = "ordering.per.key"
	KeyNullValues      = "behavior.on.null.values"
	KeyRecordErrors    = "record.error.statuses"
)

// Values of body.format, batch.format and behavior.on.null.values.
const (
	BodyJSON       = "json"
	BodyRaw        = "raw"
	BatchJSONArray = "json-array"
	BatchNDJSON    = "ndjson"
	NullIgnore     = "ignore"
	NullFail       = "fail"
)

// maxOpenBatches bounds the batches a sender keeps open at once (distinct method/URL/headers); beyond it
// all are sealed.
const maxOpenBatches = 64

var sinkSpec = plugins.MustConfigSpec(append(withRequired(commonFields(), KeyURL),
	plugins.Field{Name: KeyMethod, Type: plugins.TypeString, Default: http.MethodPost,
		Doc: "HTTP method; a template (e.g. ${header.method}) must render to a method name."},
	plugins.Field{Name: KeyBodyFormat, Type: plugins.TypeString, Default: BodyJSON, Validators: []plugins.Validator{plugins.OneOf(BodyJSON, BodyRaw)},
		Doc: "json: the value rendered as JSON (a string or bytes value must already be a JSON document, else the record is errant); raw: string and bytes values as they are, others as JSON."},
	plugins.Field{Name: KeyContentType, Type: plugins.TypeString, Default: "",
		Doc: "Content-Type header; empty: application/json, application/x-ndjson (batch.format=ndjson) or application/octet-stream (body.format=raw)."},
	plugins.Field{Name: KeyBatchMaxRecords, Type: plugins.TypeInt, Default: 1, Validators: []plugins.Validator{plugins.Between(1, 100000)},
		Doc: "Records per request. 1 sends each value as the body; more sends batches in batch.format (records with the same method, URL and headers)."},
	plugins.Field{Name: KeyBatchMaxBytes, Type: plugins.TypeInt, Default: 1 << 20, Validators: []plugins.Validator{plugins.Between(1, 256<<20)},
		Doc: "Most body bytes per batch; a single larger record is sent alone."},
	plugins.Field{Name: KeyLinger, Type: plugins.TypeDuration, Default: time.Duration(0), Validators: []plugins.Validator{plugins.DurationBetween(0, time.Minute)},
		Doc: "How long a batch that is not full may wait for more records across Put calls; 0 sends at the end of each Put. Flush always sends."},
	plugins.Field{Name: KeyBatchFormat, Type: plugins.TypeString, Default: BatchJSONArray, Validators: []plugins.Validator{plugins.OneOf(BatchJSONArray, BatchNDJSON)},
		Doc: "Body of a batch: a JSON array of the values, or one value per line (NDJSON: JSON values are compacted; with body.format=raw a value holding a newline is errant)."},
	plugins.Field{Name: KeyMaxConcurrent, Type: plugins.TypeInt, Default: 4, Validators: []plugins.Validator{plugins.Between(1, 1024)},
		Doc: "Most requests in flight per task."},
	plugins.Field{Name: KeyOrderingPerKey, Type: plugins.TypeBoolean, Default: false,
		Doc: "Keep each key's records in order: a key's requests go one at a time, in order, retries included."},
	plugins.Field{Name: KeyNullValues, Type: plugins.TypeString, Default: NullIgnore, Validators: []plugins.Validator{plugins.OneOf(NullIgnore, NullFail)},
		Doc: "A record with a null value (tombstone): ignore (done, nothing sent) or fail (errant record)."},
	plugins.Field{Name: KeyRecordErrors, Type: plugins.TypeList, Default: "", Validators: []plugins.Validator{statusesValidator()},
		Doc: "Statuses that refuse the records of the request, e.g. `404` or `404,405,460-469` (codes and ranges, 400-599): not retried, the records go to the error policy (DLQ or task failure), whatever the status means otherwise. For a batch, all its records; a batch answered 413 is still split."},
)...)

// withRequired returns fields with key marked required.
func withRequired(fields []plugins.Field, key string) []plugins.Field {
	for i := range fields {
		if fields[i].Name == key {
			fields[i].Required = true
			fields[i].Default = nil
		}
	}
	return fields
}

// SinkConnector is http-sink.
type SinkConnector struct {
	cfg map[string]string
}

// NewSinkConnector returns an unstarted http-sink connector.
func NewSinkConnector() *SinkConnector { return &SinkConnector{} }

var _ plugins.SinkConnector = (*SinkConnector)(nil)

// Spec declares the keys of http-sink.
func (c *SinkConnector) Spec() *plugins.ConfigSpec { return sinkSpec }

// Validate checks the cross-field rules: a url that parses, auth and TLS keys that go together (TLS only
// with https), templates that parse, and batch.format=json-array only with body.format=json.
func (c *SinkConnector) Validate(cfg map[string]string) error {
	v, err := sinkSpec.Parse(cfg)
	if err != nil {
		return err
	}
	errs := append(checkCommon(v), checkClient(v)...)
	if m := v.String(KeyMethod); !strings.Contains(m, "${") && !validMethod(m) {
		errs = append(errs, &cfgerr.Error{Key: KeyMethod, Value: m, Reason: "not an HTTP method name", Err: plugins.ErrInvalidValue})
	} else if _, err := parseTemplate(m); err != nil {
		errs = append(errs, &cfgerr.Error{Key: KeyMethod, Value: m, Reason: err.Error(), Err: plugins.ErrInvalidValue})
	}
	if v.Int(KeyBatchMaxRecords) > 1 && v.String(KeyBatchFormat) == BatchJSONArray && v.String(KeyBodyFormat) == BodyRaw {
		errs = append(errs, &cfgerr.Error{Key: KeyBatchFormat, Value: BatchJSONArray,
			Reason: "a JSON array needs body.format=json; use ndjson with body.format=raw", Err: plugins.ErrInvalidValue})
	}
	return asError(errs)
}

func constantHeaders(hs []headerTemplate) bool {
	for _, h := range hs {
		if !h.tmpl.constant() {
			return false
		}
	}
	return true
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		if c := m[i]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// Start keeps cfg for TaskConfigs.
func (c *SinkConnector) Start(_ context.Context, _ plugins.ConnectorContext, cfg map[string]string) error {
	c.cfg = maps.Clone(cfg)
	return nil
}

// TaskConfigs returns maxTasks copies of the config: RocketMQ spreads the topics' queues over the tasks.
func (c *SinkConnector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	return plugins.IdenticalTaskConfigs(c.cfg, maxTasks), nil
}

// Stop does nothing; the connector holds no resources.
func (c *SinkConnector) Stop(context.Context) error { return nil }

// NewSinkTask returns an unstarted task.
func (c *SinkConnector) NewSinkTask() plugins.SinkTask { return NewSinkTask() }

// SinkTask sends records over HTTP. Put renders records into batches and hands full batches to senders;
// Flush sends what is left and waits until every request has ended, then reports the records the server
// rejected. Put, Flush and Stop may be called from different goroutines (Stop may race a busy Put).
//
// Lock order: pushMu, then mu. Senders take mu only, so a Put blocked on a full sender queue (holding
// pushMu) never blocks a sender.
type SinkTask struct {
	pushMu sync.Mutex // serialises sealing+queueing, so a lane's batches are queued in the order sealed
	mu     sync.Mutex

	started, stopped bool
	stop             chan struct{}
	cancel           context.CancelFunc
	g                *errgroup.Group

	tctx     plugins.SinkTaskContext
	log      *slog.Logger
	req      *requester
	methodT  *template
	urlT     *template
	headers  []headerTemplate
	bodyRaw  bool
	ndjson   bool
	ctype    string
	constReq *request // the request of every record when method, url and headers have no placeholder
	constKey string
	batching bool
	maxRecs  int
	maxBytes int
	linger   time.Duration
	ordered  bool
	nullFail bool

	lanes    []*lane
	inflight int           // sealed batches not yet finished
	idle     chan struct{} // closed while inflight == 0
	errant   []errantRecord
	fatal    error // sticky: once set, every Flush fails
}

type errantRecord struct {
	r   *schema.Record
	err error
}

// lane is a queue of sealed batches and the batches still open for it. Unordered: one lane, many senders.
// Ordered: one lane per sender, a key always in the same lane.
type lane struct {
	open  map[string]*batch
	order []string // keys of open, oldest first
	ch    chan *batch
}

type batch struct {
	key     string
	req     request
	records []*schema.Record
	spans   []span // of each record's value in req.body, when batching
	opened  time.Time
}

// span is where one value stands in a batch body.
type span struct{ start, end int }

// NewSinkTask returns an unstarted http-sink task.
func NewSinkTask() *SinkTask { return &SinkTask{stop: make(chan struct{})} }

var _ plugins.SinkTask = (*SinkTask)(nil)

// Start builds the client (loading TLS files) and starts the senders.
func (t *SinkTask) Start(_ context.Context, tctx plugins.SinkTaskContext, _ map[string]string) error {
	v := tctx.Config()
	if err := checkURLKey(v.String(KeyURL)); err != nil {
		return err // Validate rejects it too; a request could be built from no record
	}
	refused, err := parseStatuses(v.List(KeyRecordErrors))
	if err != nil {
		return &cfgerr.Error{Key: KeyRecordErrors, Value: strings.Join(v.List(KeyRecordErrors), ","), Reason: err.Error(), Err: plugins.ErrInvalidValue}
	}
	conc := v.Int(KeyMaxConcurrent)
	metrics, err := newRequestMetrics(plugins.MetricsOf(tctx))
	if err != nil {
		return fmt.Errorf("http-sink: %w", err)
	}
	req, err := newRequester(v, conc)
	if err != nil {
		return fmt.Errorf("http-sink: %w", err)
	}
	req.metrics, req.refused, req.seeOtherDone = metrics, refused, true
	urlT, err := parseTemplate(v.String(KeyURL))
	if err != nil {
		return &cfgerr.Error{Key: KeyURL, Value: hidePassword(v.String(KeyURL)), Reason: err.Error(), Err: plugins.ErrInvalidValue}
	}
	methodT, err := parseTemplate(v.String(KeyMethod))
	if err != nil {
		return &cfgerr.Error{Key: KeyMethod, Value: v.String(KeyMethod), Reason: err.Error(), Err: plugins.ErrInvalidValue}
	}
	headers, err := parseHeaderTemplates(v.String(KeyHeaders), v.String(KeyHeaderSeparator))
	if err != nil {
		return &cfgerr.Error{Key: KeyHeaders, Value: v.String(KeyHeaders), Reason: err.Error(), Err: plugins.ErrInvalidValue}
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	if t.started || t.stopped {
		req.close()
		return fmt.Errorf("http-sink: start: task already started or stopped")
	}
	t.tctx, t.log, t.req = tctx, tctx.Logger(), req
	t.urlT, t.methodT, t.headers = urlT, methodT, headers
	t.bodyRaw = v.String(KeyBodyFormat) == BodyRaw
	t.maxRecs, t.maxBytes, t.linger = v.Int(KeyBatchMaxRecords), v.Int(KeyBatchMaxBytes), v.Duration(KeyLinger)
	t.batching = t.maxRecs > 1
	t.ndjson = v.String(KeyBatchFormat) == BatchNDJSON
	t.ordered = v.Bool(KeyOrderingPerKey)
	t.nullFail = v.String(KeyNullValues) == NullFail
	t.ctype = v.String(KeyContentType)
	if t.ctype == "" {
		switch {
		case t.batching && t.ndjson:
			t.ctype = "application/x-ndjson"
		case t.bodyRaw:
			t.ctype = "application/octet-stream"
		default:
			t.ctype = "application/json"
		}
	}
	if methodT.constant() && urlT.constant() && constantHeaders(headers) {
		rq, key, err := t.render(schema.NewRecord("", nil, nil, nil, nil))
		if err != nil {
			return fmt.Errorf("http-sink: %w", err)
		}
		t.constReq, t.constKey = &rq, key
	}
	t.idle = make(chan struct{})
	close(t.idle)

	ctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	t.g, ctx = errgroup.WithContext(ctx)
	if t.ordered {
		for range conc {
			l := &lane{open: map[string]*batch{}, ch: make(chan *batch, 1)}
			t.lanes = append(t.lanes, l)
			t.g.Go(func() error { return t.sender(ctx, l) })
		}
	} else {
		l := &lane{open: map[string]*batch{}, ch: make(chan *batch, conc)}
		t.lanes = []*lane{l}
		for range conc {
			t.g.Go(func() error { return t.sender(ctx, l) })
		}
	}
	if t.linger > 0 {
		t.g.Go(func() error { return t.lingerLoop(ctx) })
	}
	t.started = true
	return nil
}

// usable is called with t.mu held.
func (t *SinkTask) usable(op string) error {
	if t.stopped {
		return fmt.Errorf("http-sink: %s: %w", op, ErrStopped)
	}
	if !t.started {
		return fmt.Errorf("http-sink: %s: %w", op, ErrNotStarted)
	}
	return nil
}

// Put renders each record into the open batch of its lane and queues full batches for sending. A record
// that cannot be rendered (a template field missing, a value that is not JSON, a null value with
// behavior.on.null.values=fail) goes to the errant-record reporter. Put blocks while every sender is busy.
func (t *SinkTask) Put(ctx context.Context, records []*schema.Record) error {
	t.pushMu.Lock()
	defer t.pushMu.Unlock()
	t.mu.Lock()
	if err := t.usable("put"); err != nil {
		t.mu.Unlock()
		return err
	}
	var sealed []*batch
	var bad []errantRecord
	for _, r := range records {
		if r.Value == nil && !t.nullFail {
			continue
		}
		b, body, err := t.place(r, &sealed)
		if err != nil {
			bad = append(bad, errantRecord{r, err})
			continue
		}
		t.add(b, r, body, &sealed)
	}
	if t.linger == 0 {
		t.sealAll(&sealed)
	}
	t.mu.Unlock()
	for _, e := range bad {
		if err := t.tctx.ErrantRecordReporter().Report(ctx, e.r, e.err); err != nil {
			t.abandon(sealed)
			return err
		}
	}
	return t.queue(ctx, sealed)
}

// place renders r and returns the open batch it joins (created when needed). Called with t.mu held.
func (t *SinkTask) place(r *schema.Record, sealed *[]*batch) (*batch, []byte, error) {
	if r.Value == nil {
		return nil, nil, fmt.Errorf("http-sink: %w: null value and %s=%s", ErrRender, KeyNullValues, NullFail)
	}
	var rq request
	var key string
	if t.constReq != nil {
		rq, key = *t.constReq, t.constKey
		rq.body = nil
	} else {
		var err error
		if rq, key, err = t.render(r); err != nil {
			return nil, nil, fmt.Errorf("http-sink: %w", err)
		}
	}
	body, err := t.body(r)
	if err != nil {
		return nil, nil, fmt.Errorf("http-sink: %w", err)
	}
	l := t.laneOf(r)
	b := l.open[key]
	if t.ordered && b == nil {
		t.sealLane(l, sealed) // a key's records must not overtake each other across batches
	}
	if b != nil && (len(b.records) >= t.maxRecs || len(b.req.body)+len(body)+2 > t.maxBytes) {
		t.seal(l, key, sealed)
		b = nil
	}
	if b == nil {
		if len(l.open) >= maxOpenBatches {
			t.sealLane(l, sealed)
		}
		b = &batch{key: key, req: rq, opened: time.Now()}
		if t.batching && !t.ndjson {
			b.req.body = append(b.req.body, '[')
		}
		l.open[key] = b
		l.order = append(l.order, key)
	}
	return b, body, nil
}

// add appends body to b and seals b when full. Called with t.mu held.
func (t *SinkTask) add(b *batch, r *schema.Record, body []byte, sealed *[]*batch) {
	switch {
	case !t.batching:
		b.req.body = body
	case t.ndjson:
		b.spans = append(b.spans, span{len(b.req.body), len(b.req.body) + len(body)})
		b.req.body = append(append(b.req.body, body...), '\n')
	default:
		if len(b.records) > 0 {
			b.req.body = append(b.req.body, ',')
		}
		b.spans = append(b.spans, span{len(b.req.body), len(b.req.body) + len(body)})
		b.req.body = append(b.req.body, body...)
	}
	b.records = append(b.records, r)
	if len(b.records) >= t.maxRecs || len(b.req.body) >= t.maxBytes {
		t.seal(t.laneOf(r), b.key, sealed)
	}
}

func (t *SinkTask) laneOf(r *schema.Record) *lane {
	if len(t.lanes) == 1 {
		return t.lanes[0]
	}
	k, err := scalarString(r.Key)
	if err != nil {
		k = fmt.Sprint(r.Key)
	}
	h := fnv.New32a()
	h.Write([]byte(k))
	return t.lanes[h.Sum32()%uint32(len(t.lanes))]
}

// seal closes the open batch key of l and adds it to sealed. Called with t.mu held.
func (t *SinkTask) seal(l *lane, key string, sealed *[]*batch) {
	b := l.open[key]
	if b == nil {
		return
	}
	delete(l.open, key)
	for i, k := range l.order {
		if k == key {
			l.order = append(l.order[:i], l.order[i+1:]...)
			break
		}
	}
	if t.batching && !t.ndjson {
		b.req.body = append(b.req.body, ']')
	}
	*sealed = append(*sealed, b)
	if t.inflight == 0 {
		t.idle = make(chan struct{})
	}
	t.inflight++
}

func (t *SinkTask) sealLane(l *lane, sealed *[]*batch) {
	for len(l.order) > 0 {
		t.seal(l, l.order[0], sealed)
	}
}

func (t *SinkTask) sealAll(sealed *[]*batch) {
	for _, l := range t.lanes {
		t.sealLane(l, sealed)
	}
}

// queue hands sealed batches to their lanes' senders, in order; it blocks while a lane is full.
func (t *SinkTask) queue(ctx context.Context, sealed []*batch) error {
	for i, b := range sealed {
		l := t.laneOf(b.records[0])
		select {
		case l.ch <- b:
		case <-ctx.Done():
			t.abandon(sealed[i:])
			return fmt.Errorf("http-sink: queue request: %w", ctx.Err())
		case <-t.stop:
			t.abandon(sealed[i:])
			return fmt.Errorf("http-sink: queue request: %w", ErrStopped)
		}
	}
	return nil
}

// abandon ends batches that will never be sent: their records are not done, so the next Flush fails.
func (t *SinkTask) abandon(bs []*batch) {
	for _, b := range bs {
		t.settle(b, fmt.Errorf("http-sink: request abandoned: %w", ErrStopped), false)
		t.release()
	}
}

// render builds the method, URL and headers of r's request, and the key of the batch it may join.
func (t *SinkTask) render(r *schema.Record) (request, string, error) {
	lookup := recordLookup(r)
	method, err := t.methodT.render(escapeNone, lookup)
	if err != nil {
		return request{}, "", err
	}
	method = strings.ToUpper(strings.TrimSpace(method))
	if !validMethod(method) {
		return request{}, "", fmt.Errorf("%w: method %q is not an HTTP method", ErrRender, method)
	}
	u, err := t.urlT.renderURL(lookup)
	if err != nil {
		return request{}, "", err
	}
	if !t.urlT.constant() {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return request{}, "", fmt.Errorf("%w: url %q is not an http(s) URL", ErrRender, redact(u))
		}
	}
	h := http.Header{"Content-Type": {t.ctype}}
	var key strings.Builder
	key.WriteString(method)
	key.WriteByte(0)
	key.WriteString(u)
	for _, ht := range t.headers {
		val, err := ht.tmpl.render(escapeNone, lookup)
		if err != nil {
			return request{}, "", err
		}
		if !validHeaderValue(val) {
			return request{}, "", fmt.Errorf("%w: header %s: value has control characters", ErrRender, ht.name)
		}
		h.Set(ht.name, val)
		key.WriteByte(0)
		key.WriteString(ht.name)
		key.WriteByte('=')
		key.WriteString(val)
	}
	return request{method: method, url: u, header: h}, key.String(), nil
}

// body renders r's value per body.format. In an NDJSON batch a value must be one line: a JSON document is
// compacted, and a raw value holding a newline is errant (the server would read it as several records).
func (t *SinkTask) body(r *schema.Record) ([]byte, error) {
	var raw []byte
	kind := "bytes"
	switch v := r.Value.(type) {
	case []byte:
		raw = v
	case string:
		raw, kind = []byte(v), "strings"
	default:
		b, err := jsonOf(r.Value)
		if err != nil {
			return nil, fmt.Errorf("%w: render value as JSON: %v", ErrRender, err)
		}
		return b, nil // compact: the converter writes no insignificant white space
	}
	lines := t.batching && t.ndjson
	if t.bodyRaw {
		if lines && bytes.IndexByte(raw, '\n') >= 0 {
			return nil, fmt.Errorf("%w: value holds a newline, which would split it across lines of the NDJSON batch (batch.format=ndjson, body.format=raw)", ErrRender)
		}
		return raw, nil
	}
	if !json.Valid(raw) {
		return nil, fmt.Errorf("%w: value is not a JSON document (body.format=raw sends %s as they are)", ErrRender, kind)
	}
	if lines {
		var b bytes.Buffer
		b.Grow(len(raw))
		if err := json.Compact(&b, raw); err != nil {
			return nil, fmt.Errorf("%w: compact value: %v", ErrRender, err)
		}
		return b.Bytes(), nil
	}
	return raw, nil
}

// sender sends the batches of one lane until ctx ends.
func (t *SinkTask) sender(ctx context.Context, l *lane) error {
	for {
		select {
		case b := <-l.ch:
			t.send(ctx, b)
		case <-ctx.Done():
			return nil
		}
	}
}

// send delivers one batch and ends it.
func (t *SinkTask) send(ctx context.Context, b *batch) {
	t.deliver(ctx, b)
	t.release()
}

// deliver sends b, retrying transient failures, and settles its records: done, errant (the server refused
// their content) or failed (the task fails at the next Flush). A batch of several records the server finds
// too large (413) is split in halves, sent in order; a single record it finds too large is errant.
func (t *SinkTask) deliver(ctx context.Context, b *batch) {
	t.mu.Lock()
	failed := t.fatal != nil
	t.mu.Unlock()
	if failed {
		return // the task has failed: its records will be redelivered after a restart
	}
	for attempt := 1; ; attempt++ {
		if !t.req.limiter.wait(ctx, nil) {
			t.settle(b, fmt.Errorf("http-sink: %w", ErrStopped), false)
			return
		}
		start := time.Now()
		res := t.req.do(ctx, &b.req, false, 0)
		if res.err == nil {
			t.log.Debug("http request done", "status", res.status, "records", len(b.records), "latency", time.Since(start))
			return
		}
		if ctx.Err() != nil {
			t.settle(b, fmt.Errorf("http-sink: %w", ErrStopped), false)
			return
		}
		if res.status == http.StatusRequestEntityTooLarge && len(b.records) > 1 {
			first, second := t.halves(b)
			t.log.Debug("http batch too large, split", "records", len(b.records), "bytes", len(b.req.body))
			t.deliver(ctx, first)
			t.deliver(ctx, second)
			return
		}
		if !res.retriable {
			// Only a refused content is the records' fault; a redirect not followed (or a request that
			// cannot be built) is the configuration's, and fails the task.
			t.settle(b, fmt.Errorf("http-sink: %w", res.err), errors.Is(res.err, ErrRejected))
			return
		}
		if t.req.giveUp(attempt) {
			t.settle(b, fmt.Errorf("http-sink: %w after %d attempts (%s): %w", ErrGaveUp, attempt, KeyRetryMax, res.err), false)
			return
		}
		wait := t.req.backoff(attempt, res.retryAfter)
		t.log.Debug("http request retried", "status", res.status, "attempt", attempt, "wait", wait, "err", res.err)
		if !sleep(ctx, nil, wait) {
			t.settle(b, fmt.Errorf("http-sink: %w", ErrStopped), false)
			return
		}
	}
}

// halves splits a batch of several records in two, in order, each with its own body.
func (t *SinkTask) halves(b *batch) (*batch, *batch) {
	mid := len(b.records) / 2
	return t.part(b, 0, mid), t.part(b, mid, len(b.records))
}

// part is the batch of b's records [from, to), its body rebuilt from b's.
func (t *SinkTask) part(b *batch, from, to int) *batch {
	p := &batch{key: b.key, req: b.req, records: b.records[from:to:to], opened: b.opened}
	var body []byte
	if !t.ndjson {
		body = append(body, '[')
	}
	for i := from; i < to; i++ {
		if i > from && !t.ndjson {
			body = append(body, ',')
		}
		sp := b.spans[i]
		p.spans = append(p.spans, span{len(body), len(body) + sp.end - sp.start})
		body = append(body, b.req.body[sp.start:sp.end]...)
		if t.ndjson {
			body = append(body, '\n')
		}
	}
	if !t.ndjson {
		body = append(body, ']')
	}
	p.req.body = body
	return p
}

// settle records that b's records are not done: errant (they go to the error policy at the next Flush)
// or failed (the task fails at the next Flush).
func (t *SinkTask) settle(b *batch, err error, errant bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case errant:
		for _, r := range b.records {
			t.errant = append(t.errant, errantRecord{r, err})
		}
	case t.fatal == nil:
		t.fatal = err
	}
}

// release ends a sealed batch.
func (t *SinkTask) release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.inflight--
	if t.inflight == 0 {
		close(t.idle)
	}
}

// lingerLoop seals batches that have waited linger.ms.
func (t *SinkTask) lingerLoop(ctx context.Context) error {
	tick := time.NewTicker(max(t.linger/2, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		t.pushMu.Lock()
		t.mu.Lock()
		var sealed []*batch
		now := time.Now()
		for _, l := range t.lanes {
			for len(l.order) > 0 && now.Sub(l.open[l.order[0]].opened) >= t.linger {
				t.seal(l, l.order[0], &sealed)
			}
		}
		t.mu.Unlock()
		err := t.queue(ctx, sealed)
		t.pushMu.Unlock()
		if err != nil {
			return nil // stopping
		}
	}
}

// Flush sends every open batch and waits until all requests have ended. It then reports the records the
// server refused (ErrRejected: a 4xx about the content, or a status of record.error.statuses) to the
// errant-record reporter, and returns its error, if any (errors.tolerance=none). A request that failed for
// good (retries exhausted, a redirect not followed, or stopped) fails this and every later Flush: its
// records are not durable, so their offsets must not be committed.
func (t *SinkTask) Flush(ctx context.Context, _ map[plugins.Queue]int64) error {
	t.pushMu.Lock()
	t.mu.Lock()
	if err := t.usable("flush"); err != nil {
		t.mu.Unlock()
		t.pushMu.Unlock()
		return err
	}
	var sealed []*batch
	t.sealAll(&sealed)
	t.mu.Unlock()
	err := t.queue(ctx, sealed)
	t.pushMu.Unlock()
	if err != nil {
		return err
	}
	t.mu.Lock()
	idle := t.idle
	t.mu.Unlock()
	select {
	case <-idle:
	case <-ctx.Done():
		return fmt.Errorf("http-sink: flush: %w", ctx.Err())
	case <-t.stop:
		return fmt.Errorf("http-sink: flush: %w", ErrStopped)
	}
	t.mu.Lock()
	errant, fatal := t.errant, t.fatal
	t.errant = nil
	t.mu.Unlock()
	if fatal != nil {
		return fatal
	}
	for _, e := range errant {
		if err := t.tctx.ErrantRecordReporter().Report(ctx, e.r, e.err); err != nil {
			return err
		}
	}
	return nil
}

// Stop ends the senders (requests in flight are cancelled; their records are not done) and closes idle
// connections. Idempotent and safe without Start; Put and Flush fail with ErrStopped afterwards.
func (t *SinkTask) Stop(context.Context) error {
	t.mu.Lock()
	if t.stopped {
		t.mu.Unlock()
		return nil
	}
	t.stopped = true
	close(t.stop)
	started := t.started
	t.mu.Unlock()
	if !started {
		return nil
	}
	t.cancel()
	err := t.g.Wait()
	t.req.close()
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("http-sink: stop: %w", err)
	}
	return nil
}
