package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// scrubbedText replaces a secret value wherever a scrubber finds it.
const scrubbedText = "[hidden]"

// minScrubLen is the shortest value a scrubber hides: a one- to three-character "secret"
// would turn every trace into noise, and is not a secret an attacker needs help to guess.
const minScrubLen = 4

// scrubber hides a connector's secret values — what its placeholders resolved to, and the
// values of its secret keys — in text leaving the worker: task and connector traces (so
// the status topic and REST), log lines written through the connector's logger, DLQ
// context properties and config validation errors. It also hides the forms in which error
// messages commonly quote a value (Go-quoted, JSON-escaped, URL-escaped). Safe for
// concurrent use; a nil *scrubber hides nothing.
type scrubber struct {
	mu     sync.RWMutex
	values map[string]bool
	repl   *strings.Replacer
}

// add makes the scrubber hide values too (those shorter than minScrubLen are ignored).
func (s *scrubber) add(values ...string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.values == nil {
		s.values = map[string]bool{}
	}
	changed := false
	for _, v := range values {
		for _, form := range scrubForms(v) {
			if len(form) >= minScrubLen && !s.values[form] {
				s.values[form] = true
				changed = true
			}
		}
	}
	if !changed {
		return
	}
	all := make([]string, 0, len(s.values))
	for v := range s.values {
		all = append(all, v)
	}
	// Longest first: the Replacer tries pairs in argument order at each position, so a
	// secret that contains another is hidden whole.
	slices.SortFunc(all, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	pairs := make([]string, 0, 2*len(all))
	for _, v := range all {
		pairs = append(pairs, v, scrubbedText)
	}
	s.repl = strings.NewReplacer(pairs...)
}

// scrubForms are v and the ways error messages quote it.
func scrubForms(v string) []string {
	forms := []string{v}
	q := strconv.Quote(v)
	forms = append(forms, q[1:len(q)-1])
	if j, err := json.Marshal(v); err == nil {
		forms = append(forms, string(j[1:len(j)-1]))
	}
	forms = append(forms, url.QueryEscape(v), url.PathEscape(v))
	return forms
}

// text returns s with every secret value replaced.
func (s *scrubber) text(in string) string {
	if s == nil || in == "" {
		return in
	}
	s.mu.RLock()
	r := s.repl
	s.mu.RUnlock()
	if r == nil {
		return in
	}
	return r.Replace(in)
}

// scrubHandler is a slog.Handler that scrubs the message and every attribute value before
// passing a record on. Attributes bound with With are scrubbed when bound (the runtime binds
// names only); those of each record when it is logged.
type scrubHandler struct {
	next slog.Handler
	s    *scrubber
}

func (h scrubHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h scrubHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.s.text(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h scrubHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.s.text(v.String()))
	case slog.KindGroup:
		g := v.Group()
		attrs := make([]any, len(g))
		for i, x := range g {
			attrs[i] = h.attr(x)
		}
		return slog.Group(a.Key, attrs...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, h.s.text(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, h.s.text(x.String()))
		default:
			return slog.String(a.Key, h.s.text(fmt.Sprint(x)))
		}
	default:
		return slog.Attr{Key: a.Key, Value: v} // numbers, times, durations, bools
	}
}

func (h scrubHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		out[i] = h.attr(a)
	}
	return scrubHandler{next: h.next.WithAttrs(out), s: h.s}
}

func (h scrubHandler) WithGroup(name string) slog.Handler {
	return scrubHandler{next: h.next.WithGroup(name), s: h.s}
}

// scrubbedLogger returns log with s applied to every record.
func scrubbedLogger(log *slog.Logger, s *scrubber) *slog.Logger {
	return slog.New(scrubHandler{next: log.Handler(), s: s})
}
