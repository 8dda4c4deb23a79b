package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/rmqconnect/rmqconnect/schema/avro"
	"github.com/rmqconnect/rmqconnect/schema/registry"
)

// Log is the append-only, totally ordered storage the registry's state is folded from. Every instance of the
// registry has its own Log value (its own reading position) over the same shared log.
type Log interface {
	// Append stores event at the end of the shared log and returns once it is durable there. It does not wait
	// for the event to be delivered to Run's apply. An error means the event may or may not have been stored;
	// either way it may have been stored more than once (a send retried after the broker stored an attempt it
	// did not answer in time), and the copies need not be adjacent: the server applies an event once per request
	// id.
	Append(ctx context.Context, event []byte) error
	// Run delivers every event of the log to apply, oldest first and each once, with its position (a number that
	// grows along the log and is the same for every reader), from the start of the log and then as events are
	// appended. apply is never called concurrently. Run blocks until ctx ends, then returns nil, or returns an
	// error when the log cannot be read.
	Run(ctx context.Context, apply func(pos int64, event []byte)) error
	// Sync returns once every event appended (by anyone) before the call has been passed to apply, or with
	// ctx's error. It may be called before or while Run runs; it returns only once Run has caught up.
	Sync(ctx context.Context) error
}

// Config configures a Server.
type Config struct {
	// Log is the storage (required).
	Log Log
	// Logger receives the server's logs (slog.Default() when nil).
	Logger *slog.Logger
	// WriteTimeout bounds how long a write waits to be stored and applied (10s).
	WriteTimeout time.Duration
	// ReadSyncTimeout bounds how long a read that would answer 404 waits for this instance to catch up with the
	// log before answering (2s). A negative value answers from the local state at once.
	ReadSyncTimeout time.Duration
	// SnapshotInterval is how often this instance appends a snapshot of the whole state to the log, so that the
	// state survives the broker deleting old log entries (its retention, fileReservedTime). Keep it well under
	// the retention. Zero disables snapshots.
	SnapshotInterval time.Duration
	// SnapshotPartBytes bounds the subjects' JSON in one snapshot entry (1 MiB): a larger state is
	// appended as several entries, so that every entry stays under the broker's message size limit
	// (maxMessageSize, 4 MiB by default) however many schemas the registry holds.
	SnapshotPartBytes int
}

// maxBody bounds a request body.
const maxBody = 4 << 20

// Server serves the registry API. Run must be running for requests to be answered; until the log has been
// replayed, requests wait.
type Server struct {
	cfg   Config
	log   *slog.Logger
	mux   *http.ServeMux
	ready chan struct{}

	mu      sync.Mutex
	st      *state
	waiters map[string]chan outcome // request id → the proposer waiting for its event
	// truncated is set when the first event delivered is not at position 0: the broker deleted the log's
	// start, so events are held in early until a snapshot gives the state to apply them to.
	truncated bool
	early     []heldEvent
	// parts holds the parts of split snapshots seen while truncated, by SnapID and part number.
	parts map[string]map[int]*event
}

type heldEvent struct {
	pos int64
	ev  *event
}

// New returns a server over cfg.Log; Run replays the log.
func New(cfg Config) (*Server, error) {
	if cfg.Log == nil {
		return nil, fmt.Errorf("%w: no log", ErrInvalidConfig)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.ReadSyncTimeout == 0 {
		cfg.ReadSyncTimeout = 2 * time.Second
	}
	if cfg.SnapshotPartBytes <= 0 {
		cfg.SnapshotPartBytes = 1 << 20
	}
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), ready: make(chan struct{}), st: newState(),
		waiters: map[string]chan outcome{}}
	const b = "/schema-registry/v1/cluster/{c}/tenant/{t}"
	s.mux.HandleFunc("POST "+b+"/subject/{s}/schema/{name}", s.register)
	s.mux.HandleFunc("PUT "+b+"/subject/{s}/schema/{name}", s.update)
	s.mux.HandleFunc("GET "+b+"/subject/{s}/schema", s.latest)
	s.mux.HandleFunc("GET "+b+"/subject/{s}/schema/versions", s.versions)
	s.mux.HandleFunc("GET "+b+"/subject/{s}/schema/versions/{v}", s.version)
	s.mux.HandleFunc("GET "+b+"/subject/{s}/recordId/{id}/schema", s.byID)
	s.mux.HandleFunc("GET "+b+"/subjects", s.list)
	s.mux.HandleFunc("DELETE "+b+"/subject/{s}/schema", s.deleteSubject)
	s.mux.HandleFunc("DELETE "+b+"/subject/{s}/schema/versions/{v}", s.deleteVersion)
	return s, nil
}

// Run replays the log and keeps applying it until ctx ends; requests are answered once the replay has reached
// the end of the log as it was when Run started. It returns nil when ctx ends, or the log's error.
func (s *Server) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.cfg.Log.Run(gctx, s.apply) })
	if s.cfg.SnapshotInterval > 0 {
		g.Go(func() error { s.snapshots(gctx); return nil })
	}
	g.Go(func() error {
		if err := s.cfg.Log.Sync(gctx); err != nil {
			if gctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("schema registry: replay the log: %w", err)
		}
		s.mu.Lock()
		if s.truncated {
			// No snapshot in what the broker kept: what came before the first retained entry is lost.
			s.log.Error("schema registry log was truncated by the broker and holds no snapshot; schemas registered before the first retained entry are lost (raise the broker's fileReservedTime, keep snapshotIntervalHours below it)")
			for _, h := range s.early {
				s.st.commit(h.pos, h.ev)
			}
			s.early, s.truncated, s.parts = nil, false, nil
		}
		s.mu.Unlock()
		close(s.ready)
		s.log.Debug("schema registry ready")
		return nil
	})
	return g.Wait()
}

// snapshots appends a snapshot of the state every SnapshotInterval until ctx ends. Several
// instances doing so is harmless: a snapshot only restates what the log already says.
func (s *Server) snapshots(ctx context.Context) {
	t := time.NewTicker(s.cfg.SnapshotInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.ready:
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.Snapshot(ctx); err != nil {
			s.log.Warn("schema registry snapshot failed; will retry", "err", err)
		}
	}
}

// Snapshot appends the current state to the log now: one entry, or, when the state is larger
// than SnapshotPartBytes, several entries that a replay puts back together.
func (s *Server) Snapshot(ctx context.Context) error {
	s.mu.Lock()
	if s.truncated {
		s.mu.Unlock()
		return errors.New("no state to snapshot: the log was truncated and holds no snapshot yet")
	}
	snap, reqs, asOf := s.st.snapshot(), s.st.reqs(), s.st.last
	s.mu.Unlock()
	// The request ids (at most dedupWindow of them, about 600 KB) go in the first entry only, next to at most
	// SnapshotPartBytes of subjects: still well under the broker's message limit.
	parts := splitSnapshot(snap, s.cfg.SnapshotPartBytes)
	if len(parts) <= 1 {
		data, err := json.Marshal(event{Op: opSnapshot, Snapshot: snap, Reqs: reqs, AsOf: asOf})
		if err != nil {
			return err
		}
		return s.cfg.Log.Append(ctx, data)
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	snapID := hex.EncodeToString(id[:])
	for i, p := range parts {
		ev := event{Op: opSnapshot, Snapshot: p, AsOf: asOf, SnapID: snapID, Part: i, Parts: len(parts)}
		if i == 0 {
			ev.Reqs = reqs
		}
		data, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		if err := s.cfg.Log.Append(ctx, data); err != nil {
			return fmt.Errorf("snapshot part %d of %d: %w", i+1, len(parts), err)
		}
	}
	return nil
}

// snapshotPart collects one part of a split snapshot while truncated and returns the whole
// snapshot, with the request ids of its first part, once every part of it has been seen, or nil.
func (s *Server) snapshotPart(ev *event) ([]snapSubject, []appliedReq) {
	if ev.SnapID == "" || ev.Part < 0 || ev.Part >= ev.Parts {
		return nil, nil
	}
	if s.parts == nil {
		s.parts = map[string]map[int]*event{}
	}
	got := s.parts[ev.SnapID]
	if got == nil {
		got = map[int]*event{}
		s.parts[ev.SnapID] = got
	}
	got[ev.Part] = ev
	if len(got) < ev.Parts {
		return nil, nil
	}
	var whole []snapSubject
	for i := range ev.Parts {
		whole = append(whole, got[i].Snapshot...)
	}
	return whole, got[0].Reqs
}

// Ready is closed once the log has been replayed and requests are answered.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case <-s.ready:
	case <-r.Context().Done():
		writeJSON(w, http.StatusServiceUnavailable, errorBody(http.StatusServiceUnavailable, "schema registry is still replaying its log"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	s.mux.ServeHTTP(w, r)
}

// apply is the log's callback: it folds one event into the state and hands the outcome to its proposer, if it
// is waiting here.
func (s *Server) apply(pos int64, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pos <= s.st.last {
		return // delivered twice
	}
	first := s.st.last == -1
	s.st.last = pos
	ev, err := decode(data)
	if err != nil {
		s.log.Warn("schema registry log entry skipped", "pos", pos, "err", err)
		return
	}
	if first && pos > 0 {
		s.truncated = true
		s.log.Warn("schema registry log does not start at 0 (the broker deleted old entries); rebuilding from the first snapshot", "pos", pos)
	}
	if ev.Op == opSnapshot {
		if s.truncated {
			snap, reqs := ev.Snapshot, ev.Reqs
			if ev.Parts > 1 {
				// A part whose first parts the broker deleted never completes; a later snapshot will.
				if snap, reqs = s.snapshotPart(ev); snap == nil {
					return
				}
			}
			// The snapshot is the state as of AsOf; events held since the start of the log that come after
			// AsOf are applied on top, in order.
			s.st.restore(snap, reqs)
			s.parts = nil
			for _, h := range s.early {
				if h.pos > ev.AsOf {
					s.st.commit(h.pos, h.ev)
				}
			}
			s.early, s.truncated = nil, false
		}
		return
	}
	if s.truncated {
		s.early = append(s.early, heldEvent{pos, ev})
		return
	}
	out, ok := s.st.commit(pos, ev)
	if !ok {
		s.log.Debug("schema registry log entry skipped: a copy of an event already applied", "pos", pos, "req", ev.Req)
		return
	}
	if ch, ok := s.waiters[ev.Req]; ok && ev.Req != "" {
		delete(s.waiters, ev.Req)
		ch <- out // buffered
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody(status, msg))
}

// WriteError answers status with the registry's error body ({"status", "error", "message"}), for
// wrappers (auth, the browser guard) that refuse a request before the server sees it.
func WriteError(w http.ResponseWriter, status int, msg string) { writeError(w, status, msg) }

// badBody answers a request whose body could not be decoded: 413 when it is over maxBody, 400
// otherwise.
func badBody(w http.ResponseWriter, what string, err error) {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%s: body over the limit of %d bytes", what, maxBody))
		return
	}
	writeError(w, http.StatusBadRequest, what+": "+err.Error())
}

func newEvent(op string, r *http.Request) *event {
	return &event{Op: op, Cluster: r.PathValue("c"), Tenant: r.PathValue("t"), Subject: r.PathValue("s")}
}

// propose runs a write: decide it on the caught-up local state; if it would change the state, append it and
// answer what applying it decided.
func (s *Server) propose(w http.ResponseWriter, r *http.Request, ev *event) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.WriteTimeout)
	defer cancel()
	if err := s.cfg.Log.Sync(ctx); err != nil {
		writeError(w, http.StatusServiceUnavailable, "schema registry log: "+err.Error())
		return
	}
	var dry outcome
	s.find(func(st *state) (any, bool, string) { dry = st.apply(0, ev, false); return nil, true, "" })
	if !dry.changes {
		writeJSON(w, dry.status, dry.body)
		return
	}
	var id [16]byte
	_, _ = rand.Read(id[:])
	ev.Req = hex.EncodeToString(id[:])
	data, err := json.Marshal(ev)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	ch := make(chan outcome, 1)
	s.mu.Lock()
	s.waiters[ev.Req] = ch
	s.mu.Unlock()
	forget := func() {
		s.mu.Lock()
		delete(s.waiters, ev.Req)
		s.mu.Unlock()
	}
	if err := s.cfg.Log.Append(ctx, data); err != nil {
		forget()
		s.log.Warn("schema registry write failed", "subject", ev.Subject, "op", ev.Op, "err", err)
		writeError(w, http.StatusServiceUnavailable, "schema registry log: append: "+err.Error()+" (the write may or may not take effect)")
		return
	}
	select {
	case out := <-ch:
		writeJSON(w, out.status, out.body)
	case <-ctx.Done():
		forget()
		writeError(w, http.StatusServiceUnavailable, "schema registry log: the write was stored but not applied in time: "+ctx.Err().Error())
	}
}

func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	var req registry.RegisterRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		badBody(w, "register request", err)
		return
	}
	if t := normType(req.SchemaType); t != "" && t != "AVRO" {
		writeError(w, http.StatusBadRequest, "schemaType "+req.SchemaType+" is not supported (only AVRO)")
		return
	}
	mode, err := avro.ParseMode(req.Compatibility)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ev := newEvent(opRegister, r)
	ev.Name, ev.IDL, ev.Compatibility, ev.Owner, ev.Desc = r.PathValue("name"), req.SchemaIDL, string(mode), req.Owner, req.Desc
	s.propose(w, r, ev)
}

func (s *Server) update(w http.ResponseWriter, r *http.Request) {
	var req registry.UpdateRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		badBody(w, "update request", err)
		return
	}
	ev := newEvent(opUpdate, r)
	ev.Name, ev.IDL, ev.Owner, ev.Desc = r.PathValue("name"), req.SchemaIDL, req.Owner, req.Desc
	s.propose(w, r, ev)
}

func (s *Server) deleteSubject(w http.ResponseWriter, r *http.Request) {
	s.propose(w, r, newEvent(opDeleteSubject, r))
}

func (s *Server) deleteVersion(w http.ResponseWriter, r *http.Request) {
	v, ok := pathInt(w, r, "v")
	if !ok {
		return
	}
	ev := newEvent(opDeleteVersion, r)
	ev.Version = v
	s.propose(w, r, ev)
}

func pathInt(w http.ResponseWriter, r *http.Request, name string) (int64, bool) {
	v, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, name+" "+strconv.Quote(r.PathValue(name))+" is not a number")
		return 0, false
	}
	return v, true
}

// read answers a GET from the local state: find returns the answer, or ok=false for a 404 with msg. A miss is
// retried once after catching up with the log, so a schema registered through another instance just before is
// found.
func (s *Server) read(w http.ResponseWriter, r *http.Request, find func(st *state) (v any, ok bool, msg string)) {
	v, ok, msg := s.find(find)
	if !ok && s.cfg.ReadSyncTimeout > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ReadSyncTimeout)
		err := s.cfg.Log.Sync(ctx)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			s.log.Debug("schema registry read sync failed", "err", err)
		}
		v, ok, msg = s.find(find)
	}
	if !ok {
		writeError(w, http.StatusNotFound, msg)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// find runs a lookup under the lock; the lock is released even if the lookup panics (the HTTP
// server recovers the panic, and every later request needs the lock).
func (s *Server) find(find func(st *state) (v any, ok bool, msg string)) (any, bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return find(s.st)
}

func subjectOf(r *http.Request, st *state) (*subjectState, string) {
	sub := st.lookup(r.PathValue("c"), r.PathValue("t"), r.PathValue("s"))
	if sub == nil {
		return nil, "subject " + r.PathValue("s") + " not found"
	}
	return sub, ""
}

func (s *Server) latest(w http.ResponseWriter, r *http.Request) {
	s.read(w, r, func(st *state) (any, bool, string) {
		sub, msg := subjectOf(r, st)
		if sub == nil {
			return nil, false, msg
		}
		return sub.versions[len(sub.versions)-1].rec, true, ""
	})
}

func (s *Server) versions(w http.ResponseWriter, r *http.Request) {
	s.read(w, r, func(st *state) (any, bool, string) {
		sub, msg := subjectOf(r, st)
		if sub == nil {
			return nil, false, msg
		}
		return sub.records(), true, ""
	})
}

func (s *Server) version(w http.ResponseWriter, r *http.Request) {
	v, ok := pathInt(w, r, "v")
	if !ok {
		return
	}
	s.read(w, r, func(st *state) (any, bool, string) {
		sub, msg := subjectOf(r, st)
		if sub == nil {
			return nil, false, msg
		}
		rec, ok := sub.find(func(x registry.SchemaRecord) bool { return x.Version == v })
		return rec, ok, "version " + strconv.FormatInt(v, 10) + " not found in subject " + sub.name
	})
}

func (s *Server) byID(w http.ResponseWriter, r *http.Request) {
	id, ok := pathInt(w, r, "id")
	if !ok {
		return
	}
	s.read(w, r, func(st *state) (any, bool, string) {
		sub, msg := subjectOf(r, st)
		if sub == nil {
			return nil, false, msg
		}
		rec, ok := sub.find(func(x registry.SchemaRecord) bool { return x.RecordID == id })
		return rec, ok, "record id " + strconv.FormatInt(id, 10) + " not found in subject " + sub.name
	})
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	names, _, _ := s.find(func(st *state) (any, bool, string) { return st.list(r.PathValue("c"), r.PathValue("t")), true, "" })
	writeJSON(w, http.StatusOK, names)
}
