package httpconn

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/internal/position"
	"github.com/rmqconnect/rmqconnect/schema"
)

// listener is the listen mode: an HTTP server owned by the task. A request's records are queued for Poll
// and the request is answered 200 only once every one of them was acknowledged by RocketMQ (CommitRecord);
// 503 when the task stops or the acknowledgement does not come within listen.ack.timeout.
type listener struct {
	t          *SourceTask
	srv        *http.Server
	g          *errgroup.Group
	path       string
	auth       string
	secret     []byte
	header     string
	hmacHeader string
	hmacAlgo   string
	maxBody    int64
	ackTimeout time.Duration
	maxBatch   int
	queue      chan *pending
	// slots holds one token per request being read, queued or waiting for its acknowledgement: it bounds
	// memory to listen.queue.size bodies. A queued request's token is returned once its handler has
	// returned and Poll has taken it, whichever comes last (a handler that timed out leaves it queued).
	slots     chan struct{}
	partition map[string]any
	metrics   *receivedMetrics // nil: nothing recorded

	mu       sync.Mutex
	closed   bool
	inflight map[*schema.Record]*pending

	seq int64 // next record's offset; Poll goroutine only
}

// pending is one accepted request waiting for its records' acknowledgements.
type pending struct {
	records   []*schema.Record
	remaining int  // guarded by listener.mu
	finished  bool // guarded by listener.mu
	queued    bool // in listener.queue; guarded by listener.mu
	left      bool // its handler has returned; guarded by listener.mu
	done      chan error
}

// errAckTimeout answers a request whose records were not acknowledged in time.
var errAckTimeout = errors.New("not acknowledged by RocketMQ in time")

func newListener(t *SourceTask, v plugins.Values, metrics *receivedMetrics) (*listener, error) {
	addr := v.String(KeyListenAddress)
	l := &listener{t: t, path: v.String(KeyListenPath), auth: v.String(KeyListenAuth),
		secret: []byte(v.Password(KeyListenSecret).Value()), header: v.String(KeyListenHeader),
		hmacHeader: v.String(KeyHMACHeader), hmacAlgo: strings.ToLower(v.String(KeyHMACAlgorithm)),
		maxBody: int64(v.Int(KeyListenMaxBody)), ackTimeout: v.Duration(KeyListenTimeout), maxBatch: v.Int(KeyListenMaxBatch),
		queue: make(chan *pending, v.Int(KeyListenQueue)), slots: make(chan struct{}, v.Int(KeyListenQueue)), inflight: map[*schema.Record]*pending{},
		partition: map[string]any{partitionPath: addr + v.String(KeyListenPath)}, metrics: metrics}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, &cfgerr.Error{Key: KeyListenAddress, Value: addr, Reason: err.Error(), Err: plugins.ErrInvalidValue}
	}
	l.srv = &http.Server{
		Handler:           l,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(t.log.Handler(), slog.LevelDebug),
	}
	l.g = &errgroup.Group{}
	l.g.Go(func() error {
		if err := l.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http-source: serve %s: %w", addr, err)
		}
		return nil
	})
	return l, nil
}

// resume continues record offsets after the committed one.
func (l *listener) resume(ctx context.Context, positions plugins.PositionReader) error {
	if positions == nil {
		return nil
	}
	off, err := positions.Position(ctx, l.partition)
	if err != nil {
		return fmt.Errorf("http-source: read position: %w", err)
	}
	seq, ok, err := position.Int64(off, offsetSeq)
	if err != nil {
		return fmt.Errorf("http-source: %w", err)
	}
	if ok {
		l.seq = seq + 1
	}
	return nil
}

func answer(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func answerError(w http.ResponseWriter, status int, msg string) {
	answer(w, status, map[string]string{"error": msg})
}

// ServeHTTP checks, reads and queues one request, then waits for its acknowledgement.
func (l *listener) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w := &statusWriter{ResponseWriter: rw}
	defer func() {
		if w.status == 0 {
			w.status = http.StatusOK // what net/http sends for a handler that wrote nothing
		}
		l.metrics.observe(w.status)
	}()
	if r.URL.Path != l.path {
		answerError(w, http.StatusNotFound, "no such path")
		return
	}
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		w.Header().Set("Allow", "POST, PUT")
		answerError(w, http.StatusMethodNotAllowed, "use POST or PUT")
		return
	}
	if l.auth == ListenSecret && subtle.ConstantTimeCompare([]byte(r.Header.Get(l.header)), l.secret) != 1 {
		answerError(w, http.StatusUnauthorized, "missing or wrong "+l.header)
		return
	}
	select {
	case l.slots <- struct{}{}:
	default:
		w.Header().Set("Retry-After", "1")
		answerError(w, http.StatusTooManyRequests, "the task is paused or behind; retry later")
		return
	}
	holds := true // the slot is this handler's until its request is queued
	defer func() {
		if holds {
			<-l.slots
		}
	}()
	if r.ContentLength > l.maxBody {
		answerError(w, http.StatusRequestEntityTooLarge, "body larger than "+strconv.FormatInt(l.maxBody, 10)+" bytes")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, l.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			answerError(w, http.StatusRequestEntityTooLarge, "body larger than "+strconv.FormatInt(l.maxBody, 10)+" bytes")
			return
		}
		answerError(w, http.StatusBadRequest, "read body: "+err.Error())
		return
	}
	if l.auth == ListenHMAC && !verifySignature(l.hmacAlgo, l.secret, body, r.Header.Get(l.hmacHeader)) {
		answerError(w, http.StatusUnauthorized, "missing or wrong "+l.hmacHeader)
		return
	}
	recs, err := l.records(body)
	if err != nil {
		answerError(w, http.StatusBadRequest, err.Error())
		return
	}
	if len(recs) == 0 {
		answer(w, http.StatusOK, map[string]int{"accepted": 0})
		return
	}
	p := &pending{records: recs, remaining: len(recs), done: make(chan error, 1)}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		answerError(w, http.StatusServiceUnavailable, "stopping")
		return
	}
	for _, rec := range recs {
		l.inflight[rec] = p
	}
	p.queued = true // before Poll can take it
	l.mu.Unlock()
	select {
	case l.queue <- p:
		holds = false
		defer l.leave(p)
	default:
		l.forget(p)
		w.Header().Set("Retry-After", "1")
		answerError(w, http.StatusTooManyRequests, "the task is paused or behind; retry later")
		return
	}
	timer := time.NewTimer(l.ackTimeout)
	defer timer.Stop()
	select {
	case err = <-p.done:
	case <-timer.C:
		err = errAckTimeout
	case <-r.Context().Done():
		return // the client left; the records may still be written
	}
	if err != nil {
		answerError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	answer(w, http.StatusOK, map[string]int{"accepted": len(recs)})
}

// records builds every record of a body, or fails for all of them (nothing is written for a bad body).
func (l *listener) records(body []byte) ([]*schema.Record, error) {
	elems, err := l.t.split(body)
	if err != nil {
		return nil, fmt.Errorf("malformed body: %v", err)
	}
	out := make([]*schema.Record, 0, len(elems))
	for i, raw := range elems {
		ks, k, vs, v, err := l.t.element(raw)
		if err != nil {
			return nil, fmt.Errorf("malformed body: record %d: %v", i, err)
		}
		out = append(out, schema.NewRecord(l.t.topic, ks, k, vs, v))
	}
	return out, nil
}

// forget drops a request that was not queued.
func (l *listener) forget(p *pending) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, rec := range p.records {
		delete(l.inflight, rec)
	}
	p.finished, p.queued = true, false
}

// leave is called when the handler of queued request p returns; p's slot is freed unless p is still queued.
func (l *listener) leave(p *pending) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p.left = true
	if !p.queued {
		<-l.slots
	}
}

// poll returns the records of queued requests: it waits up to a second for the first, then takes what is
// queued up to listen.poll.max.records.
func (l *listener) poll(ctx context.Context) ([]*schema.Record, error) {
	timer := time.NewTimer(time.Second)
	defer timer.Stop()
	var first *pending
	select {
	case first = <-l.queue:
	case <-timer.C:
		return nil, nil
	case <-ctx.Done():
		return nil, nil
	case <-l.t.stop:
		return nil, nil
	}
	out := l.take(nil, first)
	for len(out) < l.maxBatch {
		select {
		case p := <-l.queue:
			out = l.take(out, p)
			continue
		default:
		}
		break
	}
	return out, nil
}

// take appends p's records to out; p's slot is freed if its handler has returned already.
func (l *listener) take(out []*schema.Record, p *pending) []*schema.Record {
	l.mu.Lock()
	p.queued = false
	if p.left {
		<-l.slots
	}
	l.mu.Unlock()
	for _, r := range p.records {
		r.SourcePartition = l.partition
		r.SourceOffset = map[string]any{offsetSeq: l.seq}
		l.seq++
		out = append(out, r)
	}
	return out
}

// commit counts r as acknowledged (md nil: dropped by a transform or skipped by the error policy, which
// the engine has dealt with) and answers its request when it was the last.
func (l *listener) commit(r *schema.Record, _ *plugins.RecordMetadata) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.inflight[r]
	if !ok {
		return
	}
	delete(l.inflight, r)
	p.remaining--
	if p.remaining == 0 && !p.finished {
		p.finished = true
		p.done <- nil
	}
}

// close answers every waiting request 503, then shuts the server down.
func (l *listener) close(ctx context.Context) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	for r, p := range l.inflight {
		delete(l.inflight, r)
		if !p.finished {
			p.finished = true
			p.done <- fmt.Errorf("http-source: %w", ErrStopped)
		}
	}
	l.mu.Unlock()
	err := l.srv.Shutdown(ctx)
	if err != nil {
		_ = l.srv.Close()
	}
	if gerr := l.g.Wait(); gerr != nil {
		return gerr
	}
	if err != nil {
		return fmt.Errorf("http-source: shut down listener: %w", err)
	}
	return nil
}
