package transforms

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
)

// Transform changes one record. Configure is called once, before any Apply,
// with the transform's own keys (the `transforms.<alias>.` prefix stripped,
// `type`, `class`, `predicate` and `negate` removed); its errors name those
// relative keys and the chain prefixes them. Apply is called for every record
// the transform's predicate selects, from one goroutine at a time per chain;
// it must not modify r and returns a new record, r itself when nothing
// changes, or nil to drop the record. An error fails the record (the engine's
// errors.tolerance decides what happens next).
type Transform interface {
	Configure(cfg map[string]string) error
	Apply(r *schema.Record) (*schema.Record, error)
}

// Predicate decides whether a transform applies to a record. Configure works
// as for Transform (keys under `predicates.<alias>.`); Test must not modify r.
type Predicate interface {
	Configure(cfg map[string]string) error
	Test(r *schema.Record) bool
}

// Specified is implemented by built-ins that declare their configuration
// keys; it drives docs.
type Specified interface {
	Spec() *plugins.ConfigSpec
}

type step struct {
	alias     string
	t         Transform
	pred      Predicate
	predAlias string
	negate    bool
}

// Chain is an ordered list of configured transforms. A nil or empty Chain
// passes records through unchanged.
type Chain struct {
	steps []step
}

// Len is the number of transforms in the chain.
func (c *Chain) Len() int {
	if c == nil {
		return 0
	}
	return len(c.steps)
}

// Aliases returns the transform aliases in order.
func (c *Chain) Aliases() []string {
	if c == nil {
		return nil
	}
	out := make([]string, len(c.steps))
	for i, s := range c.steps {
		out[i] = s.alias
	}
	return out
}

// Apply runs r through the chain. A transform whose predicate does not match
// (or matches, with negate) is skipped. It returns nil, nil when a transform
// drops the record, and an error naming the transform alias when one fails.
// r is never modified.
func (c *Chain) Apply(r *schema.Record) (*schema.Record, error) {
	if c == nil || r == nil {
		return r, nil
	}
	for _, s := range c.steps {
		if s.pred != nil && s.pred.Test(r) == s.negate {
			continue
		}
		out, err := s.t.Apply(r)
		if err != nil {
			return nil, fmt.Errorf("transform %s: %w", s.alias, err)
		}
		if out == nil {
			return nil, nil
		}
		r = out
	}
	return r, nil
}

// Chain configuration keys.
const (
	TransformsKey = "transforms"
	PredicatesKey = "predicates"
)

// ParseChain builds the chain described by a connector configuration:
//
//	transforms=a,b
//	transforms.a.type=RegexRouter        (or transforms.a.class=...)
//	transforms.a.regex=...               (the transform's own keys)
//	transforms.a.predicate=p
//	transforms.a.negate=true
//	predicates=p
//	predicates.p.type=TopicNameMatches
//	predicates.p.pattern=...
//
// Type names are looked up in reg (nil means Builtins()). All problems are
// returned together as cfgerr.List whose keys are full dotted keys;
// errors.Is matches cfgerr.ErrInvalid and the specific sentinel
// (ErrUnknownTransform, ErrUnknownPredicate, plugins.ErrMissingRequired, ...).
func ParseChain(cfg map[string]string, reg *Registry) (*Chain, error) {
	if reg == nil {
		reg = Builtins()
	}
	var errs cfgerr.List
	add := func(err error) { errs = append(errs, cfgerr.Flatten(err)...) }

	predAliases := uniqueAliases(cfg[PredicatesKey], PredicatesKey, add)
	preds := map[string]Predicate{}
	for _, p := range predAliases {
		prefix := PredicatesKey + "." + p + "."
		typ, err := typeOf(cfg, prefix)
		if err != nil {
			add(err)
			continue
		}
		pr, err := reg.NewPredicate(typ)
		if err != nil {
			add(&cfgerr.Error{Key: prefix + typeKey(cfg, prefix), Value: typ, Reason: "unknown predicate type", Err: ErrUnknownPredicate})
			continue
		}
		if err := configure(pr.Configure, subConfig(cfg, prefix)); err != nil {
			add(cfgerr.Prefix(err, prefix))
			continue
		}
		preds[p] = pr
	}

	c := &Chain{}
	for _, a := range uniqueAliases(cfg[TransformsKey], TransformsKey, add) {
		prefix := TransformsKey + "." + a + "."
		s := step{alias: a}
		ok := true
		if typ, err := typeOf(cfg, prefix); err != nil {
			add(err)
			ok = false
		} else if t, err := reg.NewTransform(typ); err != nil {
			add(&cfgerr.Error{Key: prefix + typeKey(cfg, prefix), Value: typ, Reason: "unknown transform type", Err: ErrUnknownTransform})
			ok = false
		} else if err := configure(t.Configure, subConfig(cfg, prefix)); err != nil {
			add(cfgerr.Prefix(err, prefix))
			ok = false
		} else {
			s.t = t
		}
		if p, set := cfg[prefix+"predicate"]; set && strings.TrimSpace(p) != "" {
			p = strings.TrimSpace(p)
			pr, found := preds[p]
			switch {
			case found:
				s.pred, s.predAlias = pr, p
			case contains(predAliases, p):
				ok = false // its own configuration error is already reported
			default:
				add(&cfgerr.Error{Key: prefix + "predicate", Value: p, Reason: "refers to a predicate not listed in predicates", Err: ErrUnknownPredicate})
				ok = false
			}
		}
		if n, set := cfg[prefix+"negate"]; set {
			switch strings.ToLower(strings.TrimSpace(n)) {
			case "true":
				s.negate = true
			case "false", "":
			default:
				add(&cfgerr.Error{Key: prefix + "negate", Value: n, Reason: "not a boolean (true or false)", Err: plugins.ErrInvalidValue})
				ok = false
			}
		}
		if ok {
			c.steps = append(c.steps, s)
		}
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Key < errs[j].Key })
		return nil, errs
	}
	return c, nil
}

// configure calls a Configure method, turning a panic in a third-party
// transform into an error so bad input never crashes the caller.
func configure(fn func(map[string]string) error, cfg map[string]string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("configure panicked: %v", p)
		}
	}()
	return fn(cfg)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func uniqueAliases(raw, key string, add func(error)) []string {
	list := plugins.ParseList(raw)
	seen := map[string]bool{}
	out := list[:0]
	for _, a := range list {
		if seen[a] {
			add(&cfgerr.Error{Key: key, Value: raw, Reason: fmt.Sprintf("alias %q listed twice", a), Err: ErrDuplicateAlias})
			continue
		}
		seen[a] = true
		out = append(out, a)
	}
	return out
}

// typeKey is the key under which the type was given ("type" or "class").
func typeKey(cfg map[string]string, prefix string) string {
	if _, ok := cfg[prefix+"type"]; !ok {
		if _, ok := cfg[prefix+"class"]; ok {
			return "class"
		}
	}
	return "type"
}

func typeOf(cfg map[string]string, prefix string) (string, error) {
	t, hasType := cfg[prefix+"type"]
	c, hasClass := cfg[prefix+"class"]
	t, c = strings.TrimSpace(t), strings.TrimSpace(c)
	switch {
	case hasType && hasClass && t != c:
		return "", &cfgerr.Error{Key: prefix + "class", Value: c, Reason: "conflicts with " + prefix + "type", Err: plugins.ErrConflictingKeys}
	case hasType && t != "":
		return t, nil
	case hasClass && c != "":
		return c, nil
	}
	return "", &cfgerr.Error{Key: prefix + "type", Reason: "missing required configuration", Err: plugins.ErrMissingRequired}
}

// subConfig returns the keys under prefix with the prefix stripped, minus
// the keys the chain itself interprets.
func subConfig(cfg map[string]string, prefix string) map[string]string {
	out := map[string]string{}
	for k, v := range cfg {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		switch rest {
		case "type", "class", "predicate", "negate":
			continue
		}
		out[rest] = v
	}
	return out
}
