package transforms

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/rmqconnect/rmqconnect/plugins"
)

// TransformFactory builds a fresh, unconfigured transform.
type TransformFactory func() Transform

// PredicateFactory builds a fresh, unconfigured predicate.
type PredicateFactory func() Predicate

// Info describes one registered transform or predicate.
type Info struct {
	Name    string
	Aliases []string
	// Spec is the configuration the plugin declares (nil if it declares none).
	Spec *plugins.ConfigSpec
}

type regEntry struct {
	info Info
	tf   TransformFactory
	pf   PredicateFactory
}

// Registry maps transform and predicate names and aliases to factories. It is
// built explicitly (see Builtins); it is safe for concurrent use.
type Registry struct {
	mu         sync.RWMutex
	transforms map[string]*regEntry
	predicates map[string]*regEntry
	tList      []*regEntry
	pList      []*regEntry
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{transforms: map[string]*regEntry{}, predicates: map[string]*regEntry{}}
}

// RegisterTransform adds a transform under name and aliases (for example
// "InsertField$Value" and "org.apache.kafka.connect.transforms.InsertField$Value").
// A name or alias already used by a transform is an error wrapping
// ErrDuplicateName and leaves the registry unchanged.
func (r *Registry) RegisterTransform(name string, aliases []string, f TransformFactory) error {
	if f == nil {
		return fmt.Errorf("register transform %q: nil factory", name)
	}
	e := &regEntry{info: Info{Name: name, Aliases: append([]string(nil), aliases...)}, tf: f}
	if s, ok := f().(Specified); ok {
		e.info.Spec = s.Spec()
	}
	return r.add(r.transforms, &r.tList, e)
}

// RegisterPredicate adds a predicate under name and aliases; duplicates are
// an error wrapping ErrDuplicateName.
func (r *Registry) RegisterPredicate(name string, aliases []string, f PredicateFactory) error {
	if f == nil {
		return fmt.Errorf("register predicate %q: nil factory", name)
	}
	e := &regEntry{info: Info{Name: name, Aliases: append([]string(nil), aliases...)}, pf: f}
	if s, ok := f().(Specified); ok {
		e.info.Spec = s.Spec()
	}
	return r.add(r.predicates, &r.pList, e)
}

func (r *Registry) add(m map[string]*regEntry, list *[]*regEntry, e *regEntry) error {
	keys := append([]string{e.info.Name}, e.info.Aliases...)
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	for _, k := range keys {
		if strings.TrimSpace(k) == "" {
			return fmt.Errorf("register %q: empty name or alias", e.info.Name)
		}
		if _, dup := m[k]; dup || seen[k] {
			return fmt.Errorf("register %q: %w: %q", e.info.Name, ErrDuplicateName, k)
		}
		seen[k] = true
	}
	for _, k := range keys {
		m[k] = e
	}
	*list = append(*list, e)
	return nil
}

// NewTransform builds an unconfigured transform by name or alias.
func (r *Registry) NewTransform(name string) (Transform, error) {
	r.mu.RLock()
	e, ok := r.transforms[strings.TrimSpace(name)]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownTransform, name)
	}
	t := e.tf()
	if t == nil {
		return nil, fmt.Errorf("%w: %q: factory returned nil", ErrUnknownTransform, name)
	}
	return t, nil
}

// NewPredicate builds an unconfigured predicate by name or alias.
func (r *Registry) NewPredicate(name string) (Predicate, error) {
	r.mu.RLock()
	e, ok := r.predicates[strings.TrimSpace(name)]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownPredicate, name)
	}
	p := e.pf()
	if p == nil {
		return nil, fmt.Errorf("%w: %q: factory returned nil", ErrUnknownPredicate, name)
	}
	return p, nil
}

// Transforms lists the registered transforms sorted by name.
func (r *Registry) Transforms() []Info { return r.list(&r.tList) }

// Predicates lists the registered predicates sorted by name.
func (r *Registry) Predicates() []Info { return r.list(&r.pList) }

func (r *Registry) list(l *[]*regEntry) []Info {
	r.mu.RLock()
	out := make([]Info, len(*l))
	for i, e := range *l {
		out[i] = e.info
		out[i].Aliases = append([]string(nil), e.info.Aliases...)
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
